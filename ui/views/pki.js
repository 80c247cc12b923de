// One PKI mount: issuers with their chain, key type and expiry timeline,
// roles, the CA setup the guide does (a root; an intermediate whose key is
// exported once, as Istio's `cacerts`), issuing, and the public CA, CRL
// and OCSP endpoints.

import { list, mapLimited, read, write, path } from "../api.js";
import { parseCertificate } from "../x509.js";
import { h, download, expiry, form, section, table } from "../dom.js";

async function issuers(mount) {
  const ids = (await list(path(mount, "issuers"))).data.keys;
  const rows = await mapLimited(ids, async (id) => {
    const { data } = await read(path(mount, "issuer", id));
    const cert = parseCertificate(data.certificate);
    const chain = (data.ca_chain || []).map((pem) => parseCertificate(pem).subject);
    return { id, name: data.issuer_name || id, cert, chain };
  });
  rows.sort((a, b) => a.cert.notAfter - b.cert.notAfter);
  return table(["Issuer", "Subject", "Key type", "Chain", "Not after", "Expiry"], rows.map((r) => [
    h("a", { href: `/v1/${path(mount, "issuer", r.id, "pem")}`, title: r.id }, r.name),
    r.cert.subject,
    r.cert.keyType,
    h("span", { class: "chain" }, r.chain.join(" → ")),
    r.cert.notAfter.toISOString().slice(0, 10),
    expiry(r.cert.notAfter),
  ]), "No issuer yet: generate a root or an intermediate below.");
}

async function roles(mount) {
  const names = (await list(path(mount, "roles"))).data.keys;
  const rows = await mapLimited(names, async (name) => {
    const { data } = await read(path(mount, "roles", name));
    return [name, (data.allowed_domains || []).join(", "), data.allow_subdomains ? "yes" : "no",
      `${data.key_type} ${data.key_bits || ""}`.trim(), String(data.max_ttl)];
  });
  return table(["Role", "Allowed domains", "Subdomains", "Key type", "Max TTL (s)"], rows, "No roles yet.");
}

/** How many certificates the mount stores (one LIST of serials). */
async function certificates(mount) {
  const count = (await list(path(mount, "certs"))).data.keys.length;
  return h("p", {}, `${count} stored ${count === 1 ? "certificate" : "certificates"}: `,
    h("a", { href: `#/pki/${mount}/certs` }, "page through, search by serial or name, revoke"));
}

/** The unauthenticated endpoints clients fetch: CA, chain, CRLs, OCSP. */
function endpoints(mount) {
  const link = (p, label) => h("li", {}, h("a", { href: `/v1/${path(mount, ...p.split("/"))}` }, label));
  return h("section", {}, h("h2", {}, "Endpoints"),
    h("ul", { class: "links" },
      link("ca/pem", "CA certificate (PEM)"),
      link("ca_chain", "CA chain"),
      link("crl/pem", "CRL (PEM)"),
      link("crl", "CRL (DER)"),
      link("crl/delta/pem", "Delta CRL (PEM)"),
      h("li", {}, "OCSP responder: ", h("code", { class: "ocsp" }, `${location.origin}/v1/${path(mount, "ocsp")}`))));
}

/** Istio's `cacerts` Secret (tls.crt, tls.key, ca.crt) as a manifest. */
function cacertsManifest({ certificate, privateKey, root }) {
  const block = (pem) => pem.trim().split("\n").map((line) => `    ${line}`).join("\n");
  return `apiVersion: v1
kind: Secret
metadata:
  name: cacerts
  namespace: istio-system
type: kubernetes.io/tls
stringData:
  tls.crt: |
${block(certificate)}
  tls.key: |
${block(privateKey)}
  ca.crt: |
${block(root)}
`;
}

/** generate/exported here, signed by the root mount, then imported here. */
async function intermediate(mount, { signer, common_name, ttl, key_type }) {
  const request = (await write(path(mount, "intermediate", "generate", "exported"), { common_name, key_type })).data;
  const signed = (await write(path(signer, "root", "sign-intermediate"), { csr: request.csr, common_name, ttl })).data;
  await write(path(mount, "intermediate", "set-signed"), { certificate: `${signed.certificate}\n${signed.issuing_ca}` });
  const bundle = { certificate: signed.certificate, privateKey: request.private_key, root: signed.issuing_ca };
  return [
    h("p", { class: "good" }, `Intermediate ${common_name} signed by ${signer} (serial ${signed.serial_number}).`),
    h("p", { class: "warn" }, "Its private key is in this page only now: download the bundle before leaving."),
    h("button", { type: "button", onclick: () => download("cacerts.yaml", cacertsManifest(bundle)) }, "Download cacerts bundle"),
  ];
}

export function pkiView(mount) {
  const issuerList = section("Issuers (soonest expiry first)", () => issuers(mount));
  const roleList = section("Roles", () => roles(mount));
  const certificateCount = section("Certificates", () => certificates(mount));
  const issued = (data) => {
    const cert = parseCertificate(data.certificate);
    return h("p", { class: "good" }, "Issued ",
      h("a", { href: `#/pki/${mount}/certs?${new URLSearchParams({ q: data.serial_number })}` }, data.serial_number),
      ` to ${cert.subject}, `, expiry(cert.notAfter));
  };
  // Each action refreshes the sections it changed, so the page never needs a reload.
  return h("div", {},
    h("h1", {}, `PKI: ${mount}`),
    issuerList,
    roleList,
    certificateCount,
    endpoints(mount),
    h("section", { class: "forms" },
      h("div", {}, h("h2", {}, "New root CA"),
        form([["common_name", "Common name"], ["ttl", "TTL", "87600h"], ["key_type", "Key type", ["ec", "rsa", "ed25519"]], ["issuer_name", "Issuer name"]],
          "Generate root", async (values) => {
            const { data } = await write(path(mount, "root", "generate", "internal"), values);
            await Promise.all([issuerList.refresh(), certificateCount.refresh()]);
            return h("p", { class: "good" }, `Root ${data.issuer_name || data.issuer_id} created.`);
          })),
      h("div", {}, h("h2", {}, "New intermediate CA (exported key)"),
        form([["signer", "Root mount", "pki"], ["common_name", "Common name"], ["ttl", "TTL", "43800h"], ["key_type", "Key type", ["ec", "rsa"]]],
          "Generate and sign", async (values) => {
            const shown = await intermediate(mount, values);
            await Promise.all([issuerList.refresh(), certificateCount.refresh()]);
            return shown;
          })),
      h("div", {}, h("h2", {}, "New role"),
        form([["name", "Name"], ["allowed_domains", "Allowed domains"], ["allow_subdomains", "Allow subdomains", ["true", "false"]], ["max_ttl", "Max TTL", "720h"]],
          "Save role", async ({ name, ...settings }) => {
            await write(path(mount, "roles", name), settings);
            await roleList.refresh();
            return h("p", { class: "good" }, `Role ${name} saved.`);
          })),
      h("div", {}, h("h2", {}, "Issue a certificate"),
        form([["role", "Role"], ["common_name", "Common name"], ["ttl", "TTL", "72h"]],
          "Issue", async ({ role, ...request }) => {
            const shown = issued((await write(path(mount, "issue", role), request)).data);
            await certificateCount.refresh();
            return shown;
          }))));
}
