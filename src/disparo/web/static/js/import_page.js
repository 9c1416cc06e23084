// "Importar": drop a CSV or JSON-lines file of contacts, funnel events or payments, see its
// columns and what its first rows become, choose how tags apply, and send it; the import runs
// as a job on the server, followed at #/import/<id> (import_job.js).

import { ApiError, api, getToken } from "./api.js";
import { h, replace } from "./dom.js";
import { fmtPercent, t } from "./i18n.js";
import { fmtBytes, importPaths, jobView, recentJobs } from "./import_job.js";
import { state } from "./state.js";
import { choice, emptyState, field, toast } from "./ui.js";

const KINDS = ["contacts", "events", "transactions"];
const PREVIEW_BYTES = 64 * 1024;
const SHOWN_ROWS = 10;
const TYPES = { csv: "text/csv", ndjson: "application/x-ndjson" };

/** The Content-Type a file is sent with: from its name, else left to the server to detect. */
function typeOf(file) {
  const name = file.name.toLowerCase();
  if (name.endsWith(".csv")) return TYPES.csv;
  if (/\.(jsonl|ndjson|json)$/.test(name)) return TYPES.ndjson;
  return "application/octet-stream";
}

async function errorOf(response) {
  try {
    const body = await response.json();
    if (body && body.error) return new ApiError(response.status, body.error.code, body.error.message, body.error.field);
  } catch {
    // not JSON
  }
  return new ApiError(response.status, `http_${response.status}`, `HTTP ${response.status}`);
}

async function fetchPreview(slug, kind, file) {
  const complete = file.size <= PREVIEW_BYTES;
  const response = await fetch(`/admin/api${importPaths.preview(slug, kind, complete)}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${getToken()}`, "Content-Type": typeOf(file), Accept: "application/json" },
    body: file.slice(0, PREVIEW_BYTES),
    cache: "no-store",
  });
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

/** Send the file with XMLHttpRequest, whose upload reports its progress; resolves the job. */
function upload(path, file, contentType, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/admin/api${path}`);
    xhr.setRequestHeader("Authorization", `Bearer ${getToken()}`);
    xhr.setRequestHeader("Content-Type", contentType);
    xhr.upload.addEventListener("progress", (ev) => ev.lengthComputable && onProgress(ev.loaded / ev.total));
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // not JSON
      }
      if (xhr.status === 202) resolve(body);
      else reject(new ApiError(xhr.status, body?.error?.code, body?.error?.message || `HTTP ${xhr.status}`, body?.error?.field));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "network", t("signin.unreachable"))));
    xhr.send(file);
  });
}

function cell(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function summary(values) {
  if (!values) return "";
  return Object.entries(values)
    .filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([k, v]) => `${k}: ${cell(v)}`)
    .join(" · ");
}

function previewCard(preview) {
  const unknown = new Set(preview.unknown_columns);
  const rows = preview.rows.slice(0, SHOWN_ROWS).map((row) =>
    h(
      "tr",
      { "data-line": row.line, "data-ok": String(!row.reason) },
      h("td", {}, row.line),
      h("td", {}, h("code", {}, row.raw ? summary(row.raw) : t("import.row.unreadable"))),
      h("td", {}, row.reason ? h("span", { class: "import-bad" }, row.reason) : h("span", {}, h("span", { class: "import-ok" }, "✓ "), summary(row.row))),
    ),
  );
  return h(
    "section",
    { class: "card", "data-testid": "import-preview" },
    h("div", { class: "card-head" }, h("h2", { class: "card-title" }, t("import.preview")), h("span", { class: "badge badge-pending", "data-testid": "import-format" }, t(`import.format.${preview.file_format}`))),
    h("p", { class: "field-label" }, t("import.columns")),
    h("div", { class: "import-columns", "data-testid": "import-columns" }, preview.columns.map((name) => h("span", { class: ["import-column", unknown.has(name) ? "unknown" : null] }, name))),
    preview.unknown_columns.length ? h("p", { class: "import-warn" }, t("import.columns.unknown", { names: preview.unknown_columns.join(", ") })) : null,
    preview.missing_columns.length ? h("p", { class: "import-warn" }, t("import.columns.missing", { names: preview.missing_columns.join(", ") })) : null,
    preview.error ? h("p", { class: "form-summary", role: "alert", "data-testid": "import-preview-error" }, preview.error) : null,
    rows.length
      ? h(
          "div",
          { class: "table-wrap" },
          h("table", { class: "table import-preview" }, h("thead", {}, h("tr", {}, ["line", "values", "becomes"].map((c) => h("th", {}, t(`import.col.${c}`))))), h("tbody", {}, rows)),
        )
      : null,
  );
}

function uploadForm(slug) {
  let kind = "contacts";
  let tagsMode = "add";
  let file = null;
  let preview = null;
  const input = h("input", { type: "file", id: "import-file", accept: ".csv,.jsonl,.ndjson,.json,.txt,text/csv,application/x-ndjson", hidden: true });
  const fileLine = h("p", { class: "import-file", "data-testid": "import-file" });
  const drop = h(
    "div",
    { class: "import-drop", "data-testid": "import-drop" },
    h("p", { class: "import-drop-title" }, t("import.drop")),
    h("p", { class: "muted small" }, t("import.drop.or")),
    h("button", { type: "button", class: "btn", on: { click: () => input.click() } }, t("import.drop.choose")),
    fileLine,
    input,
  );
  const previewSlot = h("div", {});
  const tagsField = field("tags_mode", t("import.tags"), choice("tags_mode", [["add", t("import.tags.add")], ["replace", t("import.tags.replace")]], tagsMode, (v) => (tagsMode = v), "segmented"));
  const start = h("button", { type: "button", class: "btn btn-primary", "data-action": "import-start", disabled: true }, t("import.start", { name: "" }));
  const status = h("span", { class: "muted", role: "status" });
  const refresh = async () => {
    tagsField.hidden = kind !== "contacts";
    start.disabled = true;
    if (!file) return;
    replace(previewSlot, h("p", { class: "loading" }, t("import.preview.loading")));
    try {
      preview = await fetchPreview(slug, kind, file);
      replace(previewSlot, previewCard(preview));
      start.disabled = Boolean(preview.error);
      start.textContent = t("import.start", { name: file.name });
    } catch (err) {
      replace(previewSlot, h("p", { class: "form-summary", role: "alert" }, err.message));
    }
  };
  const take = (chosen) => {
    if (!chosen) return;
    file = chosen;
    replace(fileLine, t("import.file", { name: file.name, size: fmtBytes(file.size) }));
    refresh();
  };
  input.addEventListener("change", () => take(input.files[0]));
  drop.addEventListener("dragover", (ev) => {
    ev.preventDefault();
    drop.classList.add("dragging");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("dragging"));
  drop.addEventListener("drop", (ev) => {
    ev.preventDefault();
    drop.classList.remove("dragging");
    take(ev.dataTransfer.files[0]);
  });
  start.addEventListener("click", async () => {
    start.disabled = true;
    const contentType = TYPES[preview.file_format];
    try {
      const job = await upload(importPaths.start(slug, kind, kind === "contacts" ? tagsMode : null), file, contentType, (ratio) => (status.textContent = t("import.uploading", { percent: fmtPercent(ratio) })));
      toast(t("import.started"));
      location.hash = `#/import/${job.id}`;
    } catch (err) {
      status.textContent = "";
      toast(err.message, "error");
      start.disabled = false;
    }
  });
  const kinds = field("kind", t("import.kind"), choice("kind", KINDS.map((k) => [k, t(`import.kind.${k}`)]), kind, (v) => {
    kind = v;
    refresh();
  }, "segmented"));
  return h("section", { class: "card import-form", "data-testid": "import-form" }, kinds, drop, previewSlot, tagsField, h("div", { class: "import-actions" }, start, status));
}

/** The Importar screen: the form and the recent imports, or one job (`id`). */
export function importView({ id }) {
  const slug = state.slug;
  const head = h("div", { class: "page-head" }, h("div", {}, h("h1", {}, t("import.title")), h("p", { class: "page-sub" }, t("import.lead"))));
  if (!slug) return { el: h("section", { class: "view view-import" }, head, emptyState(t("import.noBot"), "")) };
  if (id) {
    const job = jobView(slug, id, () => (location.hash = "#/import"));
    return { el: h("section", { class: "view view-import" }, head, job.el), dispose: job.dispose };
  }
  const recent = h("div", {});
  recentJobs(slug).then((card) => replace(recent, card), (err) => replace(recent, emptyState(t("common.error"), err.message)));
  return { el: h("section", { class: "view view-import" }, head, uploadForm(slug), recent) };
}
