// The admin page: sign-in, the header (bot selector, language), and a hash router of views.

import { ApiError, api, clearToken, getToken, onUnauthorized, paths, setToken } from "./api.js";
import { botsView } from "./bots.js";
import { contactStoryView } from "./contact_story.js";
import { contactsView } from "./contacts.js";
import { h, replace } from "./dom.js";
import { formView } from "./form.js";
import { importView } from "./import_page.js";
import { LANGS, lang, onLangChange, setLang, t } from "./i18n.js";
import { reportsView } from "./reports.js";
import { shotsView } from "./shots.js";
import { segmentFormView, segmentsView } from "./segments.js";
import { loadBots, onBotChange, selectBot, state } from "./state.js";
import { statsView } from "./stats.js";
import { templateFormView } from "./template_form.js";
import { templatesView } from "./templates.js";
import { webhooksView } from "./webhooks.js";

const root = document.getElementById("app");
let view = null;
let signinNotice = null;

const ROUTES = [
  [/^\/?$/, () => shotsView()],
  [/^\/new$/, (m, q) => formView({ mode: "new", from: q.get("from"), segment: q.get("segment"), template: q.get("template") })],
  [/^\/shots\/(\d+)\/edit$/, (m) => formView({ mode: "edit", id: m[1] })],
  [/^\/shots\/(\d+)$/, (m) => statsView({ id: m[1] })],
  [/^\/bots$/, () => botsView({ onBotsChanged: drawHeader })],
  [/^\/segments$/, () => segmentsView()],
  [/^\/segments\/new$/, () => segmentFormView({ id: null })],
  [/^\/segments\/(\d+)$/, (m) => segmentFormView({ id: m[1] })],
  [/^\/templates$/, () => templatesView()],
  [/^\/templates\/new$/, () => templateFormView({ id: null })],
  [/^\/templates\/(\d+)$/, (m) => templateFormView({ id: m[1] })],
  [/^\/reports$/, (m, q) => reportsView({ from: q.get("from"), to: q.get("to") })],
  [/^\/webhooks$/, () => webhooksView()],
  [/^\/contacts$/, () => contactsView()],
  [/^\/contacts\/(\d+)$/, (m) => contactStoryView({ id: m[1] })],
  [/^\/import$/, () => importView({ id: null })],
  [/^\/import\/(\d+)$/, (m) => importView({ id: m[1] })],
];

function parseHash() {
  const raw = location.hash.replace(/^#/, "");
  const [path, search] = raw.split("?");
  return { path: path || "/", query: new URLSearchParams(search || "") };
}

// ---- sign-in -------------------------------------------------------------------------------

function signinView() {
  const input = h("input", {
    id: "token",
    type: "password",
    class: "input",
    autocomplete: "current-password",
    required: true,
    "aria-describedby": "signin-error",
  });
  const error = h("p", { id: "signin-error", class: "field-error", role: "alert" }, signinNotice || "");
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-lg btn-block" }, t("signin.submit"));
  const form = h(
    "form",
    { class: "signin card", novalidate: true, "data-testid": "signin" },
    h("div", { class: "brand brand-lg" }, h("span", { class: "brand-mark", "aria-hidden": "true" }), t("app.title")),
    h("p", { class: "muted" }, t("app.tagline")),
    h("h1", { class: "signin-title" }, t("signin.title")),
    h("p", { class: "muted small" }, t("signin.lead")),
    h("div", { class: ["field", signinNotice ? "has-error" : null] }, h("label", { class: "field-label", for: "token" }, t("signin.token")), input, error),
    submit,
    langSwitch(),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    if (!token) {
      error.textContent = t("form.required");
      return;
    }
    submit.disabled = true;
    try {
      await api("GET", paths.bots(), undefined, { token });
      setToken(token);
      signinNotice = null;
      await start();
    } catch (err) {
      error.textContent = err instanceof ApiError ? (err.status === 401 ? t("signin.invalid") : err.message) : t("signin.unreachable");
      form.querySelector(".field").classList.add("has-error");
      submit.disabled = false;
      input.select();
    }
  });
  stopView();
  replace(root, h("main", { class: "signin-page" }, form));
  input.focus();
}

onUnauthorized(() => {
  if (!getToken()) return;
  clearToken();
  signinNotice = t("signin.expired");
  signinView();
});

// ---- header --------------------------------------------------------------------------------

function langSwitch() {
  return h(
    "div",
    { class: "lang-switch", role: "group", "aria-label": t("nav.language") },
    LANGS.map((code) =>
      h(
        "button",
        { type: "button", class: "lang", "aria-pressed": String(code === lang()), "data-lang": code, on: { click: () => setLang(code) } },
        code === "pt-BR" ? "PT" : "EN",
      ),
    ),
  );
}

const header = h("header", { class: "topbar" });
const main = h("main", { class: "content", id: "content" });

function drawHeader() {
  const { path } = parseHash();
  const select = h(
    "select",
    { id: "bot-select", class: "input bot-select", "aria-label": t("nav.bot"), disabled: !state.bots.length },
    state.bots.map((b) => h("option", { value: b.slug, selected: b.slug === state.slug }, b.name ? `${b.name} (${b.slug})` : b.slug)),
  );
  select.addEventListener("change", () => selectBot(select.value));
  const link = (href, label, active) => h("a", { href, class: ["nav-link", active ? "active" : null], "aria-current": active ? "page" : null }, label);
  replace(
    header,
    h(
      "div",
      { class: "topbar-inner" },
      h("a", { class: "brand", href: "#/" }, h("span", { class: "brand-mark", "aria-hidden": "true" }), t("app.title")),
      h(
        "nav",
        { class: "nav" },
        link("#/", t("nav.shots"), path !== "/bots" && !path.startsWith("/segments") && !path.startsWith("/templates") && path !== "/reports" && path !== "/webhooks" && !path.startsWith("/import") && !path.startsWith("/contacts")),
        link("#/contacts", t("nav.contacts"), path.startsWith("/contacts")),
        link("#/segments", t("nav.segments"), path.startsWith("/segments")),
        link("#/templates", t("nav.templates"), path.startsWith("/templates")),
        link("#/reports", t("nav.reports"), path === "/reports"),
        link("#/import", t("nav.import"), path.startsWith("/import")),
        link("#/bots", t("nav.bots"), path === "/bots"),
        link("#/webhooks", t("nav.webhooks"), path === "/webhooks"),
      ),
      h("div", { class: "topbar-tools" }, h("label", { class: "sr-only", for: "bot-select" }, t("nav.bot")), select, langSwitch(), h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "signout", on: { click: signOut } }, t("nav.signout"))),
    ),
  );
}

function signOut() {
  clearToken();
  signinNotice = null;
  signinView();
}

// ---- router --------------------------------------------------------------------------------

function stopView() {
  if (view && view.dispose) view.dispose();
  view = null;
}

function route() {
  if (!getToken()) return signinView();
  if (!root.contains(main)) replace(root, header, main);
  const { path, query } = parseHash();
  stopView();
  drawHeader();
  for (const [pattern, make] of ROUTES) {
    const m = pattern.exec(path);
    if (m) {
      view = make(m, query);
      replace(main, view.el);
      window.scrollTo(0, 0);
      return;
    }
  }
  location.hash = "#/";
}

onBotChange(() => {
  const { path } = parseHash();
  // A shot belongs to one bot: switching bots goes back to that bot's list.
  if (path === "/bots" || path === "/webhooks") drawHeader();
  else if (path === "/" || path === "" || path === "/segments" || path === "/templates") route();
  // The report's period carries over to the other bot.
  else if (path === "/reports") route();
  else if (path.startsWith("/segments/")) location.hash = "#/segments";
  else if (path.startsWith("/templates/")) location.hash = "#/templates";
  else if (path === "/import" || path === "/contacts") route();
  else if (path.startsWith("/contacts/")) location.hash = "#/contacts";
  else if (path.startsWith("/import/")) location.hash = "#/import";
  else location.hash = "#/";
});
onLangChange(() => (getToken() ? route() : signinView()));
window.addEventListener("hashchange", () => {
  if (consumeTokenLink()) start();
  else if (getToken()) route();
});

async function start() {
  try {
    await loadBots();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    replace(root, h("main", { class: "signin-page" }, h("div", { class: "card signin" }, h("p", {}, t("signin.unreachable")), h("button", { class: "btn", type: "button", on: { click: start } }, t("common.retry")))));
    return;
  }
  route();
}

/** `#token=...` (the demo's link) signs in and leaves the address bar clean. */
function consumeTokenLink() {
  const fromLink = /^#token=([^&]+)/.exec(location.hash);
  if (!fromLink) return false;
  setToken(decodeURIComponent(fromLink[1]));
  history.replaceState(null, "", location.pathname + "#/");
  return true;
}

consumeTokenLink();
if (getToken()) start();
else signinView();
