// The bot metrics card: active / blocked / deactivated contacts, flashing what just changed.

import { api, paths } from "./api.js";
import { h, replace } from "./dom.js";
import { t, fmtNumber } from "./i18n.js";

const KEYS = ["active", "blocked", "deactivated", "total"];

function change(n) {
  if (!n) return t("metrics.nochange");
  return t("metrics.change", { sign: n > 0 ? "+" : "−", n: fmtNumber(Math.abs(n)) });
}

/** A card that loads and shows `slug`'s metrics; `refresh()` reloads, flashing changes. */
export function metricsCard(slug) {
  const body = h("div", { class: "metrics-grid" });
  const el = h(
    "section",
    { class: "card metrics", "data-testid": "metrics", "aria-labelledby": "metrics-title" },
    h("h2", { class: "card-title", id: "metrics-title" }, t("metrics.title")),
    body,
  );
  let previous = null;

  function render(m) {
    const tiles = KEYS.map((key) => {
      const value = m[key] ?? 0;
      const delta = m.change_24h ? m.change_24h[key === "total" ? "started" : key] : null;
      const changed = previous && previous[key] !== value;
      const tile = h(
        "div",
        { class: ["metric", `metric-${key}`, changed ? "metric-changed" : null], "data-testid": `metric-${key}`, "data-value": value },
        h("span", { class: "metric-label" }, t(`metrics.${key}`)),
        h("span", { class: "metric-value" }, fmtNumber(value)),
        key === "total" || delta === null || delta === undefined ? null : h("span", { class: "metric-change" }, change(delta)),
      );
      return tile;
    });
    replace(body, tiles);
    previous = m;
  }

  async function refresh() {
    if (!slug) return;
    render(await api("GET", paths.botMetrics(slug)));
  }

  return { el, refresh, rerender: () => previous && render(previous) };
}
