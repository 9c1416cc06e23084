// Templates seen from a shot: "Salvar como modelo" (from the form or a card) and the form's
// "Começar de um modelo" picker that fills the editor from a template (the shot then carries
// from_template).

import { api, paths } from "./api.js";
import { h, replace } from "./dom.js";
import { t } from "./i18n.js";
import { formDialog } from "./prompt.js";
import { toast } from "./ui.js";

/** Ask a name (and whether every bot may use it), then save `content` as a template of `slug`. */
export function saveAsTemplate({ slug, content, name = "" }) {
  return formDialog({
    title: t("templates.saveAs.title"),
    body: t("templates.saveAs.body"),
    testid: "save-template-dialog",
    fields: [
      { name: "name", label: t("templates.name"), value: name, maxlength: 100 },
      { name: "shared", label: t("templates.shared"), kind: "checkbox", help: t("templates.shared.help", { bot: slug }) },
    ],
    ok: t("templates.saveAs.ok"),
    submit: async ({ name: chosen, shared }) => {
      const saved = await api("POST", paths.templates(), { name: chosen, ...content, bot_slug: shared ? null : slug });
      toast(t("templates.saved", { name: saved.name }));
      return saved;
    },
  });
}

/** The content of a shot as a template takes it. */
export function contentOf(shot) {
  return { copy: shot.copy, media_type: shot.media_type || "none", media_url: shot.media_url || null, buttons: shot.buttons || null };
}

/**
 * A select of the templates bot `slug` may use; picking one calls `onPick(template)`.
 * `selected` is the id the form started from, if any.
 */
export function templatePicker({ slug, selected, onPick }) {
  const select = h("select", { id: "from_template", class: "input", "data-testid": "template-picker" }, h("option", { value: "" }, t("common.loading")));
  let items = [];
  api("GET", paths.templates({ bot_slug: slug }))
    .then((answer) => {
      items = answer.items || [];
      replace(
        select,
        h("option", { value: "" }, t(items.length ? "templates.pick" : "templates.pick.none")),
        items.map((tpl) => h("option", { value: String(tpl.id), selected: String(tpl.id) === String(selected) }, tpl.name)),
      );
      select.disabled = !items.length;
    })
    .catch(() => replace(select, h("option", { value: "" }, t("common.error"))));
  select.addEventListener("change", () => {
    const found = items.find((tpl) => String(tpl.id) === select.value);
    onPick(found || null);
  });
  return h(
    "div",
    { class: "field template-pick", "data-field": "from_template" },
    h("label", { class: "field-label", for: select.id }, t("templates.start")),
    h("div", { class: "template-pick-row" }, select, h("a", { href: "#/templates", class: "small" }, t("templates.manage"))),
    h("p", { class: "field-error", role: "alert" }),
  );
}

/** "só este bot" / "todos os bots" for a template. */
export function scopeLabel(template) {
  return template.bot_slug ? t("templates.scope.bot", { bot: template.bot_slug }) : t("templates.scope.all");
}
