// "Novo disparo" / edit form (the spec's saveShotForm): the audience (audience.js), "Agora" vs
// "Programar" in the bot's time zone, expiry and stop-on-conversion (shot_rules.js), the A/B test
// and conversions (experiment.js, the variants' tabs in variants.js), the content editor with
// its variables and preview (editor.js), the warnings and previews of personal variables
// (personal_checks.js, personal_preview.js), starting from a template or saving one
// (template_actions.js), "Enviar teste" (test_send.js); the server's errors beside their fields.

import { ApiError, api, paths } from "./api.js";
import { audienceSection } from "./audience.js";
import { h, replace } from "./dom.js";
import { buttonsFromApi, contentEditor } from "./editor.js";
import { EXPERIMENT_FIELDS, experimentSection, experimentValues, untouchedGoals } from "./experiment.js";
import { t } from "./i18n.js";
import { isTooLongRefusal, personalChecks, variableErrorText } from "./personal_checks.js";
import { personalPreview } from "./personal_preview.js";
import { rulesSection, rulesValues } from "./shot_rules.js";
import { currentBot, botTimeZone } from "./state.js";
import { saveAsTemplate, templatePicker } from "./template_actions.js";
import { testSendCard } from "./test_send.js";
import { instantToWall, offsetLabel, wallToInstant } from "./timezone.js";
import { choice, clearFieldErrors, emptyState, field, fieldPath, showFieldError, showServerError, toast } from "./ui.js";
import { variantFrom, variantTabs } from "./variants.js";

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
    ...experimentValues(null),
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
        ...experimentValues(shot),
      });
      if (mode === "edit") {
        values.when = "schedule";
        values.wall = instantToWall(new Date(shot.scheduled_at), timeZone);
        const copies = [shot.copy, ...(shot.variants || []).map((v) => v.copy)];
        values.accept_too_long = copies.some((copy) => UNBOUNDED.test((copy || "").replace(/\{\{|\}\}/g, "")));
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
    // With variants on, the checks, previews, template picker and "Salvar como modelo" work on
    // the variant whose tab is shown.
    const tabs = variantTabs({ list: values.variants, onChange: personal, onSwitch: () => showEditor() });
    const current = () => (values.variants_on ? tabs.editor() : editor);
    const content = () => current().content();
    const checks = personalChecks({ slug, content, audience: audience.query, values, textarea: () => current().copyInput });
    const preview = personalPreview({ slug, content, audience: audience.query, editor: { showRendered: (item) => current().showRendered(item) } });
    const previewSlot = h("div", { class: "preview-slot" });
    function showEditor() {
      replace(previewSlot, current().previewCard);
      current().addToPreview(preview.chooser);
      current().fields.copy.after(checks.el);
      personal();
    }
    const single = h("div", { class: "message-single", hidden: values.variants_on }, editor.fields.media, editor.fields.mediaUrl, editor.fields.copy, editor.fields.buttons);
    tabs.el.hidden = !values.variants_on;
    const experiment = experimentSection({ values, onVariants: switchVariants, readVariants: tabs.read });
    /** "Testar variantes": the message becomes variant A (B starts as its copy), and back. */
    function switchVariants(on) {
      if (on) {
        const first = variantFrom(values, values.variants[0] ? values.variants[0].name : "A");
        if (values.variants[0]) first.weight = values.variants[0].weight;
        values.variants.splice(0, 1, first);
        if (values.variants.length < 2) values.variants.push(variantFrom(values, "B"));
        tabs.rebuild(0);
      } else {
        editor.setContent(values.variants[0]);
      }
      single.hidden = on;
      tabs.el.hidden = !on;
      showEditor();
    }
    if (values.variants_on) tabs.rebuild(0);
    showEditor();
    const picker =
      mode === "new"
        ? templatePicker({
            slug,
            selected: values.from_template,
            onPick: (tpl) => {
              values.from_template = tpl ? tpl.id : null;
              if (tpl) current().setContent(tpl);
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
      if (!content().copy.trim()) return showFieldError(form, current().copyInput.id, t("form.required"));
      saveAsTemplate({ slug, content: content() });
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
        experiment.el,
        picker,
        single,
        tabs.el,
        summary,
        h("div", { class: "form-actions" }, h("a", { class: "btn btn-ghost", href: "#/" }, t("common.cancel")), saveTemplate, submit),
      ),
      h("aside", { class: "form-side" }, previewSlot, preview.sample, testSendCard(mode, id)),
    );
    // An edit sends the A/B fields it changed only: they are refused once the audience is written.
    const stored = mode === "edit" ? experiment.payload() : null;
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      saveShotForm({ form, submit, summary, audience, rules, editor, checks, tabs, experiment, stored });
    });
    replace(
      el,
      h("div", { class: "page-head" }, h("div", {}, h("a", { class: "back", href: "#/" }, "← ", t("nav.shots")), h("h1", {}, title))),
      form,
    );
    updateWhenHint();
    audience.refresh();
    if (mode !== "edit") current().copyInput.focus();
  }

  /** Collect the form, send it, show the server's errors beside their fields. */
  async function saveShotForm({ form, submit, summary, audience, rules, editor, checks, tabs, experiment, stored }) {
    clearFieldErrors(form);
    audience.clearErrors();
    checks.clear();
    summary.hidden = true;
    const narrowed = audience.read();
    const sending = rules.read(form);
    const copies = values.variants_on ? values.variants.map((v, i) => [`variants[${i}].copy`, v.copy]) : [["copy", values.copy]];
    const blank = copies.filter(([, copy]) => !copy.trim());
    for (const [name] of blank) showFieldError(form, name, t("form.required"));
    if (!narrowed || !sending || blank.length) {
      tabs.revealErrors();
      return showSummary(form, summary, t("form.fixErrors"));
    }
    // A shot with variants carries the first one's content as its own (lists, tests, templates).
    const own = values.variants_on ? tabs.first().content() : editor.content();
    const ab = experiment.payload();
    const changedAb = EXPERIMENT_FIELDS.filter((k) =>
      stored ? JSON.stringify(ab[k]) !== JSON.stringify(stored[k]) : !(k === "conversions" && untouchedGoals(ab[k])),
    );
    const payload = { target: values.target, ...narrowed, ...sending, ...own, accept_too_long: values.accept_too_long };
    for (const k of changedAb) payload[k] = ab[k];
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
      placeError(form, err, audience);
      const placed = Boolean(form.querySelector(".has-error"));
      for (const extra of Array.isArray(err.details) ? err.details : []) {
        if (extra && extra.field) showFieldError(form, extra.field, extra.message);
      }
      tabs.revealErrors();
      showSummary(form, summary, placed ? t("form.fixErrors") : err.message);
    } finally {
      submit.disabled = false;
      submit.textContent = label;
    }
  }

  /** The API's error beside its field; the shot's own content is variant A's when testing variants. */
  function placeError(form, err, audience) {
    const path = err.field ? fieldPath(err.field) : null;
    if (err.status === 409 && path && EXPERIMENT_FIELDS.includes(path.split(/[.[]/)[0])) {
      return showFieldError(form, "experiment", t("ab.locked"), err.message);
    }
    if (path && values.variants_on && /^(copy|media_type|media_url|buttons)\b/.test(path)) err.field = `variants[0].${path}`;
    const variable = variableErrorText(err);
    if (variable) return showFieldError(form, err.field, variable, err.message);
    return (err.field && audience.showError(err)) || showServerError(form, err);
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
