// The best hours: a 7 weekdays × 24 hours grid of delivery hours coloured by click rate or paid
// rate (cells with few deliveries faded), and the API's recommendation or why there is none.

import { h } from "./dom.js";
import { fmtNumber, lang, t } from "./i18n.js";
import { pct } from "./reports_cards.js";
import { choice } from "./ui.js";

/** Below this many deliveries a cell's rate still swings a lot: it is drawn faded. */
export const FEW_DELIVERIES = 30;
const METRICS = ["click_rate", "paid_rate"];
const COUNT_OF = { click_rate: "clicked", paid_rate: "paid" };

/** Weekday 0..6 (0 = Monday, as the API counts) in the page's language. */
function weekdayName(weekday, style) {
  // 2024-01-01 was a Monday.
  return new Intl.DateTimeFormat(lang(), { weekday: style, timeZone: "UTC" }).format(new Date(Date.UTC(2024, 0, 1 + weekday)));
}

function hourLabel(hour) {
  return t("reports.hours.hour", { h: hour });
}

/** A rate in percent without the sign, for sentences: "4,1". */
function percentNumber(ratio) {
  return fmtNumber(ratio * 100, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
}

/** The metric the grid starts with: clicks when they are counted, else payments. */
export function defaultMetric(report) {
  const rec = report.best_hours && report.best_hours.recommendation;
  if (rec && METRICS.includes(rec.metric)) return rec.metric;
  return report.tracking.enabled ? "click_rate" : "paid_rate";
}

function cellTitle(cell, day, hour, metric) {
  if (!cell) return t("reports.hours.cell.none", { day, hour });
  const rate = cell[metric];
  if (!rate) return t("reports.hours.cell.norate", { day, hour, delivered: fmtNumber(cell.delivered) });
  return t("reports.hours.cell", {
    day,
    hour,
    delivered: fmtNumber(cell.delivered),
    count: fmtNumber(cell[COUNT_OF[metric]]),
    verb: t(`reports.hours.verb.${metric}`),
    rate: pct(rate.value),
    low: pct(rate.low),
    high: pct(rate.high),
  });
}

/** The grid as a table: a row per weekday, a column per hour; colour from `--heat` (0..1). */
function grid(cells, metric, recommendedHour) {
  const byKey = new Map(cells.map((c) => [`${c.weekday}-${c.hour}`, c]));
  // The scale runs up to the highest rate among cells with enough deliveries to trust.
  const trusted = cells.filter((c) => c[metric] && c.delivered >= FEW_DELIVERIES);
  const pool = trusted.length ? trusted : cells.filter((c) => c[metric]);
  const top = Math.max(0, ...pool.map((c) => c[metric].value));
  const hours = [...Array(24).keys()];
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "heatmap", "data-testid": "heatmap", "data-metric": metric },
      h("caption", { class: "sr-only" }, t("reports.hours")),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col", class: "heatmap-corner" }, h("span", { class: "sr-only" }, t("reports.hours.weekday"))),
          hours.map((hr) => h("th", { scope: "col", class: ["heatmap-hour", hr === recommendedHour ? "is-recommended" : null] }, h("span", { "aria-hidden": "true" }, hr % 3 === 0 || hr === recommendedHour ? String(hr) : ""), h("span", { class: "sr-only" }, hourLabel(hr)))),
        ),
      ),
      h(
        "tbody",
        {},
        [...Array(7).keys()].map((wd) => {
          const day = weekdayName(wd, "long");
          return h(
            "tr",
            { "data-weekday": wd },
            h("th", { scope: "row", class: "heatmap-day", title: day }, weekdayName(wd, "short")),
            hours.map((hr) => {
              const cell = byKey.get(`${wd}-${hr}`);
              const rate = cell && cell[metric];
              const title = cellTitle(cell, day, hourLabel(hr), metric);
              const td = h(
                "td",
                {
                  class: ["heatmap-cell", !cell ? "is-empty" : null, cell && cell.delivered < FEW_DELIVERIES ? "is-few" : null, hr === recommendedHour ? "is-recommended" : null],
                  title,
                  "data-hour": hr,
                  "data-delivered": cell ? cell.delivered : 0,
                  "data-rate": rate ? rate.value : null,
                },
                h("span", { class: "sr-only" }, title),
              );
              if (cell) td.style.setProperty("--heat", String(top > 0 && rate ? Math.min(1, rate.value / top) : 0));
              return td;
            }),
          );
        }),
      ),
    ),
  );
}

function legend() {
  return h(
    "div",
    { class: "heatmap-legend", "aria-hidden": "true" },
    h("span", {}, t("reports.hours.legend.low")),
    h("span", { class: "heatmap-scale" }),
    h("span", {}, t("reports.hours.legend.high")),
    h("span", { class: "heatmap-key" }, h("i", { class: "heatmap-swatch is-few" }), t("reports.hours.legend.few", { n: FEW_DELIVERIES })),
    h("span", { class: "heatmap-key" }, h("i", { class: "heatmap-swatch is-empty" }), t("reports.hours.legend.none")),
  );
}

/** The recommendation sentence, or why there is none. */
function advice(best) {
  const rec = best.recommendation;
  if (rec) {
    return h(
      "div",
      { class: "report-advice", "data-testid": "recommendation", "data-hour": rec.hour, "data-metric": rec.metric },
      h(
        "p",
        { class: "report-advice-line" },
        t("reports.hours.recommend", {
          hour: hourLabel(rec.hour),
          rate: percentNumber(rec.rate.value),
          verb: t(`reports.hours.recommend.verb.${rec.metric}`),
          others: percentNumber(rec.others_rate.value),
          low: percentNumber(rec.difference.low),
          high: percentNumber(rec.difference.high),
        }),
      ),
      h("p", { class: "muted small" }, t("reports.hours.recommend.base", { n: fmtNumber(rec.delivered) })),
    );
  }
  if (!best.why_none) return null;
  return h("p", { class: "report-advice is-none", "data-testid": "no-recommendation", "data-why": best.why_none }, t(`reports.hours.why.${best.why_none}`));
}

/** The "Melhores horários" card; `metric` picks the colour, `onMetric` is told of a change. */
export function heatmapCard(report, metric, onMetric) {
  const best = report.best_hours || { cells: [], recommendation: null, why_none: null };
  const rec = best.recommendation;
  const metrics = report.tracking.enabled ? METRICS : ["paid_rate"];
  return h(
    "section",
    { class: "card report-hours", "aria-labelledby": "report-hours-title", "data-testid": "best-hours" },
    h(
      "div",
      { class: "card-head" },
      h("h2", { class: "card-title", id: "report-hours-title" }, t("reports.hours")),
      metrics.length > 1
        ? h(
            "div",
            { class: "card-tools" },
            h("span", { class: "muted small" }, t("reports.hours.metric")),
            choice("heatmap-metric", metrics.map((m) => [m, t(`reports.hours.${m}`)]), metric, onMetric, "segmented"),
          )
        : null,
    ),
    advice(best),
    best.cells.length
      ? [h("p", { class: "field-help" }, t("reports.hours.lead", { n: FEW_DELIVERIES })), grid(best.cells, metric, rec ? rec.hour : null), legend()]
      : h("p", { class: "muted" }, t("reports.hours.empty")),
  );
}
