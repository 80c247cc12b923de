// AppRole roles: each role's role ID, how many secret IDs it has, and a
// "new secret ID" action.

import { list, mapLimited, read, write, path } from "../api.js";
import { h, form, section, table } from "../dom.js";

/** The number of the role's live secret IDs (a LIST of their accessors), or the refusal. */
async function secretIdCount(mount, role) {
  try {
    return String((await list(path("auth", mount, "role", role, "secret-id"))).data.keys.length);
  } catch (err) {
    return h("span", { class: "error" }, err.message);
  }
}

/** The role's row: a new secret ID is shown once in it, and its count refreshes. */
async function roleRow(mount, role) {
  let roleId;
  try {
    roleId = h("code", {}, (await read(path("auth", mount, "role", role, "role-id"))).data.role_id);
  } catch (err) {
    roleId = h("span", { class: "error" }, err.message);
  }
  const count = h("span", { class: "secret-ids" }, await secretIdCount(mount, role));
  const out = h("span", { class: "result" });
  const button = h("button", {
    type: "button",
    onclick: async () => {
      try {
        const { data } = await write(path("auth", mount, "role", role, "secret-id"));
        out.replaceChildren(
          h("input", { readonly: true, class: "secret", value: data.secret_id, "aria-label": `secret ID for ${role}` }),
          h("small", { class: "muted" }, ` accessor ${data.secret_id_accessor}; shown once`));
        count.replaceChildren(await secretIdCount(mount, role));
      } catch (err) {
        out.replaceChildren(h("span", { class: "error" }, err.message));
      }
    },
  }, "New secret ID");
  return [role, roleId, count, h("span", {}, button, out)];
}

export function approleView(mount) {
  const roles = section("Roles", async () => {
    const names = (await list(path("auth", mount, "role"))).data.keys;
    const rows = await mapLimited(names, (role) => roleRow(mount, role));
    return table(["Role", "Role ID", "Secret IDs", ""], rows, "No roles yet.");
  });
  return h("div", {},
    h("h1", {}, `AppRole: auth/${mount}`),
    roles,
    h("section", {}, h("h2", {}, "New role"),
      form([["name", "Name"], ["token_policies", "Policies (comma-separated)"], ["token_ttl", "Token TTL", "1h"]],
        "Create role", async ({ name, ...settings }) => {
          await write(path("auth", mount, "role", name), settings);
          await roles.refresh();
          return h("p", { class: "good" }, `Role ${name} saved.`);
        })));
}
