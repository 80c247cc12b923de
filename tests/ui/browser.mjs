// The web UI in a real headless Chromium against a real vaultlet dev server
// (tests/ui/run starts it): the guide's PKI steps by clicking, each list
// refreshed after its action without a page load, the cacerts bundle
// checked as X.509, a revoked certificate found by serial and by name and
// seen in the CRL and OCSP endpoints the page links, paging through more
// certificates than a page holds, token, userpass and AppRole logins with
// the token in session storage only, audit devices, log out, and a limited
// token that sees 403 messages instead of pages.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate, createPublicKey, createPrivateKey } from "node:crypto";
import { createRequire } from "node:module";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const require = createRequire(join(process.env.PLAYWRIGHT_MODULES, "node_modules", "/"));
const { chromium } = require("playwright-core");

const ADDR = process.env.VAULTLET_ADDR;
const SHOTS = process.env.SCREENSHOTS;
const AUDIT_LOG = process.env.AUDIT_LOG;
const ROOT_TOKEN = "root";
const TOKEN_KEY = "vaultlet.token";
/** The certificates page's page size (PAGE in ui/views/certs.js). */
const PAGE = 20;
/** The most certificate reads a name search may have in flight (READERS in ui/api.js). */
const READERS = 8;

async function api(method, path, body, token = ROOT_TOKEN) {
  const response = await fetch(`${ADDR}/v1/${path}`, {
    method,
    headers: { "X-Vault-Token": token },
    body: body && JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

/** One `key: |` block of the cacerts manifest, unindented. */
function manifestBlock(manifest, key) {
  const lines = manifest.split("\n");
  const start = lines.indexOf(`  ${key}: |`);
  assert.ok(start >= 0, `bundle lacks ${key}`);
  const block = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith("    ")) break;
    block.push(line.slice(4));
  }
  return `${block.join("\n")}\n`;
}

const spki = (key) => (key.type === "public" ? key : createPublicKey(key)).export({ type: "spki", format: "der" });

// Setup through the API, as an operator would: a file audit device and a
// userpass user.
assert.equal((await api("PUT", "sys/audit/file", { type: "file", options: { file_path: AUDIT_LOG } })).status, 204);
assert.equal((await api("POST", "sys/auth/userpass", { type: "userpass" })).status, 204);
const USERPASS_PASSWORD = "correct horse battery staple";
assert.equal((await api("POST", "auth/userpass/users/alice", { password: USERPASS_PASSWORD, token_policies: "default" })).status, 204);

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  // Chromium's sandbox cannot start as root (CI runs as root).
  args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
});
const failures = [];
const steps = [];
async function step(name, body) {
  try {
    await body();
    steps.push(name);
    console.log(`ok    ${name}`);
  } catch (err) {
    failures.push(name);
    console.log(`FAIL  ${name}\n${err.stack}`);
  }
}

try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 860 } });
  // Counts the page's certificate reads in flight (fetch called, not yet
  // answered), to check that a name search stays within READERS.
  await context.addInitScript(() => {
    const reads = { now: 0, max: 0 };
    window.certificateReads = reads;
    const fetch = window.fetch.bind(window);
    window.fetch = (resource, init) => {
      if (!/^\/v1\/.+\/cert\/[^/?]+$/.test(String(resource))) return fetch(resource, init);
      reads.now += 1;
      reads.max = Math.max(reads.max, reads.now);
      return fetch(resource, init).finally(() => { reads.now -= 1; });
    };
  });
  const page = await context.newPage();
  const problems = [];
  const urls = [];
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (msg) => {
    // The browser logs every refused request (403s, the favicon's 404); anything else is a fault.
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) problems.push(`console: ${msg.text()}`);
  });
  page.on("request", (request) => urls.push(request.url()));
  const form = (button) => page.locator("form", { has: page.getByRole("button", { name: button }) });
  const shot = (name) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  /** Marks the loaded document: still marked later means no page load happened in between. */
  const markDocument = () => page.evaluate(() => { window.sameDocument = true; });
  const assertSameDocument = async () =>
    assert.equal(await page.evaluate(() => window.sameDocument), true, "the page was reloaded");
  const sectionOf = (title) => page.locator("section", { has: page.getByRole("heading", { name: title, exact: true }) });
  /** A LIST with nothing stored is a 404 (as Vault), so no keys is none. */
  const storedCerts = async (mount) => (await api("GET", `${mount}/certs?list=true`)).json?.data?.keys ?? [];

  let serial = "";
  /** Every token and secret ID the page handled, none of which may appear in a URL. */
  const secrets = [];

  await step("/ redirects to /ui/, which asks for a token", async () => {
    const response = await page.goto(`${ADDR}/`);
    assert.equal(new URL(page.url()).pathname, "/ui/");
    assert.match(response.headers()["content-security-policy"], /script-src 'self'; style-src 'self'/);
    await page.getByRole("heading", { name: "Sign in to vaultlet" }).waitFor();
    await shot("login");
  });

  await step("a wrong token is refused with the server's message", async () => {
    await form("Log in").getByLabel("Token").fill("not-a-token");
    await form("Log in").getByRole("button", { name: "Log in" }).click();
    await page.getByRole("alert").filter({ hasText: "Permission denied (403)" }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  });

  await step("log in with the root token: seal and HA status, mounts; the token in session storage only", async () => {
    await form("Log in").getByLabel("Token").fill(ROOT_TOKEN);
    await form("Log in").getByRole("button", { name: "Log in" }).click();
    await page.getByText("unsealed").waitFor();
    await page.getByRole("cell", { name: "cubbyhole", exact: true }).first().waitFor();
    await page.getByRole("cell", { name: "auth/token", exact: true }).waitFor();
    const seal = (await api("GET", "sys/seal-status")).json;
    const leader = (await api("GET", "sys/leader")).json;
    const cells = await sectionOf("Seal and HA").getByRole("row").nth(1).getByRole("cell").allInnerTexts();
    assert.deepEqual(cells, [
      seal.sealed ? "sealed" : "unsealed", seal.version, seal.storage_type,
      leader.ha_enabled ? "enabled" : "disabled",
      !leader.ha_enabled || leader.is_self ? "active" : "standby",
      leader.leader_address,
    ]);
    assert.equal(await page.evaluate((key) => sessionStorage.getItem(key), TOKEN_KEY), ROOT_TOKEN);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    assert.deepEqual(await context.cookies(), []);
    assert.ok(!page.url().includes(ROOT_TOKEN), page.url());
  });

  await step("enable pki and generate a root CA: the issuers and certificates refresh", async () => {
    await form("Enable").getByLabel("Path").fill("pki");
    await form("Enable").getByRole("button", { name: "Enable" }).click();
    await page.getByRole("heading", { name: "PKI: pki" }).waitFor();
    await sectionOf("Issuers (soonest expiry first)").getByText("No issuer yet").waitFor();
    await markDocument();
    const root = form("Generate root");
    await root.getByLabel("Common name").fill("Example Root CA");
    await root.getByLabel("Issuer name").fill("root-2026");
    await root.getByRole("button", { name: "Generate root" }).click();
    await root.getByText("Root root-2026 created.").waitFor();
    const { json } = await api("GET", "pki/issuers?list=true");
    assert.equal(json.data.keys.length, 1);
    const row = sectionOf("Issuers (soonest expiry first)").getByRole("row", { name: /root-2026/ });
    assert.match(await row.innerText(), /Example Root CA/);
    const count = (await storedCerts("pki")).length;
    await sectionOf("Certificates").getByText(`${count} stored certificate`).waitFor();
    await assertSameDocument();
  });

  await step("an intermediate with an exported key, signed by the root: issuers refresh, the cacerts bundle verifies", async () => {
    await page.goto(`${ADDR}/ui/#/`);
    await form("Enable").getByLabel("Path").fill("pki_int");
    await form("Enable").getByRole("button", { name: "Enable" }).click();
    await page.getByRole("heading", { name: "PKI: pki_int" }).waitFor();
    await sectionOf("Issuers (soonest expiry first)").getByText("No issuer yet").waitFor();
    await markDocument();
    const intermediate = form("Generate and sign");
    await intermediate.getByLabel("Common name").fill("Example Intermediate CA");
    await intermediate.getByRole("button", { name: "Generate and sign" }).click();
    const downloadButton = page.getByRole("button", { name: "Download cacerts bundle" });
    await downloadButton.waitFor();
    const [download] = await Promise.all([page.waitForEvent("download"), downloadButton.click()]);
    assert.equal(download.suggestedFilename(), "cacerts.yaml");
    const bundle = readFileSync(await download.path(), "utf8");
    assert.match(bundle, /^kind: Secret$/m);
    assert.match(bundle, /^ {2}name: cacerts$/m);
    const tlsCrt = new X509Certificate(manifestBlock(bundle, "tls.crt"));
    const caCrt = new X509Certificate(manifestBlock(bundle, "ca.crt"));
    const tlsKey = createPrivateKey(manifestBlock(bundle, "tls.key"));
    const root = new X509Certificate((await api("GET", "pki/cert/ca")).json.data.certificate);
    const issuer = new X509Certificate((await api("GET", "pki_int/cert/ca")).json.data.certificate);
    assert.ok(caCrt.raw.equals(root.raw), "ca.crt is the root");
    assert.ok(tlsCrt.raw.equals(issuer.raw), "tls.crt is pki_int's issuer");
    assert.equal(tlsCrt.ca, true, "tls.crt is a CA (basicConstraints CA:TRUE)");
    assert.match(tlsCrt.subject, /CN=Example Intermediate CA/);
    assert.ok(tlsCrt.checkIssued(caCrt) && tlsCrt.verify(caCrt.publicKey), "tls.crt is signed by ca.crt");
    assert.ok(spki(tlsKey).equals(spki(tlsCrt.publicKey)), "tls.key is tls.crt's key");
  });

  await step("issuers show the chain, key type and days left, without a reload", async () => {
    const row = sectionOf("Issuers (soonest expiry first)").getByRole("row", { name: /Example Intermediate CA/ });
    await row.waitFor();
    const text = await row.innerText();
    assert.match(text, /EC P-256/);
    assert.match(text, /Example Intermediate CA → Example Root CA/);
    assert.match(text, /\d+ days left/);
    await row.locator("meter").waitFor();
    const count = (await storedCerts("pki_int")).length;
    await sectionOf("Certificates").getByText(`${count} stored certificate`).waitFor();
    await assertSameDocument();
  });

  await step("create a role and issue a certificate that expires in 2 days: roles and certificates refresh", async () => {
    const roles = sectionOf("Roles");
    await roles.getByText("No roles yet.").waitFor();
    const role = form("Save role");
    await role.getByLabel("Name").fill("web");
    await role.getByLabel("Allowed domains").fill("example.com");
    await role.getByRole("button", { name: "Save role" }).click();
    await role.getByText("Role web saved.").waitFor();
    assert.equal(await roles.getByText("No roles yet.").count(), 0);
    assert.match(await roles.getByRole("row", { name: /^web / }).innerText(), /example\.com/);
    const before = (await storedCerts("pki_int")).length;
    const issue = form("Issue");
    await issue.getByLabel("Role").fill("web");
    await issue.getByLabel("Common name").fill("app.example.com");
    await issue.getByRole("button", { name: "Issue", exact: true }).click();
    const issued = issue.getByText(/^Issued /);
    await issued.waitFor();
    assert.match(await issued.innerText(), /2 days left/);
    serial = await issued.getByRole("link").innerText();
    assert.match(serial, /^[0-9a-f]{2}(:[0-9a-f]{2})+$/);
    const after = before + 1;
    await sectionOf("Certificates").getByText(`${after} stored ${after === 1 ? "certificate" : "certificates"}`).waitFor();
    await assertSameDocument();
    await shot("pki-mount");
  });

  await step("find the certificate by serial, revoke it after confirming", async () => {
    await page.getByRole("link", { name: serial }).click();
    const row = page.getByRole("row", { name: new RegExp(serial) });
    await row.getByText("valid").waitFor();
    assert.match(await row.innerText(), /2 days left/);
    await row.getByRole("button", { name: "Revoke" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();
    assert.equal((await api("GET", `pki_int/cert/${serial}`)).json.data.revocation_time, 0);
    await row.getByRole("button", { name: "Revoke" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Confirm" }).click();
    await page.getByRole("row", { name: new RegExp(serial) }).getByText("revoked").waitFor();
    assert.ok((await api("GET", `pki_int/cert/${serial}`)).json.data.revocation_time > 0);
  });

  await step("find it by name, with the list's status and days left", async () => {
    await page.getByRole("searchbox").fill("app.example");
    await page.getByRole("button", { name: "Search" }).click();
    const row = page.getByRole("row", { name: new RegExp(serial) });
    await row.getByText("revoked").waitFor();
    assert.match(await row.innerText(), /app\.example\.com/);
    await page.getByRole("searchbox").fill("nothing-matches");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByText("No certificate found.").waitFor();
    await page.goto(`${ADDR}/ui/#/pki/pki_int/certs`);
    await page.getByRole("row", { name: new RegExp(serial) }).waitFor();
    await shot("certificates");
  });

  await step("the CRL and OCSP endpoints the page links answer with their content types and the revocation", async () => {
    await page.goto(`${ADDR}/ui/#/pki/pki_int`);
    const endpoints = sectionOf("Endpoints");
    const expected = {
      "CA certificate (PEM)": ["application/pem-certificate-chain", "-----BEGIN CERTIFICATE-----"],
      "CA chain": ["application/pkix-cert", "-----BEGIN CERTIFICATE-----"],
      "CRL (PEM)": ["application/x-pem-file", "-----BEGIN X509 CRL-----"],
      "CRL (DER)": ["application/pkix-crl", null],
      "Delta CRL (PEM)": ["application/x-pem-file", "-----BEGIN X509 CRL-----"],
    };
    const hex = serial.replace(/:/g, "").toUpperCase();
    const work = mkdtempSync(join(tmpdir(), "vaultlet-ui-"));
    try {
      for (const [label, [type, start]] of Object.entries(expected)) {
        const href = await endpoints.getByRole("link", { name: label, exact: true }).getAttribute("href");
        // Fetched without a token, as any client of these endpoints.
        const response = await fetch(new URL(href, ADDR));
        assert.equal(response.status, 200, label);
        assert.equal(response.headers.get("content-type"), type, label);
        const body = Buffer.from(await response.arrayBuffer());
        if (start) assert.ok(body.toString().startsWith(start), `${label}: ${body.toString().slice(0, 40)}`);
        if (label === "CRL (DER)") {
          writeFileSync(join(work, "crl.der"), body);
          const text = execFileSync("openssl", ["crl", "-inform", "DER", "-in", join(work, "crl.der"), "-noout", "-text"]).toString();
          assert.match(text, new RegExp(`Serial Number: ${hex}`), "the revoked certificate is on the CRL");
        }
      }
      const ocsp = await endpoints.locator("code.ocsp").innerText();
      assert.equal(ocsp, `${ADDR}/v1/pki_int/ocsp`);
      writeFileSync(join(work, "issuer.pem"), (await api("GET", "pki_int/cert/ca")).json.data.certificate);
      execFileSync("openssl", ["ocsp", "-issuer", join(work, "issuer.pem"), "-serial", `0x${hex}`, "-no_nonce",
        "-reqout", join(work, "request.der")]);
      const response = await fetch(ocsp, {
        method: "POST",
        headers: { "Content-Type": "application/ocsp-request" },
        body: readFileSync(join(work, "request.der")),
      });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "application/ocsp-response");
      writeFileSync(join(work, "response.der"), Buffer.from(await response.arrayBuffer()));
      const text = execFileSync("openssl", ["ocsp", "-respin", join(work, "response.der"), "-resp_text", "-noverify"]).toString();
      assert.match(text, /Cert Status: revoked/);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  await step(`more certificates than a page holds (${PAGE}): page through them all`, async () => {
    for (let i = 1; i <= 25; i++) {
      const { status } = await api("POST", "pki_int/issue/web", { common_name: `bulk-${i}.example.com`, ttl: "24h" });
      assert.equal(status, 200);
    }
    const stored = await storedCerts("pki_int");
    assert.ok(stored.length > PAGE, `${stored.length} certificates`);
    await page.goto(`${ADDR}/ui/#/pki/pki_int/certs`);
    const seen = [];
    const cells = sectionOf("Certificates").locator("tbody tr td:first-child");
    for (let pageNumber = 1; ; pageNumber++) {
      const expected = Math.min(PAGE, stored.length - seen.length);
      if (expected > 0) await cells.nth(expected - 1).waitFor();
      else await sectionOf("Certificates").getByText("No certificate found.").waitFor();
      const serials = await cells.allInnerTexts();
      assert.equal(serials.length, expected, `page ${pageNumber}`);
      seen.push(...serials);
      const next = page.getByRole("link", { name: "Next page →" });
      if (expected < PAGE) {
        assert.equal(await next.count(), 0, "no next page after the last");
        break;
      }
      assert.ok(pageNumber < 10, "paging does not end");
      await next.click();
      // This page's rows go, and the pager's "First page" shows once the next page has loaded.
      await cells.filter({ hasText: serials[0] }).waitFor({ state: "detached" });
      await page.getByRole("link", { name: "First page" }).waitFor();
    }
    assert.deepEqual(seen, stored, "every stored certificate once, in the API's order");
    await page.getByRole("link", { name: "First page" }).click();
    await sectionOf("Certificates").getByRole("cell", { name: seen[0], exact: true }).waitFor();
  });

  await step(`a name search reads at most ${READERS} certificates at a time and finds every match`, async () => {
    await page.evaluate(() => { window.certificateReads.max = 0; });
    await page.getByRole("searchbox").fill("bulk-1");
    await page.getByRole("button", { name: "Search" }).click();
    const names = sectionOf("Certificates").locator("tbody tr td:nth-child(2)");
    await names.first().waitFor();
    const found = (await names.allInnerTexts()).map((text) => text.split(" ")[0]).sort();
    const wanted = ["bulk-1", ...Array.from({ length: 10 }, (_, i) => `bulk-1${i}`)].map((n) => `${n}.example.com`).sort();
    assert.deepEqual(found, wanted);
    const { max, now } = await page.evaluate(() => window.certificateReads);
    assert.equal(now, 0);
    assert.ok(max >= 2 && max <= READERS, `${max} certificate reads at once`);
  });

  await step("log out: the token leaves session storage", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByRole("heading", { name: "Sign in to vaultlet" }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    assert.deepEqual(await context.cookies(), []);
  });

  await step("a token without rights sees 403 messages, and cannot revoke", async () => {
    const policy = 'path "pki_int/certs" { capabilities = ["list"] }\npath "pki_int/cert/*" { capabilities = ["read"] }';
    assert.equal((await api("PUT", "sys/policies/acl/cert-reader", { policy })).status, 204);
    const issued = await api("POST", "pki_int/issue/web", { common_name: "other.example.com" });
    const other = issued.json.data.serial_number;
    const token = (await api("POST", "auth/token/create", { policies: ["cert-reader"] })).json.auth.client_token;
    secrets.push(token);
    await form("Log in").getByLabel("Token").fill(token);
    await form("Log in").getByRole("button", { name: "Log in" }).click();
    await page.getByText("unsealed").waitFor();
    const denied = page.getByRole("alert").filter({ hasText: "Permission denied (403)" });
    await denied.first().waitFor();
    assert.equal(await denied.count(), 2, "secrets engines and auth methods are refused");
    // Found by serial: the store holds more than one page by now.
    await page.goto(`${ADDR}/ui/#/pki/pki_int/certs?${new URLSearchParams({ q: other })}`);
    const row = page.getByRole("row", { name: new RegExp(other) });
    await row.getByText("valid").waitFor();
    await row.getByRole("button", { name: "Revoke" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Confirm" }).click();
    await row.getByRole("alert").filter({ hasText: "Permission denied (403)" }).waitFor();
    assert.equal((await api("GET", `pki_int/cert/${other}`)).json.data.revocation_time, 0);
    await page.goto(`${ADDR}/ui/#/pki/pki_int`);
    await page.getByRole("alert").filter({ hasText: "Permission denied (403)" }).first().waitFor();
    await shot("denied");
  });

  await step("AppRole: role ID and a new secret ID; audit devices", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    assert.equal((await api("POST", "sys/auth/approle", { type: "approle" })).status, 204);
    assert.equal((await api("POST", "auth/approle/role/cert-manager", { token_policies: "default" })).status, 204);
    await form("Log in").getByLabel("Token").fill(ROOT_TOKEN);
    await form("Log in").getByRole("button", { name: "Log in" }).click();
    await page.getByRole("link", { name: "auth/approle" }).click();
    const row = page.getByRole("row", { name: /cert-manager/ });
    const roleId = (await api("GET", "auth/approle/role/cert-manager/role-id")).json.data.role_id;
    await row.getByText(roleId).waitFor();
    await markDocument();
    const secretIds = row.locator(".secret-ids");
    assert.equal(await secretIds.innerText(), "0");
    await row.getByRole("button", { name: "New secret ID" }).click();
    const secretId = await row.getByLabel("secret ID for cert-manager").inputValue();
    await row.locator(".secret-ids", { hasText: "1" }).waitFor();
    secrets.push(secretId);
    const login = await api("POST", "auth/approle/login", { role_id: roleId, secret_id: secretId }, "");
    assert.equal(login.status, 200, "the new secret ID logs in");
    const create = form("Create role");
    await create.getByLabel("Name").fill("istio");
    await create.getByLabel("Policies (comma-separated)").fill("default");
    await create.getByRole("button", { name: "Create role" }).click();
    await page.getByRole("row", { name: /istio/ }).getByRole("button", { name: "New secret ID" }).waitFor();
    assert.equal((await api("GET", "auth/approle/role/istio")).json.data.token_ttl, 3600);
    await assertSameDocument();
  });

  await step("audit devices: the file device enabled in setup, writing its log", async () => {
    await page.getByRole("link", { name: "Audit devices" }).click();
    const row = page.getByRole("row", { name: /^file\// });
    await row.waitFor();
    const cells = await row.getByRole("cell").allInnerTexts();
    assert.equal(cells[1], "file");
    assert.match(cells[3], new RegExp(`file_path=${AUDIT_LOG}`));
    assert.ok(statSync(AUDIT_LOG).size > 0, "the audit log is written");
  });

  await step("AppRole login from the form", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    const roleId = (await api("GET", "auth/approle/role/cert-manager/role-id")).json.data.role_id;
    const secretId = (await api("POST", "auth/approle/role/cert-manager/secret-id")).json.data.secret_id;
    secrets.push(secretId);
    await page.getByRole("tab", { name: "AppRole" }).click();
    await form("Log in").getByLabel("Role ID").fill(roleId);
    await form("Log in").getByLabel("Secret ID").fill(secretId);
    await form("Log in").getByRole("button", { name: "Log in" }).click();
    await page.getByText("unsealed").waitFor();
    await page.getByRole("button", { name: "Log out" }).click();
  });

  await step("userpass login from the form: its token in session storage only, gone after log out", async () => {
    secrets.push(USERPASS_PASSWORD);
    await page.getByRole("tab", { name: "Userpass" }).click();
    await form("Log in").getByLabel("Username").fill("alice");
    await form("Log in").getByLabel("Password").fill(USERPASS_PASSWORD);
    await form("Log in").getByRole("button", { name: "Log in" }).click();
    await page.getByText("unsealed").waitFor();
    const token = await page.evaluate((key) => sessionStorage.getItem(key), TOKEN_KEY);
    secrets.push(token);
    const self = await api("GET", "auth/token/lookup-self", undefined, token);
    assert.equal(self.json.data.display_name, "userpass-alice");
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    assert.deepEqual(await context.cookies(), []);
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByRole("heading", { name: "Sign in to vaultlet" }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  });

  await step("no token and no secret ever in a URL; no CSP violation or script error", async () => {
    const leaked = urls.filter((url) =>
      /token|secret_id/i.test(new URL(url).search) || secrets.some((secret) => url.includes(secret)));
    assert.deepEqual(leaked, []);
    assert.deepEqual(problems, []);
  });
} finally {
  await browser.close();
}

console.log(`${steps.length} passed, ${failures.length} failed`);
if (failures.length) process.exit(1);
