// "Recolher e editar" on a shot's statistics: delete or edit the messages it delivered
// (job_form.js asks), and each recall or edit job of the shot with its progress by outcome,
// pause / resume / cancel, the items CSV and the messages that were not deleted or edited.

import { api, download } from "./api.js";
import { h, poller, replace } from "./dom.js";
import { fmtDateTime, fmtNumber, fmtPercent, t } from "./i18n.js";
import { askEdit, askRecall, jobPaths } from "./job_form.js";
import { copyPreview } from "./shots.js";
import { confirmDialog, toast } from "./ui.js";

const ENDED = new Set(["sent", "skipped", "error", "cancelled", "expired"]);
const ACTIVE = new Set(["pending", "running", "paused"]);
const OUTCOMES = ["deleted", "edited", "unchanged", "gone", "too_old", "deactivated", "cancelled", "error", "unknown"];
const SUCCESS = new Set(["deleted", "edited"]);
const BADGE = { pending: "badge-pending", running: "badge-running", paused: "badge-paused", done: "badge-sent", cancelled: "badge-cancelled", error: "badge-error" };
const PAGE = 50;

/** Whether a job may still change: active, or cancelled while running and not yet wound up
 * (its worker records what was left when it stops, and sets finished_at). */
function unsettled(job) {
  return ACTIVE.has(job.status) || !job.finished_at;
}

/** Why the shot cannot be recalled or edited now, or null when it can. */
function blocked(shot, delivered, jobs) {
  if (!ENDED.has(shot.status)) return t("jobs.blocked.live");
  if (!delivered) return t("jobs.blocked.nothing");
  if (jobs.some((j) => ACTIVE.has(j.status))) return t("jobs.blocked.active");
  return null;
}

function jobProgress(job) {
  const total = job.total || 0;
  const counts = job.by_outcome || {};
  const done = OUTCOMES.reduce((sum, k) => sum + (counts[k] || 0), 0);
  const bar = h("div", { class: "progress-bar" });
  for (const key of OUTCOMES) {
    if (!counts[key]) continue;
    const seg = h("span", { class: ["seg", `seg-job-${key}`], title: `${t(`jobs.outcome.${key}`)}: ${fmtNumber(counts[key])}` });
    seg.style.width = total ? `${(100 * counts[key]) / total}%` : "0%";
    bar.append(seg);
  }
  const shown = OUTCOMES.filter((k) => counts[k] || k === (job.kind === "recall" ? "deleted" : "edited"));
  return h(
    "div",
    { class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": Math.round(100 * (job.progress || 0)), "data-testid": "job-progress" },
    bar,
    h(
      "div",
      { class: "progress-meta" },
      job.total === null || job.total === undefined
        ? h("span", { class: "progress-count" }, t("jobs.preparing"))
        : h("span", { class: "progress-count" }, t("jobs.progress", { done: fmtNumber(done), total: fmtNumber(total) }), h("strong", {}, ` ${fmtPercent(job.progress || 0)}`)),
    ),
    h(
      "div",
      { class: "progress-legend", "data-testid": "job-outcomes" },
      shown.map((key) =>
        h("span", { class: ["legend-item", `legend-job-${key}`], "data-outcome": key }, h("i", { class: "dot" }), `${t(`jobs.outcome.${key}`)} `, h("b", {}, fmtNumber(counts[key] || 0))),
      ),
    ),
  );
}

/** The table of one job's messages with a given outcome (one that is not deleted/edited). */
function itemsBlock(job) {
  const counts = job.by_outcome || {};
  const outcomes = OUTCOMES.filter((k) => !SUCCESS.has(k) && counts[k]);
  let outcome = outcomes[0] || null;
  let after = null;
  let rows = [];
  let seen = null; // the counts the table was drawn for
  const tbody = h("tbody");
  const more = h("button", { type: "button", class: "btn btn-ghost btn-sm load-more", hidden: true }, t("common.loadMore"));
  const select = h("select", { class: "input input-auto", "data-testid": "job-items-filter", "aria-label": t("jobs.items.filter") });
  const body = h("div", { class: "job-items-body" });
  const el = h("details", { class: "job-items", "data-testid": "job-items", open: true }, h("summary", {}, t("jobs.items")), body);

  function drawRows() {
    replace(
      tbody,
      rows.length
        ? rows.map((r) =>
            h(
              "tr",
              { "data-outcome": r.outcome || "" },
              h("td", { class: "mono" }, String(r.telegram_id)),
              h("td", { class: "mono" }, r.message_id ? String(r.message_id) : ""),
              h("td", {}, r.variant || ""),
              h("td", {}, h("span", { class: ["pill", `pill-job-${r.outcome || "pending"}`] }, t(`jobs.item.${r.outcome || "pending"}`))),
              h("td", { class: "job-error" }, r.error || ""),
            ),
          )
        : h("tr", {}, h("td", { colspan: 5, class: "muted center" }, t("jobs.items.empty"))),
    );
    more.hidden = after === null;
  }
  async function load(append = false) {
    if (!outcome) return;
    const params = { outcome, limit: PAGE };
    if (append && after !== null) params.after = after;
    const page = await api("GET", jobPaths.items(job.id, params));
    rows = append ? [...rows, ...(page.items || [])] : page.items || [];
    after = page.next_after ?? null;
    drawRows();
  }
  select.addEventListener("change", () => {
    outcome = select.value;
    load().catch((err) => toast(err.message, "error"));
  });
  more.addEventListener("click", () => load(true).catch((err) => toast(err.message, "error")));

  function update(next) {
    job = next;
    const now = next.by_outcome || {};
    const key = JSON.stringify(now);
    if (key === seen) return;
    seen = key;
    const options = OUTCOMES.filter((k) => !SUCCESS.has(k) && now[k]);
    el.hidden = !options.length && next.status !== "done";
    if (!options.length) {
      replace(body, h("p", { class: "muted small" }, t("jobs.items.none")));
      return;
    }
    if (!options.includes(outcome)) outcome = options[0];
    replace(select, options.map((k) => h("option", { value: k, selected: k === outcome }, `${t(`jobs.outcome.${k}`)} (${fmtNumber(now[k])})`)));
    replace(
      body,
      h("div", { class: "card-tools job-items-tools" }, h("label", { class: "muted small" }, t("jobs.items.filter"), " ", select)),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "table" },
          h("thead", {}, h("tr", {}, ["jobs.col.chat", "jobs.col.message", "jobs.col.variant", "jobs.col.outcome", "jobs.col.error"].map((k) => h("th", {}, t(k))))),
          tbody,
        ),
      ),
      more,
    );
    // A page the operator extended stays as it is; the first page follows the job.
    if (rows.length <= PAGE) load().catch((err) => toast(err.message, "error"));
  }
  update(job);
  return { el, update };
}

/** One job as a card: kind, status, progress by outcome, its actions, and the items table. */
function jobCard(job, onMoved) {
  const el = h("article", { class: "job" });
  const items = itemsBlock(job);
  const head = h("div", { class: "job-head" });
  const figures = h("div", { class: "job-figures" });
  const move = (action, message) => async () => {
    if (action === "cancel") {
      const yes = await confirmDialog({ title: t("jobs.confirmCancel.title"), body: t("jobs.confirmCancel.body"), ok: t("jobs.confirmCancel.ok") });
      if (!yes) return;
    }
    try {
      await api("POST", jobPaths.jobAction(job.id, action));
      toast(t(message));
    } catch (err) {
      toast(err.message, "error");
    }
    onMoved();
  };
  const csv = async (ev) => {
    ev.currentTarget.disabled = true;
    const button = ev.currentTarget;
    try {
      await download(jobPaths.itemsCsv(job.id), `disparo-${job.shot_id}-${job.kind}-${job.id}.csv`);
    } catch (err) {
      toast(err.message, "error");
    } finally {
      button.disabled = false;
    }
  };

  function update(next, timeZone) {
    job = next;
    el.dataset.jobId = String(job.id);
    el.dataset.kind = job.kind;
    el.dataset.status = job.status;
    el.setAttribute("data-testid", "job");
    const buttons = [];
    if (job.status === "pending" || job.status === "running") buttons.push(h("button", { type: "button", class: "btn btn-sm", "data-action": "job-pause", on: { click: move("pause", "jobs.paused") } }, t("jobs.pause")));
    if (job.status === "paused") buttons.push(h("button", { type: "button", class: "btn btn-sm btn-primary", "data-action": "job-resume", on: { click: move("resume", "jobs.resumed") } }, t("jobs.resume")));
    if (ACTIVE.has(job.status)) buttons.push(h("button", { type: "button", class: "btn btn-sm btn-danger-ghost", "data-action": "job-cancel", on: { click: move("cancel", "jobs.cancelled") } }, t("jobs.cancel")));
    buttons.push(h("button", { type: "button", class: "btn btn-sm btn-ghost", "data-action": "job-csv", on: { click: csv } }, "⤓ ", t("jobs.csv")));
    replace(
      head,
      h(
        "div",
        { class: "job-title" },
        h("h3", {}, t(`jobs.kind.${job.kind}`), " ", h("span", { class: "muted" }, `#${job.id}`)),
        h("span", { class: ["badge", BADGE[job.status] || "badge-pending"], "data-testid": "job-status" }, t(`jobs.status.${job.status}`)),
        h(
          "span",
          { class: "muted small" },
          t("jobs.askedAt", { when: fmtDateTime(job.created_at, timeZone) }),
          job.finished_at ? ` · ${t("jobs.finishedAt", { when: fmtDateTime(job.finished_at, timeZone) })}` : "",
        ),
      ),
      h("div", { class: "job-actions" }, buttons),
    );
    const change =
      job.kind === "edit"
        ? h(
            "div",
            { class: "job-change" },
            job.copy ? h("div", { class: "job-copy" }, h("span", { class: "muted small" }, t("jobs.newCopy")), copyPreview(job.copy, "job-copy-text")) : null,
            Array.isArray(job.buttons)
              ? h("p", { class: "muted small" }, job.buttons.length ? t("jobs.newButtons", { buttons: job.buttons.flat().map((b) => b.text).join(", ") }) : t("jobs.noButtons"))
              : null,
          )
        : null;
    replace(
      figures,
      jobProgress(job),
      job.last_error ? h("p", { class: "job-last-error", "data-testid": "job-last-error" }, h("strong", {}, t("jobs.lastError"), ": "), job.last_error) : null,
      change,
    );
    items.update(job);
  }
  el.append(head, figures, items.el);
  return { el, update };
}

/**
 * The panel of shot `id`: `redraw(shot, stats)` after each refresh of the statistics screen;
 * `onEdited()` runs when an edit was accepted (the shot's content changed).
 */
export function jobsPanel({ id, timeZone, onEdited = () => {} }) {
  const el = h("div", { class: "card jobs-card", "data-testid": "jobs", hidden: true });
  const tools = h("div", { class: "card-tools" });
  const note = h("p", { class: "jobs-blocked muted small", "data-testid": "jobs-blocked" });
  const list = h("div", { class: "job-list" });
  const cards = new Map();
  let shot = null;
  let delivered = 0;
  let jobs = null;

  async function start(kind) {
    try {
      const job = kind === "recall" ? await askRecall(shot, delivered) : await askEdit(shot, delivered);
      if (!job) return;
      toast(t(kind === "recall" ? "jobs.recall.started" : "jobs.edit.started", { id }));
      if (kind === "edit") onEdited();
    } catch (err) {
      toast(err.message, "error");
    }
    poll.start();
  }

  function draw() {
    if (!shot || jobs === null) return;
    // A shot that delivered nothing has nothing to show here.
    el.hidden = !jobs.length && !delivered;
    const why = blocked(shot, delivered, jobs);
    const button = (kind, cls) => h("button", { type: "button", class: ["btn", cls], "data-action": kind, disabled: Boolean(why), title: why || null, on: { click: () => start(kind) } }, t(`jobs.${kind}`));
    replace(tools, button("recall", "btn-danger-ghost"), button("edit", null));
    replace(note, why || "");
    note.hidden = !why;
    const ids = new Set(jobs.map((j) => j.id));
    for (const jobId of [...cards.keys()]) if (!ids.has(jobId)) cards.delete(jobId);
    for (const job of jobs) {
      if (!cards.has(job.id)) cards.set(job.id, jobCard(job, () => poll.start()));
      cards.get(job.id).update(job, timeZone);
    }
    replace(list, jobs.length ? jobs.map((j) => cards.get(j.id).el) : h("p", { class: "muted small", "data-testid": "jobs-empty" }, t("jobs.empty")));
  }

  const poll = poller(
    async () => {
      jobs = await api("GET", jobPaths.shotJobs(id));
      draw();
      if (!jobs.some(unsettled)) poll.stop();
    },
    // Every second while a job moves; a paused one only settles its requests in flight.
    () => (jobs && jobs.some((j) => j.status !== "paused" && unsettled(j)) ? 1000 : 5000),
  );

  replace(
    el,
    h("div", { class: "card-head" }, h("h2", { class: "card-title" }, t("jobs.title")), tools),
    h("p", { class: "muted small jobs-lead" }, t("jobs.lead")),
    note,
    list,
  );
  poll.start();
  return {
    el,
    /** The shot and its statistics as the screen last read them. */
    redraw(nextShot, stats) {
      const wasLive = shot && !ENDED.has(shot.status);
      shot = nextShot;
      delivered = (stats && stats.sent) || 0;
      if (wasLive && ENDED.has(shot.status)) poll.start();
      draw();
    },
    dispose: () => poll.stop(),
  };
}
