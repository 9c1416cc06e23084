// The shot form's audience: target chips, recency, an optional narrowing (a saved segment or a
// filter), "mensagem de serviço" (past the frequency cap), and the live estimate with what each
// rule leaves out ("1.284 contatos · excluídos: 130 bloqueados, 900 pelo filtro").

import { ApiError, api, paths } from "./api.js";
import { debounce, h, replace } from "./dom.js";
import { filterBuilder } from "./filter.js";
import { fmtNumber, t, tOr } from "./i18n.js";
import { choice, field } from "./ui.js";

const TARGETS = ["started", "pix_created"];
const NARROWINGS = ["none", "segment", "filter"];
export const EXCLUSIONS = ["blocked", "deactivated", "recency", "filter", "frequency_cap"];

/** "excluídos: 130 bloqueados, 12 pelo limite de frequência" (zeros left out), or null. */
export function exclusionsLine(excluded) {
  const parts = EXCLUSIONS.filter((k) => excluded && excluded[k] > 0).map((k) =>
    h("span", { class: "excluded-item", "data-testid": `excluded-${k}`, "data-count": excluded[k] }, t(`estimate.excluded.${k}${excluded[k] === 1 && tOr(`estimate.excluded.${k}.one`, null) ? ".one" : ""}`, { n: fmtNumber(excluded[k]) })),
  );
  if (!parts.length) return null;
  return [t("estimate.excluded"), " ", parts.flatMap((p, i) => (i ? [", ", p] : [p]))];
}

/** A bot's frequency cap in words, or null when it has none. */
export function capLine(bot) {
  if (!bot || !bot.max_shots_per_contact || !bot.cap_window_hours) return null;
  return t(bot.max_shots_per_contact === 1 ? "cap.line.one" : "cap.line", { n: fmtNumber(bot.max_shots_per_contact), hours: fmtNumber(bot.cap_window_hours) });
}

/**
 * The audience fields for bot `bot`; `values` holds target, recency, recency_days, narrowing,
 * segment_id, filter and ignore_frequency_cap and is kept current; `onChange` runs when the
 * audience changes. Returns `{el, read, query, showError, clearErrors, refresh}`.
 */
export function audienceSection({ bot, mode, values, onChange = () => {} }) {
  const slug = bot.slug;
  const estimate = h("span", { class: "estimate", "data-testid": "estimate", "aria-live": "polite" });
  const excluded = h("span", { class: "estimate-excluded", "data-testid": "estimate-excluded" });
  let asked = 0;

  const builder = filterBuilder({ slug, value: values.filter, onChange: () => refresh() });

  /** What the API takes for the narrowing: `{ok, filter, segment_id}`. */
  function narrowing({ show = false } = {}) {
    if (values.narrowing === "segment") {
      if (!values.segment_id) return { ok: false, reason: "segment" };
      return { ok: true, filter: null, segment_id: Number(values.segment_id) };
    }
    if (values.narrowing === "filter") {
      const answer = builder.read({ show });
      return answer.ok ? { ok: true, filter: answer.value, segment_id: null } : { ok: false, reason: "filter" };
    }
    return { ok: true, filter: null, segment_id: null };
  }

  /** The estimate's audience fields as they stand, or null while the narrowing is incomplete. */
  function query() {
    const narrowed = narrowing();
    if (!narrowed.ok) return null;
    const body = { target: values.target, recency_days: values.recency ? values.recency_days : null, ignore_frequency_cap: values.ignore_frequency_cap };
    if (narrowed.filter) body.filter = narrowed.filter;
    if (narrowed.segment_id) body.segment_id = narrowed.segment_id;
    return body;
  }

  const refresh = debounce(async () => {
    const ticket = ++asked;
    onChange();
    const narrowed = narrowing();
    if (!narrowed.ok) {
      estimate.dataset.count = "";
      estimate.textContent = t(narrowed.reason === "segment" ? "estimate.pickSegment" : "estimate.finishFilter");
      replace(excluded);
      return;
    }
    estimate.textContent = t("form.estimate.loading");
    estimate.classList.add("is-loading");
    const body = { bot_slug: slug, ...query() };
    try {
      const answer = await api("POST", paths.estimate(), body);
      if (ticket !== asked) return;
      builder.clearErrors();
      const n = answer.count ?? 0;
      estimate.dataset.count = n;
      estimate.textContent = n === 1 ? t("form.estimate.one") : t("form.estimate", { n: fmtNumber(n) });
      replace(excluded, exclusionsLine(answer.excluded));
    } catch (err) {
      if (ticket !== asked) return;
      estimate.dataset.count = "";
      estimate.textContent = t("estimate.unavailable");
      replace(excluded);
      if (err instanceof ApiError && err.field) builder.showError(err.field, err.message);
    } finally {
      if (ticket === asked) estimate.classList.remove("is-loading");
    }
  }, 250);

  const targetChips = choice(
    "target",
    TARGETS.map((k) => [k, t(`target.${k}`), h("span", { class: "chip-sub" }, t(`target.${k}.long`))]),
    values.target,
    (v) => {
      values.target = v;
      refresh();
    },
    "chips",
  );
  if (mode === "edit") for (const chip of targetChips.children) chip.disabled = true;
  const recencyDays = h("input", {
    type: "number",
    id: "recency_days",
    min: 1,
    max: 3650,
    class: "input input-narrow",
    value: String(values.recency_days),
    disabled: !values.recency,
    on: {
      input: (ev) => {
        values.recency_days = Math.max(1, parseInt(ev.target.value, 10) || 1);
        refresh();
      },
    },
  });
  const recencyBox = h("input", {
    type: "checkbox",
    id: "recency",
    checked: values.recency,
    on: {
      change: (ev) => {
        values.recency = ev.target.checked;
        recencyDays.disabled = !values.recency;
        refresh();
      },
    },
  });

  // Narrowing: none, a saved segment, or a filter
  const segmentSelect = h("select", { id: "segment_id", class: "input", "aria-label": t("narrow.segment") }, h("option", { value: "" }, t("common.loading")));
  segmentSelect.addEventListener("change", () => {
    values.segment_id = segmentSelect.value || null;
    refresh();
  });
  const segmentHelp = h("p", { class: "field-help" });
  const segmentField = field("segment_id", null, segmentSelect);
  segmentField.append(segmentHelp);
  const filterField = h("div", { class: "field", "data-field": "filter" }, builder.el);
  function showNarrowing() {
    segmentField.hidden = values.narrowing !== "segment";
    filterField.hidden = values.narrowing !== "filter";
  }
  const narrowChoice = choice(
    "narrowing",
    NARROWINGS.map((k) => [k, t(`narrow.${k}`)]),
    values.narrowing,
    (v) => {
      values.narrowing = v;
      showNarrowing();
      refresh();
    },
    "segmented",
  );
  showNarrowing();
  api("GET", paths.segments(slug))
    .then((answer) => {
      const items = answer.items || [];
      replace(
        segmentSelect,
        h("option", { value: "" }, t(items.length ? "narrow.segment.pick" : "narrow.segment.none")),
        items.map((s) => h("option", { value: String(s.id), selected: String(s.id) === String(values.segment_id) }, `${s.name} (${fmtNumber(s.count)})`)),
      );
      const missing = values.segment_id && !items.some((s) => String(s.id) === String(values.segment_id));
      if (missing) values.segment_id = null;
      replace(segmentHelp, items.length ? null : [t("narrow.segment.empty"), " ", h("a", { href: "#/segments/new" }, t("segments.new"))]);
      if (values.narrowing === "segment") refresh();
    })
    .catch(() => replace(segmentSelect, h("option", { value: "" }, t("common.error"))));

  const ignoreCap = h("input", {
    type: "checkbox",
    id: "ignore_frequency_cap",
    checked: values.ignore_frequency_cap,
    on: {
      change: (ev) => {
        values.ignore_frequency_cap = ev.target.checked;
        refresh();
      },
    },
  });

  const el = [
    field(
      "target",
      t("form.audience"),
      h("div", { class: "audience-row" }, targetChips, h("span", { class: "estimate-line" }, estimate, excluded)),
      mode === "edit" ? t("form.audience.locked") : t("form.audience.help"),
    ),
    h(
      "div",
      { class: "field field-inline", "data-field": "recency_days" },
      h("label", { class: "check" }, recencyBox, " ", t("form.recency")),
      recencyDays,
      h("span", { class: "unit" }, t("form.recency.days")),
      h("p", { class: "field-error", role: "alert" }),
    ),
    h("div", { class: "field narrowing", "data-field": "narrowing" }, h("span", { class: "field-label" }, t("narrow.title")), narrowChoice, h("p", { class: "field-help" }, t("narrow.help")), segmentField, filterField),
    h(
      "div",
      { class: "field", "data-field": "ignore_frequency_cap" },
      h("label", { class: "check" }, ignoreCap, " ", t("form.ignoreCap")),
      h("p", { class: "field-help" }, capLine(bot) ? `${t("form.ignoreCap.help")} ${capLine(bot)}` : t("form.ignoreCap.nocap")),
      h("p", { class: "field-error", role: "alert" }),
    ),
  ];

  return {
    el,
    refresh,
    query,
    /** The audience part of the shot's payload, or null after marking what is missing. */
    read() {
      const narrowed = narrowing({ show: true });
      if (!narrowed.ok) {
        if (narrowed.reason === "segment") {
          segmentField.classList.add("has-error");
          segmentField.querySelector(".field-error").textContent = t("narrow.segment.required");
        }
        return null;
      }
      return {
        recency_days: values.recency ? values.recency_days : null,
        filter: narrowed.filter,
        segment_id: narrowed.segment_id,
        ignore_frequency_cap: values.ignore_frequency_cap,
      };
    },
    showError: (err) => builder.showError(err.field, err.message),
    clearErrors: () => builder.clearErrors(),
  };
}
