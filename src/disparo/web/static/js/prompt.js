// A dialog that asks for a few values (a template's name, a tag) and runs the action itself, so
// the API's refusal shows inside it and the operator can fix the value without starting over.

import { ApiError } from "./api.js";
import { h, replace } from "./dom.js";
import { t } from "./i18n.js";

let dialogs = 0;

/**
 * Fields are `{name, label, value, help, kind: "text" | "checkbox", options, maxlength,
 * errorText}` (`options`: suggestions for a text field; `errorText`: the page's sentence put
 * above the API's message for that field). `submit(values)` runs on OK; an ApiError it throws
 * is shown beside the field it names (else under the fields) and the dialog stays open.
 * Resolves with what `submit` returned, or null when cancelled.
 */
export function formDialog({ title, body, fields, ok, submit, testid }) {
  const n = ++dialogs;
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "dialog dialog-form", "aria-labelledby": `prompt-title-${n}`, "data-testid": testid || null });
    const inputs = new Map();
    const errors = new Map();
    const rows = fields.map((f) => {
      const id = `prompt-${n}-${f.name}`;
      const error = h("p", { class: "field-error", role: "alert" });
      errors.set(f.name, error);
      if (f.kind === "checkbox") {
        const box = h("input", { type: "checkbox", id, name: f.name, checked: Boolean(f.value) });
        inputs.set(f.name, box);
        return h("div", { class: "field", "data-field": f.name }, h("label", { class: "check" }, box, " ", f.label), f.help ? h("p", { class: "field-help" }, f.help) : null, error);
      }
      const list = f.options && f.options.length ? h("datalist", { id: `${id}-list` }, f.options.map((o) => h("option", { value: o }))) : null;
      const input = h("input", { id, name: f.name, class: "input", value: f.value || "", maxlength: f.maxlength || null, autocomplete: "off", list: list ? list.id : null });
      input.addEventListener("input", () => replace(error));
      inputs.set(f.name, input);
      return h("div", { class: "field", "data-field": f.name }, h("label", { class: "field-label", for: id }, f.label), input, list, f.help ? h("p", { class: "field-help" }, f.help) : null, error);
    });
    const general = h("p", { class: "field-error", role: "alert" });
    const okButton = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "prompt-ok" }, ok || t("common.save"));
    const form = h(
      "form",
      { novalidate: true },
      h("h2", { id: `prompt-title-${n}`, class: "dialog-title" }, title),
      body ? h("p", { class: "dialog-body" }, body) : null,
      h("div", { class: "dialog-fields" }, rows),
      general,
      h("div", { class: "dialog-actions" }, h("button", { type: "button", class: "btn btn-ghost", on: { click: () => close(null) } }, t("common.cancel")), okButton),
    );
    function close(answer) {
      dialog.close();
      dialog.remove();
      resolve(answer);
    }
    function read() {
      return Object.fromEntries([...inputs].map(([name, input]) => [name, input.type === "checkbox" ? input.checked : input.value.trim()]));
    }
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      for (const slot of [...errors.values(), general]) replace(slot);
      const values = read();
      const empty = fields.find((f) => f.kind !== "checkbox" && f.required !== false && !values[f.name]);
      if (empty) {
        errors.get(empty.name).textContent = t("form.required");
        inputs.get(empty.name).focus();
        return;
      }
      okButton.disabled = true;
      try {
        close(await submit(values));
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        const slot = errors.get(err.field) || general;
        const named = fields.find((f) => f.name === err.field);
        replace(slot, named && named.errorText ? [named.errorText, h("span", { class: "field-error-detail" }, err.message)] : err.message);
        if (inputs.has(err.field)) inputs.get(err.field).focus();
      } finally {
        okButton.disabled = false;
      }
    });
    dialog.addEventListener("cancel", (ev) => {
      ev.preventDefault();
      close(null);
    });
    dialog.append(form);
    document.body.append(dialog);
    dialog.showModal();
    const first = form.querySelector("input");
    if (first) first.focus();
  });
}
