// A bot's sending limits in its edit form: the frequency cap (at most N shots per contact within
// H hours) and quiet hours (no sending from start to end, in the bot's time zone). Both off by
// default; the card shows them in words.

import { h } from "./dom.js";
import { fmtNumber, t } from "./i18n.js";
import { showFieldError } from "./ui.js";

/** The facts the bot card lists: [label, text]. */
export function limitFacts(bot) {
  const cap =
    bot.max_shots_per_contact && bot.cap_window_hours
      ? t(bot.max_shots_per_contact === 1 ? "cap.line.one" : "cap.line", { n: fmtNumber(bot.max_shots_per_contact), hours: fmtNumber(bot.cap_window_hours) })
      : t("limits.off");
  const quiet = bot.quiet_hours ? t("quiet.line", { start: bot.quiet_hours.start, end: bot.quiet_hours.end }) : t("limits.off");
  return [
    [t("cap.title"), cap],
    [t("quiet.title"), quiet],
  ];
}

function toggled(id, checked, inputs) {
  const box = h("input", { type: "checkbox", id, checked });
  const sync = () => {
    for (const input of inputs) input.disabled = !box.checked;
  };
  box.addEventListener("change", () => {
    sync();
    if (box.checked) inputs[0].focus();
  });
  sync();
  return box;
}

/** The fieldset for `bot`; `read(form)` gives the PATCH's part, or null after marking errors. */
export function limitsFields(bot) {
  const slug = bot.slug;
  const max = h("input", { id: `cap-max-${slug}`, type: "number", min: 1, class: "input input-days", value: String(bot.max_shots_per_contact || 1), "aria-label": t("cap.max") });
  const hours = h("input", { id: `cap-hours-${slug}`, type: "number", min: 1, class: "input input-days", value: String(bot.cap_window_hours || 24), "aria-label": t("cap.hours") });
  const capBox = toggled(`cap-${slug}`, Boolean(bot.max_shots_per_contact), [max, hours]);
  const start = h("input", { id: `quiet-start-${slug}`, type: "time", class: "input input-time", value: bot.quiet_hours ? bot.quiet_hours.start : "22:00", "aria-label": t("quiet.start") });
  const end = h("input", { id: `quiet-end-${slug}`, type: "time", class: "input input-time", value: bot.quiet_hours ? bot.quiet_hours.end : "08:00", "aria-label": t("quiet.end") });
  const quietBox = toggled(`quiet-${slug}`, Boolean(bot.quiet_hours), [start, end]);
  const el = h(
    "fieldset",
    { class: "limits" },
    h("legend", { class: "field-label" }, t("limits.title")),
    h(
      "div",
      { class: "field", "data-field": "max_shots_per_contact" },
      h("label", { class: "check" }, capBox, " ", t("cap.title")),
      h("div", { class: "limit-row" }, t("cap.before"), max, t("cap.middle"), hours, t("cap.after")),
      h("p", { class: "field-help" }, t("cap.help")),
      h("p", { class: "field-error", role: "alert" }),
    ),
    h(
      "div",
      { class: "field", "data-field": "quiet_hours" },
      h("label", { class: "check" }, quietBox, " ", t("quiet.title")),
      h("div", { class: "limit-row" }, t("quiet.from"), start, t("quiet.to"), end, h("span", { class: "muted" }, `(${bot.timezone || "America/Sao_Paulo"})`)),
      h("p", { class: "field-help" }, t("quiet.help")),
      h("p", { class: "field-error", role: "alert" }),
    ),
  );
  return {
    el,
    read(form) {
      const body = { max_shots_per_contact: null, cap_window_hours: null, quiet_hours: null };
      let ok = true;
      if (capBox.checked) {
        const n = Number(max.value);
        const w = Number(hours.value);
        if (!Number.isInteger(n) || n < 1 || !Number.isInteger(w) || w < 1) {
          showFieldError(form, "max_shots_per_contact", t("error.max_shots_per_contact"));
          ok = false;
        }
        body.max_shots_per_contact = n;
        body.cap_window_hours = w;
      }
      if (quietBox.checked) {
        if (!start.value || !end.value || start.value === end.value) {
          showFieldError(form, "quiet_hours", t("error.quiet_hours"));
          ok = false;
        }
        body.quiet_hours = { start: start.value, end: end.value };
      }
      return ok ? body : null;
    },
  };
}
