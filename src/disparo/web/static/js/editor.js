// The content editor shared by the shot form and the template form: media, the copy with its
// toolbar (HTML tags, personal variables) and Telegram's length counter, link buttons, and the
// Telegram-like preview of the copy as written or as one contact receives it.

import { h, replace } from "./dom.js";
import { t, fmtNumber } from "./i18n.js";
import { renderTelegramHtml, copyLimit } from "./tghtml.js";
import { choice, field } from "./ui.js";
import { variablePicker } from "./variables.js";

const MEDIA = ["none", "photo", "video", "audio"];
const TOOLS = [
  ["b", "B", "tool-bold"],
  ["i", "I", "tool-italic"],
  ["u", "U", "tool-underline"],
  ["s", "S", "tool-strike"],
  ["code", "</>", "tool-code"],
  ["tg-spoiler", "▒", "tool-spoiler"],
  ["a", "link", "tool-link"],
];

/** Flat [{text, url}] rows from the API's buttons (a list of rows, or a flat list). */
export function buttonsFromApi(buttons) {
  if (!Array.isArray(buttons)) return [];
  return buttons.flatMap((row) => (Array.isArray(row) ? row : [row])).map((b) => ({ text: b.text || "", url: b.url || "" }));
}

/** The API's rows of buttons (one per row), or null when none is filled in. */
export function buttonsToApi(rows) {
  const filled = rows.filter((b) => b.text.trim() || b.url.trim());
  return filled.length ? filled.map((b) => [{ text: b.text.trim(), url: b.url.trim() }]) : null;
}

/** Whether a copy or button URL names a personal variable ({{ and }} are literal braces). */
export function hasVariables(copy, buttons) {
  const texts = [copy || "", ...(buttons || []).map((b) => b.url || "")];
  return texts.some((text) => /\{[^{}]*\}/.test(text.replace(/\{\{|\}\}/g, "")));
}

/** Wrap the textarea's selection in <tag>…</tag> (a link asks nothing: href="https://"). */
function wrapSelection(textarea, tag) {
  const { selectionStart: start, selectionEnd: end, value } = textarea;
  const open = tag === "a" ? '<a href="https://">' : `<${tag}>`;
  const close = `</${tag}>`;
  textarea.value = value.slice(0, start) + open + value.slice(start, end) + close + value.slice(end);
  textarea.focus();
  textarea.setSelectionRange(start + open.length, end + open.length);
  textarea.dispatchEvent(new Event("input"));
}

/**
 * The editor over `values` (media_type, media_url, copy, buttons as [{text, url}]), kept
 * current; `onChange` runs after every edit. `prefix` names its fields and controls when a form
 * holds several editors (the variants: "variants[1]." gives variants[1].copy, the API's name).
 * Returns `{fields: {media, mediaUrl, copy, buttons}, previewCard, addToPreview, setContent,
 * showRendered, content, update, copyInput}`.
 */
export function contentEditor({ values, onChange = () => {}, prefix = "" }) {
  const name = (key) => prefix + key;
  let rendered = null;
  const changed = () => {
    update();
    onChange();
  };

  const mediaUrl = h("input", { type: "url", id: name("media_url"), class: "input", placeholder: t("form.media.url.placeholder"), value: values.media_url });
  mediaUrl.addEventListener("input", () => {
    values.media_url = mediaUrl.value;
    changed();
  });
  const mediaUrlField = field(name("media_url"), t("form.media.url"), mediaUrl);
  const mediaHolder = h("div", {});
  function drawMedia() {
    mediaUrlField.hidden = values.media_type === "none";
    replace(
      mediaHolder,
      choice(
        name("media_type"),
        MEDIA.map((k) => [k, t(`media.${k}`)]),
        values.media_type,
        (v) => {
          values.media_type = v;
          mediaUrlField.hidden = v === "none";
          changed();
        },
        "chips chips-compact",
      ),
    );
  }

  const copy = h("textarea", { id: name("copy"), class: "input copy-input", rows: 9, placeholder: t("form.copy.placeholder"), spellcheck: "true" });
  copy.value = values.copy;
  copy.addEventListener("input", () => {
    values.copy = copy.value;
    changed();
  });
  const counter = h("span", { class: "counter", "data-testid": "counter" });
  const picker = variablePicker(copy);
  const toolbar = h(
    "div",
    { class: "toolbar", role: "toolbar" },
    TOOLS.map(([tag, label, cls]) => h("button", { type: "button", class: ["tool", cls], title: `<${tag}>`, on: { click: () => wrapSelection(copy, tag) } }, label)),
    picker.button,
    counter,
  );

  const buttonList = h("div", { class: "button-rows" });
  function drawButtons() {
    const row = (b, i) =>
      h(
        "div",
        { class: "button-row" },
        h("input", { class: "input", placeholder: t("form.buttons.text"), value: b.text, "aria-label": t("form.buttons.text"), on: { input: (ev) => { b.text = ev.target.value; changed(); } } }),
        h("input", { class: "input", type: "url", placeholder: t("form.buttons.url"), value: b.url, "aria-label": t("form.buttons.link"), on: { input: (ev) => { b.url = ev.target.value; changed(); } } }),
        h("button", { type: "button", class: "btn btn-icon btn-ghost", title: t("form.buttons.remove"), "aria-label": t("form.buttons.remove"), on: { click: () => { values.buttons.splice(i, 1); drawButtons(); changed(); } } }, "×"),
      );
    replace(buttonList, values.buttons.map(row));
  }
  const addButton = h(
    "button",
    { type: "button", class: "btn btn-sm btn-ghost", on: { click: () => { values.buttons.push({ text: "", url: "" }); drawButtons(); changed(); buttonList.querySelector(".button-row:last-child input").focus(); } } },
    "+ ",
    t("form.buttons.add"),
  );

  const bubble = h("div", { class: "tg-bubble", "data-testid": "preview" });
  const problems = h("div", { class: "preview-problems", "data-testid": "preview-problems" });
  const phone = h("div", { class: "phone" }, bubble);
  const previewCard = h("div", { class: "card preview-card" }, h("h2", { class: "card-title" }, t("form.preview")), phone, problems);

  function update() {
    const limit = copyLimit(values.media_type);
    const { fragment, length, problems: found } = renderTelegramHtml(values.copy);
    const media =
      values.media_type !== "none"
        ? h("div", { class: ["tg-media", `tg-media-${values.media_type}`] }, h("span", { class: "tg-media-label" }, t(`media.${values.media_type}`)), values.media_url ? h("span", { class: "tg-media-url" }, values.media_url) : null)
        : null;
    const text = h("div", { class: "tg-text" });
    text.append(rendered ? renderTelegramHtml(rendered.copy).fragment : fragment);
    const labels = rendered ? buttonsFromApi(rendered.buttons) : values.buttons.filter((b) => b.text.trim());
    bubble.dataset.contact = rendered ? String(rendered.telegram_id) : "";
    replace(
      bubble,
      media,
      values.copy ? text : h("p", { class: "preview-empty" }, t("form.preview.empty")),
      labels.length ? h("div", { class: "tg-buttons" }, labels.map((b) => h("span", { class: "tg-button", title: rendered ? b.url : null }, b.text))) : null,
    );
    const kind = limit === 1024 ? t("form.counter.caption") : t("form.counter.text");
    counter.textContent = `${fmtNumber(length)} / ${fmtNumber(limit)} · ${kind}`;
    counter.classList.toggle("counter-warn", length > limit * 0.9 && length <= limit);
    counter.classList.toggle("counter-over", length > limit);
    counter.title = length > limit ? t("form.counter.over", { n: fmtNumber(length - limit) }) : "";
    counter.dataset.length = length;
    counter.dataset.limit = limit;
    replace(problems, found.length ? [h("p", {}, t("form.preview.problems")), h("ul", {}, [...new Set(found.map((p) => t(p.key, p.vars)))].map((m) => h("li", {}, m)))] : null);
    problems.hidden = !found.length;
  }

  drawMedia();
  drawButtons();
  update();
  return {
    fields: {
      media: field(name("media_type"), t("form.media"), mediaHolder),
      mediaUrl: mediaUrlField,
      copy: field(name("copy"), t("form.copy"), h("div", { class: "editor" }, toolbar, picker.panel, copy), t("form.copy.help")),
      buttons: field(name("buttons"), t("form.buttons"), h("div", {}, buttonList, addButton), t("form.buttons.help")),
    },
    previewCard,
    copyInput: copy,
    update,
    /** Put `el` in the preview card, above the phone. */
    addToPreview: (el) => phone.before(el),
    /** Replace copy, media and buttons (a template picked in the form). */
    setContent(content) {
      Object.assign(values, { copy: content.copy || "", media_type: content.media_type || "none", media_url: content.media_url || "", buttons: buttonsFromApi(content.buttons) });
      copy.value = values.copy;
      mediaUrl.value = values.media_url;
      drawMedia();
      drawButtons();
      changed();
    },
    /** Show what one contact receives (an item of POST /shots/preview), or null for the copy as written. */
    showRendered(item) {
      rendered = item;
      update();
    },
    /** The content as the API takes it. */
    content: () => ({
      copy: values.copy,
      media_type: values.media_type,
      media_url: values.media_type === "none" ? null : values.media_url.trim() || null,
      buttons: buttonsToApi(values.buttons),
    }),
  };
}
