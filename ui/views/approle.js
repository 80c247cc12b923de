// AppRole roles: each role's role ID and a "new secret ID" action.

import { list, read, write, path } from "../api.js";
import { h, form, section, table } from "../dom.js";

function secretIdButton(mount, role) {
  const out = h("span", { class: "result" });
  const button = h("button", {
    type: "button",
    onclick: async () => {
      try {
        const { data } = await write(path("auth", mount, "role", role, "secret-id"));
        out.replaceChildren(
          h("input", { readonly: true, class: "secret", value: data.secret_id, "aria-label": `secret ID for ${role}` }),
          h("small", { class: "muted" }, ` accessor ${data.secret_id_accessor}; shown once`));
      } catch (err) {
        out.replaceChildren(h("span", { class: "error" }, err.message));
      }
    },
  }, "New secret ID");
  return h("span", {}, button, out);
}

export function approleView(mount) {
  let reloadRoles;
  return h("div", {},
    h("h1", {}, `AppRole: auth/${mount}`),
    section("Roles", async (reload) => {
      reloadRoles = reload;
      const roles = (await list(path("auth", mount, "role"))).data.keys;
      const rows = await Promise.all(roles.map(async (role) => {
        let roleId;
        try {
          roleId = h("code", {}, (await read(path("auth", mount, "role", role, "role-id"))).data.role_id);
        } catch (err) {
          roleId = h("span", { class: "error" }, err.message);
        }
        return [role, roleId, secretIdButton(mount, role)];
      }));
      return table(["Role", "Role ID", ""], rows, "No roles yet.");
    }),
    h("section", {}, h("h2", {}, "New role"),
      form([["name", "Name"], ["token_policies", "Policies (comma-separated)"], ["token_ttl", "Token TTL", "1h"]],
        "Create role", async ({ name, ...settings }) => {
          await write(path("auth", mount, "role", name), settings);
          reloadRoles();
          return h("p", { class: "good" }, `Role ${name} saved.`);
        })));
}
