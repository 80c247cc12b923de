// Small helpers that build elements with text nodes only (no HTML strings).

/** h("a", { href, class, onclick }, "text", child, [more]) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "value") el.value = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  el.append(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
  return el;
}

export function table(headers, rows, empty = "None.") {
  if (rows.length === 0) return h("p", { class: "muted" }, empty);
  return h("table", {},
    h("thead", {}, h("tr", {}, headers.map((title) => h("th", {}, title)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell))))));
}

export function errorBox(err) {
  return h("p", { class: err.status === 403 ? "error denied" : "error", role: "alert" }, err.message);
}

/**
 * A titled section whose body loads on its own: a refusal shows there, not
 * as a broken page. Its `refresh()` loads the body again after an action
 * changed what it shows (only the latest load is shown).
 */
export function section(title, load, ...actions) {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const el = h("section", {}, h("h2", {}, title, ...actions), body);
  let latest = 0;
  el.refresh = async () => {
    const mine = ++latest;
    let shown;
    try {
      shown = [await load(el.refresh)].flat();
    } catch (err) {
      shown = [errorBox(err)];
    }
    if (mine === latest) body.replaceChildren(...shown);
  };
  el.refresh();
  return el;
}

/** A form whose submit runs `action(values)` and shows its result or error below it. */
export function form(fields, label, action) {
  const out = h("div", { class: "result" });
  const button = h("button", { type: "submit" }, label);
  const el = h("form", {
    onsubmit: async (event) => {
      event.preventDefault();
      const values = Object.fromEntries(new FormData(el));
      button.disabled = true;
      out.replaceChildren();
      try {
        const shown = await action(values);
        if (shown) out.replaceChildren(...[shown].flat());
      } catch (err) {
        out.replaceChildren(errorBox(err));
      } finally {
        button.disabled = false;
      }
    },
  }, fields.map(field), button, out);
  return el;
}

/** [name, label, default, type] or [name, label, [options]] */
function field([name, label, value = "", type = "text"]) {
  const input = Array.isArray(value)
    ? h("select", { name }, value.map((option) => h("option", { value: option }, option)))
    : h("input", { name, value, type, autocomplete: type === "password" ? "current-password" : "off" });
  return h("label", {}, h("span", {}, label), input);
}

/** Asks before a destructive action, in a modal dialog. */
export function confirmAction(question) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "confirm" },
      h("p", {}, question),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "danger", onclick: () => dialog.close("yes") }, "Confirm"),
        h("button", { type: "button", onclick: () => dialog.close("no") }, "Cancel")));
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "yes");
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** Offers text as a file download (built in the page; nothing goes in a URL). */
export function download(name, text, type = "application/x-yaml") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export const daysLeft = (date) => Math.floor((date.getTime() - Date.now()) / 86400000);

/** The days until `date` as a gauge: red within 7 days, amber within 30. */
export function expiry(date) {
  const days = daysLeft(date);
  return h("span", { class: "expiry" },
    h("meter", { min: 0, max: 365, low: 30, high: 90, optimum: 365, value: Math.max(0, Math.min(days, 365)), title: date.toISOString() }),
    h("span", { class: days < 7 ? "days bad" : days < 30 ? "days warn" : "days" }, days < 0 ? "expired" : `${days} days left`));
}
