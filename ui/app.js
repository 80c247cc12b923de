// The page's router: the fragment (#/pki/pki/certs, ...) names the view.
// Without a token in session storage every view is the login form.

import { session } from "./api.js";
import { h } from "./dom.js";
import { loginView } from "./views/login.js";
import { statusView } from "./views/status.js";
import { pkiView } from "./views/pki.js";
import { certsView } from "./views/certs.js";
import { approleView } from "./views/approle.js";
import { auditView } from "./views/audit.js";

const routes = [
  [/^\/pki\/(.+)\/certs$/, (mount, query) => certsView(mount, query)],
  [/^\/pki\/(.+)$/, (mount) => pkiView(mount)],
  [/^\/approle\/(.+)$/, (mount) => approleView(mount)],
  [/^\/audit$/, () => auditView()],
  [/^\/?$/, () => statusView()],
];

function render() {
  const main = document.getElementById("main");
  const [encoded, search = ""] = (location.hash.slice(1) || "/").split("?");
  const route = decodeURIComponent(encoded);
  const loggedIn = Boolean(session.token());
  document.getElementById("logout").hidden = !loggedIn;
  document.getElementById("nav").replaceChildren(
    ...(loggedIn ? [h("a", { href: "#/" }, "Status & mounts"), h("a", { href: "#/audit" }, "Audit devices")] : []));
  if (!loggedIn) {
    main.replaceChildren(loginView(() => { location.hash = "#/"; render(); }));
    return;
  }
  for (const [pattern, view] of routes) {
    const match = route.match(pattern);
    if (match) {
      main.replaceChildren(view(match[1], new URLSearchParams(search)));
      return;
    }
  }
  main.replaceChildren(h("p", { class: "error" }, `No page at ${route}.`));
}

document.getElementById("logout").addEventListener("click", () => {
  session.logout();
  location.hash = "#/";
  render();
});
window.addEventListener("hashchange", render);
render();
