// The shots of the selected bot as cards (the spec's loadShots / renderShotCard /
// deleteShotById), live while they send, with the bot's metrics card on top.

import { api, paths } from "./api.js";
import { h, replace, poller } from "./dom.js";
import { t, fmtNumber, fmtDateTime, fmtDuration, fmtRate, fmtPercent } from "./i18n.js";
import { metricsCard } from "./metrics.js";
import { state, currentBot, botTimeZone } from "./state.js";
import { quietNote, shotRuleChips } from "./shot_extras.js";
import { contentOf, saveAsTemplate } from "./template_actions.js";
import { renderTelegramHtml } from "./tghtml.js";
import { audienceChip, confirmDialog, emptyState, stat, statusBadge, toast } from "./ui.js";

const LIVE = new Set(["running", "paused"]);
const FINAL = new Set(["sent", "skipped", "error", "cancelled", "expired"]);
const OUTCOMES = ["sent", "skipped", "error", "unknown"];

/** The copy as Telegram would show it (whitelisted tags only; the rest is text). */
export function copyPreview(copy, className) {
  const el = h("div", { class: ["tg-text", className] });
  el.append(renderTelegramHtml(copy).fragment);
  return el;
}

/** The live progress block: stacked bar of outcomes, count, rate and ETA. */
export function progressBlock(stats, live) {
  const total = stats.total || 0;
  const keys = outcomesOf(stats);
  const done = keys.reduce((s, k) => s + (stats[k] || 0), 0);
  const bar = h("div", { class: "progress-bar" });
  for (const key of keys) {
    const seg = h("span", { class: ["seg", `seg-${key}`], title: `${t(`counts.${key}`)}: ${fmtNumber(stats[key] || 0)}` });
    seg.style.width = total ? `${(100 * (stats[key] || 0)) / total}%` : "0%";
    bar.append(seg);
  }
  const pace = [];
  if (live && live.rate_per_s !== null && live.rate_per_s !== undefined) pace.push(t("shots.rate", { rate: fmtRate(live.rate_per_s) }));
  if (live && live.eta_s !== null && live.eta_s !== undefined && done < total) pace.push(t("shots.eta", { eta: fmtDuration(live.eta_s) }));
  // A large audience is written while its first recipients are sent: the total still grows.
  if (stats.audience_complete === false) pace.push(t("shots.audienceWriting", { total: fmtNumber(total) }));
  return h(
    "div",
    {
      class: "progress",
      role: "progressbar",
      "aria-valuemin": 0,
      "aria-valuemax": total,
      "aria-valuenow": done,
      "data-testid": "progress",
      "data-done": done,
      "data-total": total,
      "data-audience-complete": stats.audience_complete === false ? "false" : "true",
    },
    bar,
    h(
      "div",
      { class: "progress-meta" },
      h("span", { class: "progress-count" }, t("shots.progress", { done: fmtNumber(done), total: fmtNumber(total) }), h("strong", {}, ` ${fmtPercent(total ? done / total : 0)}`)),
      h("span", { class: "progress-pace" }, pace.join(" · ")),
    ),
    h(
      "div",
      { class: "progress-legend" },
      keys.map((key) =>
        h("span", { class: ["legend-item", `legend-${key}`] }, h("i", { class: "dot" }), `${t(`counts.${key}`)} `, h("b", {}, fmtNumber(stats[key] || 0))),
      ),
    ),
  );
}

/** The outcomes a shot's counts show: the holdout (measured, never sent) when it has one. */
export function outcomesOf(stats) {
  return stats && stats.holdout ? [...OUTCOMES, "holdout"] : OUTCOMES;
}

function finalStats(stats) {
  const keys = outcomesOf(stats);
  return h(
    "div",
    { class: ["shot-stats", keys.length > OUTCOMES.length ? "has-holdout" : null], "data-testid": "final-stats" },
    stat(t("counts.total"), stats.total || 0, "total"),
    keys.map((key) => stat(t(`counts.${key}`), stats[key] || 0, key, `count-${key}`)),
  );
}

function whenLine(shot, timeZone) {
  if (shot.status === "expired" && shot.expires_at) return t("shots.expiredAt", { when: fmtDateTime(shot.expires_at, timeZone) });
  if (shot.finished_at && FINAL.has(shot.status)) return t("shots.finishedAt", { when: fmtDateTime(shot.finished_at, timeZone) });
  if (shot.started_at && LIVE.has(shot.status)) return t("shots.startedAt", { when: fmtDateTime(shot.started_at, timeZone) });
  return t("shots.scheduledFor", { when: fmtDateTime(shot.scheduled_at, timeZone) });
}

/** Cancel a pending shot after confirmation (the spec's deleteShotById). */
export async function deleteShotById(id, shot) {
  const ok = await confirmDialog({
    title: t("shots.confirmCancel.title", { id }),
    body: t("shots.confirmCancel.body"),
    ok: t("shots.confirmCancel.ok"),
    cancel: t("shots.confirmCancel.keep"),
  });
  if (!ok) return false;
  if (shot && shot.status === "pending") await api("DELETE", paths.shot(id));
  else await api("POST", paths.shotAction(id, "cancel"));
  toast(t("shots.cancelled", { id }));
  return true;
}

/** One shot as a card: status, audience, time in the bot's zone, progress or results, actions. */
export function renderShotCard(shot, { live, timeZone, onChanged, segments }) {
  const act = (label, cls, handler, testid) =>
    h("button", { type: "button", class: ["btn", "btn-sm", cls], "data-action": testid, on: { click: handler } }, label);
  const run = (fn) => async (ev) => {
    const button = ev.currentTarget;
    button.disabled = true;
    try {
      if ((await fn()) !== false) onChanged();
    } catch (err) {
      toast(err.message || t("common.error"), "error");
    } finally {
      button.disabled = false;
    }
  };
  const simple = (action, message) =>
    run(async () => {
      await api("POST", paths.shotAction(shot.id, action));
      toast(t(message, { id: shot.id }));
    });
  const cancel = run(() => deleteShotById(shot.id, shot));

  const actions = [];
  if (shot.status === "pending") {
    actions.push(h("a", { class: "btn btn-sm", href: `#/shots/${shot.id}/edit`, "data-action": "edit" }, t("shots.edit")));
    actions.push(act(t("shots.cancel"), "btn-danger-ghost", cancel, "cancel"));
  } else if (shot.status === "running") {
    actions.push(act(t("shots.pause"), null, simple("pause", "shots.paused"), "pause"));
    actions.push(act(t("shots.cancel"), "btn-danger-ghost", cancel, "cancel"));
  } else if (shot.status === "paused") {
    actions.push(act(t("shots.resume"), "btn-primary", simple("resume", "shots.resumed"), "resume"));
    actions.push(act(t("shots.cancel"), "btn-danger-ghost", cancel, "cancel"));
  }
  if (shot.status !== "pending") {
    actions.push(h("a", { class: "btn btn-sm btn-ghost", href: `#/shots/${shot.id}`, "data-action": "details" }, t("shots.details")));
  }
  actions.push(h("a", { class: "btn btn-sm btn-ghost", href: `#/new?from=${shot.id}`, "data-action": "duplicate" }, t("shots.duplicate")));
  actions.push(act(t("templates.saveAs"), "btn-ghost", () => saveAsTemplate({ slug: shot.bot_slug, content: contentOf(shot) }), "save-template"));

  const stats = shot.stats || {};
  const meta = [];
  if (shot.media_type && shot.media_type !== "none") meta.push(h("span", { class: "chip chip-static chip-media" }, t(`media.${shot.media_type}`)));
  if (Array.isArray(shot.buttons) && shot.buttons.flat().length) {
    const n = shot.buttons.flat().length;
    meta.push(h("span", { class: "chip chip-static" }, t(n === 1 ? "shots.buttons.one" : "shots.buttons", { n })));
  }
  return h(
    "article",
    { class: ["card", "shot-card", `is-${shot.status}`], "data-testid": "shot-card", "data-shot-id": shot.id, "data-status": shot.status },
    h(
      "header",
      { class: "shot-head" },
      statusBadge(shot),
      h("span", { class: "shot-id" }, `#${shot.id}`),
      audienceChip(shot),
      shotRuleChips(shot, timeZone, segments),
      meta,
      h("span", { class: "shot-when" }, whenLine(shot, timeZone)),
    ),
    quietNote(shot, timeZone),
    copyPreview(shot.copy, "shot-copy"),
    LIVE.has(shot.status) ? progressBlock(stats, live) : null,
    FINAL.has(shot.status) && shot.status !== "cancelled" ? finalStats(stats) : null,
    shot.status === "cancelled" && stats.total ? finalStats(stats) : null,
    shot.last_error && shot.status === "error" ? h("p", { class: "shot-error", "data-testid": "last-error" }, shot.last_error) : null,
    h("footer", { class: "shot-actions" }, actions),
  );
}

function fingerprint(shot, live) {
  return JSON.stringify([shot, live || null]);
}

/** The shots view: metrics card, "Novo disparo", the cards; polls while anything moves. */
export function shotsView() {
  const bot = currentBot();
  if (!bot) {
    return {
      el: h(
        "section",
        { class: "view" },
        emptyState(t("shots.nobots.title"), t("shots.nobots.lead"), h("a", { class: "btn btn-primary", href: "#/bots" }, t("shots.nobots.action"))),
      ),
    };
  }
  const slug = bot.slug;
  const timeZone = botTimeZone();
  const metrics = metricsCard(slug);
  const list = h("div", { class: "shot-list", "data-testid": "shot-list" });
  const more = h("button", { type: "button", class: "btn btn-ghost load-more", hidden: true }, t("common.loadMore"));
  const el = h(
    "section",
    { class: "view view-shots" },
    h(
      "div",
      { class: "page-head" },
      h("div", {}, h("h1", {}, t("shots.title")), h("p", { class: "page-sub" }, bot.name || bot.telegram_username || slug)),
      h("a", { class: "btn btn-primary", href: "#/new", "data-testid": "new-shot" }, h("span", { class: "plus", "aria-hidden": "true" }, "+"), t("shots.new")),
    ),
    metrics.el,
    list,
    more,
  );

  let shots = [];
  let nextCursor = null;
  let extraPages = [];
  const liveStats = new Map();
  const rendered = new Map();
  let wasMoving = false;
  const segments = new Map();
  api("GET", paths.segments(slug))
    .then((answer) => {
      for (const s of answer.items || []) segments.set(String(s.id), s.name);
      if (segments.size && shots.some((s) => s.segment_id)) {
        rendered.clear();
        draw();
      }
    })
    .catch(() => {});

  function draw() {
    if (!shots.length) {
      rendered.clear();
      replace(list, emptyState(t("shots.empty.title"), t("shots.empty.lead"), h("a", { class: "btn btn-primary", href: "#/new" }, t("shots.new"))));
      return;
    }
    const cards = shots.map((shot) => {
      const live = shot.status === "running" ? liveStats.get(shot.id) : null;
      const key = fingerprint(shot, live);
      const old = rendered.get(shot.id);
      if (old && old.key === key) return old.el;
      const card = renderShotCard(shot, { live, timeZone, onChanged: () => poll.now(), segments });
      rendered.set(shot.id, { key, el: card });
      return card;
    });
    // Keep nodes that did not change in place (no flicker, focus kept).
    const current = [...list.children];
    if (current.length !== cards.length || current.some((n, i) => n !== cards[i])) replace(list, cards);
    more.hidden = !nextCursor;
  }

  /** Fetch the bot's shots (the spec's loadShots) and the live stats of those sending. */
  async function loadShots() {
    const page = await api("GET", paths.shots({ bot_slug: slug, limit: 50 }));
    if (state.slug !== slug) return;
    shots = [...(page.items || []), ...extraPages];
    if (!extraPages.length) nextCursor = page.next_cursor || null;
    const moving = shots.filter((s) => LIVE.has(s.status));
    await Promise.all(
      moving.map(async (s) => {
        try {
          liveStats.set(s.id, await api("GET", paths.shotStats(s.id)));
        } catch {
          liveStats.delete(s.id);
        }
      }),
    );
    // The list's stats may lag the stats route by a tick: show the fresher numbers.
    for (const s of moving) {
      const live = liveStats.get(s.id);
      if (live) s.stats = { ...s.stats, ...pick(live, ["total", "pending", "sending", "sent", "skipped", "error", "unknown", "holdout", "progress"]) };
    }
    draw();
    const isMoving = moving.some((s) => s.status === "running") || shots.some((s) => s.status === "pending" && new Date(s.scheduled_at) - Date.now() < 15000);
    if (isMoving || wasMoving || metricsDue()) await metrics.refresh().catch(() => {});
    wasMoving = isMoving;
    return isMoving;
  }

  let lastMetrics = 0;
  function metricsDue() {
    if (Date.now() - lastMetrics < 5000) return false;
    lastMetrics = Date.now();
    return true;
  }

  let moving = false;
  const poll = poller(async () => {
    moving = await loadShots();
  }, () => (moving ? 1000 : 4000));

  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const page = await api("GET", paths.shots({ bot_slug: slug, limit: 50, cursor: nextCursor }));
      extraPages = [...extraPages, ...(page.items || [])];
      nextCursor = page.next_cursor || null;
      shots = [...shots, ...(page.items || [])];
      draw();
    } finally {
      more.disabled = false;
    }
  });

  metrics.refresh().catch(() => {});
  lastMetrics = Date.now();
  poll.start();
  return {
    el,
    dispose: () => poll.stop(),
    rerender: () => {
      rendered.clear();
      draw();
      metrics.rerender();
    },
  };
}

function pick(obj, keys) {
  const out = {};
  for (const k of keys) if (k in obj) out[k] = obj[k];
  return out;
}
