// The delivery-over-time chart: cumulative outcomes as stacked areas, in plain SVG.

import { svg } from "./dom.js";
import { fmtNumber, fmtTime } from "./i18n.js";

export const SERIES = ["sent", "skipped", "error", "unknown"];
const H = 240;
const PAD = { top: 12, right: 12, bottom: 28, left: 52 };

/** Points {t: Date, sent, skipped, error, unknown} as running totals, oldest first. */
export function cumulative(timeline) {
  const points = (timeline || [])
    .map((p) => ({ ...p, t: new Date(p.t) }))
    .filter((p) => !Number.isNaN(p.t.getTime()))
    .sort((a, b) => a.t - b.t);
  const totals = Object.fromEntries(SERIES.map((k) => [k, 0]));
  return points.map((p) => {
    for (const k of SERIES) totals[k] += Number(p[k] || 0);
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
  const top = niceMax(Math.max(...points.map((p) => SERIES.reduce((s, k) => s + p[k], 0))));
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
  const withStart = points.length > 1 ? points : [{ t: new Date(start), sent: 0, skipped: 0, error: 0, unknown: 0 }, ...points];
  let below = withStart.map(() => 0);
  for (const key of SERIES) {
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
