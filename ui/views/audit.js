// Audit devices (sys/audit).

import { read } from "../api.js";
import { h, section, table } from "../dom.js";

export function auditView() {
  return h("div", {},
    h("h1", {}, "Audit devices"),
    section("Enabled devices", async () => {
      const devices = (await read("sys/audit")).data ?? {};
      return table(["Path", "Type", "Description", "Options"],
        Object.entries(devices).map(([name, d]) => [
          name, d.type, d.description || "",
          Object.entries(d.options || {}).map(([k, v]) => `${k}=${v}`).join(", "),
        ]), "No audit device is enabled.");
    }));
}
