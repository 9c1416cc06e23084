// Contatos: the selected bot's contacts in keyset pages (search, state, a segment or the filter
// builder, sort), exported as CSV, and deleted by filter with the count shown before confirming.
// One contact's story is contact_story.js.

import { ApiError, api, download, paths, query } from "./api.js";
import { debounce, h, replace } from "./dom.js";
import { filterBuilder } from "./filter.js";
import { fmtDateTime, fmtNumber, t } from "./i18n.js";
import { moneyLabel } from "./money.js";
import { botTimeZone, currentBot } from "./state.js";
import { confirmDialog, emptyState, toast } from "./ui.js";

const PAGE = 50;
const SORTS = ["last_interaction", "started", "total_paid", "telegram_id"];
const STATES = ["", "active", "blocked", "deactivated"];

/** A contact's name for people: first and last name, else @username, else its id. */
export function contactName(c) {
  const name = [c.first_name, c.last_name].filter(Boolean).join(" ");
  return name || (c.username ? "@" + c.username : String(c.telegram_id));
}

function select(id, options, value, label) {
  const el = h("select", { id, class: "input", "aria-label": label }, options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
  return el;
}

function row(c, slug, timeZone) {
  return h(
    "tr",
    { "data-testid": "contact-row", "data-id": c.telegram_id },
    h("td", {}, h("a", { href: `#/contacts/${c.telegram_id}` }, contactName(c)), h("div", { class: "muted small" }, String(c.telegram_id))),
    h("td", {}, c.username ? "@" + c.username : ""),
    h("td", {}, h("span", { class: ["badge", `badge-contact-${c.chat_state}`] }, t(`contacts.state.${c.chat_state}`))),
    h("td", {}, c.tags.map((tag) => h("span", { class: "chip" }, tag))),
    h("td", { class: "nowrap" }, c.started_at ? fmtDateTime(c.started_at, timeZone) : "—"),
    h("td", { class: "nowrap" }, c.last_interaction_at ? fmtDateTime(c.last_interaction_at, timeZone) : "—"),
    h("td", {}, c.has_pix ? t("contacts.yes") : ""),
    h("td", { class: "num" }, c.total_paid_cents ? moneyLabel(c.total_paid_cents) : ""),
  );
}

/** The table of the bot's contacts. */
export function contactsView() {
  const bot = currentBot();
  if (!bot) return { el: h("section", { class: "view" }, emptyState(t("shots.nobots.title"), t("shots.nobots.lead"), h("a", { class: "btn btn-primary", href: "#/bots" }, t("shots.nobots.action")))) };
  const slug = bot.slug;
  const timeZone = botTimeZone();
  const search = h("input", { id: "contacts-search", class: "input", type: "search", placeholder: t("contacts.search"), "aria-label": t("contacts.search"), maxlength: 100 });
  const state = select("contacts-state", STATES.map((s) => [s, t(s ? `contacts.state.${s}` : "contacts.state.any")]), "", t("contacts.state"));
  const sort = select("contacts-sort", SORTS.map((s) => [s, t(`contacts.sort.${s}`)]), SORTS[0], t("contacts.sort"));
  const segment = select("contacts-segment", [["", t("contacts.segment.none")]], "", t("contacts.segment"));
  const builder = filterBuilder({ slug, onChange: debounce(() => reload(), 400) });
  const filterBox = h("div", { class: "card contacts-filter", hidden: true }, builder.el);
  const toggle = h("button", { type: "button", class: "btn btn-sm", "data-testid": "contacts-filter-toggle" }, t("contacts.filter.show"));
  toggle.addEventListener("click", () => {
    filterBox.hidden = !filterBox.hidden;
    toggle.textContent = t(filterBox.hidden ? "contacts.filter.show" : "contacts.filter.hide");
    if (filterBox.hidden) reload();
  });
  const body = h("tbody", {});
  const pager = h("div", { class: "contacts-pager" });
  const problem = h("p", { class: "field-error", role: "alert", "data-testid": "contacts-error" });
  const exportButton = h("button", { type: "button", class: "btn btn-sm", "data-testid": "contacts-export" }, t("contacts.export"));
  const deleteButton = h("button", { type: "button", class: "btn btn-sm btn-danger-ghost", "data-testid": "contacts-delete-matching" }, t("contacts.deleteMatching"));
  // Keyset pages: the cursors of the pages seen so far, to go back.
  let cursors = [null];
  let ticket = 0;

  /** The search and narrowing as query parameters; null when the filter is unfinished. */
  function criteria() {
    const params = { q: search.value.trim(), state: state.value };
    if (segment.value) params.segment_id = segment.value;
    else if (!filterBox.hidden) {
      const tree = builder.read();
      if (!tree.ok) return null;
      if (tree.value) params.filter = JSON.stringify(tree.value);
    }
    return params;
  }

  async function show(index) {
    const params = criteria();
    if (!params) return;
    const mine = ++ticket;
    replace(problem);
    try {
      const page = await api("GET", paths.contactsBrowse(slug, { ...params, sort: sort.value, limit: PAGE, cursor: cursors[index] }));
      if (mine !== ticket) return;
      cursors = cursors.slice(0, index + 1);
      if (page.next_cursor) cursors.push(page.next_cursor);
      replace(body, page.items.length ? page.items.map((c) => row(c, slug, timeZone)) : h("tr", {}, h("td", { colspan: 8, class: "muted" }, t("contacts.empty"))));
      const prev = h("button", { type: "button", class: "btn btn-sm", disabled: index === 0, "data-testid": "contacts-prev", on: { click: () => show(index - 1) } }, t("contacts.prev"));
      const next = h("button", { type: "button", class: "btn btn-sm", disabled: !page.next_cursor, "data-testid": "contacts-next", on: { click: () => show(index + 1) } }, t("contacts.next"));
      replace(pager, prev, h("span", { class: "muted small", "data-testid": "contacts-page" }, t("contacts.page", { n: index + 1 })), next);
    } catch (err) {
      if (mine !== ticket) return;
      if (err instanceof ApiError && err.field && err.field.startsWith("filter") && builder.showError(err.field, err.message)) return;
      replace(problem, err.message);
    }
  }

  function reload() {
    cursors = [null];
    show(0);
  }

  exportButton.addEventListener("click", async () => {
    const params = criteria();
    if (!params) return;
    try {
      await download(paths.contactsCsv(slug, { ...params, sort: sort.value }), `${slug}-contacts.csv`);
    } catch (err) {
      toast(err.message, "error");
    }
  });

  deleteButton.addEventListener("click", async () => {
    let tree = null;
    if (segment.value) {
      tree = (await api("GET", paths.segment(slug, segment.value))).filter;
    } else if (!filterBox.hidden) {
      const read = builder.read({ show: true });
      if (!read.ok) return;
      tree = read.value;
    }
    if (!tree) return toast(t("contacts.deleteMatching.needFilter"), "error");
    const counted = await api("GET", paths.contactsCount(slug, { filter: JSON.stringify(tree) }));
    const n = counted.count;
    const ok = await confirmDialog({
      title: t("contacts.confirmDeleteMatching.title", { n: fmtNumber(n) }),
      body: t("contacts.confirmDeleteMatching.body", { n: fmtNumber(n) }),
      ok: t("contacts.confirmDeleteMatching.ok", { n: fmtNumber(n) }),
    });
    if (!ok) return;
    try {
      const done = await api("POST", paths.contactsDelete(slug), { filter: tree, expected_count: n });
      toast(t("contacts.deletedMany", { n: fmtNumber(done.deleted) }));
      reload();
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        const now = await api("GET", paths.contactsCount(slug, { filter: JSON.stringify(tree) }));
        toast(t("contacts.deleteMatching.changed", { n: fmtNumber(now.count) }), "error");
      } else toast(err.message, "error");
    }
  });

  const onSearch = debounce(reload, 300);
  search.addEventListener("input", onSearch);
  for (const control of [state, sort, segment]) control.addEventListener("change", reload);
  api("GET", paths.segments(slug))
    .then((answer) => segment.append(...(answer.items || []).map((s) => h("option", { value: s.id }, `${s.name} (${fmtNumber(s.count)})`))))
    .catch(() => {});

  const el = h(
    "section",
    { class: "view view-contacts" },
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, t("contacts.title")), h("p", { class: "page-sub" }, t("contacts.lead", { bot: bot.name || bot.slug })))),
    h(
      "div",
      { class: "contacts-tools" },
      search,
      h("label", { class: "inline-field" }, t("contacts.state"), " ", state),
      h("label", { class: "inline-field" }, t("contacts.sort"), " ", sort),
      h("label", { class: "inline-field" }, t("contacts.segment"), " ", segment),
      toggle,
      exportButton,
      deleteButton,
    ),
    filterBox,
    problem,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "table contacts-table", "data-testid": "contacts-table" },
        h("thead", {}, h("tr", {}, ["name", "username", "state", "tags", "started", "last", "pix", "paid"].map((c) => h("th", {}, t(`contacts.col.${c}`))))),
        body,
      ),
    ),
    pager,
  );
  reload();
  return { el };
}
