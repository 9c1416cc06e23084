// "Novo disparo" / edit form (the spec's saveShotForm): the audience (audience.js), "Agora" vs
// "Programar" in the bot's time zone, expiry and stop-on-conversion (shot_rules.js), the content
// editor with its variables and preview (editor.js), the warnings and previews of personal
// variables (personal_checks.js, personal_preview.js), starting from a template or saving one
// (template_actions.js), "Enviar teste" (test_send.js); the server's errors beside their fields.

import { ApiError, api, paths } from "./api.js";
import { audienceSection } from "./audience.js";
import { h, replace } from "./dom.js";
import { buttonsFromApi, contentEditor } from "./editor.js";
import { t } from "./i18n.js";
import { isTooLongRefusal, personalChecks, variableErrorText } from "./personal_checks.js";
import { personalPreview } from "./personal_preview.js";
import { rulesSection, rulesValues } from "./shot_rules.js";
import { currentBot, botTimeZone } from "./state.js";
import { saveAsTemplate, templatePicker } from "./template_actions.js";
import { testSendCard } from "./test_send.js";
import { instantToWall, offsetLabel, wallToInstant } from "./timezone.js";
import { choice, clearFieldErrors, emptyState, field, showFieldError, showServerError, toast } from "./ui.js";

// {tags} and {attr.…} have no bounded length: a stored copy using them was sent with
// accept_too_long, so editing it keeps "Enviar mesmo assim" checked.
const UNBOUNDED = /\{\s*(tags|attr\.[A-Za-z0-9_]+)\s*(\|[^{}]*)?\}/;

/** The form view; `mode` is "new" or "edit", `id` the shot edited or `from` the one duplicated,
 * `template` the template a new shot starts from. */
export function formView({ mode, id, from, segment, template }) {
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
    accept_too_long: false,
    from_template: null,
  };
  let templateName = null;
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
        values.accept_too_long = UNBOUNDED.test((shot.copy || "").replace(/\{\{|\}\}/g, ""));
      }
    } else if (template) {
      const found = await api("GET", paths.template(template));
      templateName = found.name;
      values.from_template = found.id;
      Object.assign(values, { media_type: found.media_type || "none", media_url: found.media_url || "", copy: found.copy || "", buttons: buttonsFromApi(found.buttons) });
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
    const title =
      mode === "edit" ? t("form.edit", { id }) : from ? t("form.duplicateOf", { id: from }) : templateName ? t("form.fromTemplate", { name: templateName }) : t("form.new");

    const personal = () => {
      checks.refresh();
      preview.refresh();
    };
    const audience = audienceSection({ bot, mode, values, onChange: personal });
    const rules = rulesSection({ values, timeZone });
    const editor = contentEditor({ values, onChange: personal });
    const checks = personalChecks({ slug, content: editor.content, audience: audience.query, values, textarea: editor.copyInput });
    const preview = personalPreview({ slug, content: editor.content, audience: audience.query, editor });
    editor.addToPreview(preview.chooser);
    const picker =
      mode === "new"
        ? templatePicker({
            slug,
            selected: values.from_template,
            onPick: (tpl) => {
              values.from_template = tpl ? tpl.id : null;
              if (tpl) editor.setContent(tpl);
            },
          })
        : null;

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

    const saveTemplate = h("button", { type: "button", class: "btn btn-ghost", "data-testid": "save-as-template" }, t("templates.saveAs"));
    saveTemplate.addEventListener("click", () => {
      if (!values.copy.trim()) return showFieldError(form, "copy", t("form.required"));
      saveAsTemplate({ slug, content: editor.content() });
    });

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
        picker,
        editor.fields.media,
        editor.fields.mediaUrl,
        editor.fields.copy,
        checks.el,
        editor.fields.buttons,
        summary,
        h("div", { class: "form-actions" }, h("a", { class: "btn btn-ghost", href: "#/" }, t("common.cancel")), saveTemplate, submit),
      ),
      h("aside", { class: "form-side" }, editor.previewCard, preview.sample, testSendCard(mode, id)),
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      saveShotForm({ form, submit, summary, audience, rules, editor, checks });
    });
    replace(
      el,
      h("div", { class: "page-head" }, h("div", {}, h("a", { class: "back", href: "#/" }, "← ", t("nav.shots")), h("h1", {}, title))),
      form,
    );
    updateWhenHint();
    audience.refresh();
    if (mode !== "edit") editor.copyInput.focus();
  }

  /** Collect the form, send it, show the server's errors beside their fields. */
  async function saveShotForm({ form, submit, summary, audience, rules, editor, checks }) {
    clearFieldErrors(form);
    audience.clearErrors();
    checks.clear();
    summary.hidden = true;
    const narrowed = audience.read();
    const sending = rules.read(form);
    if (!values.copy.trim()) showFieldError(form, "copy", t("form.required"));
    if (!narrowed || !sending || !values.copy.trim()) return showSummary(form, summary, t("form.fixErrors"));
    const payload = { target: values.target, ...narrowed, ...sending, ...editor.content(), accept_too_long: values.accept_too_long };
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
    if (mode === "new" && values.from_template) payload.from_template = values.from_template;
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
      if (isTooLongRefusal(err)) {
        checks.showRefusal(err);
        summary.textContent = t("vars.tooLong.summary");
        summary.hidden = false;
        return;
      }
      const variable = variableErrorText(err);
      const placed = variable ? showFieldError(form, err.field, variable, err.message) : (err.field && audience.showError(err)) || showServerError(form, err);
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
