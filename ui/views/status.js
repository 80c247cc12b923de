// Seal and HA status, secrets engines and auth methods.

import { read, write, path } from "../api.js";
import { h, form, section, table } from "../dom.js";

const engineLink = (mount, type) =>
  type === "pki" ? h("a", { href: `#/pki/${mount}` }, mount) : mount;
const authLink = (mount, type) =>
  type === "approle" ? h("a", { href: `#/approle/${mount}` }, `auth/${mount}`) : `auth/${mount}`;
const mountRows = (mounts, link) =>
  Object.entries(mounts).map(([name, m]) => [link(name.replace(/\/$/, ""), m.type), m.type, m.description || ""]);

export function statusView() {
  return h("div", {},
    h("h1", {}, "Status"),
    section("Seal and HA", async () => {
      const seal = await read("sys/seal-status");
      const leader = await read("sys/leader");
      return table(["Sealed", "Version", "Storage", "HA", "This node", "Leader"], [[
        h("strong", { class: seal.sealed ? "bad" : "good" }, seal.sealed ? "sealed" : "unsealed"),
        seal.version ?? "",
        seal.storage_type ?? "",
        leader.ha_enabled ? "enabled" : "disabled",
        leader.ha_enabled ? (leader.is_self ? "active" : "standby") : "active",
        leader.leader_address || "",
      ]]);
    }),
    section("Secrets engines", async () =>
      table(["Path", "Type", "Description"], mountRows((await read("sys/mounts")).data, engineLink))),
    section("Auth methods", async () =>
      table(["Path", "Type", "Description"], mountRows((await read("sys/auth")).data, authLink))),
    h("section", {}, h("h2", {}, "Enable a PKI engine"),
      form([["mount", "Path", "pki"], ["max_lease_ttl", "Max lease TTL", "87600h"]], "Enable", async ({ mount, max_lease_ttl }) => {
        await write(path("sys", "mounts", mount), { type: "pki", config: { max_lease_ttl } });
        location.hash = `#/pki/${mount}`;
      })));
}
