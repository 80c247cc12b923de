// Log in with a token, or through userpass or AppRole (their login
// endpoints hand out a token, kept in session storage).

import { read, session, write, path } from "../api.js";
import { h, form } from "../dom.js";

const methods = {
  Token: {
    fields: [["token", "Token", "", "password"]],
    login: async ({ token }) => {
      session.login(token);
      try {
        await read("auth/token/lookup-self");
      } catch (err) {
        session.logout();
        throw err;
      }
    },
  },
  Userpass: {
    fields: [["mount", "Mount path", "userpass"], ["username", "Username"], ["password", "Password", "", "password"]],
    login: async ({ mount, username, password }) =>
      session.login((await write(path("auth", mount, "login", username), { password })).auth.client_token),
  },
  AppRole: {
    fields: [["mount", "Mount path", "approle"], ["role_id", "Role ID"], ["secret_id", "Secret ID", "", "password"]],
    login: async ({ mount, role_id, secret_id }) =>
      session.login((await write(path("auth", mount, "login"), { role_id, secret_id })).auth.client_token),
  },
};

export function loginView(done) {
  const panel = h("div", {});
  const show = (name) => {
    for (const tab of tabs.children) tab.setAttribute("aria-selected", String(tab.textContent === name));
    panel.replaceChildren(form(methods[name].fields, "Log in", async (values) => {
      await methods[name].login(values);
      done();
    }));
  };
  const tabs = h("div", { class: "tabs", role: "tablist" },
    Object.keys(methods).map((name) => h("button", { type: "button", role: "tab", onclick: () => show(name) }, name)));
  show("Token");
  return h("section", { class: "login" }, h("h1", {}, "Sign in to vaultlet"), tabs, panel);
}
