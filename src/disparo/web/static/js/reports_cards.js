// The report's figures as the page writes them: the totals cards, the notice when clicks are not
// counted, and the shots of the period ranked by revenue per recipient, each with its funnel.

import { h } from "./dom.js";
import { fmtNumber, lang, t } from "./i18n.js";
import { moneyLabel } from "./money.js";

/** A rate (fraction 0..1) as "4,1%"; "—" when there is none (nothing to divide by). */
export function pct(ratio) {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return t("common.none");
  return new Intl.NumberFormat(lang(), { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(ratio);
}

/** `n / of` as a rate, null when `of` is zero. */
export function share(n, of) {
  return of ? n / of : null;
}

/** A date of the report ("2026-11-07") as the page writes dates: 07/11/2026. */
export function fmtDay(iso, opts = { dateStyle: "short" }) {
  return new Intl.DateTimeFormat(lang(), { ...opts, timeZone: "UTC" }).format(new Date(`${iso}T00:00:00Z`));
}

/** Why clicks are not counted, and where the fix is documented. */
export function trackingNotice(tracking) {
  if (!tracking || tracking.enabled) return null;
  return h(
    "div",
    { class: "report-notice", role: "note", "data-testid": "tracking-off" },
    h("h2", { class: "report-notice-title" }, t("reports.tracking.title")),
    h("p", {}, t("reports.tracking.body")),
    tracking.reason ? h("p", { class: "muted small" }, t("reports.tracking.detail", { reason: tracking.reason })) : null,
  );
}

function card(key, label, value, sub, testid) {
  return h(
    "div",
    { class: ["report-stat", `report-stat-${key}`], "data-testid": testid || `total-${key}` },
    h("span", { class: "report-stat-label" }, label),
    h("span", { class: "report-stat-value", "data-testid": "value" }, value),
    sub ? h("span", { class: "report-stat-sub" }, sub) : null,
  );
}

/** The period's totals as cards: recipients, delivered, blocked, clicked, replies, PIX, paid, revenue. */
export function totalsCards(totals, tracking) {
  const tracked = !tracking || tracking.enabled;
  const lost = (totals.blocked || 0) + (totals.deactivated || 0);
  return h(
    "section",
    { class: "card report-totals", "aria-labelledby": "report-totals-title" },
    h("h2", { class: "card-title", id: "report-totals-title" }, t("reports.totals")),
    h(
      "div",
      { class: "report-stats", "data-testid": "report-totals" },
      card("recipients", t("reports.card.recipients"), fmtNumber(totals.recipients), totals.shots === 1 ? t("reports.card.recipients.sub.one") : t("reports.card.recipients.sub", { n: fmtNumber(totals.shots) })),
      card("delivered", t("reports.card.delivered"), fmtNumber(totals.delivered), t("reports.card.delivered.sub", { rate: pct(totals.delivery_rate) })),
      card("blocked", t("reports.card.blocked"), fmtNumber(lost), t("reports.card.blocked.sub", { rate: pct(totals.block_rate), blocked: fmtNumber(totals.blocked), deactivated: fmtNumber(totals.deactivated) })),
      tracked
        ? card("clicked", t("reports.card.clicked"), fmtNumber(totals.clicked), t(totals.clicks === 1 ? "reports.card.clicked.sub.one" : "reports.card.clicked.sub", { rate: pct(totals.click_rate), clicks: fmtNumber(totals.clicks) }))
        : card("clicked", t("reports.card.clicked"), t("common.none"), t("reports.card.clicked.off")),
      card("replies", t("reports.card.replies"), fmtNumber(totals.replies), t("reports.card.replies.sub", { rate: pct(totals.reply_rate) })),
      card("pix", t("reports.card.pix"), fmtNumber(totals.pix), t("reports.card.pix.sub", { rate: pct(share(totals.pix, totals.delivered)) })),
      card("paid", t("reports.card.paid"), fmtNumber(totals.paid), t("reports.card.paid.sub", { rate: pct(share(totals.paid, totals.delivered)) })),
      card("revenue", t("reports.card.revenue"), moneyLabel(totals.revenue_cents), totals.recipients ? t("reports.card.revenue.sub", { value: moneyLabel(totals.revenue_cents / totals.recipients) }) : null),
    ),
    h("p", { class: "field-help" }, t("reports.cohort")),
  );
}

const FUNNEL = ["audience", "delivered", "clicked", "pix", "paid"];

/** One step of a shot's funnel (audience → delivered → clicked → PIX → paid): its count over a
 * bar and the share of the audience that reached it. */
function funnelCell(shot, step, tracked) {
  if (step === "clicked" && !tracked) return h("td", { class: "num muted", "data-col": step }, t("common.none"));
  // A shot whose audience was never written counts its recipients of the period instead.
  const audience = shot.audience ?? shot.recipients ?? 0;
  const n = step === "audience" ? audience : shot[step] || 0;
  const ratio = share(n, audience);
  const bar = h("span", { class: "funnel-bar" });
  // Any count above zero stays visible, however small against the audience.
  bar.style.width = n > 0 && ratio !== null ? `max(2px, ${(100 * Math.min(1, ratio)).toFixed(2)}%)` : "0";
  return h(
    "td",
    {
      class: ["num", "funnel-cell", `funnel-${step}`],
      "data-col": step,
      "data-count": n,
      title: t("reports.funnel.step", { step: t(`reports.funnel.${step}`), n: fmtNumber(n), rate: pct(ratio) }),
    },
    h("span", { class: "funnel-count" }, fmtNumber(n)),
    h("span", { class: "funnel-track", "aria-hidden": "true" }, bar),
    step === "audience" ? null : h("span", { class: "funnel-rate" }, pct(ratio)),
  );
}

/** The period's shots, in the API's order (revenue per recipient, best first); the counts of
 * each row read as its funnel. */
export function shotsTable(shots, tracking) {
  const tracked = !tracking || tracking.enabled;
  if (!shots.length) return h("p", { class: "muted" }, t("reports.shots.empty"));
  const cols = ["id", "copy", ...FUNNEL, "revenue", "perRecipient"];
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "table report-table report-shots", "data-testid": "report-shots" },
      h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col", class: c === "copy" || c === "id" ? null : "num" }, t(`reports.col.${c}`))))),
      h(
        "tbody",
        {},
        shots.map((s) =>
          h(
            "tr",
            { "data-shot-id": s.id, "data-testid": "funnel" },
            h("th", { scope: "row", "data-col": "id" }, h("a", { href: `#/shots/${s.id}` }, `#${s.id}`)),
            h("td", { "data-col": "copy", class: "report-copy" }, h("span", { class: "report-copy-text", title: s.copy }, s.copy)),
            FUNNEL.map((step) => funnelCell(s, step, tracked)),
            h("td", { class: "num", "data-col": "revenue" }, moneyLabel(s.revenue_cents)),
            h("td", { class: "num", "data-col": "perRecipient" }, s.revenue_per_recipient_cents === null || s.revenue_per_recipient_cents === undefined ? t("common.none") : moneyLabel(s.revenue_per_recipient_cents)),
          ),
        ),
      ),
    ),
  );
}
