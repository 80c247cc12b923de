// A PKI mount's certificates: pages of the stored list, a search by serial
// or by name, each with its status and days left, and revocation.

import { list, mapLimited, read, write, path } from "../api.js";
import { parseCertificate } from "../x509.js";
import { h, confirmAction, errorBox, expiry, section, table } from "../dom.js";

const PAGE = 20;
/**
 * Name searches read at most this many certificates. The API has no index
 * by name, so a search costs one GET per stored certificate (up to 1000),
 * read 8 at a time by mapLimited: about 125 round trips, never a burst.
 */
const SEARCH_LIMIT = 1000;
const SERIAL = /^[0-9a-f]{2}([:-]?[0-9a-f]{2})*$/i;

async function certificate(mount, serial) {
  const { data } = await read(path(mount, "cert", serial));
  return { serial, revoked: data.revocation_time > 0, ...parseCertificate(data.certificate) };
}

function status(cert) {
  if (cert.revoked) return h("strong", { class: "bad" }, "revoked");
  if (cert.notAfter < new Date()) return h("strong", { class: "bad" }, "expired");
  return h("span", { class: "good" }, "valid");
}

function revokeButton(mount, cert, reload) {
  if (cert.revoked) return "";
  const button = h("button", {
    type: "button",
    class: "danger",
    onclick: async () => {
      if (!(await confirmAction(`Revoke certificate ${cert.serial} (${cert.subject})? This cannot be undone.`))) return;
      await write(path(mount, "revoke"), { serial_number: cert.serial })
        .then(reload, (err) => button.replaceWith(errorBox(err)));
    },
  }, "Revoke");
  return button;
}

/** The serials to show: one page, one serial, or those whose names match. */
async function find(mount, query) {
  const q = (query.get("q") || "").trim();
  if (SERIAL.test(q) && q.length >= 8) {
    const serial = q.toLowerCase().replace(/-/g, ":").replace(/^([0-9a-f]+)$/, (s) => s.match(/../g).join(":"));
    return { certs: [await certificate(mount, serial)] };
  }
  if (q) {
    const stored = (await list(path(mount, "certs"))).data.keys;
    const certs = await mapLimited(stored.slice(0, SEARCH_LIMIT), (serial) => certificate(mount, serial));
    const needle = q.toLowerCase();
    return {
      certs: certs.filter((c) => [c.subject, ...c.dnsNames].some((n) => n.toLowerCase().includes(needle))),
      searched: stored.length > SEARCH_LIMIT ? `Searched the first ${SEARCH_LIMIT} of ${stored.length} certificates.` : "",
    };
  }
  const after = query.get("after") || "";
  const serials = (await list(path(mount, "certs"), { limit: String(PAGE), ...(after && { after }) })).data.keys;
  const certs = await mapLimited(serials, (serial) => certificate(mount, serial));
  return { certs, next: serials.length === PAGE ? serials[serials.length - 1] : null, paged: Boolean(after) };
}

export function certsView(mount, query) {
  const base = `#/pki/${mount}/certs`;
  const search = h("form", {
    class: "search",
    onsubmit: (event) => {
      event.preventDefault();
      const q = new FormData(event.target).get("q").trim();
      location.hash = q ? `${base}?${new URLSearchParams({ q })}` : base;
    },
  }, h("input", { name: "q", type: "search", value: query.get("q") || "", placeholder: "Serial or name", "aria-label": "Search certificates" }),
  h("button", { type: "submit" }, "Search"));
  return h("div", {},
    h("h1", {}, `Certificates: ${mount}`),
    h("p", {}, h("a", { href: `#/pki/${mount}` }, `← ${mount}`)),
    search,
    section("Certificates", async (reload) => {
      const { certs, next, paged, searched } = await find(mount, query);
      const rows = certs.map((c) => [
        h("code", {}, c.serial),
        h("span", {}, c.subject, c.dnsNames.length ? h("small", { class: "muted" }, ` ${c.dnsNames.join(", ")}`) : ""),
        c.notAfter.toISOString().slice(0, 10),
        expiry(c.notAfter),
        status(c),
        revokeButton(mount, c, reload),
      ]);
      return [
        table(["Serial", "Name", "Not after", "Expiry", "Status", ""], rows, "No certificate found."),
        searched ? h("p", { class: "muted" }, searched) : "",
        h("p", { class: "pager" },
          paged ? h("a", { href: base }, "First page") : "",
          next ? h("a", { href: `${base}?${new URLSearchParams({ after: next })}` }, "Next page →") : ""),
      ];
    }));
}
