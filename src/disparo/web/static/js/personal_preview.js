// What contacts receive, rendered by the API (POST /shots/preview): one contact chosen by a
// search on name, @username or id (the editor's Telegram-like preview then shows their copy),
// and the audience's first contacts in send order, each with its text, missing values and
// whether it passes Telegram's limit.

import { ApiError, api, paths } from "./api.js";
import { debounce, h, replace } from "./dom.js";
import { hasVariables } from "./editor.js";
import { fmtNumber, t } from "./i18n.js";
import { renderTelegramHtml } from "./tghtml.js";

// The preview refuses media without a URL as a shot would; it never fetches one, so while the
// URL is still empty a placeholder keeps the caption's limit in the rendering.
const PLACEHOLDER_MEDIA = "https://example.com/media";
const AUDIENCE_FIELDS = ["target", "recency_days", "filter", "segment_id"];
const SAMPLE_SIZE = 5;

function contactLabel(c) {
  const name = [c.first_name, c.last_name].filter(Boolean).join(" ");
  return [name || t("preview.noName"), c.username ? `@${c.username}` : null, String(c.telegram_id)].filter(Boolean).join(" · ");
}

function renderBody(slug, current) {
  const media = current.media_type !== "none";
  return { bot_slug: slug, copy: current.copy, media_type: current.media_type, media_url: media ? current.media_url || PLACEHOLDER_MEDIA : null, buttons: current.buttons };
}

/** The facts of one rendered item: "37 / 4.096", "sem first_name", "passa do limite". */
function itemFacts(item, limit) {
  return [
    h("span", { class: ["pill", item.too_long ? "pill-error" : null], "data-testid": "length" }, `${fmtNumber(item.length)} / ${fmtNumber(limit)}`),
    item.too_long ? h("span", { class: "pill pill-error", "data-testid": "too-long" }, t("preview.tooLong")) : null,
    item.missing.map((name) => h("span", { class: "pill pill-skipped", "data-testid": "missing" }, t("preview.missing", { name }))),
    item.known ? null : h("span", { class: "pill", "data-testid": "unknown-contact" }, t("preview.unknown")),
  ];
}

/**
 * For bot `slug` (or a function giving it): `content()` gives the API's content, `audience()`
 * the audience's estimate fields (null while incomplete), `editor` shows a chosen contact's
 * copy. Returns `{chooser, sample, refresh}`: the chooser goes in the preview card, the sample
 * is a card of its own.
 */
export function personalPreview({ slug, content, audience, editor, sampleTitle = t("preview.sample") }) {
  const botOf = typeof slug === "function" ? slug : () => slug;
  let chosen = null;
  let renderAsked = 0;
  let sampleAsked = 0;

  const search = h("input", { type: "search", id: "contact-search", class: "input", placeholder: t("preview.search.placeholder"), autocomplete: "off", "data-testid": "contact-search" });
  const results = h("ul", { class: "contact-results", "data-testid": "contact-results", hidden: true });
  const status = h("div", { class: "contact-chosen", "data-testid": "contact-chosen", hidden: true });
  const chooser = h("div", { class: "contact-chooser" }, h("label", { class: "field-label", for: search.id }, t("preview.as")), search, results, status);

  const find = debounce(async () => {
    const q = search.value.trim();
    if (!q) {
      results.hidden = true;
      return;
    }
    try {
      const answer = await api("GET", paths.contacts(botOf(), { q, limit: 8 }));
      if (q !== search.value.trim()) return;
      const items = answer.items || [];
      replace(
        results,
        items.length
          ? items.map((c) => h("li", {}, h("button", { type: "button", class: "contact-result", "data-telegram-id": c.telegram_id, on: { click: () => choose(c.telegram_id, contactLabel(c)) } }, contactLabel(c))))
          : h("li", { class: "muted small" }, t("preview.search.none")),
      );
      results.hidden = false;
    } catch (err) {
      replace(results, h("li", { class: "field-error" }, err.message));
      results.hidden = false;
    }
  }, 250);
  search.addEventListener("input", find);
  search.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") ev.preventDefault(); // not the form's submit
  });

  function choose(telegramId, label) {
    chosen = { telegram_id: telegramId, label };
    results.hidden = true;
    search.value = "";
    renderChosen();
  }

  function clearChosen() {
    chosen = null;
    status.hidden = true;
    editor.showRendered(null);
  }

  async function renderChosen() {
    if (!chosen) return;
    const ticket = ++renderAsked;
    const current = content();
    status.hidden = false;
    if (!current.copy.trim()) {
      replace(status, chosenHead(), h("p", { class: "muted small" }, t("preview.writeFirst")));
      editor.showRendered(null);
      return;
    }
    try {
      const answer = await api("POST", paths.preview(), { ...renderBody(botOf(), current), telegram_id: chosen.telegram_id });
      if (ticket !== renderAsked || !chosen) return;
      const item = answer.items[0];
      status.dataset.telegramId = item.telegram_id;
      replace(status, chosenHead(item.name), h("div", { class: "contact-facts" }, itemFacts(item, answer.limit)));
      editor.showRendered(item);
    } catch (err) {
      if (ticket !== renderAsked || !(err instanceof ApiError)) return;
      replace(status, chosenHead(), h("p", { class: "field-error", "data-testid": "preview-error" }, t("preview.unavailable"), h("span", { class: "field-error-detail" }, err.message)));
      editor.showRendered(null);
    }
  }

  function chosenHead(name) {
    return h(
      "div",
      { class: "contact-head" },
      h("strong", {}, t("preview.receives", { name: name || chosen.label })),
      h("button", { type: "button", class: "btn btn-sm btn-ghost", "data-action": "clear-contact", on: { click: clearChosen } }, "× ", t("preview.asWritten")),
    );
  }

  const list = h("ol", { class: "sample-list", "data-testid": "audience-sample" });
  const sampleNote = h("p", { class: "muted small" });
  const sample = h("div", { class: "card sample-card", hidden: true }, h("h2", { class: "card-title" }, sampleTitle), sampleNote, list);

  async function renderSample() {
    const ticket = ++sampleAsked;
    const current = content();
    const who = audience();
    if (!hasVariables(current.copy, current.buttons ? current.buttons.flat() : []) || !who) {
      sample.hidden = true;
      return;
    }
    const body = renderBody(botOf(), current);
    for (const key of AUDIENCE_FIELDS) if (who[key] !== undefined && who[key] !== null) body[key] = who[key];
    try {
      const answer = await api("POST", paths.preview(), { ...body, limit: SAMPLE_SIZE });
      if (ticket !== sampleAsked) return;
      sampleNote.textContent = answer.items.length ? t("preview.sample.lead") : t("preview.sample.empty");
      replace(
        list,
        answer.items.map((item) => {
          const text = h("div", { class: "tg-text sample-text" });
          text.append(renderTelegramHtml(item.copy).fragment);
          const label = item.name || t("preview.id", { id: item.telegram_id });
          return h(
            "li",
            { class: ["sample-item", item.too_long ? "is-too-long" : null], "data-telegram-id": item.telegram_id },
            h("button", { type: "button", class: "sample-name", title: t("preview.sample.choose"), on: { click: () => choose(item.telegram_id, label) } }, label),
            text,
            h("div", { class: "contact-facts" }, itemFacts(item, answer.limit)),
          );
        }),
      );
      sample.hidden = false;
    } catch (err) {
      if (ticket !== sampleAsked || !(err instanceof ApiError)) return;
      sampleNote.textContent = t("preview.unavailable");
      replace(list);
      sample.hidden = false;
    }
  }

  const refresh = debounce(() => {
    renderChosen();
    renderSample();
  }, 450);
  return { chooser, sample, refresh };
}
