// One shot's statistics: counters, pace, breakdown by reason, delivery-over-time chart, what it
// sold (conversions.js), recall and edit of its messages (jobs.js) and the per-recipient log with
// a filter and a CSV download.

import { api, download, paths } from "./api.js";
import { cumulative, timelineChart, SERIES } from "./chart.js";
import { conversionsPanel } from "./conversions.js";
import { h, replace, poller } from "./dom.js";
import { jobsPanel } from "./jobs.js";
import { t, tOr, fmtNumber, fmtDateTime, fmtDuration, fmtRate } from "./i18n.js";
import { botTimeZone } from "./state.js";
import { quietNote, shotRuleChips } from "./shot_extras.js";
import { copyPreview, deleteShotById, progressBlock } from "./shots.js";
import { audienceChip, emptyState, stat, statusBadge, toast } from "./ui.js";

const FINAL = new Set(["sent", "skipped", "error", "cancelled", "expired"]);
const FILTERS = ["", "sent", "skipped", "error", "unknown", "holdout", "pending"];

function reasonLabel(reason) {
  return tOr(`reason.${reason}`, reason);
}

function byReason(map) {
  const entries = Object.entries(map || {}).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  if (!entries.length) return h("p", { class: "muted" }, t("stats.byReason.empty"));
  const max = entries[0][1];
  return h(
    "ul",
    { class: "reasons", "data-testid": "by-reason" },
    entries.map(([reason, n]) => {
      const bar = h("span", { class: "reason-bar" });
      bar.style.width = `${(100 * n) / max}%`;
      return h(
        "li",
        { class: "reason", "data-reason": reason },
        h("span", { class: "reason-label" }, reasonLabel(reason)),
        h("span", { class: "reason-track" }, bar),
        h("span", { class: "reason-count" }, fmtNumber(n)),
      );
    }),
  );
}

export function statsView({ id }) {
  const timeZone = botTimeZone();
  const el = h("section", { class: "view view-stats" }, h("p", { class: "loading" }, t("common.loading")));
  const head = h("div", { class: "page-head" });
  const summary = h("div", { class: "card stats-summary" });
  const reasons = h("div", { class: "card reasons-card" });
  const chart = h("div", { class: "card chart-card" });
  const copyCard = h("div", { class: "card copy-card" });
  const log = h("div", { class: "card deliveries" });
  const conversions = conversionsPanel({ id, timeZone, startedAt: () => shot && shot.started_at });
  // An accepted edit changes the shot's copy: read it again.
  const jobs = jobsPanel({ id, timeZone, onEdited: () => poll.start() });
  let shot = null;
  const segments = new Map(); // the name of the shot's segment, once fetched
  let stats = null;
  let built = false;

  // Per-recipient log
  let filter = "";
  let cursor = null;
  let rows = [];
  const tbody = h("tbody");
  const more = h("button", { type: "button", class: "btn btn-ghost load-more", hidden: true }, t("common.loadMore"));
  const filterSelect = h(
    "select",
    { class: "input input-auto", id: "delivery-filter", "data-testid": "delivery-filter" },
    FILTERS.map((f) => h("option", { value: f }, f ? t(`delivery.${f}`) : t("stats.deliveries.all"))),
  );
  const csv = h("button", { type: "button", class: "btn btn-sm", "data-testid": "csv" }, "⤓ ", t("stats.deliveries.csv"));

  function drawRows() {
    replace(
      tbody,
      rows.length
        ? rows.map((r) =>
            h(
              "tr",
              { "data-status": r.status },
              h("td", { class: "mono" }, String(r.telegram_id)),
              h("td", {}, h("span", { class: ["pill", `pill-${r.status}`] }, t(`delivery.${r.status}`))),
              h("td", {}, r.reason ? reasonLabel(r.reason) : "", r.error ? h("span", { class: "muted small" }, ` ${r.error}`) : null),
              h("td", { class: "mono" }, r.message_id ? String(r.message_id) : ""),
              h("td", { class: "nowrap" }, fmtDateTime(r.sent_at || r.updated_at, timeZone, true)),
            ),
          )
        : h("tr", {}, h("td", { colspan: 5, class: "muted center" }, t("stats.deliveries.empty"))),
    );
    more.hidden = !cursor;
  }

  async function loadDeliveries(append = false) {
    const page = await api("GET", paths.deliveries(id, { status: filter, cursor: append ? cursor : null, limit: 50 }));
    rows = append ? [...rows, ...(page.items || [])] : page.items || [];
    cursor = page.next_cursor || null;
    drawRows();
  }
  filterSelect.addEventListener("change", () => {
    filter = filterSelect.value;
    loadDeliveries().catch((err) => toast(err.message, "error"));
  });
  more.addEventListener("click", () => loadDeliveries(true).catch((err) => toast(err.message, "error")));
  csv.addEventListener("click", async () => {
    csv.disabled = true;
    try {
      await download(paths.deliveriesCsv(id), `disparo-${id}.csv`);
    } catch (err) {
      toast(err.message, "error");
    } finally {
      csv.disabled = false;
    }
  });

  function actions() {
    const out = [];
    const post = (action, message) => async () => {
      try {
        await api("POST", paths.shotAction(id, action));
        toast(t(message, { id }));
        poll.now();
      } catch (err) {
        toast(err.message, "error");
      }
    };
    if (shot.status === "running") out.push(h("button", { type: "button", class: "btn", "data-action": "pause", on: { click: post("pause", "shots.paused") } }, t("shots.pause")));
    if (shot.status === "paused") out.push(h("button", { type: "button", class: "btn btn-primary", "data-action": "resume", on: { click: post("resume", "shots.resumed") } }, t("shots.resume")));
    if (shot.status === "pending") out.push(h("a", { class: "btn", href: `#/shots/${id}/edit` }, t("shots.edit")));
    if (!FINAL.has(shot.status)) {
      out.push(
        h("button", {
          type: "button",
          class: "btn btn-danger-ghost",
          "data-action": "cancel",
          on: { click: async () => { try { if (await deleteShotById(id, shot)) poll.now(); } catch (err) { toast(err.message, "error"); } } },
        }, t("shots.cancel")),
      );
    }
    out.push(h("a", { class: "btn btn-ghost", href: `#/new?from=${id}` }, t("shots.duplicate")));
    return out;
  }

  function draw() {
    if (!built) {
      replace(
        log,
        h(
          "div",
          { class: "card-head" },
          h("h2", { class: "card-title" }, t("stats.deliveries")),
          h("div", { class: "card-tools" }, h("label", { for: "delivery-filter", class: "sr-only" }, t("stats.deliveries.filter")), filterSelect, csv),
        ),
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "table", "data-testid": "deliveries" },
            h("thead", {}, h("tr", {}, ["stats.col.chat", "stats.col.status", "stats.col.reason", "stats.col.message", "stats.col.when"].map((k) => h("th", {}, t(k))))),
            tbody,
          ),
        ),
        more,
      );
      replace(el, head, h("div", { class: "stats-grid" }, summary, jobs.el, conversions.el, reasons, chart, copyCard, log));
      built = true;
      conversions.redraw();
    }
    replace(
      head,
      h(
        "div",
        {},
        h("a", { class: "back", href: "#/" }, "← ", t("nav.shots")),
        h("h1", {}, t("stats.title", { id }), " ", statusBadge(shot)),
        h("p", { class: "page-sub" }, audienceChip(shot), shotRuleChips(shot, timeZone, segments), " ", shot.started_at ? t("shots.startedAt", { when: fmtDateTime(shot.started_at, timeZone) }) : t("shots.scheduledFor", { when: fmtDateTime(shot.scheduled_at, timeZone) })),
        quietNote(shot, timeZone),
      ),
      h("div", { class: "head-actions" }, actions()),
    );
    const finished = FINAL.has(stats.status || shot.status);
    const duration = stats.started_at ? ((stats.finished_at ? new Date(stats.finished_at) : new Date()) - new Date(stats.started_at)) / 1000 : null;
    const done = SERIES.reduce((sum, k) => sum + (stats[k] || 0), 0);
    // A finished shot's pace is its average; a live one's is the API's recent rate.
    const rate = finished ? (duration ? done / Math.max(duration, 1) : null) : stats.rate_per_s;
    replace(
      summary,
      h(
        "div",
        { class: ["stats-row", stats.holdout ? "has-holdout" : null] },
        stat(t("counts.total"), stats.total || 0, "total", "count-total"),
        SERIES.map((k) => stat(t(`counts.${k}`), stats[k] || 0, k, `count-${k}`)),
        stats.holdout ? stat(t("counts.holdout"), stats.holdout, "holdout", "count-holdout") : null,
        stat(t("counts.pending"), (stats.pending || 0) + (stats.sending || 0), "pending", "count-pending"),
      ),
      stats.total ? progressBlock(stats, stats.status === "running" ? stats : null) : null,
      h(
        "dl",
        { class: "facts" },
        h("div", {}, h("dt", {}, t("stats.rate")), h("dd", {}, rate !== null && rate !== undefined ? `${fmtRate(rate)}/s` : t("common.none"))),
        h("div", {}, h("dt", {}, finished ? t("stats.duration") : t("stats.eta")), h("dd", {}, finished ? fmtDuration(duration) : fmtDuration(stats.eta_s))),
        shot.last_error ? h("div", { class: "fact-error" }, h("dt", {}, t("stats.lastError")), h("dd", {}, shot.last_error)) : null,
      ),
    );
    jobs.redraw(shot, stats);
    replace(reasons, h("h2", { class: "card-title" }, t("stats.byReason")), byReason(stats.by_reason));
    drawChart();
    replace(copyCard, h("h2", { class: "card-title" }, t("stats.copy")), h("div", { class: "phone" }, h("div", { class: "tg-bubble" }, copyPreview(shot.copy))));
  }

  function drawChart() {
    // Drawn at the card's own width so the axis text keeps its size.
    const width = Math.max(320, chart.clientWidth - 40);
    const svgChart = timelineChart(cumulative(stats.timeline), { timeZone, label: t("stats.timeline"), width });
    replace(
      chart,
      h("h2", { class: "card-title" }, t("stats.timeline")),
      svgChart ? h("div", { class: "chart-wrap", "data-testid": "chart" }, svgChart) : h("p", { class: "muted" }, t("stats.timeline.empty")),
      svgChart
        ? h("div", { class: "chart-legend" }, [...SERIES, ...(stats.holdout ? ["holdout"] : [])].map((k) => h("span", { class: ["legend-item", `legend-${k}`] }, h("i", { class: "dot" }), t(`counts.${k}`))))
        : null,
    );
  }

  let lastStatus = null;
  let ticks = 0;
  const poll = poller(async () => {
    let s, st;
    try {
      [s, st] = await Promise.all([api("GET", paths.shot(id)), api("GET", paths.shotStats(id))]);
    } catch (err) {
      if (!built) {
        poll.stop();
        replace(el, emptyState(t("common.error"), err.message, h("a", { class: "btn", href: "#/" }, t("common.back"))));
        return;
      }
      throw err;
    }
    shot = s;
    if (shot.segment_id && !segments.has(String(shot.segment_id))) {
      segments.set(String(shot.segment_id), null);
      api("GET", paths.segment(shot.bot_slug, shot.segment_id))
        .then((segment) => {
          segments.set(String(segment.id), segment.name);
          if (built) draw();
        })
        .catch(() => {});
    }
    stats = st;
    draw();
    ticks += 1;
    const moving = !FINAL.has(shot.status);
    // The log follows a running shot while its first page is all the operator looks at.
    if (lastStatus === null || (moving && rows.length <= 50 && ticks % 3 === 0) || (lastStatus !== shot.status)) await loadDeliveries();
    lastStatus = shot.status;
    if (!moving) poll.stop();
  }, () => (shot && shot.status === "running" ? 1000 : 3000));
  poll.start();
  const onResize = () => stats && drawChart();
  window.addEventListener("resize", onResize);
  return {
    el,
    dispose: () => {
      poll.stop();
      conversions.dispose();
      jobs.dispose();
      window.removeEventListener("resize", onResize);
    },
  };
}
