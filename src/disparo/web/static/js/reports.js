// "Relatórios": the selected bot's report over a period (GET /bots/{slug}/report): the period
// picker, totals, days, best hours and shots ranked by revenue, each table as a CSV download.

import { ApiError, api, download, query } from "./api.js";
import { h, replace } from "./dom.js";
import { t } from "./i18n.js";
import { fmtDay, shotsTable, totalsCards, trackingNotice } from "./reports_cards.js";
import { dailyCard } from "./reports_daily.js";
import { defaultMetric, heatmapCard } from "./reports_heatmap.js";
import { botTimeZone, currentBot } from "./state.js";
import { offsetLabel } from "./timezone.js";
import { emptyState, toast } from "./ui.js";

const QUICK = [7, 30, 90];
const MAX_DAYS = 366;
const DAY_MS = 86400000;
const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;

const reportPath = (slug, params) => `/bots/${encodeURIComponent(slug)}/report` + query(params);
const csvPath = (slug, params) => `/bots/${encodeURIComponent(slug)}/report.csv` + query(params);

/** Today's date ("2026-12-06") on the wall clock of `timeZone`. */
function todayIn(timeZone) {
  try {
    return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
  } catch {
    return new Date().toISOString().slice(0, 10);
  }
}

function addDays(iso, days) {
  return new Date(Date.parse(`${iso}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

function spanDays(from, to) {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS) + 1;
}

/** The last `n` days ending today, as the API counts them (both ends included). */
function lastDays(n, timeZone) {
  const to = todayIn(timeZone);
  return { from: addDays(to, 1 - n), to };
}

/** Why a period cannot be asked for, or null. */
function periodProblem({ from, to }) {
  if (!ISO_DAY.test(from || "") || !ISO_DAY.test(to || "")) return t("reports.invalid.date");
  if (from > to) return t("reports.invalid.order");
  if (spanDays(from, to) > MAX_DAYS) return t("reports.invalid.span");
  return null;
}

function noBot() {
  return { el: h("section", { class: "view" }, emptyState(t("shots.nobots.title"), t("reports.nobot"), h("a", { class: "btn btn-primary", href: "#/bots" }, t("shots.nobots.action")))) };
}

/** The report screen of the selected bot; `from`/`to` come from the address (#/reports?from=&to=). */
export function reportsView({ from, to } = {}) {
  const bot = currentBot();
  if (!bot) return noBot();
  const slug = bot.slug;
  const timeZone = botTimeZone();
  let period = ISO_DAY.test(from || "") && ISO_DAY.test(to || "") ? { from, to } : lastDays(30, timeZone);
  let report = null;
  let metric = null;
  let seq = 0;
  let controller = null;
  let drawnWidth = 0;
  const chartWidth = () => Math.max(320, (body.clientWidth || el.clientWidth || 900) - 42);

  const fromInput = h("input", { type: "date", id: "report-from", class: "input input-auto", value: period.from, required: true });
  const toInput = h("input", { type: "date", id: "report-to", class: "input input-auto", value: period.to, required: true });
  const periodError = h("p", { class: "field-error", role: "alert", "data-testid": "period-error" });
  const quick = h("div", { class: "segmented report-quick", role: "group", "aria-label": t("reports.period") });
  const zone = h("p", { class: "muted small", "data-testid": "report-timezone" });
  const csvBar = h("div", { class: "report-csv", role: "group", "aria-label": t("reports.csv") });
  const body = h("div", { class: "report-body", "aria-live": "polite", "aria-busy": "false" });
  const picker = h(
    "form",
    { class: "card report-period", "data-testid": "report-period", novalidate: true },
    h(
      "div",
      { class: "report-period-row" },
      h("div", { class: "field" }, h("label", { class: "field-label", for: "report-from" }, t("reports.from")), fromInput),
      h("div", { class: "field" }, h("label", { class: "field-label", for: "report-to" }, t("reports.to")), toInput),
      h("button", { type: "submit", class: "btn btn-primary", "data-testid": "report-apply" }, t("reports.apply")),
      quick,
    ),
    periodError,
    zone,
  );
  const el = h(
    "section",
    { class: "view view-reports", "data-testid": "reports" },
    h(
      "div",
      { class: "page-head" },
      h("div", {}, h("h1", {}, t("reports.title")), h("p", { class: "page-sub" }, t("reports.lead", { bot: bot.name || bot.slug }))),
      h("div", { class: "head-actions" }, csvBar),
    ),
    picker,
    body,
  );

  function drawQuick() {
    replace(
      quick,
      QUICK.map((n) => {
        const last = lastDays(n, timeZone);
        const on = last.from === period.from && last.to === period.to;
        return h(
          "button",
          { type: "button", class: "segment", "aria-pressed": String(on), "aria-label": t("reports.lastLabel", { n }), "data-days": n, on: { click: () => choose(lastDays(n, timeZone)) } },
          t("reports.last", { n }),
        );
      }),
    );
  }

  function drawZone(tz) {
    replace(zone, t("reports.timezone", { tz, offset: offsetLabel(new Date(), tz) }));
  }

  function drawCsv() {
    const button = (table) => {
      const b = h("button", { type: "button", class: "btn btn-sm", "data-testid": `report-csv-${table}` }, "⤓ ", t(`reports.csv.${table}`));
      b.addEventListener("click", async () => {
        b.disabled = true;
        try {
          await download(csvPath(slug, { table, ...period }), `disparo-${slug}-${table}-${period.from}-${period.to}.csv`);
        } catch (err) {
          toast(err.message, "error");
        } finally {
          b.disabled = false;
        }
      });
      return b;
    };
    replace(csvBar, h("span", { class: "muted small" }, t("reports.csv")), ["days", "hours", "shots"].map(button));
  }

  function showPeriodError(message) {
    periodError.textContent = message || "";
    picker.classList.toggle("has-error", Boolean(message));
  }

  function choose(next) {
    const problem = periodProblem(next);
    showPeriodError(problem);
    if (problem) return;
    period = next;
    fromInput.value = period.from;
    toInput.value = period.to;
    // Keep the period in the address (a reload or a shared link shows the same), without routing.
    history.replaceState(null, "", `#/reports${query(period)}`);
    drawQuick();
    load();
  }

  picker.addEventListener("submit", (ev) => {
    ev.preventDefault();
    choose({ from: fromInput.value, to: toInput.value });
  });

  function drawMetric(next) {
    metric = next;
    const old = body.querySelector(".report-hours");
    if (old && report) old.replaceWith(heatmapCard(report, metric, drawMetric));
  }

  function draw() {
    if (!report) return;
    drawZone(report.timezone);
    if (!report.totals.delivered) {
      replace(
        body,
        trackingNotice(report.tracking),
        h(
          "div",
          { "data-testid": "report-empty" },
          emptyState(t("reports.empty.title"), t("reports.empty.lead", { from: fmtDay(report.from), to: fmtDay(report.to) }), h("a", { class: "btn btn-primary", href: "#/new" }, t("reports.empty.action"))),
        ),
      );
      csvBar.hidden = true;
      return;
    }
    csvBar.hidden = false;
    const width = chartWidth();
    drawnWidth = width;
    replace(
      body,
      trackingNotice(report.tracking),
      totalsCards(report.totals, report.tracking),
      dailyCard(report, width),
      heatmapCard(report, metric, drawMetric),
      h(
        "section",
        { class: "card report-shots-card", "aria-labelledby": "report-shots-title" },
        h("h2", { class: "card-title", id: "report-shots-title" }, t("reports.shots")),
        h("p", { class: "field-help report-shots-lead" }, t("reports.shots.lead")),
        shotsTable(report.shots || [], report.tracking),
      ),
    );
  }

  async function load() {
    const mine = ++seq;
    if (controller) controller.abort();
    controller = new AbortController();
    body.setAttribute("aria-busy", "true");
    replace(body, h("p", { class: "loading", "data-testid": "report-loading" }, t("reports.loading")));
    try {
      const answer = await api("GET", reportPath(slug, period), undefined, { signal: controller.signal });
      if (mine !== seq) return;
      report = answer;
      if (!metric || (metric === "click_rate" && !report.tracking.enabled)) metric = defaultMetric(report);
      draw();
    } catch (err) {
      if (mine !== seq || (err && err.name === "AbortError")) return;
      report = null;
      csvBar.hidden = true;
      if (err instanceof ApiError && err.status === 422 && /^(from|to|tz)$/.test(err.field || "")) {
        showPeriodError(err.message);
        replace(body);
        return;
      }
      replace(
        body,
        h(
          "div",
          { "data-testid": "report-error" },
          emptyState(t("reports.error"), err.message || t("common.error"), h("button", { type: "button", class: "btn", on: { click: () => load() } }, t("common.retry"))),
        ),
      );
    } finally {
      if (mine === seq) body.setAttribute("aria-busy", "false");
    }
  }

  // Charts are drawn at the card's width; a new width redraws them, keeping the table open.
  const onResize = () => {
    const old = body.querySelector(".report-daily");
    const width = chartWidth();
    if (!old || !report || width === drawnWidth) return;
    const open = old.querySelector("details").open;
    const card = dailyCard(report, width);
    card.querySelector("details").open = open;
    old.replaceWith(card);
    drawnWidth = width;
  };
  window.addEventListener("resize", onResize);
  drawQuick();
  drawZone(timeZone);
  drawCsv();
  csvBar.hidden = true;
  load();
  return {
    el,
    dispose: () => {
      seq += 1;
      if (controller) controller.abort();
      window.removeEventListener("resize", onResize);
    },
  };
}
