// The shot form's sending rules: an expiry (a time in the bot's zone after which nobody else
// receives the shot) and stopping for contacts who convert (generate a PIX, or pay) meanwhile.

import { h } from "./dom.js";
import { t } from "./i18n.js";
import { instantToWall, offsetLabel, wallToInstant } from "./timezone.js";
import { choice, field, showFieldError } from "./ui.js";

const STOPS = ["none", "pix_created", "paid"];

/** `values` holds expires (bool), expires_wall, stop_on, track_clicks and track_copy_links;
 * returns `{el, read}`. */
export function rulesSection({ values, timeZone }) {
  const wall = h("input", {
    type: "datetime-local",
    id: "expires_at",
    class: "input",
    value: values.expires_wall,
    disabled: !values.expires,
    on: {
      input: (ev) => {
        values.expires_wall = ev.target.value;
        hint();
      },
    },
  });
  const help = h("p", { class: "field-help" });
  function hint() {
    const instant = wallToInstant(values.expires_wall, timeZone) || new Date();
    help.textContent = t("form.when.tz", { tz: timeZone, offset: offsetLabel(instant, timeZone) });
  }
  const box = h("input", {
    type: "checkbox",
    id: "expires",
    checked: values.expires,
    on: {
      change: (ev) => {
        values.expires = ev.target.checked;
        wall.disabled = !values.expires;
        if (values.expires) wall.focus();
      },
    },
  });
  const stopChoice = choice(
    "stop_on",
    STOPS.map((k) => [k, t(`stopOn.${k}`)]),
    values.stop_on || "none",
    (v) => {
      values.stop_on = v === "none" ? null : v;
    },
    "segmented",
  );
  function check(key, label) {
    const input = h("input", {
      type: "checkbox",
      id: key,
      checked: values[key],
      on: { change: (ev) => (values[key] = ev.target.checked) },
    });
    return h("label", { class: "check" }, input, " ", label);
  }
  hint();
  const el = [
    h(
      "div",
      { class: "field", "data-field": "expires_at" },
      h("div", { class: "expiry-row" }, h("label", { class: "check" }, box, " ", t("expiry.label")), wall),
      help,
      h("p", { class: "field-help" }, t("expiry.help")),
      h("p", { class: "field-error", role: "alert" }),
    ),
    field("stop_on", t("stopOn.title"), stopChoice, t("stopOn.help")),
    field(
      "track_clicks",
      t("track.title"),
      h(
        "div",
        { class: "checks" },
        check("track_clicks", t("track.clicks")),
        check("track_copy_links", t("track.copy")),
      ),
      t("track.help"),
    ),
  ];
  return {
    el,
    /** `{expires_at, stop_on, track_*}` for the payload, or null after marking a missing expiry. */
    read(form) {
      let expires = null;
      if (values.expires) {
        const instant = wallToInstant(values.expires_wall, timeZone);
        if (!instant) {
          showFieldError(form, "expires_at", t("form.required"));
          return null;
        }
        expires = instant.toISOString();
      }
      const tracking = { track_clicks: values.track_clicks, track_copy_links: values.track_copy_links };
      return { expires_at: expires, stop_on: values.stop_on || null, ...tracking };
    },
  };
}

/** The rule fields' starting values, from a stored shot (or defaults). */
export function rulesValues(shot, timeZone, { keepExpiry }) {
  const later = new Date(Date.now() + 24 * 60 * 60 * 1000);
  const expiry = keepExpiry && shot && shot.expires_at ? new Date(shot.expires_at) : null;
  return {
    expires: Boolean(expiry),
    expires_wall: expiry ? instantToWall(expiry, timeZone) : instantToWall(later, timeZone).slice(0, 14) + "00",
    stop_on: (shot && shot.stop_on) || null,
    track_clicks: shot ? shot.track_clicks !== false : true,
    track_copy_links: Boolean(shot && shot.track_copy_links),
  };
}
