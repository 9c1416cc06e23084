// A shot's variants as tabs (A, B, C…): each has a name, a weight and the whole content editor
// of editor.js, its fields named as the API names them (variants[1].copy); the form's checks and
// previews follow the tab shown.

import { h, replace } from "./dom.js";
import { buttonsFromApi, buttonsToApi, contentEditor } from "./editor.js";
import { fmtPercent, t } from "./i18n.js";
import { field } from "./ui.js";

export const MIN_VARIANTS = 2;
export const MAX_VARIANTS = 5;
const LETTERS = ["A", "B", "C", "D", "E"];

/** A stored variant as the editor keeps it (buttons as [{text, url}], weight as typed). */
export function variantFromApi(variant) {
  return {
    name: variant.name || "",
    weight: String(variant.weight ?? 1),
    copy: variant.copy || "",
    media_type: variant.media_type || "none",
    media_url: variant.media_url || "",
    buttons: buttonsFromApi(variant.buttons),
  };
}

/** A new variant named `name` with a copy of `content` (the editor's values) to start from. */
export function variantFrom(content, name) {
  return {
    name,
    weight: "1",
    copy: content.copy || "",
    media_type: content.media_type || "none",
    media_url: content.media_url || "",
    buttons: (content.buttons || []).map((b) => ({ text: b.text, url: b.url })),
  };
}

function weightOf(variant) {
  const n = Number(variant.weight);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/**
 * The tabs over `list` (variants as `variantFrom` makes them, kept current). `onChange` runs
 * after every edit, `onSwitch(editor)` when another tab shows (and after a rebuild).
 * Returns `{el, editor, read, show, rebuild, revealErrors}`.
 */
export function variantTabs({ list, onChange = () => {}, onSwitch = () => {} }) {
  let active = 0;
  let panels = [];
  const tabs = h("div", { class: "variant-tabs", role: "tablist", "aria-label": t("ab.variants.tabs") });
  const body = h("div", { class: "variant-panels" });
  const add = h("button", { type: "button", class: "btn btn-sm btn-ghost variant-add", "data-action": "add-variant" }, "+ ", t("ab.variant.add"));
  add.addEventListener("click", () => {
    const used = new Set(list.map((v) => v.name.trim().toUpperCase()));
    const name = LETTERS.find((l) => !used.has(l)) || String(list.length + 1);
    list.push(variantFrom(list[active] || list[0] || {}, name));
    rebuild(list.length - 1);
    onChange();
  });
  const el = h(
    "div",
    { class: "field variants", "data-field": "variants", "data-testid": "variants" },
    h("div", { class: "variant-bar" }, tabs, add),
    h("p", { class: "field-error", role: "alert" }),
    body,
  );

  function shares() {
    const total = list.reduce((sum, v) => sum + weightOf(v), 0);
    return list.map((v) => (total ? weightOf(v) / total : 0));
  }

  function drawTabs() {
    const parts = shares();
    replace(
      tabs,
      list.map((v, i) =>
        h(
          "button",
          {
            type: "button",
            role: "tab",
            id: `variant-tab-${i}`,
            class: ["variant-tab", panels[i] && panels[i].panel.querySelector(".has-error") ? "is-invalid" : null],
            "aria-selected": String(i === active),
            "aria-controls": `variant-panel-${i}`,
            tabindex: i === active ? "0" : "-1",
            "data-variant": i,
            on: { click: () => show(i), keydown: (ev) => arrows(ev, i) },
          },
          h("span", { class: "variant-name" }, v.name.trim() || LETTERS[i] || String(i + 1)),
          h("span", { class: "variant-share" }, fmtPercent(parts[i])),
        ),
      ),
    );
    panels.forEach((p, i) => (p.share.textContent = t("ab.variant.share", { share: fmtPercent(parts[i]) })));
    add.hidden = list.length >= MAX_VARIANTS;
  }

  function arrows(ev, i) {
    const step = ev.key === "ArrowRight" ? 1 : ev.key === "ArrowLeft" ? -1 : 0;
    if (!step) return;
    ev.preventDefault();
    show((i + step + list.length) % list.length);
    tabs.children[active].focus();
  }

  function panelOf(variant, i) {
    const prefix = `variants[${i}].`;
    const editor = contentEditor({ values: variant, onChange, prefix });
    const name = h("input", { id: `${prefix}name`, class: "input input-word", value: variant.name, maxlength: 32, autocomplete: "off" });
    name.addEventListener("input", () => {
      variant.name = name.value;
      drawTabs();
    });
    const weight = h("input", { id: `${prefix}weight`, type: "number", class: "input input-days", min: 1, max: 100, step: 1, value: variant.weight });
    weight.addEventListener("input", () => {
      variant.weight = weight.value;
      drawTabs();
    });
    const share = h("span", { class: "field-help", "data-testid": "variant-share" });
    const remove = h(
      "button",
      { type: "button", class: "btn btn-sm btn-danger-ghost", "data-action": "remove-variant", disabled: list.length <= MIN_VARIANTS },
      t("ab.variant.remove"),
    );
    remove.addEventListener("click", () => {
      list.splice(i, 1);
      rebuild(Math.min(active, list.length - 1));
      onChange();
    });
    const panel = h(
      "div",
      { class: "variant-panel", role: "tabpanel", id: `variant-panel-${i}`, "aria-labelledby": `variant-tab-${i}`, "data-variant": i },
      h(
        "div",
        { class: "variant-head" },
        field(`${prefix}name`, t("ab.variant.name"), name),
        field(`${prefix}weight`, t("ab.variant.weight"), h("div", { class: "ab-inline" }, weight, share)),
        remove,
      ),
      i === 0 ? h("p", { class: "field-help variant-note" }, t("ab.variant.fallback")) : null,
      editor.fields.media,
      editor.fields.mediaUrl,
      editor.fields.copy,
      editor.fields.buttons,
    );
    panel.querySelector(`[data-field="${CSS.escape(prefix + "weight")}"] label`).htmlFor = weight.id;
    return { editor, panel, share };
  }

  /** Build every panel again (after a variant is added or removed: the indexes moved). */
  function rebuild(show_ = active) {
    panels = list.map(panelOf);
    replace(body, panels.map((p) => p.panel));
    show(show_);
  }

  /** Show tab `i`. */
  function show(i) {
    active = Math.max(0, Math.min(i, list.length - 1));
    panels.forEach((p, j) => (p.panel.hidden = j !== active));
    drawTabs();
    if (panels[active]) onSwitch(panels[active].editor);
  }

  return {
    el,
    rebuild,
    show,
    /** The editor of the tab shown. */
    editor: () => panels[active] && panels[active].editor,
    /** The first variant's editor (the shot's own message). */
    first: () => panels[0] && panels[0].editor,
    /** The variants as the API takes them. */
    read: () =>
      list.map((v) => {
        const weight = String(v.weight).trim();
        return {
          name: v.name.trim(),
          copy: v.copy,
          media_type: v.media_type,
          media_url: v.media_type === "none" ? null : v.media_url.trim() || null,
          buttons: buttonsToApi(v.buttons),
          weight: !weight ? 1 : /^\d+$/.test(weight) ? Number(weight) : weight,
        };
      }),
    /** Mark the tabs whose panel holds an error and show the first of them; whether any did. */
    revealErrors() {
      drawTabs();
      const first = panels.findIndex((p) => p.panel.querySelector(".has-error"));
      if (first >= 0 && first !== active) show(first);
      return first >= 0;
    },
  };
}
