// What the page knows across views: the bots and which one is selected.

import { api, paths } from "./api.js";

const BOT_KEY = "disparo.bot";
const listeners = new Set();

export const state = {
  bots: [],
  slug: localStorage.getItem(BOT_KEY),
};

export function currentBot() {
  return state.bots.find((b) => b.slug === state.slug) || null;
}

/** The bot's IANA time zone (São Paulo until the bot says otherwise). */
export function botTimeZone() {
  return (currentBot() && currentBot().timezone) || "America/Sao_Paulo";
}

export function onBotChange(fn) {
  listeners.add(fn);
}

export function selectBot(slug) {
  if (slug === state.slug) return;
  state.slug = slug;
  if (slug) localStorage.setItem(BOT_KEY, slug);
  else localStorage.removeItem(BOT_KEY);
  for (const fn of listeners) fn(slug);
}

/** Reload the bots; keep the selection when it still exists, else pick the first bot. */
export async function loadBots() {
  const answer = await api("GET", paths.bots());
  state.bots = Array.isArray(answer) ? answer : answer.items || [];
  if (!state.bots.some((b) => b.slug === state.slug)) {
    const first = state.bots.length ? state.bots[0].slug : null;
    state.slug = first;
    if (first) localStorage.setItem(BOT_KEY, first);
  }
  return state.bots;
}
