// Amounts in reais as people type them ("200", "200,50", "1.234,56", "R$ 49.90") <-> cents.

import { lang } from "./i18n.js";

/**
 * Cents from a typed amount: null when empty, NaN when it is not an amount. The last "," or "."
 * followed by one or two digits is the decimal mark; any other separator groups thousands.
 */
export function parseReais(text) {
  const raw = String(text ?? "").replace(/R\$|\s|\u00a0/gi, "");
  if (!raw) return null;
  if (!/^\d[\d.,]*$/.test(raw)) return NaN;
  const last = Math.max(raw.lastIndexOf(","), raw.lastIndexOf("."));
  let whole = raw;
  let fraction = "";
  if (last >= 0 && raw.length - last - 1 <= 2) {
    whole = raw.slice(0, last);
    fraction = raw.slice(last + 1);
  }
  if (whole && !/^\d{1,3}([.,]\d{3})*$|^\d+$/.test(whole)) return NaN;
  const reais = Number(whole.replace(/[.,]/g, "") || "0");
  const cents = Number((fraction + "00").slice(0, 2));
  return reais * 100 + cents;
}

/** "200,00" (pt-BR) or "200.00" (English) for an input, from cents; "" for null. */
export function formatReais(cents) {
  if (cents === null || cents === undefined) return "";
  return new Intl.NumberFormat(lang(), { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(cents / 100);
}

/** "R$ 200,00" for reading. */
export function moneyLabel(cents) {
  return new Intl.NumberFormat(lang(), { style: "currency", currency: "BRL" }).format((cents || 0) / 100);
}
