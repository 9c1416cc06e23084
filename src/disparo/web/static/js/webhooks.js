// "Webhooks": the endpoints that receive events (shots, blocks, conversions) as signed POSTs;
// create one (its signing secret shown once, with a copy button), delete one, and see each
// one's recent deliveries with their status, attempts and last answer.

import { api } from "./api.js";
import { h, replace } from "./dom.js";
import { fmtDateTime, fmtNumber, t } from "./i18n.js";
import { botTimeZone, state } from "./state.js";
import { clearFieldErrors, confirmDialog, emptyState, field, showServerError, toast } from "./ui.js";

const EVENTS = ["shot.started", "shot.finished", "shot.failed", "contact.blocked", "contact.deactivated", "conversion"];
const BADGE = { pending: "badge-pending", delivered: "badge-sent", failed: "badge-error" };
const paths = {
  webhooks: () => "/webhooks",
  webhook: (id) => `/webhooks/${encodeURIComponent(id)}`,
  deliveries: (id) => `/webhooks/${encodeURIComponent(id)}/deliveries?limit=20`,
};

function secretPanel(secret, onDone) {
  const code = h("code", { class: "webhook-secret-value", "data-testid": "webhook-secret" }, secret);
  const copy = h("button", { type: "button", class: "btn btn-sm btn-primary", "data-action": "copy-secret" }, t("webhooks.secret.copy"));
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(secret);
    } catch {
      // No clipboard (an insecure origin): select it so Ctrl+C copies it.
      getSelection().selectAllChildren(code);
    }
    toast(t("webhooks.secret.copied"));
  });
  const done = h("button", { type: "button", class: "btn btn-sm", "data-action": "secret-done", on: { click: onDone } }, t("webhooks.secret.done"));
  return h(
    "div",
    { class: "card webhook-secret", role: "status", "data-testid": "webhook-secret-panel" },
    h("h3", {}, t("webhooks.secret.title")),
    h("p", { class: "muted small" }, t("webhooks.secret.lead")),
    h("div", { class: "webhook-secret-row" }, code, copy, done),
  );
}

function createForm(onCreated, onCancel) {
  const url = h("input", { id: "url", class: "input", type: "url", placeholder: "https://crm.example.com/hooks/disparo", required: true });
  const boxes = EVENTS.map((name) => h("input", { type: "checkbox", value: name, "data-event": name }));
  const events = h(
    "div",
    { class: "webhook-events", id: "events" },
    EVENTS.map((name, i) => h("label", { class: "check" }, boxes[i], t(`webhooks.event.${name}`), " ", h("code", { class: "muted small" }, name))),
  );
  const bot = h(
    "select",
    { id: "bot_slug", class: "input" },
    h("option", { value: "" }, t("webhooks.bot.all")),
    state.bots.map((b) => h("option", { value: b.slug }, b.name ? `${b.name} (${b.slug})` : b.slug)),
  );
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, t("webhooks.create"));
  const form = h(
    "form",
    { class: "card webhook-form", novalidate: true, "data-testid": "webhook-form" },
    field("url", t("webhooks.url"), url, t("webhooks.url.help")),
    field("events", t("webhooks.events"), events, t("webhooks.events.help")),
    field("bot_slug", t("webhooks.bot"), bot),
    h("div", { class: "form-actions" }, submit, h("button", { type: "button", class: "btn btn-ghost", on: { click: onCancel } }, t("webhooks.cancel"))),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    submit.disabled = true;
    const body = { url: url.value.trim(), events: boxes.filter((b) => b.checked).map((b) => b.value), bot_slug: bot.value || null };
    try {
      const created = await api("POST", paths.webhooks(), body);
      toast(t("webhooks.created"));
      onCreated(created);
    } catch (err) {
      if (!showServerError(form, err)) toast(err.message, "error");
      submit.disabled = false;
    }
  });
  setTimeout(() => url.focus());
  return form;
}

function answerOf(delivery) {
  if (delivery.last_status) return `${delivery.last_status}${delivery.last_response ? ` · ${delivery.last_response}` : ""}`;
  return delivery.last_error || "—";
}

async function deliveriesTable(endpoint, timeZone) {
  const answer = await api("GET", paths.deliveries(endpoint.id));
  const items = answer.items || [];
  if (!items.length) return h("p", { class: "muted small" }, t("webhooks.deliveries.empty"));
  const when = (iso) => (iso ? fmtDateTime(iso, timeZone, true) : "—");
  const cols = ["event", "when", "status", "attempts", "answer", "next"];
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "table", "data-testid": "webhook-deliveries" },
      h("thead", {}, h("tr", {}, cols.map((c) => h("th", {}, t(`webhooks.col.${c}`))))),
      h(
        "tbody",
        {},
        items.map((d) =>
          h(
            "tr",
            { "data-event-id": d.id },
            h("td", {}, h("code", {}, d.type)),
            h("td", {}, when(d.created_at)),
            h("td", {}, h("span", { class: ["badge", BADGE[d.status]], "data-status": d.status }, t(`webhooks.status.${d.status}`))),
            h("td", {}, fmtNumber(d.attempts)),
            h("td", { class: "webhook-answer" }, answerOf(d)),
            h("td", {}, when(d.next_attempt_at)),
          ),
        ),
      ),
    ),
  );
}

function endpointCard(endpoint, timeZone, onDeleted) {
  const slot = h("div", { class: "webhook-deliveries" });
  let open = false;
  const toggle = h("button", { type: "button", class: "btn btn-sm", "data-action": "deliveries" }, t("webhooks.deliveries"));
  toggle.addEventListener("click", async () => {
    open = !open;
    toggle.textContent = t(open ? "webhooks.deliveries.hide" : "webhooks.deliveries");
    if (!open) return replace(slot);
    replace(slot, h("p", { class: "loading" }, t("common.loading")));
    try {
      replace(slot, await deliveriesTable(endpoint, timeZone));
    } catch (err) {
      replace(slot, h("p", { class: "field-error" }, err.message));
    }
  });
  const remove = h("button", { type: "button", class: "btn btn-sm btn-danger-ghost", "data-action": "delete" }, t("webhooks.delete"));
  remove.addEventListener("click", async () => {
    const ok = await confirmDialog({ title: t("webhooks.confirmDelete.title", { url: endpoint.url }), body: t("webhooks.confirmDelete.body"), ok: t("webhooks.delete") });
    if (!ok) return;
    remove.disabled = true;
    try {
      await api("DELETE", paths.webhook(endpoint.id));
      toast(t("webhooks.deleted"));
      onDeleted();
    } catch (err) {
      toast(err.message, "error");
      remove.disabled = false;
    }
  });
  return h(
    "article",
    { class: "card webhook-card", "data-testid": "webhook-card", "data-webhook-id": endpoint.id },
    h("header", { class: "template-head" }, h("h3", { class: "webhook-url" }, endpoint.url), h("span", { class: ["chip", "chip-static", endpoint.bot_slug ? null : "chip-shared"] }, endpoint.bot_slug || t("webhooks.scope.all"))),
    h("div", { class: "template-meta" }, endpoint.events.map((name) => h("span", { class: "chip chip-static", "data-event": name, title: name }, t(`webhooks.event.${name}`)))),
    h("p", { class: "muted small" }, t("webhooks.createdAt", { when: fmtDateTime(endpoint.created_at, timeZone) })),
    h("footer", { class: "shot-actions" }, toggle, remove),
    slot,
  );
}

/** Every webhook endpoint, a form to add one, and each one's recent deliveries. */
export function webhooksView() {
  const timeZone = botTimeZone();
  const top = h("div", {});
  const list = h("div", { class: "webhook-list", "data-testid": "webhook-list" }, h("p", { class: "loading" }, t("common.loading")));
  const newButton = h("button", { type: "button", class: "btn btn-primary", "data-testid": "new-webhook" }, h("span", { class: "plus", "aria-hidden": "true" }, "+"), t("webhooks.new"));
  const closeForm = () => {
    replace(top);
    newButton.hidden = false;
  };
  newButton.addEventListener("click", () => {
    newButton.hidden = true;
    replace(top, createForm((created) => {
      replace(top, secretPanel(created.secret, closeForm));
      load();
    }, closeForm));
  });
  const el = h(
    "section",
    { class: "view view-webhooks" },
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, t("webhooks.title")), h("p", { class: "page-sub" }, t("webhooks.lead"))), newButton),
    top,
    list,
  );
  async function load() {
    try {
      const items = (await api("GET", paths.webhooks())).items || [];
      replace(list, items.length ? items.map((endpoint) => endpointCard(endpoint, timeZone, load)) : emptyState(t("webhooks.empty.title"), t("webhooks.empty.lead")));
    } catch (err) {
      replace(list, emptyState(t("common.error"), err.message, h("button", { type: "button", class: "btn", on: { click: load } }, t("common.retry"))));
    }
  }
  load();
  return { el };
}
