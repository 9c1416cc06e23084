// Create or edit a template: a name, the bot that may use it (or every bot), and the same
// content editor, checks and previews as the shot form; the counts and previews are of the
// /start contacts of the template's bot (of the selected bot for a template of every bot).

import { ApiError, api, paths } from "./api.js";
import { h, replace } from "./dom.js";
import { buttonsFromApi, contentEditor } from "./editor.js";
import { t } from "./i18n.js";
import { personalChecks, variableErrorText } from "./personal_checks.js";
import { personalPreview } from "./personal_preview.js";
import { currentBot, state } from "./state.js";
import { noBot } from "./templates.js";
import { clearFieldErrors, emptyState, field, showFieldError, showServerError, toast } from "./ui.js";

/** Create (`id` null) or edit template `id`. */
export function templateFormView({ id }) {
  const bot = currentBot();
  if (!bot) return noBot();
  const el = h("section", { class: "view view-form" }, h("p", { class: "loading" }, t("common.loading")));
  const back = h("a", { class: "back", href: "#/templates" }, "← ", t("templates.title"));
  let disposed = false;

  function build(template) {
    const values = {
      name: template ? template.name : "",
      bot_slug: template ? template.bot_slug || "" : bot.slug,
      media_type: template ? template.media_type || "none" : "none",
      media_url: template ? template.media_url || "" : "",
      copy: template ? template.copy : "",
      buttons: template ? buttonsFromApi(template.buttons) : [],
    };
    const previewSlug = () => values.bot_slug || state.slug;
    const name = h("input", { id: "template-name", class: "input", value: values.name, maxlength: 100, autocomplete: "off" });
    name.addEventListener("input", () => (values.name = name.value));
    const bots = state.bots.map((b) => b.slug);
    if (values.bot_slug && !bots.includes(values.bot_slug)) bots.push(values.bot_slug);
    const scope = h(
      "select",
      { id: "template-bot", class: "input", "data-testid": "template-bot" },
      h("option", { value: "", selected: !values.bot_slug }, t("templates.scope.all")),
      bots.map((slug) => h("option", { value: slug, selected: slug === values.bot_slug }, t("templates.scope.bot", { bot: slug }))),
    );
    const personal = () => {
      checks.refresh();
      preview.refresh();
    };
    scope.addEventListener("change", () => {
      values.bot_slug = scope.value;
      personal();
    });
    const started = () => ({ target: "started" });
    const editor = contentEditor({ values, onChange: personal });
    const checks = personalChecks({
      slug: previewSlug,
      content: editor.content,
      audience: started,
      values,
      textarea: editor.copyInput,
      allowAccept: false,
      scope: () => t("templates.checks.scope", { bot: previewSlug() }),
    });
    const preview = personalPreview({ slug: previewSlug, content: editor.content, audience: started, editor, sampleTitle: t("templates.sample") });
    editor.addToPreview(preview.chooser);

    const submit = h("button", { type: "submit", class: "btn btn-primary btn-lg", "data-testid": "save-template" }, template ? t("common.save") : t("templates.create"));
    const summary = h("p", { class: "form-summary", role: "alert", hidden: true });
    const form = h(
      "form",
      { class: "shot-form template-form", novalidate: true, "data-testid": "template-form" },
      h(
        "div",
        { class: "form-main card" },
        field("name", t("templates.name"), name, t("templates.name.help")),
        field("bot_slug", t("templates.bot"), scope, t("templates.bot.help")),
        editor.fields.media,
        editor.fields.mediaUrl,
        editor.fields.copy,
        checks.el,
        editor.fields.buttons,
        summary,
        h("div", { class: "form-actions" }, h("a", { class: "btn btn-ghost", href: "#/templates" }, t("common.cancel")), submit),
      ),
      h("aside", { class: "form-side" }, editor.previewCard, preview.sample),
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearFieldErrors(form);
      summary.hidden = true;
      if (!values.name.trim()) showFieldError(form, "name", t("form.required"));
      if (!values.copy.trim()) showFieldError(form, "copy", t("form.required"));
      if (!values.name.trim() || !values.copy.trim()) return fail(t("form.fixErrors"));
      submit.disabled = true;
      try {
        const body = { name: values.name.trim(), ...editor.content(), bot_slug: values.bot_slug || null };
        const saved = template ? await api("PATCH", paths.template(template.id), body) : await api("POST", paths.templates(), body);
        toast(t("templates.saved", { name: saved.name }));
        location.hash = "#/templates";
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        const variable = variableErrorText(err);
        const placed = variable ? showFieldError(form, err.field, variable, err.message) : showServerError(form, err);
        fail(placed ? t("form.fixErrors") : err.message);
      } finally {
        submit.disabled = false;
      }
    });
    function fail(message) {
      summary.textContent = message;
      summary.hidden = false;
      const first = form.querySelector('[aria-invalid="true"]');
      if (first) first.focus();
    }
    replace(el, h("div", { class: "page-head" }, h("div", {}, back, h("h1", {}, template ? t("templates.editTitle", { name: template.name }) : t("templates.new")))), form);
    personal();
    if (!template) name.focus();
  }

  if (id) {
    api("GET", paths.template(id))
      .then((template) => !disposed && build(template))
      .catch((err) => replace(el, emptyState(t("common.error"), err.message, h("a", { class: "btn", href: "#/templates" }, t("common.back")))));
  } else build(null);
  return { el, dispose: () => (disposed = true) };
}
