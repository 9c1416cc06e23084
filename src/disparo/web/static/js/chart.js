// The delivery-over-time chart: cumulative outcomes as stacked areas, in plain SVG; lines over
// time and bars with whiskers for a shot's conversions.

import { svg } from "./dom.js";
import { fmtNumber, fmtTime } from "./i18n.js";

export const SERIES = ["sent", "skipped", "error", "unknown"];
// Holdout members passed (measured, never sent) stack on top when a shot has them.
const STACK = [...SERIES, "holdout"];
const H = 240;
const PAD = { top: 12, right: 12, bottom: 28, left: 52 };

/** Points {t: Date, sent, skipped, error, unknown, holdout} as running totals, oldest first. */
export function cumulative(timeline) {
  const points = (timeline || [])
    .map((p) => ({ ...p, t: new Date(p.t) }))
    .filter((p) => !Number.isNaN(p.t.getTime()))
    .sort((a, b) => a.t - b.t);
  const totals = Object.fromEntries(STACK.map((k) => [k, 0]));
  return points.map((p) => {
    for (const k of STACK) totals[k] += Number(p[k] || 0);
    return { t: p.t, ...totals };
  });
}

function niceMax(value) {
  if (value <= 5) return 5;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

/** An <svg> of `points` (from `cumulative`); null when there is nothing to draw. */
export function timelineChart(points, { timeZone, label, width = 640 } = {}) {
  if (!points.length) return null;
  const W = width;
  const first = points[0].t.getTime();
  const last = points[points.length - 1].t.getTime();
  // A single bucket still gets a visible width: start the chart one bucket earlier.
  const start = points.length > 1 ? first : first - 1000;
  const span = Math.max(1, last - start);
  const top = niceMax(Math.max(...points.map((p) => STACK.reduce((s, k) => s + p[k], 0))));
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const x = (t) => PAD.left + ((t - start) / span) * innerW;
  const y = (v) => PAD.top + innerH - (v / top) * innerH;

  const root = svg("svg", {
    viewBox: `0 0 ${W} ${H}`,
    class: "chart",
    role: "img",
    "aria-label": label || "",
  });
  for (const frac of [0, 0.25, 0.5, 0.75, 1]) {
    const v = top * frac;
    root.append(
      svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: "chart-grid" }),
      svg("text", { x: PAD.left - 8, y: y(v) + 4, class: "chart-axis", "text-anchor": "end" }, fmtNumber(v)),
    );
  }
  // Stack from the bottom: sent, then skipped, error, unknown.
  const withStart = points.length > 1 ? points : [{ t: new Date(start), sent: 0, skipped: 0, error: 0, unknown: 0, holdout: 0 }, ...points];
  let below = withStart.map(() => 0);
  for (const key of STACK) {
    const above = withStart.map((p, i) => below[i] + p[key]);
    if (above.some((v, i) => v !== below[i])) {
      const upper = withStart.map((p, i) => `${x(p.t.getTime()).toFixed(1)},${y(above[i]).toFixed(1)}`);
      const lower = withStart.map((p, i) => `${x(p.t.getTime()).toFixed(1)},${y(below[i]).toFixed(1)}`).reverse();
      root.append(svg("polygon", { points: [...upper, ...lower].join(" "), class: `chart-area chart-${key}` }));
      root.append(svg("polyline", { points: upper.join(" "), class: `chart-line chart-${key}` }));
    }
    below = above;
  }
  root.append(
    svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(0), y2: y(0), class: "chart-baseline" }),
    svg("text", { x: PAD.left, y: H - 8, class: "chart-axis" }, fmtTime(new Date(start), timeZone)),
    svg("text", { x: W - PAD.right, y: H - 8, class: "chart-axis", "text-anchor": "end" }, fmtTime(new Date(last), timeZone)),
  );
  return root;
}

/**
 * Lines over time, one per series `{key, label, cls, points: [{t: Date, v}]}` (running totals,
 * oldest first); `format` writes the y axis. Null when no series has a point.
 */
export function lineChart(series, { timeZone, label, width = 640, format = fmtNumber, start: from, end: to } = {}) {
  const all = series.flatMap((s) => s.points);
  if (!all.length) return null;
  const W = width;
  const times = all.map((p) => p.t.getTime());
  const start = from ? Math.min(from.getTime(), ...times) : Math.min(...times);
  const last = Math.max(to ? to.getTime() : 0, ...times);
  const span = Math.max(1000, last - start);
  const top = niceTop(Math.max(...all.map((p) => p.v)));
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const x = (t) => PAD.left + ((t - start) / span) * innerW;
  const y = (v) => PAD.top + innerH - (v / top) * innerH;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart chart-lines", role: "img", "aria-label": label || "" });
  for (const frac of [0, 0.25, 0.5, 0.75, 1]) {
    root.append(
      svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(top * frac), y2: y(top * frac), class: "chart-grid" }),
      svg("text", { x: PAD.left - 8, y: y(top * frac) + 4, class: "chart-axis", "text-anchor": "end" }, format(top * frac)),
    );
  }
  for (const s of series) {
    if (!s.points.length) continue;
    // A running total is a staircase: flat until the next bucket, from 0 at the start.
    const steps = [[start, 0]];
    let level = 0;
    for (const p of s.points) {
      steps.push([p.t.getTime(), level], [p.t.getTime(), p.v]);
      level = p.v;
    }
    steps.push([last, level]);
    const points = steps.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    root.append(svg("polyline", { points, class: `chart-line ${s.cls}`, "data-series": s.key }, svg("title", {}, `${s.label}: ${format(level)}`)));
  }
  root.append(
    svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(0), y2: y(0), class: "chart-baseline" }),
    svg("text", { x: PAD.left, y: H - 8, class: "chart-axis" }, fmtTime(new Date(start), timeZone)),
    svg("text", { x: W - PAD.right, y: H - 8, class: "chart-axis", "text-anchor": "end" }, fmtTime(new Date(last), timeZone)),
  );
  return root;
}

/** A round top for an axis of any magnitude (fractions too: rates). */
function niceTop(value) {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

const ROW = 34;
const WHISKER_PAD = { left: 96, right: 150 };

/**
 * Each row `{key, label, cls, value, low, high, significant, text}` as a bar from 0 to its
 * value with its interval as whiskers, around a zero line; `format` writes the axis ends.
 */
export function whiskerChart(rows, { label, width = 640, format = fmtNumber } = {}) {
  if (!rows.length) return null;
  const W = width;
  const height = 28 + rows.length * ROW;
  const reach = niceTop(Math.max(...rows.flatMap((r) => [Math.abs(r.low), Math.abs(r.high), Math.abs(r.value)])));
  const innerW = W - WHISKER_PAD.left - WHISKER_PAD.right;
  const x = (v) => WHISKER_PAD.left + ((v + reach) / (2 * reach)) * innerW;
  const root = svg("svg", { viewBox: `0 0 ${W} ${height}`, class: "chart chart-whiskers", role: "img", "aria-label": label || "" });
  const bottom = 8 + rows.length * ROW;
  root.append(
    svg("line", { x1: x(0), x2: x(0), y1: 4, y2: bottom, class: "chart-zero" }),
    svg("text", { x: x(-reach), y: height - 6, class: "chart-axis" }, format(-reach)),
    svg("text", { x: x(0), y: height - 6, class: "chart-axis", "text-anchor": "middle" }, format(0)),
    svg("text", { x: x(reach), y: height - 6, class: "chart-axis", "text-anchor": "end" }, format(reach)),
  );
  rows.forEach((r, i) => {
    const mid = 8 + i * ROW + ROW / 2;
    const g = svg("g", { class: ["whisker", r.cls, r.significant ? "is-significant" : null].filter(Boolean).join(" "), "data-row": r.key });
    g.append(
      svg("text", { x: WHISKER_PAD.left - 10, y: mid + 4, class: "chart-label", "text-anchor": "end" }, r.label),
      svg("rect", { x: Math.min(x(0), x(r.value)), y: mid - 8, width: Math.max(1, Math.abs(x(r.value) - x(0))), height: 16, rx: 3, class: "whisker-bar" }),
      svg("line", { x1: x(r.low), x2: x(r.high), y1: mid, y2: mid, class: "whisker-line" }),
      svg("line", { x1: x(r.low), x2: x(r.low), y1: mid - 7, y2: mid + 7, class: "whisker-line" }),
      svg("line", { x1: x(r.high), x2: x(r.high), y1: mid - 7, y2: mid + 7, class: "whisker-line" }),
      svg("text", { x: W - WHISKER_PAD.right + 10, y: mid + 4, class: "chart-label chart-value" }, r.text),
    );
    root.append(g);
  });
  return root;
}
