// The report's days: bars of the delivered per day and of the clicked and paid per day (plain
// SVG, like chart.js), with the same figures as a table for screen readers and for reading.

import { h, svg } from "./dom.js";
import { fmtNumber, t } from "./i18n.js";
import { moneyLabel } from "./money.js";
import { fmtDay, pct } from "./reports_cards.js";

const H = 180;
const PAD = { top: 10, right: 12, bottom: 26, left: 52 };

function niceTop(value) {
  if (!(value > 0)) return 5;
  if (value <= 5) return 5;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

/** Indexes of the days that get a date under the axis: the first, the last, and a few between. */
function labelled(count, innerW) {
  const most = Math.max(2, Math.floor(innerW / 80));
  const every = Math.max(1, Math.ceil((count - 1) / (most - 1)));
  const out = new Set([0, count - 1]);
  for (let i = every; i < count - 1; i += every) if (count - 1 - i >= every / 2) out.add(i);
  return out;
}

/**
 * Bars per day, one per series `{key, label, cls}` side by side, on one axis from zero; each bar
 * has a <title> (date, series, count). Null when there are no days.
 */
export function dailyBars(days, series, { label, width = 640 } = {}) {
  if (!days.length) return null;
  const W = width;
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const top = niceTop(Math.max(0, ...days.flatMap((d) => series.map((s) => d[s.key] || 0))));
  const slot = innerW / days.length;
  const gap = slot > 6 ? Math.min(6, slot * 0.25) : 0;
  const barW = Math.max(1, (slot - gap) / series.length);
  const y = (v) => PAD.top + innerH - (v / top) * innerH;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart report-bars", role: "img", "aria-label": label || "" });
  for (const frac of [0, 0.5, 1]) {
    root.append(
      svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(top * frac), y2: y(top * frac), class: "chart-grid" }),
      svg("text", { x: PAD.left - 8, y: y(top * frac) + 4, class: "chart-axis", "text-anchor": "end" }, fmtNumber(top * frac)),
    );
  }
  const marks = labelled(days.length, innerW);
  days.forEach((d, i) => {
    const x0 = PAD.left + i * slot + gap / 2;
    const g = svg("g", { "data-date": d.date });
    series.forEach((s, j) => {
      const v = d[s.key] || 0;
      g.append(
        svg(
          "rect",
          { x: (x0 + j * barW).toFixed(2), y: y(v).toFixed(2), width: barW.toFixed(2), height: Math.max(0, y(0) - y(v)).toFixed(2), class: `report-bar ${s.cls}`, "data-series": s.key, "data-value": v },
          svg("title", {}, `${fmtDay(d.date)} · ${s.label}: ${fmtNumber(v)}`),
        ),
      );
    });
    root.append(g);
    if (marks.has(i)) {
      const anchor = i === 0 ? "start" : i === days.length - 1 ? "end" : "middle";
      const x = anchor === "start" ? x0 : anchor === "end" ? x0 + slot - gap : x0 + (slot - gap) / 2;
      root.append(svg("text", { x: x.toFixed(1), y: H - 8, class: "chart-axis", "text-anchor": anchor }, fmtDay(d.date, { day: "2-digit", month: "2-digit" })));
    }
  });
  root.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(0), y2: y(0), class: "chart-baseline" }));
  return root;
}

/** Every day of the period with its figures. */
function daysTable(days, tracked) {
  const cols = ["date", "shots", "recipients", "delivered", "blocked", ...(tracked ? ["clicked"] : []), "replies", "pix", "paid", "revenue"];
  const value = (d, c) => {
    if (c === "revenue") return moneyLabel(d.revenue_cents);
    if (c === "blocked") return fmtNumber((d.blocked || 0) + (d.deactivated || 0));
    return fmtNumber(d[c]);
  };
  return h(
    "div",
    { class: "table-wrap report-days-wrap" },
    h(
      "table",
      { class: "table report-table", "data-testid": "report-days" },
      h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col", class: c === "date" ? null : "num" }, t(`reports.col.${c}`))))),
      h(
        "tbody",
        {},
        days.map((d) =>
          h(
            "tr",
            { "data-date": d.date, class: d.delivered ? null : "is-quiet" },
            h("th", { scope: "row", class: "nowrap" }, fmtDay(d.date, { weekday: "short", day: "2-digit", month: "2-digit", year: "numeric" })),
            cols.slice(1).map((c) => h("td", { class: "num", "data-col": c, title: c === "clicked" && d.delivered ? pct(d.click_rate) : null }, value(d, c))),
          ),
        ),
      ),
    ),
  );
}

/** The "Por dia" card: two bar charts over the same days and the table under them. */
export function dailyCard(report, width) {
  const tracked = report.tracking.enabled;
  const days = report.days || [];
  const range = { from: fmtDay(report.from), to: fmtDay(report.to) };
  const deliveredTitle = t("reports.daily.delivered");
  const outcomesTitle = tracked ? t("reports.daily.outcomes") : t("reports.daily.paidOnly");
  const outcomes = [
    ...(tracked ? [{ key: "clicked", label: t("reports.col.clicked"), cls: "bar-clicked" }] : []),
    { key: "paid", label: t("reports.col.paid"), cls: "bar-paid" },
  ];
  const delivered = dailyBars(days, [{ key: "delivered", label: t("reports.col.delivered"), cls: "bar-delivered" }], { label: t("reports.daily.chartLabel", { title: deliveredTitle, ...range }), width });
  const converted = dailyBars(days, outcomes, { label: t("reports.daily.chartLabel", { title: outcomesTitle, ...range }), width });
  return h(
    "section",
    { class: "card report-daily", "aria-labelledby": "report-daily-title" },
    h("h2", { class: "card-title", id: "report-daily-title" }, t("reports.daily")),
    h("h3", { class: "report-subtitle" }, deliveredTitle),
    h("div", { class: "chart-wrap", "data-testid": "daily-delivered" }, delivered),
    h("h3", { class: "report-subtitle" }, outcomesTitle),
    h("div", { class: "chart-wrap", "data-testid": "daily-outcomes" }, converted),
    h("div", { class: "chart-legend" }, outcomes.map((s) => h("span", { class: ["legend-item", `legend-${s.cls}`] }, h("i", { class: "dot" }), s.label))),
    h("details", { class: "report-details" }, h("summary", {}, t("reports.daily.table")), daysTable(days, tracked)),
  );
}
