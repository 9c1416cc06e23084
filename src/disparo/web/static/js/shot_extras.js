// What a shot card and the stats page add about a shot's audience and rules: its narrowing (a
// segment or a filter), its expiry, stopping on conversion, the frequency cap waived, its A/B
// test (variants, holdout, winner mode), and the wait for the bot's quiet hours to end.

import { h } from "./dom.js";
import { describeFilter } from "./filter.js";
import { fmtDateTime, t } from "./i18n.js";

function clock(iso, timeZone) {
  const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  try {
    return new Intl.DateTimeFormat("pt-BR", { ...options, timeZone }).format(new Date(iso));
  } catch {
    return new Intl.DateTimeFormat("pt-BR", options).format(new Date(iso));
  }
}

/** "Aguardando o fim do horário silencioso (até 08:00)" while the shot waits for it, else null. */
export function quietNote(shot, timeZone) {
  if (!shot.quiet_until) return null;
  return h("p", { class: "shot-quiet", "data-testid": "quiet-until", "data-until": shot.quiet_until }, t("shots.quietUntil", { time: clock(shot.quiet_until, timeZone) }));
}

/** Chips for the narrowing and the rules; `segments` maps ids to names when known. */
export function shotRuleChips(shot, timeZone, segments) {
  const chips = [];
  if (shot.segment_id) {
    const name = segments && segments.get(String(shot.segment_id));
    chips.push(h("span", { class: "chip chip-static chip-narrow", "data-testid": "chip-segment" }, t("shots.segment", { name: name || `#${shot.segment_id}` })));
  } else if (shot.filter) {
    chips.push(h("span", { class: "chip chip-static chip-narrow", "data-testid": "chip-filter", title: describeFilter(shot.filter) }, t("shots.filter")));
  }
  if (shot.expires_at) chips.push(h("span", { class: "chip chip-static", "data-testid": "chip-expires" }, t("shots.expiresAt", { when: fmtDateTime(shot.expires_at, timeZone) })));
  if (shot.stop_on) chips.push(h("span", { class: "chip chip-static", "data-testid": "chip-stop-on" }, t(`shots.stopOn.${shot.stop_on}`)));
  if (shot.ignore_frequency_cap) chips.push(h("span", { class: "chip chip-static", "data-testid": "chip-service" }, t("shots.service")));
  return [...chips, ...experimentChips(shot)];
}

/** "A/B · 2 variantes" (the names and weights on hover), "controle 10 %", "vencedora automática". */
export function experimentChips(shot) {
  const chips = [];
  const variants = shot.variants || [];
  if (variants.length) {
    const names = variants.map((v) => `${v.name} (${v.weight})`).join(" · ");
    chips.push(h("span", { class: "chip chip-static chip-ab", "data-testid": "chip-variants", "data-count": variants.length, title: names }, t("shots.variants", { n: variants.length })));
  }
  if (shot.holdout_percent) chips.push(h("span", { class: "chip chip-static chip-ab", "data-testid": "chip-holdout" }, t("shots.holdout", { n: shot.holdout_percent })));
  if (shot.winner && variants.length) chips.push(h("span", { class: "chip chip-static chip-ab", "data-testid": "chip-winner" }, t("shots.winner")));
  return chips;
}
