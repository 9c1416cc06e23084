// The filter builder: rows of conditions ("Tag é vip", "não · Pagou no total ≥ R$ 200,00")
// joined by "todas" or "qualquer", read from and written to the API's filter tree. A tree the
// rows cannot show (groups inside groups) is edited as JSON. The API's errors (a path such as
// `filter.all[2].paid.min_cents`) land beside the row they name.

import { api, paths } from "./api.js";
import { debounce, h, replace } from "./dom.js";
import { fmtNumber, t } from "./i18n.js";
import { KINDS, KIND_BY_ID, describeLeaf, fieldText, kindOf, parseField } from "./filter_kinds.js";

let builders = 0;

/** Rows for a tree: `{join, rows}`, or null when the tree has nested groups. */
export function treeToRows(tree) {
  if (tree === null || tree === undefined) return { join: "all", rows: [] };
  const join = tree && typeof tree === "object" && !Array.isArray(tree) && Object.keys(tree).length === 1 && ("all" in tree || "any" in tree) ? Object.keys(tree)[0] : null;
  const items = join ? tree[join] : [tree];
  if (!Array.isArray(items) || !items.length) return null;
  const rows = [];
  for (const item of items) {
    const negated = item && typeof item === "object" && Object.keys(item).length === 1 && "not" in item;
    const leaf = negated ? item.not : item;
    const kind = kindOf(leaf);
    if (!kind) return null;
    rows.push({ kind: kind.id, negated, values: kind.read(leaf) });
  }
  return { join: join || "all", rows };
}

/** The tree for rows (null for none): always a group, so error paths name a row by index. */
export function rowsToTree(join, rows) {
  if (!rows.length) return null;
  return { [join]: rows.map((r) => (r.negated ? { not: KIND_BY_ID[r.kind].write(r.values) } : KIND_BY_ID[r.kind].write(r.values))) };
}

/** A tree in words: "Tag é vip e não Pagou no total ≥ R$ 200,00" (or "filtro avançado"). */
export function describeFilter(tree) {
  const shown = treeToRows(tree);
  if (!shown) return t("filter.advanced");
  const joiner = ` ${t(shown.join === "all" ? "filter.and" : "filter.or")} `;
  return shown.rows.map((r) => (r.negated ? t("filter.not") + " " : "") + describeLeaf(KIND_BY_ID[r.kind].write(r.values))).join(joiner);
}

const tagCache = new Map();

/** The bot's tags with their counts, fetched once a minute at most (for suggestions). */
function loadTags(slug) {
  const cached = tagCache.get(slug);
  if (cached && Date.now() - cached.at < 60000) return cached.promise;
  const promise = api("GET", paths.tags(slug)).then((a) => a.items || []).catch(() => []);
  tagCache.set(slug, { at: Date.now(), promise });
  return promise;
}

/**
 * A builder for the bot `slug`, starting from `value` (a tree or null). `onChange` runs on every
 * edit. Returns `{el, read, set, showError, clearErrors}`.
 */
export function filterBuilder({ slug, value = null, onChange = () => {}, prefix = "filter" }) {
  const n = ++builders;
  const tagList = h("datalist", { id: `filter-tags-${n}` });
  loadTags(slug).then((items) => replace(tagList, items.map((i) => h("option", { value: i.tag, label: t(i.count === 1 ? "filter.tagCount.one" : "filter.tagCount", { n: fmtNumber(i.count) }) }))));
  const el = h("div", { class: "filter", "data-testid": "filter" });
  const changed = () => onChange();
  let mode = "rows";
  let join = "all";
  let rows = [];
  let jsonText = "";

  function set(tree) {
    const shown = treeToRows(tree);
    if (shown) {
      mode = "rows";
      ({ join, rows } = shown);
    } else {
      mode = "json";
      jsonText = JSON.stringify(tree, null, 2);
    }
    draw();
  }

  function draw() {
    if (mode === "json") return drawJson();
    const joinControl = h(
      "div",
      { class: "segmented segmented-sm", role: "radiogroup", "data-group": "join", "aria-label": t("filter.join") },
      ["all", "any"].map((key) =>
        h("button", { type: "button", role: "radio", class: "segment", "aria-checked": String(key === join), "data-value": key, on: { click: () => { join = key; draw(); changed(); } } }, t(`filter.join.${key}`)),
      ),
    );
    replace(
      el,
      rows.length > 1 ? h("div", { class: "filter-head" }, h("span", {}, t("filter.match")), joinControl, h("span", {}, t("filter.match.end"))) : null,
      h("div", { class: "filter-rows" }, rows.map((row, i) => [i ? h("span", { class: "filter-joiner" }, t(join === "all" ? "filter.and" : "filter.or")) : null, drawRow(row, i)])),
      h(
        "div",
        { class: "filter-tools" },
        h("button", { type: "button", class: "btn btn-sm", "data-action": "add-condition", on: { click: addRow } }, "+ ", t("filter.add")),
        h("button", { type: "button", class: "btn btn-sm btn-ghost", "data-action": "edit-json", on: { click: toJson } }, t("filter.editJson")),
      ),
      h("p", { class: "field-error filter-error", role: "alert" }),
      tagList,
    );
  }

  function addRow() {
    rows.push({ kind: "tag", negated: false, values: {} });
    draw();
    el.querySelector(".filter-row:last-of-type [data-key]")?.focus();
    changed();
  }

  function drawRow(row, i) {
    const kind = KIND_BY_ID[row.kind];
    const kindSelect = h(
      "select",
      { class: "input input-auto", "data-role": "kind", "aria-label": t("filter.kind") },
      KINDS.map((k) => h("option", { value: k.id, selected: k.id === row.kind }, t(`filter.kind.${k.id}`))),
    );
    kindSelect.addEventListener("change", () => {
      row.kind = kindSelect.value;
      row.values = {};
      draw();
      el.querySelectorAll(".filter-row")[i]?.querySelector("[data-key]")?.focus();
      changed();
    });
    const not = h("input", { type: "checkbox", "data-role": "not", checked: row.negated, on: { change: (ev) => { row.negated = ev.target.checked; rowEl.classList.toggle("is-negated", row.negated); changed(); } } });
    const rowEl = h(
      "div",
      { class: ["filter-row", row.negated ? "is-negated" : null], "data-row": i, "data-kind": row.kind },
      h("label", { class: "check filter-not", title: t("filter.not.help") }, not, t("filter.not")),
      kindSelect,
      h("span", { class: "filter-fields" }, kind.fields.map((f) => drawField(row, f))),
      h("button", { type: "button", class: "btn btn-icon btn-ghost", title: t("filter.remove"), "aria-label": t("filter.remove"), "data-action": "remove-condition", on: { click: () => { rows.splice(i, 1); draw(); changed(); } } }, "×"),
      h("p", { class: "field-error", role: "alert" }),
    );
    return rowEl;
  }

  function drawField(row, field) {
    const input = h("input", {
      class: ["input", field.type === "days" || field.type === "hours" ? "input-days" : field.type === "money" ? "input-money" : "input-word"],
      "data-key": field.key,
      type: "text",
      inputmode: field.type === "days" || field.type === "hours" ? "numeric" : field.type === "money" ? "decimal" : null,
      placeholder: field.placeholder || (field.type === "money" ? "0,00" : field.required ? "" : t("filter.optional")),
      list: field.type === "tag" ? tagList.id : null,
      "aria-label": t(`filter.field.${field.key}`),
      value: fieldText(field, row.values[field.key]),
    });
    row.texts = row.texts || {};
    row.texts[field.key] = input.value;
    input.addEventListener("input", () => {
      row.texts[field.key] = input.value;
      const parsed = parseField(field, input.value);
      if (!parsed.error) row.values[field.key] = parsed.value;
      changed();
    });
    const core = field.type === "money" ? h("span", { class: "money" }, h("span", { class: "money-prefix" }, "R$"), input) : input;
    return [field.word ? h("span", { class: "filter-word" }, t(field.word)) : null, core, field.unit ? h("span", { class: "filter-word" }, t(field.unit)) : null];
  }

  function toJson() {
    const answer = read();
    jsonText = JSON.stringify(answer.ok ? answer.value : rowsToTree(join, rows), null, 2) || "";
    mode = "json";
    draw();
    changed();
  }

  function drawJson() {
    const area = h("textarea", { class: "input mono filter-json", rows: 8, spellcheck: "false", "data-testid": "filter-json", "aria-label": t("filter.json") });
    area.value = jsonText;
    const back = h("button", { type: "button", class: "btn btn-sm", "data-action": "edit-rows" }, t("filter.editRows"));
    const note = h("p", { class: "field-help filter-note" });
    const refresh = () => {
      const parsed = parseJson(jsonText);
      const shown = parsed.ok ? treeToRows(parsed.value) : null;
      back.disabled = !shown;
      note.textContent = parsed.ok && !shown ? t("filter.json.nested") : t("filter.json.help");
    };
    area.addEventListener("input", () => {
      jsonText = area.value;
      refresh();
      debouncedChange();
    });
    back.addEventListener("click", () => {
      const parsed = parseJson(jsonText);
      const shown = parsed.ok && treeToRows(parsed.value);
      if (!shown) return;
      mode = "rows";
      ({ join, rows } = shown);
      draw();
      changed();
    });
    refresh();
    replace(el, note, area, h("div", { class: "filter-tools" }, back), h("p", { class: "field-error filter-error", role: "alert" }), tagList);
  }
  const debouncedChange = debounce(changed, 300);

  /** `{ok: true, value}` (the tree, or null), or `{ok: false}` after marking what is missing. */
  function read({ show = false } = {}) {
    if (show) clearErrors();
    if (mode === "json") {
      const parsed = parseJson(jsonText);
      if (!parsed.ok && show) general(t("filter.error.json", { message: parsed.message }));
      return parsed;
    }
    let ok = true;
    rows.forEach((row, i) => {
      const kind = KIND_BY_ID[row.kind];
      for (const field of kind.fields) {
        const parsed = parseField(field, (row.texts && row.texts[field.key]) || "");
        if (parsed.error) {
          ok = false;
          if (show) rowError(i, t(parsed.error), field.key);
        }
      }
      if (kind.oneOf && kind.oneOf.every((k) => row.values[k] === null || row.values[k] === undefined)) {
        ok = false;
        if (show) rowError(i, t("filter.error.oneOf"), kind.oneOf[0]);
      }
    });
    return ok ? { ok, value: rowsToTree(join, rows) } : { ok };
  }

  function rowError(i, message, key, detail) {
    const rowEl = el.querySelectorAll(".filter-row")[i];
    if (!rowEl) return general(message);
    rowEl.classList.add("has-error");
    const slot = rowEl.querySelector(".field-error");
    if (slot.textContent) slot.append(" ");
    slot.append(message);
    if (detail) slot.append(h("span", { class: "field-error-detail" }, detail));
    const input = (key && rowEl.querySelector(`[data-key="${key}"]`)) || rowEl.querySelector("[data-key]");
    if (input) input.setAttribute("aria-invalid", "true");
  }

  function general(message) {
    const slot = el.querySelector(".filter-error");
    el.classList.add("has-error");
    if (slot) slot.textContent = message;
  }

  /** Show an API error whose `field` is under `prefix` beside its row; false if not ours. */
  function showError(path, message) {
    if (!path || (path !== prefix && !path.startsWith(prefix + ".") && !path.startsWith(prefix + "["))) return false;
    clearErrors(); // the API names one problem at a time: the latest answer's stands alone
    const rest = path.slice(prefix.length);
    const head = mode === "rows" ? /^\.(?:all|any)\[(\d+)\](?:\.not)?/.exec(rest) : null;
    if (head && Number(head[1]) < rows.length) {
      // The API's message follows the node's path: keep the part inside the row before it
      // ("paid.min_cents: is above max_cents"); its second name is the input to mark.
      const inRow = rest.slice(head[0].length).replace(/^\./, "");
      const key = inRow.split(/[.[]/)[1];
      rowError(Number(head[1]), t("filter.error.server"), key, inRow ? `${inRow}: ${message}` : message);
    } else general(mode === "json" && rest ? `${path}: ${message}` : message);
    return true;
  }

  function clearErrors() {
    el.classList.remove("has-error");
    for (const holder of el.querySelectorAll(".has-error")) holder.classList.remove("has-error");
    for (const slot of el.querySelectorAll(".field-error")) slot.textContent = "";
    for (const input of el.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  }

  set(value);
  return { el, read, set, showError, clearErrors, isEmpty: () => mode === "rows" && !rows.length };
}

function parseJson(text) {
  if (!text.trim()) return { ok: true, value: null };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, message: err.message };
  }
}
