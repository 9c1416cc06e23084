// Small shared pieces: toasts, the confirmation dialog, badges, field errors.

import { h, replace } from "./dom.js";
import { t, tOr, fmtNumber } from "./i18n.js";

let toastBox = null;

/** A short message in the corner; `kind` is "ok" or "error". */
export function toast(message, kind = "ok") {
  if (!toastBox || !toastBox.isConnected) {
    toastBox = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(toastBox);
  }
  const el = h("div", { class: ["toast", `toast-${kind}`] }, message);
  toastBox.append(el);
  setTimeout(() => el.classList.add("toast-out"), 3500);
  setTimeout(() => el.remove(), 4000);
}

/** Ask before a destructive action; resolves true when confirmed. */
export function confirmDialog({ title, body, ok, cancel, danger = true }) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "dialog", "aria-labelledby": "dialog-title" });
    const close = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    replace(
      dialog,
      h("h2", { id: "dialog-title", class: "dialog-title" }, title),
      body ? h("p", { class: "dialog-body" }, body) : null,
      h(
        "div",
        { class: "dialog-actions" },
        h("button", { type: "button", class: "btn btn-ghost", on: { click: () => close(false) } }, cancel || t("common.cancel")),
        h(
          "button",
          { type: "button", class: ["btn", danger ? "btn-danger" : "btn-primary"], "data-testid": "confirm-ok", on: { click: () => close(true) } },
          ok || t("common.confirm"),
        ),
      ),
    );
    dialog.addEventListener("cancel", (ev) => {
      ev.preventDefault();
      close(false);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** The shot's status as a coloured badge. */
export function statusBadge(shot) {
  let key = shot.status;
  if (key === "pending" && shot.winner_decision && !shot.winner_decision.winner) key = "pending_winner";
  else if (key === "pending" && new Date(shot.scheduled_at) <= new Date()) key = "pending_due";
  return h("span", { class: ["badge", `badge-${shot.status}`], "data-status": shot.status }, t(`status.${key}`));
}

/** The audience as a chip: "/start · últimos 7 dias". */
export function audienceChip(shot) {
  const recency = shot.recency_days
    ? shot.recency_days === 1
      ? t("target.recency.one")
      : t("target.recency", { n: shot.recency_days })
    : null;
  return h(
    "span",
    { class: ["chip", "chip-static", `chip-${shot.target}`], title: t(`target.${shot.target}.long`) },
    t(`target.${shot.target}`),
    recency ? h("span", { class: "chip-extra" }, ` · ${recency}`) : null,
  );
}

/** A figure with its label: "1.234 Enviados". */
export function stat(label, value, kind, testid) {
  return h(
    "div",
    { class: ["stat", kind ? `stat-${kind}` : null], "data-testid": testid || null },
    h("span", { class: "stat-value" }, typeof value === "number" ? fmtNumber(value) : value),
    h("span", { class: "stat-label" }, label),
  );
}

/** The API's field in the page's spelling: "variants.1.weight" (FastAPI's) is variants[1].weight. */
export function fieldPath(field) {
  return String(field).replace(/\.(\d+)(?=[.[]|$)/g, "[$1]");
}

/** A field and the fields holding it, nearest first: variants[1].buttons[0] … variants[1], variants. */
function fieldHolders(field) {
  const names = [];
  for (let name = fieldPath(field); name; ) {
    names.push(name);
    const shorter = name.replace(/(\[\d+\]|\.[^.[\]]*)$/, "");
    if (shorter === name) break;
    name = shorter;
  }
  return names;
}

/** Show an error beside the field it names (or the nearest field holding it); returns whether a field took it. */
export function showFieldError(form, field, message, detail) {
  if (!field) return false;
  for (const name of fieldHolders(field)) {
    const holder = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
    if (!holder) continue;
    holder.classList.add("has-error");
    const slot = holder.querySelector(":scope > .field-error") || holder.querySelector(".field-error");
    if (slot) replace(slot, message, detail ? h("span", { class: "field-error-detail" }, detail) : null);
    // The field's own control first: a field may hold others (the copy's variable panel).
    const input = holder.querySelector(`#${CSS.escape(fieldPath(field))}`) || holder.querySelector(`#${CSS.escape(name)}`) || holder.querySelector("input, textarea, select");
    if (input) input.setAttribute("aria-invalid", "true");
    return true;
  }
  return false;
}

/**
 * Show the API's error (an ApiError) beside its field: a sentence in the page's language for
 * the fields people get wrong, with the server's precise explanation under it.
 */
export function showServerError(form, err, fallbackField) {
  const field = err.field || fallbackField;
  if (!field) return false;
  // variants[1].copy reads error.variants.copy, else error.copy, else error.variants.
  const path = fieldPath(field).replace(/\[\d+\]/g, "");
  const keys = [path, ...path.split(".").reverse()];
  const localized = keys.map((key) => tOr(`error.${key}`, null)).find(Boolean) || null;
  return localized ? showFieldError(form, field, localized, err.message) : showFieldError(form, field, err.message);
}

export function clearFieldErrors(form) {
  for (const holder of form.querySelectorAll(".has-error")) {
    holder.classList.remove("has-error");
    const slot = holder.querySelector(".field-error");
    if (slot) slot.textContent = "";
    for (const input of holder.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  }
}

/** A labelled field: label, control, help, and a slot for the server's error. */
export function field(name, label, control, help) {
  return h(
    "div",
    { class: "field", "data-field": name },
    label ? h("label", { class: "field-label", for: control.id || null }, label) : null,
    control,
    help ? h("p", { class: "field-help" }, help) : null,
    h("p", { class: "field-error", role: "alert" }),
  );
}

export function emptyState(title, lead, action) {
  return h("div", { class: "empty" }, h("h3", {}, title), h("p", {}, lead), action || null);
}

/** A radio group drawn as chips or as a segmented control: options are [key, label, extra]. */
export function choice(name, options, value, onChange, className) {
  const group = h("div", { class: className, role: "radiogroup", "data-group": name });
  const buttons = options.map(([key, label, extra]) =>
    h(
      "button",
      {
        type: "button",
        role: "radio",
        class: className === "segmented" ? "segment" : "chip",
        "aria-checked": String(key === value),
        "data-value": key,
        on: {
          click: (ev) => {
            for (const b of buttons) b.setAttribute("aria-checked", String(b === ev.currentTarget));
            onChange(key);
          },
        },
      },
      label,
      extra || null,
    ),
  );
  group.append(...buttons);
  return group;
}
