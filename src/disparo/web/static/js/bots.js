// Bot management: add a bot by its token, edit rate / paid broadcasts / time zone and its sending
// limits (bot_limits.js), webhook and its secret.

import { ApiError, api, paths } from "./api.js";
import { limitFacts, limitsFields } from "./bot_limits.js";
import { h, replace } from "./dom.js";
import { t, fmtNumber } from "./i18n.js";
import { formDialog } from "./prompt.js";
import { loadBots, selectBot, state } from "./state.js";
import { timeZones } from "./timezone.js";
import { clearFieldErrors, confirmDialog, field, showFieldError, showServerError, toast } from "./ui.js";

function zoneSelect(id, value) {
  const zones = timeZones();
  if (value && !zones.includes(value)) zones.unshift(value);
  return h("select", { id, class: "input" }, zones.map((z) => h("option", { value: z, selected: z === value }, z)));
}

function reportError(form, err) {
  // The cap's two numbers share one field on the page.
  if (err instanceof ApiError && err.field === "cap_window_hours") err.field = "max_shots_per_contact";
  if (err instanceof ApiError && showServerError(form, err)) return;
  toast(err.message || t("common.error"), "error");
}

function editForm(bot, done) {
  const name = h("input", { id: `name-${bot.slug}`, class: "input", value: bot.name || "" });
  const rate = h("input", { id: `rate-${bot.slug}`, type: "number", min: 1, max: 1000, class: "input input-narrow", value: String(bot.rate_per_s ?? 25) });
  const paid = h("input", { id: `paid-${bot.slug}`, type: "checkbox", checked: Boolean(bot.paid_broadcast) });
  const zone = zoneSelect(`tz-${bot.slug}`, bot.timezone || "America/Sao_Paulo");
  const limits = limitsFields(bot);
  const save = h("button", { type: "submit", class: "btn btn-primary" }, t("common.save"));
  const form = h(
    "form",
    { class: "bot-edit", novalidate: true, "data-testid": "bot-edit" },
    field("name", t("bots.name"), name),
    h(
      "div",
      { class: "form-row" },
      field("rate_per_s", t("bots.rate"), rate, t("bots.rate.help")),
      field("timezone", t("bots.timezone"), zone),
    ),
    h("div", { class: "field", "data-field": "paid_broadcast" }, h("label", { class: "check" }, paid, " ", t("bots.paid")), h("p", { class: "field-error" })),
    limits.el,
    h("div", { class: "form-actions" }, h("button", { type: "button", class: "btn btn-ghost", on: { click: () => done(false) } }, t("common.cancel")), save),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    const sendingLimits = limits.read(form);
    if (!sendingLimits) return;
    save.disabled = true;
    try {
      await api("PATCH", paths.bot(bot.slug), {
        name: name.value.trim() || null,
        rate_per_s: Number(rate.value),
        paid_broadcast: paid.checked,
        timezone: zone.value,
        ...sendingLimits,
      });
      toast(t("bots.saved", { slug: bot.slug }));
      done(true);
    } catch (err) {
      reportError(form, err);
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

function botCard(bot, redraw) {
  const body = h("div", { class: "bot-body" });
  const card = h("article", { class: ["card", "bot-card", bot.slug === state.slug ? "is-current" : null], "data-testid": "bot-card", "data-slug": bot.slug }, body);

  function show() {
    const facts = [
      [t("bots.rate"), `${fmtNumber(bot.rate_per_s ?? 25)}/s${bot.paid_broadcast ? " · " + t("bots.paid") : ""}`],
      [t("bots.timezone"), bot.timezone || "America/Sao_Paulo"],
      [t("bots.token"), bot.token || "—"],
      [t("bots.mode"), bot.polling ? t("bots.mode.polling") : t("bots.mode.webhook")],
      ...limitFacts(bot),
    ];
    replace(
      body,
      h(
        "header",
        { class: "bot-head" },
        h("div", { class: "avatar", "aria-hidden": "true" }, (bot.name || bot.slug).trim().charAt(0).toUpperCase()),
        h(
          "div",
          {},
          h("h3", { class: "bot-name" }, bot.name || bot.slug),
          h("p", { class: "muted small" }, bot.telegram_username ? `@${bot.telegram_username} · ` : "", h("span", { class: "mono" }, bot.slug)),
        ),
        bot.slug === state.slug ? h("span", { class: "badge badge-current" }, t("bots.current")) : null,
      ),
      h("dl", { class: "facts facts-grid" }, facts.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v)))),
      h(
        "div",
        { class: "bot-actions" },
        bot.slug === state.slug ? null : h("button", { type: "button", class: "btn btn-sm", on: { click: () => { selectBot(bot.slug); redraw(); } } }, t("bots.select")),
        h("button", { type: "button", class: "btn btn-sm", "data-action": "edit-bot", on: { click: edit } }, t("bots.edit")),
        bot.polling ? null : h("button", { type: "button", class: "btn btn-sm btn-ghost", on: { click: webhook } }, t("bots.webhook")),
        h("button", { type: "button", class: "btn btn-sm btn-ghost", "data-action": "rotate-secret", on: { click: rotateSecret } }, t("bots.rotateSecret")),
        h("button", { type: "button", class: "btn btn-sm btn-danger-ghost", on: { click: remove } }, t("bots.delete")),
      ),
    );
  }
  function edit() {
    replace(body, h("h3", { class: "bot-name" }, bot.name || bot.slug), editForm(bot, async (changed) => {
      if (changed) {
        await loadBots();
        redraw();
      } else show();
    }));
  }
  async function webhook() {
    try {
      await api("POST", paths.botWebhook(bot.slug));
      toast(t("bots.webhook.done"));
    } catch (err) {
      toast(err.message, "error");
    }
  }
  async function rotateSecret() {
    const ok = await confirmDialog({
      title: t("bots.confirmRotate.title", { slug: bot.slug }),
      body: t("bots.confirmRotate.body"),
      ok: t("bots.confirmRotate.ok"),
      danger: false,
    });
    if (!ok) return;
    try {
      const done = await api("POST", paths.botWebhookSecretRotate(bot.slug));
      toast(t(done.webhook_url ? "bots.rotated.webhook" : "bots.rotated.nowebhook", { slug: bot.slug }));
    } catch (err) {
      toast(err.message, "error");
    }
  }
  async function remove() {
    // The bot goes with its contacts and history: the operator types its slug to confirm.
    const done = await formDialog({
      title: t("bots.confirmDelete.title", { slug: bot.slug }),
      body: t("bots.confirmDelete.body"),
      ok: t("bots.confirmDelete.ok"),
      testid: "bot-delete-dialog",
      fields: [{ name: "slug", label: t("bots.typeSlug.label", { slug: bot.slug }), maxlength: 64 }],
      submit: async ({ slug }) => {
        if (slug !== bot.slug) throw new ApiError(422, "mismatch", t("bots.typeSlug.mismatch", { slug: bot.slug }), "slug");
        await api("DELETE", paths.bot(bot.slug));
        return true;
      },
    });
    if (!done) return;
    toast(t("bots.deleted", { slug: bot.slug }));
    await loadBots();
    redraw();
  }
  show();
  return card;
}

function addForm(redraw) {
  const token = h("input", { id: "bot-token", class: "input mono", autocomplete: "off", placeholder: "123456789:AA…", spellcheck: "false" });
  const slug = h("input", { id: "bot-slug", class: "input mono", autocomplete: "off", placeholder: "minha-loja" });
  const name = h("input", { id: "bot-name", class: "input", autocomplete: "off" });
  const zone = zoneSelect("bot-tz", "America/Sao_Paulo");
  const submit = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "add-bot" }, t("bots.add"));
  const form = h(
    "form",
    { class: "card add-bot", novalidate: true },
    h("h2", { class: "card-title" }, t("bots.add")),
    h("p", { class: "muted" }, t("bots.add.lead")),
    field("token", t("bots.token"), token),
    field("slug", t("bots.slug"), slug, t("bots.slug.help")),
    field("name", t("bots.name"), name),
    field("timezone", t("bots.timezone"), zone),
    h("div", { class: "form-actions" }, submit),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    let missing = false;
    for (const [name, input] of [["token", token], ["slug", slug]]) {
      if (!input.value.trim()) {
        showFieldError(form, name, t("form.required"));
        missing = true;
      }
    }
    if (missing) return;
    submit.disabled = true;
    try {
      const body = { slug: slug.value.trim(), token: token.value.trim(), timezone: zone.value };
      if (name.value.trim()) body.name = name.value.trim();
      const bot = await api("POST", paths.bots(), body);
      toast(t("bots.added", { slug: bot.slug }));
      form.reset(); // the token is a secret: do not leave it on screen
      zone.value = "America/Sao_Paulo";
      await loadBots();
      selectBot(bot.slug);
      redraw();
    } catch (err) {
      reportError(form, err);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

export function botsView({ onBotsChanged }) {
  const list = h("div", { class: "bot-list" });
  const el = h("section", { class: "view view-bots" }, h("div", { class: "page-head" }, h("h1", {}, t("bots.title"))));
  function redraw() {
    replace(list, state.bots.length ? state.bots.map((b) => botCard(b, redraw)) : h("p", { class: "muted" }, t("bots.empty")));
    onBotsChanged();
  }
  el.append(h("div", { class: "bots-grid" }, list, h("div", {}, addForm(redraw))));
  loadBots()
    .then(redraw)
    .catch((err) => toast(err.message, "error"));
  redraw();
  return { el };
}
