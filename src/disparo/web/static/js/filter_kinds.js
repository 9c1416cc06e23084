// The conditions a filter row can hold: how each reads from and writes to its leaf of the API's
// filter tree, its inputs, its checks, and the sentence that describes it.

import { fmtNumber, t } from "./i18n.js";
import { formatReais, moneyLabel, parseReais } from "./money.js";

const MAX_DAYS = 3650;
const MAX_HOURS = 24 * MAX_DAYS;

/**
 * Row kinds, in the order the kind menu lists them. `fields` are the inputs (their `key` is the
 * leaf's JSON key, so an API error path such as `...paid.min_cents` finds its input); `words`
 * are the i18n keys written before each field.
 */
export const KINDS = [
  {
    id: "tag",
    fields: [{ key: "tag", type: "tag", required: true }],
    matches: (leaf) => typeof leaf.tag === "string",
    read: (leaf) => ({ tag: leaf.tag }),
    write: (v) => ({ tag: v.tag }),
  },
  {
    id: "pix_older",
    fields: [{ key: "older_than_days", type: "days", required: true, unit: "filter.unit.daysAgo" }],
    matches: (leaf) => isObject(leaf.last_pix) && keysAre(leaf.last_pix, ["older_than_days"]),
    read: (leaf) => ({ older_than_days: leaf.last_pix.older_than_days }),
    write: (v) => ({ last_pix: { older_than_days: v.older_than_days } }),
  },
  {
    id: "pix_within",
    fields: [{ key: "within_days", type: "days", required: true, unit: "filter.unit.days" }],
    matches: (leaf) => isObject(leaf.last_pix) && keysAre(leaf.last_pix, ["within_days"]),
    read: (leaf) => ({ within_days: leaf.last_pix.within_days }),
    write: (v) => ({ last_pix: { within_days: v.within_days } }),
  },
  {
    id: "paid",
    fields: [
      { key: "min_cents", type: "money", word: "filter.word.from" },
      { key: "max_cents", type: "money", word: "filter.word.to" },
      { key: "within_days", type: "days", word: "filter.word.within", unit: "filter.unit.days" },
    ],
    matches: (leaf) => isObject(leaf.paid) && keysAre(leaf.paid, ["min_cents", "max_cents", "within_days"]),
    read: (leaf) => ({ ...leaf.paid }),
    write: (v) => ({ paid: compact(v, ["min_cents", "max_cents", "within_days"]) }),
  },
  {
    id: "total_paid",
    fields: [
      { key: "min_cents", type: "money", word: "filter.word.atLeast" },
      { key: "max_cents", type: "money", word: "filter.word.atMost" },
    ],
    oneOf: ["min_cents", "max_cents"],
    matches: (leaf) => isObject(leaf.total_paid) && keysAre(leaf.total_paid, ["min_cents", "max_cents"]),
    read: (leaf) => ({ ...leaf.total_paid }),
    write: (v) => ({ total_paid: compact(v, ["min_cents", "max_cents"]) }),
  },
  {
    id: "event",
    fields: [
      { key: "name", type: "text", required: true, placeholder: "checkout_aberto" },
      { key: "within_days", type: "days", word: "filter.word.within", unit: "filter.unit.days" },
    ],
    matches: (leaf) => isObject(leaf.event) && keysAre(leaf.event, ["name", "within_days"]),
    read: (leaf) => ({ ...leaf.event }),
    write: (v) => ({ event: compact(v, ["name", "within_days"]) }),
  },
  {
    id: "language",
    fields: [{ key: "language", type: "languages", required: true, placeholder: "pt, es" }],
    matches: (leaf) => Array.isArray(leaf.language) && leaf.language.every((c) => typeof c === "string"),
    read: (leaf) => ({ language: leaf.language }),
    write: (v) => ({ language: v.language }),
  },
  days("started", "started"),
  days("interacted", "interacted"),
  {
    id: "received_shot",
    fields: [{ key: "within_hours", type: "hours", required: true, unit: "filter.unit.hours" }],
    matches: (leaf) => isObject(leaf.received_shot) && keysAre(leaf.received_shot, ["within_hours"]),
    read: (leaf) => ({ within_hours: leaf.received_shot.within_hours }),
    write: (v) => ({ received_shot: { within_hours: v.within_hours } }),
  },
];

function days(id, name) {
  return {
    id,
    fields: [{ key: "within_days", type: "days", required: true, unit: "filter.unit.days" }],
    matches: (leaf) => isObject(leaf[name]) && keysAre(leaf[name], ["within_days"]),
    read: (leaf) => ({ within_days: leaf[name].within_days }),
    write: (v) => ({ [name]: { within_days: v.within_days } }),
  };
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function keysAre(obj, allowed) {
  return Object.keys(obj).every((k) => allowed.includes(k));
}

function compact(values, keys) {
  const out = {};
  for (const k of keys) if (values[k] !== null && values[k] !== undefined && values[k] !== "") out[k] = values[k];
  return out;
}

export const KIND_BY_ID = Object.fromEntries(KINDS.map((k) => [k.id, k]));

/** The row kind that shows `leaf` (a one-key object), or null. */
export function kindOf(leaf) {
  if (!isObject(leaf) || Object.keys(leaf).length !== 1) return null;
  return KINDS.find((k) => k.matches(leaf)) || null;
}

/** An input's text for a stored value. */
export function fieldText(field, value) {
  if (value === null || value === undefined) return "";
  if (field.type === "money") return formatReais(value);
  if (field.type === "languages") return value.join(", ");
  return String(value);
}

/**
 * A typed value from an input's text: `{value}` or `{error}` (an i18n key). Empty optional
 * fields give `{value: null}`.
 */
export function parseField(field, text) {
  const raw = text.trim();
  if (!raw) return field.required ? { error: "filter.error.required" } : { value: null };
  if (field.type === "days" || field.type === "hours") {
    const high = field.type === "days" ? MAX_DAYS : MAX_HOURS;
    const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
    return n >= 1 && n <= high ? { value: n } : { error: field.type === "days" ? "filter.error.days" : "filter.error.hours" };
  }
  if (field.type === "money") {
    const cents = parseReais(raw);
    return Number.isFinite(cents) ? { value: cents } : { error: "filter.error.money" };
  }
  if (field.type === "languages") {
    const codes = raw.toLowerCase().split(/[\s,;]+/).filter(Boolean);
    return codes.every((c) => /^[a-z]{2,3}$/.test(c)) ? { value: [...new Set(codes)] } : { error: "filter.error.language" };
  }
  return { value: raw };
}

/** "Tag é vip", "Pagou no total ≥ R$ 200,00": one leaf as a sentence. */
export function describeLeaf(leaf) {
  const kind = kindOf(leaf);
  if (!kind) return t("filter.advanced");
  const v = kind.read(leaf);
  const parts = [t(`filter.kind.${kind.id}`)];
  for (const field of kind.fields) {
    const value = v[field.key];
    if (value === null || value === undefined) continue;
    if (field.word) parts.push(t(field.word));
    if (field.type === "money") parts.push(moneyLabel(value));
    else if (field.type === "days" || field.type === "hours") parts.push(fmtNumber(value));
    else if (field.type === "languages") parts.push(value.join(", "));
    else parts.push(String(value));
    if (field.unit) parts.push(t(field.unit));
  }
  return parts.join(" ");
}
