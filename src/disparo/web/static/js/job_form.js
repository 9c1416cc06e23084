// Asking for a recall or an edit of a sent shot: the recall's confirmation with the number of
// people, and the edit's dialog (the shot's copy and buttons in the content editor, its preview,
// a confirmation, the API's refusal beside the field it names).

import { ApiError, api } from "./api.js";
import { h, replace } from "./dom.js";
import { buttonsFromApi, buttonsToApi, contentEditor } from "./editor.js";
import { fmtNumber, t } from "./i18n.js";
import { variableErrorText } from "./personal_checks.js";
import { clearFieldErrors, confirmDialog, showFieldError, showServerError } from "./ui.js";

const WINDOW_MS = 48 * 3600 * 1000;

export const jobPaths = {
  recall: (id) => `/shots/${encodeURIComponent(id)}/recall`,
  edit: (id) => `/shots/${encodeURIComponent(id)}/edit`,
  shotJobs: (id) => `/shots/${encodeURIComponent(id)}/jobs`,
  job: (id) => `/jobs/${encodeURIComponent(id)}`,
  jobAction: (id, action) => `/jobs/${encodeURIComponent(id)}/${action}`,
  items: (id, params) => `/jobs/${encodeURIComponent(id)}/items?` + new URLSearchParams(params).toString(),
  itemsCsv: (id) => `/jobs/${encodeURIComponent(id)}/items.csv`,
};

/** "Apagar a mensagem de 80.412 pessoas?": the number in the page's locale. */
export function recallQuestion(n) {
  return t(n === 1 ? "jobs.recall.title.one" : "jobs.recall.title", { n: fmtNumber(n) });
}

/** "Editar a mensagem de 80.412 pessoas?" */
export function editQuestion(n) {
  return t(n === 1 ? "jobs.edit.confirm.one" : "jobs.edit.confirm", { n: fmtNumber(n) });
}

/** Ask, then start a recall of `shot` (delivered to `delivered` people); resolves with the job or null. */
export async function askRecall(shot, delivered) {
  const old = shot.started_at && Date.now() - new Date(shot.started_at).getTime() > WINDOW_MS;
  const yes = await confirmDialog({
    title: recallQuestion(delivered),
    body: [t("jobs.recall.body"), old ? h("strong", { class: "job-old" }, " ", t("jobs.recall.old")) : null],
    ok: t("jobs.recall.ok"),
  });
  if (!yes) return null;
  return api("POST", jobPaths.recall(shot.id));
}

/** What an edit sends: only what differs from the shot (a copy of its own keeps the variants'). */
function editBody(shot, values) {
  const body = {};
  if (values.copy !== (shot.copy || "")) body.copy = values.copy;
  const before = JSON.stringify(buttonsToApi(buttonsFromApi(shot.buttons)) || []);
  const after = buttonsToApi(values.buttons) || [];
  if (JSON.stringify(after) !== before) body.buttons = after;
  return body;
}

/**
 * The edit's dialog over `shot` (delivered to `delivered` people): the copy and buttons
 * prefilled, a preview, then "Editar a mensagem de N pessoas?". Resolves with the job, or null.
 */
export function askEdit(shot, delivered) {
  return new Promise((resolve) => {
    const values = {
      media_type: shot.media_type || "none",
      media_url: shot.media_url || "",
      copy: shot.copy || "",
      buttons: buttonsFromApi(shot.buttons),
    };
    const editor = contentEditor({ values });
    const summary = h("p", { class: "form-summary", role: "alert", hidden: true, "data-testid": "job-edit-error" });
    const submit = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "job-edit-submit" }, t("jobs.edit.ok"));
    const variants = (shot.variants || []).length;
    const form = h(
      "form",
      { class: "job-edit-form", novalidate: true },
      h(
        "div",
        { class: "job-edit-main" },
        h("h2", { id: "job-edit-title", class: "dialog-title" }, t("jobs.edit.title")),
        h("p", { class: "dialog-body" }, t("jobs.edit.lead")),
        variants > 1 ? h("p", { class: "job-note" }, t("jobs.edit.variants", { n: variants })) : null,
        editor.fields.copy,
        editor.fields.buttons,
        summary,
        h(
          "div",
          { class: "dialog-actions" },
          h("button", { type: "button", class: "btn btn-ghost", on: { click: () => close(null) } }, t("common.cancel")),
          submit,
        ),
      ),
      h("aside", { class: "job-edit-side" }, editor.previewCard),
    );
    const dialog = h("dialog", { class: "dialog job-edit-dialog", "aria-labelledby": "job-edit-title", "data-testid": "job-edit" }, form);

    function close(answer) {
      dialog.close();
      dialog.remove();
      resolve(answer);
    }
    function fail(message) {
      replace(summary, message);
      summary.hidden = false;
    }

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearFieldErrors(form);
      summary.hidden = true;
      if (!values.copy.trim()) {
        showFieldError(form, "copy", t("form.required"));
        return fail(t("form.fixErrors"));
      }
      const body = editBody(shot, values);
      if (!Object.keys(body).length) return fail(t("jobs.edit.unchanged"));
      const yes = await confirmDialog({ title: editQuestion(delivered), body: t("jobs.edit.confirm.body"), ok: t("jobs.edit.ok"), danger: false });
      if (!yes) return;
      submit.disabled = true;
      try {
        close(await api("POST", jobPaths.edit(shot.id), body));
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        const variable = variableErrorText(err);
        const placed = err.status === 422 && (variable ? showFieldError(form, err.field, variable, err.message) : showServerError(form, err));
        fail(placed ? t("form.fixErrors") : err.message);
        const first = form.querySelector('[aria-invalid="true"]');
        if (first) first.focus();
      } finally {
        submit.disabled = false;
      }
    });
    dialog.addEventListener("cancel", (ev) => {
      ev.preventDefault();
      close(null);
    });
    document.body.append(dialog);
    dialog.showModal();
    editor.copyInput.focus();
  });
}
