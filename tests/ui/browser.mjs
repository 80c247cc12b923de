// The web UI in a real headless Chromium against a real vaultlet dev server
// (tests/ui/run starts it): the guide's PKI steps by clicking, a revoked
// certificate found by serial and by name, the cacerts bundle download,
// log out, and a limited token that sees 403 messages instead of pages.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const require = createRequire(join(process.env.PLAYWRIGHT_MODULES, "node_modules", "/"));
const { chromium } = require("playwright-core");

const ADDR = process.env.VAULTLET_ADDR;
const SHOTS = process.env.SCREENSHOTS;
const ROOT_TOKEN = "root";

async function api(method, path, body, token = ROOT_TOKEN) {
  const response = await fetch(`${ADDR}/v1/${path}`, {
    method,
    headers: { "X-Vault-Token": token },
    body: body && JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

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

  let serial = "";
  /** Every token and secret ID the page handled, none of which may appear in a URL. */
  const secrets = [];
  let bundle = "";

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

  await step("log in with the root token: seal status and mounts", async () => {
    await form("Log in").getByLabel("Token").fill(ROOT_TOKEN);
    await form("Log in").getByRole("button", { name: "Log in" }).click();
    await page.getByText("unsealed").waitFor();
    await page.getByRole("cell", { name: "cubbyhole", exact: true }).first().waitFor();
    await page.getByRole("cell", { name: "auth/token", exact: true }).waitFor();
  });

  await step("enable pki and generate a root CA", async () => {
    await form("Enable").getByLabel("Path").fill("pki");
    await form("Enable").getByRole("button", { name: "Enable" }).click();
    await page.getByRole("heading", { name: "PKI: pki" }).waitFor();
    const root = form("Generate root");
    await root.getByLabel("Common name").fill("Example Root CA");
    await root.getByLabel("Issuer name").fill("root-2026");
    await root.getByRole("button", { name: "Generate root" }).click();
    await root.getByText("Root root-2026 created").waitFor();
    const { json } = await api("GET", "pki/issuers?list=true");
    assert.equal(json.data.keys.length, 1);
  });

  await step("an intermediate with an exported key, signed by the root, and its cacerts bundle", async () => {
    await page.goto(`${ADDR}/ui/#/`);
    await form("Enable").getByLabel("Path").fill("pki_int");
    await form("Enable").getByRole("button", { name: "Enable" }).click();
    await page.getByRole("heading", { name: "PKI: pki_int" }).waitFor();
    const intermediate = form("Generate and sign");
    await intermediate.getByLabel("Common name").fill("Example Intermediate CA");
    await intermediate.getByRole("button", { name: "Generate and sign" }).click();
    const downloadButton = page.getByRole("button", { name: "Download cacerts bundle" });
    await downloadButton.waitFor();
    const [download] = await Promise.all([page.waitForEvent("download"), downloadButton.click()]);
    assert.equal(download.suggestedFilename(), "cacerts.yaml");
    bundle = readFileSync(await download.path(), "utf8");
    for (const key of ["name: cacerts", "tls.crt: |", "tls.key: |", "ca.crt: |", "PRIVATE KEY-----"]) {
      assert.ok(bundle.includes(key), `bundle lacks ${key}`);
    }
    const root = (await api("GET", "pki/cert/ca")).json.data.certificate.trim();
    assert.ok(bundle.includes(root.split("\n")[1]), "ca.crt is the root");
  });

  await step("issuers show the chain, key type and days left", async () => {
    await page.reload();
    const row = page.getByRole("row", { name: /Example Intermediate CA/ });
    await row.waitFor();
    const text = await row.innerText();
    assert.match(text, /EC P-256/);
    assert.match(text, /Example Intermediate CA → Example Root CA/);
    assert.match(text, /\d+ days left/);
    await row.locator("meter").waitFor();
  });

  await step("create a role and issue a certificate that expires in 2 days", async () => {
    const role = form("Save role");
    await role.getByLabel("Name").fill("web");
    await role.getByLabel("Allowed domains").fill("example.com");
    await role.getByRole("button", { name: "Save role" }).click();
    await role.getByText("Role web saved.").waitFor();
    const issue = form("Issue");
    await issue.getByLabel("Role").fill("web");
    await issue.getByLabel("Common name").fill("app.example.com");
    await issue.getByRole("button", { name: "Issue", exact: true }).click();
    const issued = issue.getByText(/^Issued /);
    await issued.waitFor();
    assert.match(await issued.innerText(), /2 days left/);
    serial = await issued.getByRole("link").innerText();
    assert.match(serial, /^[0-9a-f]{2}(:[0-9a-f]{2})+$/);
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
    await page.goto(`${ADDR}/ui/#/pki/pki_int/certs`);
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
    await row.getByRole("button", { name: "New secret ID" }).click();
    const secretId = await row.getByLabel("secret ID for cert-manager").inputValue();
    secrets.push(secretId);
    const login = await api("POST", "auth/approle/login", { role_id: roleId, secret_id: secretId }, "");
    assert.equal(login.status, 200, "the new secret ID logs in");
    const create = form("Create role");
    await create.getByLabel("Name").fill("istio");
    await create.getByLabel("Policies (comma-separated)").fill("default");
    await create.getByRole("button", { name: "Create role" }).click();
    await page.getByRole("row", { name: /istio/ }).getByRole("button", { name: "New secret ID" }).waitFor();
    assert.equal((await api("GET", "auth/approle/role/istio")).json.data.token_ttl, 3600);
    await page.getByRole("link", { name: "Audit devices" }).click();
    await page.getByText("No audit device is enabled.").waitFor();
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
