// The shot form's "Teste A/B e conversões": the "Testar variantes" switch (the tabs themselves
// are variants.js), the holdout, the conversion events (the primary first) and winner mode; the
// values of a stored shot and the API's fields back.

import { h, replace } from "./dom.js";
import { fmtNumber, t } from "./i18n.js";
import { field } from "./ui.js";
import { variantFromApi } from "./variants.js";

const EVENTS = ["paid", "pix_created"];
const DEFAULT_WINDOW_HOURS = 72;
const MAX_GOALS = 4;
const WINNER = { test_percent: 20, wait_hours: 24, min_sample: 100 };
export const EXPERIMENT_FIELDS = ["variants", "holdout_percent", "conversions", "winner"];

/** Whether a new shot's events are still the one row the form starts with: then the API's
 * default (paid and pix_created, which the bot's report counts) is asked for instead. */
export function untouchedGoals(goals) {
  return goals.length === 1 && goals[0].event === "paid" && goals[0].window_hours === DEFAULT_WINDOW_HOURS;
}

/** The section's starting values, from a stored shot (or the API's defaults). */
export function experimentValues(shot) {
  const variants = (shot && shot.variants) || [];
  const goals = shot && shot.conversions && shot.conversions.length ? shot.conversions : [{ event: "paid", window_hours: DEFAULT_WINDOW_HOURS }];
  const winner = shot && shot.winner;
  return {
    variants_on: variants.length > 0,
    variants: variants.map(variantFromApi),
    holdout_percent: String((shot && shot.holdout_percent) || 0),
    conversions: goals.map((g) => ({
      kind: EVENTS.includes(g.event) ? g.event : "custom",
      name: EVENTS.includes(g.event) ? "" : g.event,
      window_hours: String(g.window_hours ?? DEFAULT_WINDOW_HOURS),
    })),
    winner_on: Boolean(winner),
    winner: Object.fromEntries(Object.entries(WINNER).map(([k, v]) => [k, String(winner && winner[k] != null ? winner[k] : v)])),
  };
}

/** A typed whole number; `fallback` when empty; anything else as typed, for the API to name. */
function whole(text, fallback) {
  const raw = String(text ?? "").trim();
  if (!raw) return fallback;
  return /^-?\d+$/.test(raw) ? Number(raw) : raw;
}

/** The event a conversion row names: paid, pix_created or the funnel event typed. */
function eventOf(goal) {
  return goal.kind === "custom" ? goal.name.trim() : goal.kind;
}

function eventLabel(goal) {
  return goal.kind === "custom" ? goal.name.trim() || t("ab.event.custom") : t(`ab.event.${goal.kind}`);
}

/**
 * The section over `values` (those of `experimentValues`, kept current). `onVariants(on)` runs
 * when "Testar variantes" flips, `readVariants()` gives the variants as the API takes them.
 * Returns `{el, payload}`.
 */
export function experimentSection({ values, onVariants, readVariants }) {
  // Variants on or off
  const toggle = h("input", { type: "checkbox", id: "ab-variants", checked: values.variants_on, "data-testid": "ab-variants" });
  toggle.addEventListener("change", () => {
    values.variants_on = toggle.checked;
    winnerField.hidden = !values.variants_on;
    onVariants(values.variants_on);
  });

  // Holdout
  const holdout = h("input", { type: "number", id: "holdout_percent", class: "input input-days", min: 0, max: 50, step: 1, value: values.holdout_percent });
  const holdoutLine = h("p", { class: "ab-sentence", "data-testid": "holdout-sentence", "aria-live": "polite" });
  function drawHoldout() {
    const n = whole(values.holdout_percent, 0);
    holdoutLine.textContent = n === 0 ? t("ab.holdout.none") : t("ab.holdout.sentence", { n: typeof n === "number" ? fmtNumber(n) : n });
  }
  holdout.addEventListener("input", () => {
    values.holdout_percent = holdout.value;
    drawHoldout();
    drawWinner();
  });

  // Conversion events
  const goalRows = h("div", { class: "goal-rows" });
  const addGoal = h("button", { type: "button", class: "btn btn-sm btn-ghost", "data-action": "add-conversion" }, "+ ", t("ab.conversion.add"));
  addGoal.addEventListener("click", () => {
    const used = new Set(values.conversions.map(eventOf));
    const kind = EVENTS.find((e) => !used.has(e)) || "custom";
    values.conversions.push({ kind, name: "", window_hours: String(DEFAULT_WINDOW_HOURS) });
    drawGoals();
    goalRows.querySelector(".goal-row:last-child select").focus();
  });
  function goalRow(goal, i) {
    const prefix = `conversions[${i}].`;
    const name = h("input", { id: `${prefix}name`, class: "input input-word", value: goal.name, placeholder: "lead_form", maxlength: 64, "aria-label": t("ab.conversion.name"), hidden: goal.kind !== "custom" });
    name.addEventListener("input", () => {
      goal.name = name.value;
      drawWinner();
    });
    const select = h(
      "select",
      { id: `${prefix}event`, class: "input input-auto", "aria-label": t("ab.conversion.event") },
      [...EVENTS, "custom"].map((k) => h("option", { value: k, selected: k === goal.kind }, t(`ab.event.${k}`))),
    );
    select.addEventListener("change", () => {
      goal.kind = select.value;
      name.hidden = goal.kind !== "custom";
      if (!name.hidden) name.focus();
      drawWinner();
    });
    const hours = h("input", { id: `${prefix}window_hours`, type: "number", class: "input input-days", min: 1, max: 720, value: goal.window_hours, "aria-label": t("ab.conversion.hours") });
    hours.addEventListener("input", () => (goal.window_hours = hours.value));
    const remove =
      values.conversions.length > 1
        ? h("button", { type: "button", class: "btn btn-icon btn-ghost", title: t("ab.conversion.remove"), "aria-label": t("ab.conversion.remove"), "data-action": "remove-conversion", on: { click: () => { values.conversions.splice(i, 1); drawGoals(); } } }, "×")
        : null;
    return h(
      "div",
      { class: ["goal-row", i === 0 ? "is-primary" : null], "data-field": `conversions[${i}]`, "data-row": i },
      h("span", { class: ["pill", i === 0 ? "pill-primary" : null] }, t(i === 0 ? "ab.conversion.primary" : "ab.conversion.secondary")),
      select,
      name,
      h("span", { class: "filter-word" }, t("ab.conversion.window")),
      hours,
      h("span", { class: "filter-word" }, t("ab.conversion.hours")),
      remove,
      h("p", { class: "field-error", role: "alert" }),
    );
  }
  function drawGoals() {
    replace(goalRows, values.conversions.map(goalRow));
    addGoal.hidden = values.conversions.length >= MAX_GOALS;
    drawWinner();
  }

  // Winner mode
  const winnerBox = h("input", { type: "checkbox", id: "winner", checked: values.winner_on, "data-testid": "ab-winner" });
  const winnerLine = h("p", { class: "ab-sentence", "data-testid": "winner-sentence" });
  const number = (key, min, max) => {
    const input = h("input", { id: `winner.${key}`, type: "number", class: ["input", key === "min_sample" ? "input-count" : "input-days"], min, max, value: values.winner[key] });
    input.addEventListener("input", () => {
      values.winner[key] = input.value;
      drawWinner();
    });
    return input;
  };
  const winnerInputs = [number("test_percent", 5, 50), number("wait_hours", 1, 168), number("min_sample", 10, 1000000)];
  const [testInput, waitInput, minInput] = winnerInputs;
  winnerBox.addEventListener("change", () => {
    values.winner_on = winnerBox.checked;
    winnerDetail.hidden = !values.winner_on;
    drawWinner();
  });
  function drawWinner() {
    const shown = (key) => {
      const n = whole(values.winner[key], WINNER[key]);
      return typeof n === "number" ? fmtNumber(n) : n;
    };
    winnerLine.textContent = t("ab.winner.sentence", { test: shown("test_percent"), wait: shown("wait_hours"), min: shown("min_sample"), event: eventLabel(values.conversions[0]) });
  }
  const winnerDetail = h(
    "div",
    { class: "ab-winner-detail", hidden: !values.winner_on },
    h(
      "div",
      { class: "ab-winner-row" },
      h("label", { class: "filter-word", for: testInput.id }, t("ab.winner.test")),
      testInput,
      h("span", { class: "filter-word" }, t("ab.winner.test.unit")),
      h("span", { class: "ab-sep", "aria-hidden": "true" }, "·"),
      h("label", { class: "filter-word", for: waitInput.id }, t("ab.winner.wait")),
      waitInput,
      h("span", { class: "filter-word" }, t("ab.winner.wait.unit")),
      h("span", { class: "ab-sep", "aria-hidden": "true" }, "·"),
      h("label", { class: "filter-word", for: minInput.id }, t("ab.winner.min")),
      minInput,
      h("span", { class: "filter-word" }, t("ab.winner.min.unit")),
    ),
    winnerLine,
  );
  const winnerField = h(
    "div",
    { class: "field ab-winner", "data-field": "winner", hidden: !values.variants_on },
    h("label", { class: "check" }, winnerBox, " ", t("ab.winner")),
    winnerDetail,
    h("p", { class: "field-error", role: "alert" }),
  );

  drawHoldout();
  drawGoals();
  const holdoutField = field("holdout_percent", t("ab.holdout"), h("div", { class: "ab-inline" }, holdout, h("span", { class: "unit" }, "%"), holdoutLine));
  holdoutField.querySelector("label").htmlFor = holdout.id;
  const el = h(
    "fieldset",
    { class: "ab-section", "data-testid": "ab-section", "data-field": "experiment" },
    h("legend", { class: "ab-title" }, t("ab.title")),
    h("p", { class: "field-help" }, t("ab.lead")),
    h("p", { class: "field-error", role: "alert" }),
    h("div", { class: "field", "data-field": "variants_on" }, h("label", { class: "check" }, toggle, " ", t("ab.variants.toggle")), h("p", { class: "field-help" }, t("ab.variants.help"))),
    holdoutField,
    field("conversions", t("ab.conversions"), h("div", { class: "goals" }, goalRows, addGoal), t("ab.conversions.help")),
    winnerField,
  );

  return {
    el,
    /** The four fields as the API takes them. */
    payload() {
      const on = values.variants_on;
      return {
        variants: on ? readVariants() : null,
        holdout_percent: whole(values.holdout_percent, 0),
        conversions: values.conversions.map((g) => ({ event: eventOf(g), window_hours: whole(g.window_hours, DEFAULT_WINDOW_HOURS) })),
        winner: on && values.winner_on ? Object.fromEntries(Object.keys(WINNER).map((k) => [k, whole(values.winner[k], WINNER[k])])) : null,
      };
    },
  };
}
