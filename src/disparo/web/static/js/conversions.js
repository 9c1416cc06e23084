// The "Conversões" panel of a shot's statistics (GET /shots/{id}/conversions): the report's
// sentence, a row per group (each variant, the audience without variants, the holdout, winner
// mode's remainder) with rates, revenue and the lift against the holdout with 95 % intervals,
// the lift as bars with whiskers, cumulative conversions over time, winner mode, the CSV.

import { api, download, paths } from "./api.js";
import { lineChart, whiskerChart } from "./chart.js";
import { h, poller, replace } from "./dom.js";
import { fmtDateTime, fmtDuration, fmtNumber, fmtTime, lang, t } from "./i18n.js";
import { moneyLabel } from "./money.js";
import { choice } from "./ui.js";

const FINAL = new Set(["sent", "skipped", "error", "cancelled", "expired"]);
const SPECIAL = new Set(["all", "holdout", "undecided"]);

function eventLabel(event) {
  return event === "paid" || event === "pix_created" ? t(`ab.event.${event}`) : event;
}

function percent(ratio, digits = 1) {
  return new Intl.NumberFormat(lang(), { style: "percent", minimumFractionDigits: digits, maximumFractionDigits: digits }).format(ratio || 0);
}

function signed(text, value) {
  return value > 0 ? `+${text}` : value < 0 ? `−${text.replace(/^[-−]/, "")}` : text;
}

/** A difference of rates in percentage points: "+1,8 p.p.". */
function points(value) {
  return t("conv.pp", { value: signed(fmtNumber(Math.abs(value) * 100, { minimumFractionDigits: 1, maximumFractionDigits: 1 }), value) });
}

function signedMoney(cents) {
  return signed(moneyLabel(Math.abs(cents)), Math.round(cents));
}

function ci(interval, format) {
  return t("conv.ci", { low: format(interval.low), high: format(interval.high) });
}

function groupLabel(name) {
  return SPECIAL.has(name) ? t(`conv.group.${name}`) : t("conv.group.variant", { name });
}

/** The colour class of each group: variants in report order, then the fixed ones. */
function groupClasses(groups) {
  const out = {};
  let i = 0;
  for (const g of groups) out[g.name] = SPECIAL.has(g.name) ? `group-${g.name}` : `group-${i++ % 5}`;
  return out;
}

function cell(col, ...children) {
  return h("td", { "data-col": col }, children);
}

function intervalLine(interval, format) {
  return interval ? h("span", { class: "conv-ci" }, ci(interval, format)) : null;
}

/** One group's row of the table. */
function groupRow(group, report, cls) {
  const events = report.events.map((e) => e.event);
  const primary = report.primary;
  const held = group.name === "holdout";
  const lift = group.lift && primary ? group.lift[primary] : null;
  let liftCell;
  if (held) liftCell = h("span", { class: "muted" }, t("conv.baseline"));
  else if (!report.has_holdout) liftCell = h("span", { class: "muted" }, t("conv.noHoldout"));
  else if (lift && lift.absolute) {
    liftCell = [
      h("div", {}, h("strong", { class: "conv-lift" }, points(lift.absolute.value))),
      group.significant ? h("span", { class: "pill pill-significant", "data-testid": "significant" }, "✓ ", t("conv.significant")) : h("span", { class: "pill", "data-testid": "not-significant" }, t("conv.maybeZero")),
      intervalLine(lift.absolute, points),
      lift.relative ? h("span", { class: "conv-ci" }, t("conv.relative", { value: signed(percent(Math.abs(lift.relative.value), 0), lift.relative.value) })) : null,
    ];
  } else liftCell = t("common.none");
  const extra = group.revenue_lift && group.revenue_lift.total_cents;
  return h(
    "tr",
    { "data-group": group.name, class: [cls, group.significant ? "is-significant" : null] },
    h("th", { scope: "row", class: "conv-group" }, h("i", { class: "dot" }), groupLabel(group.name)),
    cell("recipients", fmtNumber(group.recipients)),
    cell("delivered", held ? t("common.none") : fmtNumber(group.delivered)),
    events.map((e) => {
      const rate = group.rates[e];
      return cell(
        `event-${e}`,
        h("strong", { class: "conv-count" }, fmtNumber(group.conversions[e] || 0)),
        " ",
        h("span", { class: "conv-rate" }, percent(rate ? rate.value : 0)),
        intervalLine(rate, percent),
      );
    }),
    report.revenue_event ? cell("revenue", moneyLabel(group.revenue_cents || 0)) : null,
    report.revenue_event
      ? cell("per-recipient", group.revenue_per_recipient ? [h("span", {}, moneyLabel(group.revenue_per_recipient.value)), intervalLine(group.revenue_per_recipient, moneyLabel)] : t("common.none"))
      : null,
    cell("lift", liftCell),
    report.revenue_event && report.has_holdout
      ? cell("extra", extra ? [h("strong", {}, signedMoney(extra.value)), intervalLine(extra, signedMoney)] : held ? h("span", { class: "muted" }, t("conv.baseline")) : t("common.none"))
      : null,
  );
}

function table(report, classes) {
  const events = report.events.map((e) => e.event);
  const head = [
    t("conv.col.group"),
    t("conv.col.recipients"),
    t("conv.col.delivered"),
    ...events.map(eventLabel),
    ...(report.revenue_event ? [t("conv.col.revenue"), t("conv.col.perRecipient")] : []),
    t("conv.col.lift", { event: eventLabel(report.primary) }),
    ...(report.revenue_event && report.has_holdout ? [t("conv.col.extra")] : []),
  ];
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "table conv-table", "data-testid": "conversions-table" },
      h("thead", {}, h("tr", {}, head.map((label) => h("th", { scope: "col" }, label)))),
      h("tbody", {}, report.groups.map((g) => groupRow(g, report, classes[g.name]))),
    ),
    h("p", { class: "field-help" }, t("conv.ci.note")),
  );
}

/** Winner mode: its settings while testing, the wait until decide_at, or the decision. */
function winnerBox(report, timeZone) {
  const winner = report.winner;
  if (!winner) return null;
  const decision = report.winner_decision || {};
  const event = eventLabel(decision.event || report.primary);
  let lines;
  if (decision.winner) {
    const rates = decision.rates || {};
    lines = [
      h("p", { class: "conv-winner-line", "data-testid": "winner-decision", "data-winner": decision.winner, "data-reason": decision.reason }, t(`conv.winner.${decision.reason}`, { winner: decision.winner, best: decision.best, event, min: fmtNumber(winner.min_sample) })),
      h(
        "p",
        { class: "conv-winner-arms" },
        (decision.arms || []).map((a, i) => [i ? " · " : "", h("span", { "data-arm": a.name }, t("conv.winner.arm", { name: a.name, conversions: fmtNumber(a.conversions), recipients: fmtNumber(a.recipients), rate: percent(rates[a.name]) }))]),
      ),
      decision.difference ? h("p", { class: "muted small" }, t("conv.winner.difference", { best: decision.best, value: points(decision.difference.value), ci: ci(decision.difference, points) })) : null,
      decision.decided_at ? h("p", { class: "muted small" }, t("conv.winner.decidedAt", { when: fmtDateTime(decision.decided_at, timeZone) })) : null,
    ];
  } else if (decision.decide_at) {
    const left = (new Date(decision.decide_at) - Date.now()) / 1000;
    lines = h("p", { class: "conv-winner-line", "data-testid": "winner-waiting" }, t("conv.winner.waiting", { ended: fmtDateTime(decision.test_ended_at, timeZone), decide: fmtDateTime(decision.decide_at, timeZone), left: fmtDuration(Math.max(0, left)) }));
  } else {
    lines = h("p", { class: "conv-winner-line", "data-testid": "winner-testing" }, t("conv.winner.testing", { test: fmtNumber(winner.test_percent), wait: fmtNumber(winner.wait_hours), event }));
  }
  return h("div", { class: ["conv-winner", decision.winner ? "is-decided" : null], "data-testid": "winner-status" }, h("h3", { class: "conv-subtitle" }, t("conv.winner.title")), lines);
}

/** Bars with whiskers: the primary rate's lift, and the extra revenue when paid is an event. */
function liftCharts(report, classes, width) {
  const compared = report.groups.filter((g) => g.name !== "holdout" && g.lift && g.lift[report.primary] && g.lift[report.primary].absolute);
  if (!compared.length) return null;
  const rows = compared.map((g) => {
    const iv = g.lift[report.primary].absolute;
    return { key: g.name, label: groupLabel(g.name), cls: classes[g.name], ...iv, significant: g.significant, text: points(iv.value) };
  });
  const money = compared.filter((g) => g.revenue_lift && g.revenue_lift.total_cents).map((g) => {
    const iv = g.revenue_lift.total_cents;
    return { key: g.name, label: groupLabel(g.name), cls: classes[g.name], ...iv, significant: iv.low > 0 || iv.high < 0, text: signedMoney(iv.value) };
  });
  const rateTitle = t("conv.chart.lift", { event: eventLabel(report.primary) });
  // Side by side when both fit (the grid's columns are at least 320 px): each at its own width.
  if (money.length && width >= 2 * 320 + 16) width = (width - 16) / 2;
  return h(
    "div",
    { class: "conv-lifts" },
    h("div", { class: "chart-wrap", "data-testid": "lift-chart" }, h("h3", { class: "conv-subtitle" }, rateTitle), whiskerChart(rows, { label: rateTitle, width, format: points })),
    money.length
      ? h("div", { class: "chart-wrap", "data-testid": "revenue-lift-chart" }, h("h3", { class: "conv-subtitle" }, t("conv.chart.revenue")), whiskerChart(money, { label: t("conv.chart.revenue"), width, format: signedMoney }))
      : null,
  );
}

/** Cumulative conversions of the primary event per group, as a share of the group or a count. */
function seriesChart(report, classes, { timeZone, width, mode, startedAt }) {
  const sizes = Object.fromEntries(report.groups.map((g) => [g.name, g.recipients]));
  const byGroup = new Map(report.groups.map((g) => [g.name, []]));
  for (const p of [...(report.series.points || [])].sort((a, b) => new Date(a.t) - new Date(b.t))) {
    if (!byGroup.has(p.group)) byGroup.set(p.group, []);
    const list = byGroup.get(p.group);
    const total = (list.length ? list[list.length - 1].n : 0) + p.conversions;
    list.push({ t: new Date(p.t), n: total });
  }
  const series = [...byGroup].map(([name, list]) => ({
    key: name,
    label: groupLabel(name),
    cls: classes[name] || "group-0",
    points: list.map((p) => ({ t: p.t, v: mode === "rate" ? (sizes[name] ? p.n / sizes[name] : 0) : p.n })),
  }));
  const start = startedAt ? new Date(startedAt) : null;
  const end = new Date(Math.min(Date.now(), report.windows_close_at ? new Date(report.windows_close_at) : Date.now()));
  const title = t("conv.chart.series", { event: eventLabel(report.series.event) });
  const chart = lineChart(series, { timeZone, label: title, width, format: mode === "rate" ? (v) => percent(v) : (v) => fmtNumber(v), start, end });
  return { title, chart, series };
}

/** The panel for shot `id` (`startedAt()` gives when it started, for the chart's time axis);
 * it polls on its own while the shot moves and its windows are open. */
export function conversionsPanel({ id, timeZone, startedAt = () => null }) {
  const el = h("section", { class: "card conversions-card", "data-testid": "conversions", "aria-live": "polite" }, h("h2", { class: "card-title" }, t("conv.title")));
  const csv = h("button", { type: "button", class: "btn btn-sm", "data-testid": "conversions-csv" }, "⤓ ", t("conv.csv"));
  csv.addEventListener("click", async () => {
    csv.disabled = true;
    try {
      await download(paths.conversionsCsv(id), `disparo-${id}-conversoes.csv`);
    } finally {
      csv.disabled = false;
    }
  });
  let report = null;
  let mode = "rate";
  const modeChoice = () =>
    choice(
      "conversion-series",
      [
        ["rate", t("conv.series.rate")],
        ["count", t("conv.series.count")],
      ],
      mode,
      (v) => {
        mode = v;
        draw();
      },
      "segmented segmented-sm",
    );

  function eventsLine() {
    const windows = report.events.map((e) => t("conv.window", { event: eventLabel(e.event), n: fmtNumber(e.window_hours) }));
    const first = t(windows.length > 1 ? "conv.events.more" : "conv.events", { primary: windows[0], others: windows.slice(1).join(", ") });
    const closes = report.windows_close_at;
    const closing = closes ? t(new Date(closes) > new Date() ? "conv.closes" : "conv.closed", { when: fmtDateTime(closes, timeZone) }) : null;
    return h("p", { class: "muted small", "data-testid": "conversion-events" }, first, closing ? ` ${closing}` : null);
  }

  function draw() {
    if (!report) return;
    const width = Math.max(320, el.clientWidth - 40);
    const head = h(
      "div",
      { class: "card-head" },
      h("h2", { class: "card-title" }, t("conv.title")),
      h("div", { class: "card-tools" }, h("span", { class: "muted small" }, t("conv.asOf", { time: fmtTime(new Date(report.as_of), timeZone) })), csv),
    );
    if (!report.groups.length) {
      replace(el, head, h("p", { class: "muted" }, report.status === "pending" && !report.winner_decision ? t("conv.pending") : t("conv.empty")), report.events.length ? eventsLine() : null);
      return;
    }
    const sentence = (report.summary && (report.summary[lang()] || report.summary["pt-BR"])) || "";
    if (!report.events.length) {
      replace(el, head, h("p", { class: "conv-summary", "data-testid": "conversions-summary" }, sentence));
      return;
    }
    const classes = groupClasses(report.groups);
    const { title, chart } = seriesChart(report, classes, { timeZone, width, mode, startedAt: startedAt() });
    replace(
      el,
      head,
      h("p", { class: "conv-summary", "data-testid": "conversions-summary" }, sentence),
      eventsLine(),
      winnerBox(report, timeZone),
      table(report, classes),
      liftCharts(report, classes, width),
      h(
        "div",
        { class: "conv-series" },
        h("div", { class: "card-head" }, h("h3", { class: "conv-subtitle" }, title), h("div", { class: "card-tools" }, h("span", { class: "sr-only" }, t("conv.series.show")), modeChoice())),
        chart ? h("div", { class: "chart-wrap", "data-testid": "conversions-chart" }, chart) : h("p", { class: "muted" }, t("conv.series.empty")),
        chart ? h("div", { class: "chart-legend" }, report.groups.map((g) => h("span", { class: ["legend-item", classes[g.name]] }, h("i", { class: "dot" }), groupLabel(g.name)))) : null,
        chart && mode === "rate" ? h("p", { class: "field-help" }, t("conv.series.help")) : null,
      ),
    );
  }

  // While the shot sends the figures move by the second; after it, conversions keep landing
  // until the longest window closes.
  const poll = poller(
    async () => {
      report = await api("GET", paths.conversions(id));
      draw();
      const open = report.windows_close_at && new Date(report.windows_close_at) > new Date();
      if (FINAL.has(report.status) && !open) poll.stop();
    },
    () => (report && report.status === "running" ? 3000 : report && !FINAL.has(report.status) ? 10000 : 30000),
  );
  const onResize = () => draw();
  window.addEventListener("resize", onResize);
  poll.start();
  return {
    el,
    refresh: () => poll.now(),
    /** Draw again at the card's width (once it is on the page). */
    redraw: () => draw(),
    dispose: () => {
      poll.stop();
      window.removeEventListener("resize", onResize);
    },
  };
}
