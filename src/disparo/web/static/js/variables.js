// The copy editor's personal variables: a toolbar button opening a panel that inserts
// {first_name|amigo} and the others at the cursor, explains fallbacks, and asks for the key of
// a custom attribute ({attr.plano}).

import { h } from "./dom.js";
import { t } from "./i18n.js";

/** The contact's variables, in the API's words; those with a sensible fallback get one. */
export const VARIABLES = ["first_name", "last_name", "username", "last_pix_amount", "total_paid", "last_pix_at", "tags"];
const WITH_FALLBACK = new Set(["first_name"]);
const ATTRIBUTE_KEY = /^[A-Za-z0-9_]{1,40}$/;

/** The text a variable is inserted as, and where its fallback sits in it (to select it). */
export function variableToken(name) {
  if (!WITH_FALLBACK.has(name)) return { text: `{${name}}`, fallback: null };
  const fallback = t(`vars.fallback.${name}`);
  const text = `{${name}|${fallback}}`;
  return { text, fallback: [text.length - 1 - fallback.length, text.length - 1] };
}

/** Put `text` in place of the textarea's selection; select `[from, to]` of it, else go past it. */
function insertAt(textarea, text, select) {
  const { selectionStart: start, selectionEnd: end, value } = textarea;
  textarea.value = value.slice(0, start) + text + value.slice(end);
  textarea.focus();
  if (select) textarea.setSelectionRange(start + select[0], start + select[1]);
  else textarea.setSelectionRange(start + text.length, start + text.length);
  textarea.dispatchEvent(new Event("input"));
}

let pickers = 0;

/** `{button, panel}` for `textarea`: the button goes in the toolbar, the panel under it. */
export function variablePicker(textarea) {
  const id = `variables-${++pickers}`;
  const button = h(
    "button",
    { type: "button", class: "tool tool-vars", "aria-expanded": "false", "aria-controls": id, "data-testid": "variables", title: t("vars.button.title") },
    h("span", { class: "tool-vars-mark", "aria-hidden": "true" }, "{ }"),
    " ",
    t("vars.button"),
  );
  const keyInput = h("input", { id: `${id}-key`, class: "input input-word", placeholder: "plano", maxlength: 40, autocomplete: "off", "data-testid": "attr-key" });
  const keyError = h("p", { class: "var-error", role: "alert" });
  const keyRow = h(
    "div",
    { class: "var-attr", hidden: true },
    h("label", { class: "field-label", for: keyInput.id }, t("vars.attr.key")),
    h("div", { class: "var-attr-row" }, keyInput, h("button", { type: "button", class: "btn btn-sm btn-primary", "data-action": "insert-attr", on: { click: insertAttribute } }, t("vars.insert"))),
    h("p", { class: "field-help" }, t("vars.attr.help")),
    keyError,
  );
  const items = VARIABLES.map((name) => {
    const token = variableToken(name);
    return h(
      "button",
      { type: "button", class: "var-item", "data-variable": name, on: { click: () => choose(token) } },
      h("code", { class: "var-code" }, token.text),
      h("span", { class: "var-label" }, t(`vars.${name}`)),
      h("span", { class: "var-example" }, t(`vars.${name}.example`)),
    );
  });
  const attrItem = h(
    "button",
    { type: "button", class: "var-item", "data-variable": "attr", on: { click: askKey } },
    h("code", { class: "var-code" }, "{attr.…}"),
    h("span", { class: "var-label" }, t("vars.attr")),
    h("span", { class: "var-example" }, t("vars.attr.example")),
  );
  const panel = h(
    "div",
    { id, class: "var-panel", hidden: true, "data-testid": "variables-panel" },
    h(
      "div",
      { class: "var-head" },
      h("p", { class: "var-lead" }, t("vars.lead")),
      h("button", { type: "button", class: "btn btn-icon btn-ghost", "aria-label": t("common.close"), title: t("common.close"), on: { click: () => toggle(false) } }, "×"),
    ),
    h("div", { class: "var-list" }, items, attrItem),
    keyRow,
  );

  function toggle(open) {
    panel.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    if (!open) {
      keyRow.hidden = true;
      attrItem.setAttribute("aria-expanded", "false");
    }
  }
  function choose(token) {
    insertAt(textarea, token.text, token.fallback);
    toggle(false);
  }
  function askKey() {
    keyRow.hidden = false;
    attrItem.setAttribute("aria-expanded", "true");
    keyError.textContent = "";
    keyInput.focus();
  }
  function insertAttribute() {
    const key = keyInput.value.trim();
    if (!ATTRIBUTE_KEY.test(key)) {
      keyError.textContent = t("vars.attr.invalid");
      keyInput.setAttribute("aria-invalid", "true");
      keyInput.focus();
      return;
    }
    keyInput.removeAttribute("aria-invalid");
    keyInput.value = "";
    choose({ text: `{attr.${key}}`, fallback: null });
  }
  keyInput.addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter") return;
    ev.preventDefault(); // not the form's submit
    insertAttribute();
  });
  button.addEventListener("click", () => toggle(panel.hidden));
  panel.addEventListener("keydown", (ev) => {
    if (ev.key !== "Escape") return;
    toggle(false);
    textarea.focus();
  });
  return { button, panel };
}
