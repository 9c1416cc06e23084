// An import job on the Importar screen: its progress (lines read, valid, rejected, rate, time
// left) polled from the server until it ends, then its rejected lines and their CSV; and the
// bot's recent imports. The job's id is in the address (#/import/<id>), so a reload finds it.

import { api, download } from "./api.js";
import { h, poller, replace } from "./dom.js";
import { fmtDateTime, fmtDuration, fmtNumber, fmtPercent, fmtRate, t } from "./i18n.js";
import { botTimeZone } from "./state.js";
import { emptyState, stat } from "./ui.js";

const BADGE = { queued: "badge-pending", running: "badge-running", done: "badge-sent", failed: "badge-error" };
const SHOWN_REJECTIONS = 100;

export const importPaths = {
  jobs: (slug) => `/bots/${encodeURIComponent(slug)}/imports?limit=10`,
  job: (slug, id) => `/bots/${encodeURIComponent(slug)}/imports/${encodeURIComponent(id)}`,
  rejections: (slug, id) => `/bots/${encodeURIComponent(slug)}/imports/${encodeURIComponent(id)}/rejections.csv`,
  start: (slug, kind, tagsMode) => `/bots/${encodeURIComponent(slug)}/imports?kind=${kind}${tagsMode ? `&tags_mode=${tagsMode}` : ""}`,
  preview: (slug, kind, complete) => `/bots/${encodeURIComponent(slug)}/imports:preview?kind=${kind}&complete=${complete}`,
};

/** The rows of a CSV text (quoted fields, doubled quotes, newlines inside quotes). */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else if (c !== "\r") cell += c;
  }
  if (cell || row.length) rows.push([...row, cell]);
  return rows;
}

export function statusBadgeOf(job) {
  return h("span", { class: ["badge", BADGE[job.status]], "data-status": job.status }, t(`import.status.${job.status}`));
}

function progressBar(job) {
  const ratio = job.status === "done" ? 1 : job.total_bytes ? job.read_bytes / job.total_bytes : 0;
  const fill = h("span", { class: ["import-bar-fill", job.status === "done" ? "done" : null, job.status === "failed" ? "failed" : null] });
  fill.style.width = `${Math.round(1000 * ratio) / 10}%`;
  return h(
    "div",
    { class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": Math.round(100 * ratio), "data-testid": "import-progress" },
    h("div", { class: "progress-bar" }, fill),
    h(
      "div",
      { class: "progress-meta" },
      h("span", { class: "progress-count" }, t("import.progress", { done: fmtBytes(job.read_bytes), total: fmtBytes(job.total_bytes) }), h("strong", {}, ` ${fmtPercent(ratio)}`)),
    ),
  );
}

export function fmtBytes(n) {
  if (n < 1024) return `${fmtNumber(n)} B`;
  if (n < 1024 * 1024) return `${fmtNumber(n / 1024, { maximumFractionDigits: 1 })} KiB`;
  return `${fmtNumber(n / 1024 / 1024, { maximumFractionDigits: 1 })} MiB`;
}

function counts(job) {
  const ended = job.status === "done";
  return h(
    "div",
    { class: "import-stats", "data-testid": "import-counts" },
    stat(t("import.count.processed"), job.processed, null, "import-processed"),
    ended ? stat(t("import.count.inserted"), job.inserted, "sent", "import-inserted") : stat(t("import.count.valid"), job.valid, "sent", "import-valid"),
    ended ? stat(t("import.count.updated"), job.updated, null, "import-updated") : null,
    stat(t("import.count.rejected"), job.rejected, job.rejected ? "error" : null, "import-rejected"),
    stat(t("import.count.rate"), fmtRate(job.rate_per_s), null, "import-rate"),
    job.status === "running" ? stat(t("import.count.left"), fmtDuration(job.seconds_left), null, "import-left") : null,
  );
}

async function rejectionsCard(slug, job) {
  const head = h("div", { class: "card-head" }, h("h2", { class: "card-title" }, t("import.rejections")));
  if (!job.rejected) return h("section", { class: "card", "data-testid": "import-rejections" }, head, h("p", { class: "muted" }, t("import.rejections.none")));
  const button = h("button", { type: "button", class: "btn btn-sm", "data-action": "download-rejections" }, t("import.rejections.download"));
  button.addEventListener("click", () => download(importPaths.rejections(slug, job.id), `disparo-${slug}-importacao-${job.id}-recusadas.csv`));
  head.append(h("div", { class: "card-tools" }, button));
  const response = await api("GET", importPaths.rejections(slug, job.id), undefined, { raw: true });
  const rows = parseCsv(await response.text()).slice(1);
  const shown = rows.slice(0, SHOWN_REJECTIONS);
  return h(
    "section",
    { class: "card", "data-testid": "import-rejections" },
    head,
    rows.length < job.rejected || shown.length < rows.length ? h("p", { class: "muted small" }, t("import.rejections.more", { shown: fmtNumber(shown.length), total: fmtNumber(job.rejected) })) : null,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "table import-rejections" },
        h("thead", {}, h("tr", {}, ["line", "field", "reason", "raw"].map((c) => h("th", {}, t(`import.col.${c}`))))),
        h("tbody", {}, shown.map(([line, field, reason, raw]) => h("tr", { "data-line": line }, h("td", {}, line), h("td", {}, field ? h("code", {}, field) : "—"), h("td", {}, reason), h("td", {}, h("code", {}, raw))))),
      ),
    ),
  );
}

/** The job's card, polled every second until it ends; `dispose` stops the polling. */
export function jobView(slug, id, onAgain) {
  const el = h("div", { class: "view-import-job" }, h("p", { class: "loading" }, t("common.loading")));
  let lastStatus = null;
  const draw = async () => {
    const job = await api("GET", importPaths.job(slug, id));
    const ended = job.status === "done" || job.status === "failed";
    const again = h("button", { type: "button", class: "btn", "data-action": "import-again", on: { click: onAgain } }, t("import.again"));
    const card = h(
      "section",
      { class: "card", "data-testid": "import-job", "data-status": job.status },
      h("div", { class: "card-head" }, h("h2", { class: "card-title" }, t("import.job", { id: job.id }), " ", statusBadgeOf(job)), h("span", { class: "muted small" }, t(`import.kind.${job.kind}`), " · ", t("import.when", { when: fmtDateTime(job.created_at, botTimeZone()) }))),
      progressBar(job),
      counts(job),
      job.status === "failed" ? h("p", { class: "form-summary", role: "alert", "data-testid": "import-error" }, t("import.failed", { error: job.error })) : null,
      ended ? null : h("p", { class: "muted small" }, t("import.whole")),
      ended ? h("div", { class: "import-actions" }, again) : null,
    );
    if (ended && lastStatus !== job.status) {
      replace(el, card, job.status === "done" ? await rejectionsCard(slug, job) : null);
      poll.stop();
    } else if (!ended) replace(el, card);
    lastStatus = job.status;
  };
  const poll = poller(async () => {
    try {
      await draw();
    } catch (err) {
      replace(el, emptyState(t("common.error"), err.message));
      poll.stop();
    }
  }, 1000);
  poll.start();
  return { el, dispose: () => poll.stop() };
}

/** The bot's recent imports, each a link to its job. */
export async function recentJobs(slug) {
  const answer = await api("GET", importPaths.jobs(slug));
  const jobs = answer.jobs || [];
  return h(
    "section",
    { class: "card", "data-testid": "import-recent" },
    h("h2", { class: "card-title" }, t("import.recent")),
    jobs.length
      ? h("div", { class: "import-jobs" }, jobs.map((job) => h("a", { href: `#/import/${job.id}`, "data-job": job.id }, statusBadgeOf(job), h("span", {}, t("import.job", { id: job.id })), h("span", { class: "muted small" }, `${t(`import.kind.${job.kind}`)} · ${fmtNumber(job.processed)} · ${fmtDateTime(job.created_at, botTimeZone())}`))))
      : h("p", { class: "muted" }, t("import.recent.empty")),
  );
}
