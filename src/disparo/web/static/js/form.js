// "Novo disparo" / edit form (the spec's saveShotForm): the audience (audience.js), "Agora" vs
// "Programar" in the bot's time zone, expiry and stop-on-conversion (shot_rules.js), the copy
// editor with Telegram's preview and limits, media, buttons, "Enviar teste" (test_send.js); the
// server's validation errors beside their fields.

import { ApiError, api, paths } from "./api.js";
import { audienceSection } from "./audience.js";
import { h, replace } from "./dom.js";
import { t, fmtNumber } from "./i18n.js";
import { rulesSection, rulesValues } from "./shot_rules.js";
import { currentBot, botTimeZone } from "./state.js";
import { renderTelegramHtml, copyLimit } from "./tghtml.js";
import { testSendCard } from "./test_send.js";
import { instantToWall, offsetLabel, wallToInstant } from "./timezone.js";
import { choice, clearFieldErrors, emptyState, field, showFieldError, showServerError, toast } from "./ui.js";

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
function buttonsFromApi(buttons) {
  if (!Array.isArray(buttons)) return [];
  return buttons.flatMap((row) => (Array.isArray(row) ? row : [row])).map((b) => ({ text: b.text || "", url: b.url || "" }));
}

function buttonsToApi(rows) {
  const filled = rows.filter((b) => b.text.trim() || b.url.trim());
  return filled.length ? filled.map((b) => [{ text: b.text.trim(), url: b.url.trim() }]) : null;
}

/** The form view; `mode` is "new" or "edit", `id` the shot edited or duplicated. */
export function formView({ mode, id, from, segment }) {
  const bot = currentBot();
  if (!bot) return { el: h("section", { class: "view" }, emptyState(t("shots.nobots.title"), t("shots.nobots.lead"))) };
  const slug = bot.slug;
  const timeZone = botTimeZone();
  const el = h("section", { class: "view view-form" }, h("p", { class: "loading" }, t("common.loading")));
  const values = {
    target: "started",
    recency: false,
    recency_days: 7,
    narrowing: segment ? "segment" : "none",
    segment_id: segment || null,
    filter: null,
    ignore_frequency_cap: false,
    ...rulesValues(null, timeZone, { keepExpiry: false }),
    when: "now",
    wall: instantToWall(new Date(Date.now() + 60 * 60 * 1000), timeZone).slice(0, 14) + "00",
    media_type: "none",
    media_url: "",
    copy: "",
    buttons: [],
  };
  let disposed = false;

  async function start() {
    const sourceId = mode === "edit" ? id : from;
    if (sourceId) {
      const shot = await loadShot(sourceId);
      Object.assign(values, {
        target: shot.target,
        recency: Boolean(shot.recency_days),
        recency_days: shot.recency_days || 7,
        narrowing: shot.segment_id ? "segment" : shot.filter ? "filter" : "none",
        segment_id: shot.segment_id || null,
        filter: shot.filter || null,
        ignore_frequency_cap: Boolean(shot.ignore_frequency_cap),
        ...rulesValues(shot, timeZone, { keepExpiry: mode === "edit" }),
        media_type: shot.media_type || "none",
        media_url: shot.media_url || "",
        copy: shot.copy || "",
        buttons: buttonsFromApi(shot.buttons),
      });
      if (mode === "edit") {
        values.when = "schedule";
        values.wall = instantToWall(new Date(shot.scheduled_at), timeZone);
      }
    }
    if (!disposed) build();
  }

  async function loadShot(shotId) {
    try {
      return await api("GET", paths.shot(shotId));
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 405) throw err;
      const page = await api("GET", paths.shots({ bot_slug: slug, limit: 200 }));
      const found = (page.items || []).find((s) => String(s.id) === String(shotId));
      if (!found) throw err;
      return found;
    }
  }

  function build() {
    const title = mode === "edit" ? t("form.edit", { id }) : from ? t("form.duplicateOf", { id: from }) : t("form.new");

    const audience = audienceSection({ bot, mode, values });
    const rules = rulesSection({ values, timeZone });

    // When
    const wall = h("input", {
      type: "datetime-local",
      id: "scheduled_at",
      class: "input",
      value: values.wall,
      on: {
        input: (ev) => {
          values.wall = ev.target.value;
          updateWhenHint();
        },
      },
    });
    const whenHint = h("p", { class: "field-help" });
    const scheduleRow = h("div", { class: "schedule-row", hidden: values.when !== "schedule" }, wall, whenHint);
    const submit = h("button", { type: "submit", class: "btn btn-primary btn-lg", "data-testid": "save-shot" });
    function updateWhenHint() {
      const instant = wallToInstant(values.wall, timeZone) || new Date();
      whenHint.textContent = t("form.when.tz", { tz: timeZone, offset: offsetLabel(instant, timeZone) });
      if (values.when === "schedule" && instant < new Date()) whenHint.textContent += " " + t("form.when.past");
      submit.textContent = mode === "edit" ? t("form.submit.edit") : values.when === "schedule" ? t("form.submit.schedule") : t("form.submit.new");
    }
    const whenControl = choice(
      "when",
      [
        ["now", t("form.when.now")],
        ["schedule", t("form.when.schedule")],
      ],
      values.when,
      (v) => {
        values.when = v;
        scheduleRow.hidden = v !== "schedule";
        updateWhenHint();
        if (v === "schedule") wall.focus();
      },
      "segmented",
    );

    // Media
    const mediaUrl = h("input", {
      type: "url",
      id: "media_url",
      class: "input",
      placeholder: t("form.media.url.placeholder"),
      value: values.media_url,
      on: {
        input: (ev) => {
          values.media_url = ev.target.value;
          updatePreview();
        },
      },
    });
    const mediaUrlField = field("media_url", t("form.media.url"), mediaUrl);
    mediaUrlField.hidden = values.media_type === "none";
    const mediaChips = choice(
      "media_type",
      MEDIA.map((k) => [k, t(`media.${k}`)]),
      values.media_type,
      (v) => {
        values.media_type = v;
        mediaUrlField.hidden = v === "none";
        updatePreview();
      },
      "chips chips-compact",
    );

    // Copy
    const copy = h("textarea", {
      id: "copy",
      class: "input copy-input",
      rows: 9,
      placeholder: t("form.copy.placeholder"),
      spellcheck: "true",
      on: {
        input: (ev) => {
          values.copy = ev.target.value;
          updatePreview();
        },
      },
    });
    copy.value = values.copy;
    const counter = h("span", { class: "counter", "data-testid": "counter" });
    const toolbar = h(
      "div",
      { class: "toolbar", role: "toolbar" },
      TOOLS.map(([tag, label, cls]) =>
        h("button", { type: "button", class: ["tool", cls], title: `<${tag}>`, on: { click: () => wrapSelection(copy, tag) } }, label),
      ),
      counter,
    );

    // Buttons
    const buttonList = h("div", { class: "button-rows" });
    function drawButtons() {
      replace(
        buttonList,
        values.buttons.map((b, i) =>
          h(
            "div",
            { class: "button-row" },
            h("input", { class: "input", placeholder: t("form.buttons.text"), value: b.text, "aria-label": t("form.buttons.text"), on: { input: (ev) => { b.text = ev.target.value; updatePreview(); } } }),
            h("input", { class: "input", type: "url", placeholder: t("form.buttons.url"), value: b.url, "aria-label": t("form.buttons.link"), on: { input: (ev) => { b.url = ev.target.value; } } }),
            h("button", { type: "button", class: "btn btn-icon btn-ghost", title: t("form.buttons.remove"), "aria-label": t("form.buttons.remove"), on: { click: () => { values.buttons.splice(i, 1); drawButtons(); updatePreview(); } } }, "×"),
          ),
        ),
      );
    }
    drawButtons();
    const addButton = h(
      "button",
      { type: "button", class: "btn btn-sm btn-ghost", on: { click: () => { values.buttons.push({ text: "", url: "" }); drawButtons(); updatePreview(); buttonList.querySelector(".button-row:last-child input").focus(); } } },
      "+ ",
      t("form.buttons.add"),
    );

    // Preview
    const bubble = h("div", { class: "tg-bubble", "data-testid": "preview" });
    const problems = h("div", { class: "preview-problems", "data-testid": "preview-problems" });
    function updatePreview() {
      const limit = copyLimit(values.media_type);
      const { fragment, length, problems: found } = renderTelegramHtml(values.copy);
      const media =
        values.media_type !== "none"
          ? h("div", { class: ["tg-media", `tg-media-${values.media_type}`] }, h("span", { class: "tg-media-label" }, t(`media.${values.media_type}`)), values.media_url ? h("span", { class: "tg-media-url" }, values.media_url) : null)
          : null;
      const text = h("div", { class: "tg-text" });
      text.append(fragment);
      const btns = values.buttons.filter((b) => b.text.trim());
      replace(
        bubble,
        media,
        values.copy ? text : h("p", { class: "preview-empty" }, t("form.preview.empty")),
        btns.length ? h("div", { class: "tg-buttons" }, btns.map((b) => h("span", { class: "tg-button" }, b.text))) : null,
      );
      const kind = limit === 1024 ? t("form.counter.caption") : t("form.counter.text");
      counter.textContent = `${fmtNumber(length)} / ${fmtNumber(limit)} · ${kind}`;
      counter.classList.toggle("counter-warn", length > limit * 0.9 && length <= limit);
      counter.classList.toggle("counter-over", length > limit);
      counter.title = length > limit ? t("form.counter.over", { n: fmtNumber(length - limit) }) : "";
      counter.dataset.length = length;
      counter.dataset.limit = limit;
      replace(
        problems,
        found.length
          ? [h("p", {}, t("form.preview.problems")), h("ul", {}, [...new Set(found.map((p) => t(p.key, p.vars)))].map((m) => h("li", {}, m)))]
          : null,
      );
      problems.hidden = !found.length;
    }

    const testCard = testSendCard(mode, id);

    const summary = h("p", { class: "form-summary", role: "alert", hidden: true });
    const form = h(
      "form",
      { class: "shot-form", novalidate: true, "data-testid": "shot-form" },
      h(
        "div",
        { class: "form-main card" },
        audience.el,
        field("scheduled_at", t("form.when"), h("div", { class: "when-row" }, whenControl, scheduleRow)),
        rules.el,
        field("media_type", t("form.media"), mediaChips),
        mediaUrlField,
        field("copy", t("form.copy"), h("div", { class: "editor" }, toolbar, copy), t("form.copy.help")),
        field("buttons", t("form.buttons"), h("div", {}, buttonList, addButton), t("form.buttons.help")),
        summary,
        h(
          "div",
          { class: "form-actions" },
          h("a", { class: "btn btn-ghost", href: "#/" }, t("common.cancel")),
          submit,
        ),
      ),
      h(
        "aside",
        { class: "form-side" },
        h("div", { class: "card preview-card" }, h("h2", { class: "card-title" }, t("form.preview")), h("div", { class: "phone" }, bubble), problems),
        testCard,
      ),
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      saveShotForm(form, submit, summary, audience, rules);
    });
    replace(
      el,
      h("div", { class: "page-head" }, h("div", {}, h("a", { class: "back", href: "#/" }, "← ", t("nav.shots")), h("h1", {}, title))),
      form,
    );
    updateWhenHint();
    updatePreview();
    audience.refresh();
    if (mode !== "edit") copy.focus();
  }

  /** Collect the form, send it, show the server's errors beside their fields. */
  async function saveShotForm(form, submit, summary, audience, rules) {
    clearFieldErrors(form);
    audience.clearErrors();
    summary.hidden = true;
    const narrowed = audience.read();
    const sending = rules.read(form);
    if (!values.copy.trim()) showFieldError(form, "copy", t("form.required"));
    if (!narrowed || !sending || !values.copy.trim()) return showSummary(form, summary, t("form.fixErrors"));
    const payload = {
      target: values.target,
      ...narrowed,
      ...sending,
      copy: values.copy,
      media_type: values.media_type,
      media_url: values.media_type === "none" ? null : values.media_url.trim() || null,
      buttons: buttonsToApi(values.buttons),
    };
    if (values.when === "schedule") {
      const instant = wallToInstant(values.wall, timeZone);
      if (!instant) {
        showFieldError(form, "scheduled_at", t("form.required"));
        return;
      }
      payload.scheduled_at = instant.toISOString();
    } else if (mode === "edit") {
      payload.scheduled_at = new Date().toISOString();
    }
    submit.disabled = true;
    const label = submit.textContent;
    submit.textContent = t("common.saving");
    try {
      const shot =
        mode === "edit"
          ? await api("PATCH", paths.shot(id), omit(payload, ["target"]))
          : await api("POST", paths.shots(), { bot_slug: slug, ...payload });
      toast(t("shots.saved", { id: shot.id }));
      location.hash = "#/";
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      const placed = (err.field && audience.showError(err)) || showServerError(form, err);
      for (const extra of Array.isArray(err.details) ? err.details : []) {
        if (extra && extra.field) showFieldError(form, extra.field, extra.message);
      }
      showSummary(form, summary, placed ? t("form.fixErrors") : err.message);
    } finally {
      submit.disabled = false;
      submit.textContent = label;
    }
  }

  start().catch((err) => replace(el, emptyState(t("common.error"), err.message, h("a", { class: "btn", href: "#/" }, t("common.back")))));
  return {
    el,
    dispose: () => {
      disposed = true;
    },
  };
}

/** The message above the buttons; the first field in error takes the focus. */
function showSummary(form, summary, message) {
  summary.textContent = message;
  summary.hidden = false;
  const first = form.querySelector('[aria-invalid="true"]') || form.querySelector(".has-error input, .has-error textarea, .has-error button");
  if (first) first.focus();
}

function omit(obj, keys) {
  return Object.fromEntries(Object.entries(obj).filter(([k]) => !keys.includes(k)));
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
