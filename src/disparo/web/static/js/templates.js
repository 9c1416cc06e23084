// "Modelos": the templates the selected bot may use (its own and every bot's) as cards with
// their variables and copy; "Usar modelo" starts a new shot from one (from_template), edit,
// delete.

import { api, paths } from "./api.js";
import { h, replace } from "./dom.js";
import { fmtDateTime, t } from "./i18n.js";
import { copyPreview } from "./shots.js";
import { botTimeZone, currentBot } from "./state.js";
import { scopeLabel } from "./template_actions.js";
import { confirmDialog, emptyState, toast } from "./ui.js";

/** The empty view when no bot is registered yet. */
export function noBot() {
  return { el: h("section", { class: "view" }, emptyState(t("shots.nobots.title"), t("shots.nobots.lead"), h("a", { class: "btn btn-primary", href: "#/bots" }, t("shots.nobots.action")))) };
}

function templateCard(template, timeZone, onDeleted) {
  const remove = h("button", { type: "button", class: "btn btn-sm btn-danger-ghost", "data-action": "delete" }, t("templates.delete"));
  remove.addEventListener("click", async () => {
    const ok = await confirmDialog({ title: t("templates.confirmDelete.title", { name: template.name }), body: t("templates.confirmDelete.body"), ok: t("templates.delete") });
    if (!ok) return;
    remove.disabled = true;
    try {
      await api("DELETE", paths.template(template.id));
      toast(t("templates.deleted", { name: template.name }));
      onDeleted();
    } catch (err) {
      toast(err.message, "error");
      remove.disabled = false;
    }
  });
  const buttons = Array.isArray(template.buttons) ? template.buttons.flat().length : 0;
  return h(
    "article",
    { class: "card template-card", "data-testid": "template-card", "data-template-id": template.id },
    h(
      "header",
      { class: "template-head" },
      h("h3", { class: "template-name" }, template.name),
      h("span", { class: ["chip", "chip-static", template.bot_slug ? null : "chip-shared"], "data-testid": "template-scope" }, scopeLabel(template)),
    ),
    h(
      "div",
      { class: "template-meta" },
      template.media_type && template.media_type !== "none" ? h("span", { class: "chip chip-static chip-media" }, t(`media.${template.media_type}`)) : null,
      buttons ? h("span", { class: "chip chip-static" }, t(buttons === 1 ? "shots.buttons.one" : "shots.buttons", { n: buttons })) : null,
      (template.variables || []).map((name) => h("code", { class: "var-chip", "data-testid": "template-variable" }, `{${name}}`)),
    ),
    copyPreview(template.copy, "template-copy"),
    h("p", { class: "muted small" }, t("templates.updatedAt", { when: fmtDateTime(template.updated_at || template.created_at, timeZone) })),
    h(
      "footer",
      { class: "shot-actions" },
      h("a", { class: "btn btn-sm btn-primary", href: `#/new?template=${template.id}`, "data-action": "use" }, t("templates.use")),
      h("a", { class: "btn btn-sm", href: `#/templates/${template.id}`, "data-action": "edit" }, t("templates.edit")),
      remove,
    ),
  );
}

/** The list of the templates the selected bot may use. */
export function templatesView() {
  const bot = currentBot();
  if (!bot) return noBot();
  const timeZone = botTimeZone();
  const list = h("div", { class: "template-list", "data-testid": "template-list" }, h("p", { class: "loading" }, t("common.loading")));
  const newButton = (testid) => h("a", { class: "btn btn-primary", href: "#/templates/new", "data-testid": testid || null }, h("span", { class: "plus", "aria-hidden": "true" }, "+"), t("templates.new"));
  const el = h(
    "section",
    { class: "view view-templates" },
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, t("templates.title")), h("p", { class: "page-sub" }, t("templates.lead", { bot: bot.name || bot.slug }))), newButton("new-template")),
    list,
  );
  async function load() {
    try {
      const answer = await api("GET", paths.templates({ bot_slug: bot.slug }));
      const items = answer.items || [];
      replace(list, items.length ? items.map((tpl) => templateCard(tpl, timeZone, load)) : emptyState(t("templates.empty.title"), t("templates.empty.lead"), newButton()));
    } catch (err) {
      replace(list, emptyState(t("common.error"), err.message, h("button", { type: "button", class: "btn", on: { click: load } }, t("common.retry"))));
    }
  }
  load();
  return { el };
}
