// Segments of the selected bot: saved filters with their live counts; create and edit (a name
// and the filter builder, with a live count), delete (the API names the pending shots that still
// use one), "use in a new shot", and a tag put on or taken off its contacts (bulk_tag.js).

import { ApiError, api, paths } from "./api.js";
import { bulkTagActions } from "./bulk_tag.js";
import { debounce, h, replace } from "./dom.js";
import { describeFilter, filterBuilder } from "./filter.js";
import { fmtDateTime, fmtNumber, t } from "./i18n.js";
import { botTimeZone, currentBot } from "./state.js";
import { clearFieldErrors, confirmDialog, emptyState, field, showFieldError, toast } from "./ui.js";

function noBot() {
  return { el: h("section", { class: "view" }, emptyState(t("shots.nobots.title"), t("shots.nobots.lead"), h("a", { class: "btn btn-primary", href: "#/bots" }, t("shots.nobots.action")))) };
}

function countLabel(n) {
  return n === 1 ? t("segments.count.one") : t("segments.count", { n: fmtNumber(n) });
}

function segmentCard(segment, timeZone, onDeleted) {
  const problem = h("p", { class: "segment-problem", role: "alert", "data-testid": "segment-error", hidden: true });
  const remove = h("button", { type: "button", class: "btn btn-sm btn-danger-ghost", "data-action": "delete" }, t("segments.delete"));
  remove.addEventListener("click", async () => {
    const ok = await confirmDialog({ title: t("segments.confirmDelete.title", { name: segment.name }), body: t("segments.confirmDelete.body"), ok: t("segments.delete") });
    if (!ok) return;
    remove.disabled = true;
    try {
      await api("DELETE", paths.segment(segment.bot_slug, segment.id));
      toast(t("segments.deleted", { name: segment.name }));
      onDeleted();
    } catch (err) {
      const inUse = err instanceof ApiError && err.status === 409;
      replace(problem, inUse ? t("segments.inUse") : err.message, inUse ? h("span", { class: "field-error-detail" }, err.message) : null);
      problem.hidden = false;
    } finally {
      remove.disabled = false;
    }
  });
  const tagging = bulkTagActions(segment);
  return h(
    "article",
    { class: "card segment-card", "data-testid": "segment-card", "data-segment-id": segment.id },
    h(
      "header",
      { class: "segment-head" },
      h("h3", { class: "segment-name" }, segment.name),
      h("span", { class: "segment-count", "data-testid": "segment-count", "data-count": segment.count }, countLabel(segment.count)),
    ),
    h("p", { class: "segment-filter", "data-testid": "segment-filter" }, segment.filter ? describeFilter(segment.filter) : t("segments.everyone")),
    h("p", { class: "muted small" }, t("segments.updatedAt", { when: fmtDateTime(segment.updated_at || segment.created_at, timeZone) })),
    problem,
    tagging.result,
    h(
      "footer",
      { class: "shot-actions" },
      h("a", { class: "btn btn-sm btn-primary", href: `#/new?segment=${segment.id}`, "data-action": "use" }, t("segments.use")),
      h("a", { class: "btn btn-sm", href: `#/segments/${segment.id}`, "data-action": "edit" }, t("segments.edit")),
      tagging.buttons,
      remove,
    ),
  );
}

/** The list of the bot's segments. */
export function segmentsView() {
  const bot = currentBot();
  if (!bot) return noBot();
  const timeZone = botTimeZone();
  const list = h("div", { class: "segment-list", "data-testid": "segment-list" }, h("p", { class: "loading" }, t("common.loading")));
  const el = h(
    "section",
    { class: "view view-segments" },
    h(
      "div",
      { class: "page-head" },
      h("div", {}, h("h1", {}, t("segments.title")), h("p", { class: "page-sub" }, t("segments.lead", { bot: bot.name || bot.slug }))),
      h("a", { class: "btn btn-primary", href: "#/segments/new", "data-testid": "new-segment" }, h("span", { class: "plus", "aria-hidden": "true" }, "+"), t("segments.new")),
    ),
    list,
  );
  async function load() {
    try {
      const answer = await api("GET", paths.segments(bot.slug));
      const items = answer.items || [];
      replace(
        list,
        items.length
          ? items.map((s) => segmentCard(s, timeZone, load))
          : emptyState(t("segments.empty.title"), t("segments.empty.lead"), h("a", { class: "btn btn-primary", href: "#/segments/new" }, t("segments.new"))),
      );
    } catch (err) {
      replace(list, emptyState(t("common.error"), err.message, h("button", { type: "button", class: "btn", on: { click: load } }, t("common.retry"))));
    }
  }
  load();
  return { el };
}

/** Create (`id` null) or edit a segment. */
export function segmentFormView({ id }) {
  const bot = currentBot();
  if (!bot) return noBot();
  const slug = bot.slug;
  const el = h("section", { class: "view view-segment-form" }, h("p", { class: "loading" }, t("common.loading")));
  const back = h("a", { class: "back", href: "#/segments" }, "← ", t("segments.title"));
  let disposed = false;

  function build(segment) {
    const name = h("input", { id: "segment-name", class: "input", value: segment ? segment.name : "", maxlength: 100, autocomplete: "off" });
    const count = h("span", { class: "estimate", "data-testid": "segment-estimate", "aria-live": "polite" });
    let asked = 0;
    const refresh = debounce(async () => {
      const ticket = ++asked;
      const answer = builder.read();
      if (!answer.ok) {
        count.dataset.count = "";
        count.textContent = t("estimate.finishFilter");
        return;
      }
      count.classList.add("is-loading");
      try {
        const body = { bot_slug: slug, target: "started", ignore_frequency_cap: true };
        if (answer.value) body.filter = answer.value;
        const estimate = await api("POST", paths.estimate(), body);
        if (ticket !== asked) return;
        builder.clearErrors();
        count.dataset.count = estimate.count;
        count.textContent = countLabel(estimate.count);
      } catch (err) {
        if (ticket !== asked) return;
        count.dataset.count = "";
        count.textContent = t("estimate.unavailable");
        if (err instanceof ApiError && err.field) builder.showError(err.field, err.message);
      } finally {
        if (ticket === asked) count.classList.remove("is-loading");
      }
    }, 300);
    const builder = filterBuilder({ slug, value: segment ? segment.filter : null, onChange: refresh });
    const submit = h("button", { type: "submit", class: "btn btn-primary btn-lg", "data-testid": "save-segment" }, segment ? t("common.save") : t("segments.create"));
    const summary = h("p", { class: "form-summary", role: "alert", hidden: true });
    const form = h(
      "form",
      { class: "card segment-form", novalidate: true, "data-testid": "segment-form" },
      field("name", t("segments.name"), name, t("segments.name.help")),
      h("div", { class: "field", "data-field": "filter" }, h("div", { class: "field-label segment-filter-head" }, t("segments.filter"), count), builder.el, h("p", { class: "field-help" }, t("segments.filter.help"))),
      summary,
      h("div", { class: "form-actions" }, h("a", { class: "btn btn-ghost", href: "#/segments" }, t("common.cancel")), submit),
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearFieldErrors(form);
      builder.clearErrors();
      summary.hidden = true;
      const tree = builder.read({ show: true });
      if (!name.value.trim()) showFieldError(form, "name", t("form.required"));
      const empty = tree.ok && tree.value === null;
      if (empty) builder.showError("filter", t("segments.filter.required"));
      if (!tree.ok || empty || !name.value.trim()) return fail(t("form.fixErrors"));
      submit.disabled = true;
      try {
        const body = { name: name.value.trim(), filter: tree.value };
        const saved = segment ? await api("PATCH", paths.segment(slug, segment.id), body) : await api("POST", paths.segments(slug), body);
        toast(t("segments.saved", { name: saved.name }));
        location.hash = "#/segments";
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        const placed =
          builder.showError(err.field, err.message) ||
          (err.status === 409 ? showFieldError(form, "name", t("segments.nameTaken"), err.message) : showFieldError(form, err.field, err.message));
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
    replace(el, h("div", { class: "page-head" }, h("div", {}, back, h("h1", {}, segment ? t("segments.editTitle", { name: segment.name }) : t("segments.new")))), form);
    refresh();
    if (!segment) name.focus();
  }

  if (id) {
    api("GET", paths.segment(slug, id))
      .then((segment) => !disposed && build(segment))
      .catch((err) => replace(el, emptyState(t("common.error"), err.message, h("a", { class: "btn", href: "#/segments" }, t("common.back")))));
  } else build(null);
  return { el, dispose: () => (disposed = true) };
}
