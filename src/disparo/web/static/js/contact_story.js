// One contact's story: its fields and state times, tags and attributes (edited through the
// contact's PATCH), funnel events, payments, and every shot it was in with the outcome (sent,
// skipped and why, variant, clicked, converted): "why didn't Ana get it?" on one screen.

import { ApiError, api, paths } from "./api.js";
import { contactName } from "./contacts.js";
import { h, replace } from "./dom.js";
import { fmtDateTime, t, tOr } from "./i18n.js";
import { moneyLabel } from "./money.js";
import { botTimeZone, currentBot } from "./state.js";
import { confirmDialog, emptyState, toast } from "./ui.js";

function table(testid, headers, rows) {
  if (!rows.length) return h("p", { class: "muted" }, t("contact.none"));
  return h("div", { class: "table-wrap" }, h("table", { class: "table", "data-testid": testid }, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))), h("tbody", {}, rows)));
}

function outcome(d) {
  const status = t(`delivery.${d.status}`);
  if (d.reason) return t("contact.shot.reason", { status, reason: tOr(`reason.${d.reason}`, d.reason) });
  if (d.error) return t("contact.shot.reason", { status, reason: d.error });
  return status;
}

function fieldsCard(story, timeZone) {
  const c = story.contact;
  const when = (iso) => (iso ? fmtDateTime(iso, timeZone) : "—");
  const item = (label, value) => [h("dt", {}, label), h("dd", {}, value)];
  return h(
    "dl",
    { class: "contact-fields", "data-testid": "contact-fields" },
    item(t("contact.id"), String(c.telegram_id)),
    item(t("contacts.col.username"), c.username ? "@" + c.username : "—"),
    item(t("contact.language"), c.language_code || "—"),
    item(t("contacts.col.state"), h("span", { class: ["badge", `badge-contact-${c.chat_state}`], "data-testid": "contact-state" }, t(`contacts.state.${c.chat_state}`))),
    item(t("contacts.col.started"), when(c.started_at)),
    item(t("contacts.col.last"), when(c.last_interaction_at)),
    item(t("contact.blockedAt"), when(c.blocked_at)),
    item(t("contacts.col.paid"), moneyLabel(c.total_paid_cents)),
    item(t("contact.updatedAt"), when(story.updated_at)),
  );
}

function editor(slug, story, redraw) {
  const id = story.contact.telegram_id;
  const chips = story.contact.tags.map((tag) =>
    h("span", { class: "chip" }, tag, " ", h("button", { type: "button", class: "chip-remove", "aria-label": t("contact.tags.remove", { tag }), on: { click: () => save({ remove_tags: [tag] }) } }, "×")),
  );
  const tagInput = h("input", { id: "contact-tag", class: "input input-sm", maxlength: 64, placeholder: t("contact.tags.add"), "aria-label": t("contact.tags.add") });
  const attrs = h("textarea", { id: "contact-attributes", class: "input mono", rows: 4 }, JSON.stringify(story.attributes, null, 2));
  const problem = h("p", { class: "field-error", role: "alert", "data-testid": "contact-edit-error" });
  async function save(body) {
    replace(problem);
    try {
      await api("PATCH", paths.contact(slug, id), body);
      toast(t("contact.saved"));
      redraw();
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      replace(problem, err.message);
    }
  }
  const form = h("form", { class: "contact-tag-form" }, tagInput, h("button", { type: "submit", class: "btn btn-sm" }, t("contact.tags.add")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (tagInput.value.trim()) save({ add_tags: [tagInput.value.trim()] });
  });
  const saveAttrs = h("button", { type: "button", class: "btn btn-sm", "data-testid": "contact-save-attributes" }, t("common.save"));
  saveAttrs.addEventListener("click", () => {
    let value;
    try {
      value = JSON.parse(attrs.value || "{}");
    } catch (err) {
      return replace(problem, err.message);
    }
    save({ attributes: value });
  });
  return h(
    "div",
    { class: "card contact-edit" },
    h("h2", {}, t("contact.tags")),
    h("div", { class: "chips", "data-testid": "contact-tags" }, chips),
    form,
    h("h2", {}, t("contact.attributes")),
    attrs,
    h("p", { class: "field-help" }, t("contact.attributes.help")),
    saveAttrs,
    problem,
  );
}

/** The story of contact `id` of the selected bot. */
export function contactStoryView({ id }) {
  const bot = currentBot();
  const el = h("section", { class: "view view-contact" }, h("p", { class: "loading" }, t("common.loading")));
  if (!bot) return { el };
  const slug = bot.slug;
  const timeZone = botTimeZone();
  const when = (iso) => (iso ? fmtDateTime(iso, timeZone) : "—");
  let disposed = false;

  async function draw() {
    let story;
    try {
      story = await api("GET", paths.contact(slug, id));
    } catch (err) {
      return replace(el, emptyState(t("common.error"), err.message, h("a", { class: "btn", href: "#/contacts" }, t("contact.back"))));
    }
    if (disposed) return;
    const name = contactName(story.contact);
    const remove = h("button", { type: "button", class: "btn btn-sm btn-danger-ghost", "data-testid": "contact-delete" }, t("contact.delete"));
    remove.addEventListener("click", async () => {
      const ok = await confirmDialog({ title: t("contact.confirmDelete.title", { name }), body: t("contact.confirmDelete.body"), ok: t("contact.delete") });
      if (!ok) return;
      try {
        await api("DELETE", paths.contact(slug, id));
        toast(t("contact.deleted"));
        location.hash = "#/contacts";
      } catch (err) {
        toast(err.message, "error");
      }
    });
    const shots = story.shots.items.map((d) =>
      h(
        "tr",
        { "data-testid": "contact-shot", "data-status": d.status },
        h("td", {}, h("a", { href: `#/shots/${d.shot_id}` }, `#${d.shot_id}`), h("div", { class: "muted small" }, d.copy_snippet)),
        h("td", {}, outcome(d)),
        h("td", {}, d.variant || ""),
        h("td", { class: "nowrap" }, when(d.sent_at)),
        h("td", {}, d.clicked ? t("contacts.yes") : ""),
        h("td", { class: "nowrap" }, d.converted_at ? when(d.converted_at) : ""),
      ),
    );
    const events = story.events.items.map((e) => h("tr", {}, h("td", {}, e.event), h("td", { class: "nowrap" }, when(e.occurred_at))));
    const payments = story.payments.items.map((p) =>
      h("tr", {}, h("td", {}, p.external_id), h("td", {}, p.status), h("td", { class: "num" }, moneyLabel(p.amount_cents)), h("td", { class: "nowrap" }, when(p.created_at)), h("td", { class: "nowrap" }, when(p.paid_at))),
    );
    replace(
      el,
      h("div", { class: "page-head" }, h("div", {}, h("a", { class: "back", href: "#/contacts" }, t("contact.back")), h("h1", { "data-testid": "contact-name" }, name)), remove),
      h("div", { class: "contact-grid" }, h("div", { class: "card" }, h("h2", {}, t("contact.fields")), fieldsCard(story, timeZone)), editor(slug, story, draw)),
      h("h2", {}, t("contact.shots", { n: story.shots.total })),
      table("contact-shots", ["shot", "status", "variant", "sent", "clicked", "converted"].map((c) => t(`contact.shot.col.${c}`)), shots),
      h("h2", {}, t("contact.events", { n: story.events.total })),
      table("contact-events", [t("contact.col.event"), t("contact.col.when")], events),
      h("h2", {}, t("contact.payments", { n: story.payments.total })),
      table("contact-payments", ["payment", "status", "amount", "created", "paidAt"].map((c) => t(`contact.col.${c}`)), payments),
    );
  }
  draw();
  return { el, dispose: () => (disposed = true) };
}
