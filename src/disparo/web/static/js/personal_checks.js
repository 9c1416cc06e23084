// Warnings under the copy when it uses personal variables: how many of the audience's contacts
// lack each value (from the estimate's `missing`), how many copies could pass Telegram's limit,
// an unknown variable; and "Enviar mesmo assim" (accept_too_long) once the API refuses a copy
// that some values could make too long.

import { ApiError, api, paths } from "./api.js";
import { debounce, h, replace } from "./dom.js";
import { hasVariables } from "./editor.js";
import { fmtNumber, t } from "./i18n.js";
import { copyLimit } from "./tghtml.js";
import { variableToken } from "./variables.js";

/** Whether the API refused a copy because some contacts' values could make it too long. */
export function isTooLongRefusal(err) {
  return err instanceof ApiError && /^(variants[.[]\d+\]?\.)?copy$/.test(err.field || "") && /accept_too_long/.test(err.message || "");
}

/** The page's sentence for an unknown variable or a stray brace (the API's message), else null. */
export function variableErrorText(err) {
  return err instanceof ApiError && /unknown variable|unmatched '[{}]'/.test(err.message || "") ? t("error.variable") : null;
}

/** The variables a copy uses with no fallback: {first_name} but not {first_name|amigo}. */
function bare(copy, name) {
  const escaped = name.replace(/\./g, "\\.");
  return new RegExp(`\\{\\s*${escaped}\\s*\\}`, "g").test(copy.replace(/\{\{|\}\}/g, ""));
}

/**
 * The warnings for bot `slug` (or a function giving it): `content()` gives `{copy, media_type,
 * buttons}` (the API's buttons), `audience()` the estimate's audience fields (null while incomplete), `values` holds
 * `accept_too_long`, `textarea` is the copy (or a function giving it: the variant shown); a
 * suggested fallback is written into it. With
 * `allowAccept` false (templates) there is no checkbox; `scope()` may name whom the counts are
 * of. Returns `{el, refresh, showRefusal, clear}`.
 */
export function personalChecks({ slug, content, audience, values, textarea, allowAccept = true, scope = () => null }) {
  const botOf = typeof slug === "function" ? slug : () => slug;
  const copyArea = typeof textarea === "function" ? textarea : () => textarea;
  const lines = h("div", { class: "personal-lines", "aria-live": "polite" });
  const refusal = h("p", { class: "field-error", role: "alert", "data-testid": "too-long-refused" });
  const box = h("input", { type: "checkbox", id: "accept_too_long", checked: Boolean(values.accept_too_long) });
  box.addEventListener("change", () => {
    values.accept_too_long = box.checked;
    if (box.checked) {
      refusal.textContent = "";
      accept.classList.remove("has-error");
    }
  });
  const accept = h(
    "div",
    { class: "field accept-long", "data-field": "accept_too_long", hidden: !allowAccept || !values.accept_too_long },
    h("label", { class: "check" }, box, " ", t("vars.accept")),
    h("p", { class: "field-help" }, t("vars.accept.help")),
    refusal,
  );
  const el = h("div", { class: "personal-checks", "data-testid": "personal-checks", hidden: true }, lines, allowAccept ? accept : null);
  let asked = 0;

  function show(items) {
    replace(lines, items);
    el.hidden = !items.length && accept.hidden;
  }

  function missingLine(name, n) {
    const token = variableToken(name);
    const lead = t(n === 1 ? "vars.missing.one" : "vars.missing", { n: fmtNumber(n), name });
    const area = copyArea();
    const canFix = token.fallback && area && bare(area.value, name);
    return h(
      "p",
      { class: "personal-line personal-missing", "data-testid": `missing-${name}`, "data-count": n },
      lead,
      " — ",
      token.fallback ? [t("vars.missing.use"), " ", h("code", {}, token.text)] : [t("vars.missing.fallback"), " ", h("code", {}, `{${name}|…}`)],
      canFix ? h("button", { type: "button", class: "btn btn-sm btn-ghost personal-fix", "data-action": "use-fallback", on: { click: () => useFallback(name, token.text) } }, t("vars.missing.apply")) : null,
    );
  }

  /** Give every {name} of the copy the suggested fallback. */
  function useFallback(name, text) {
    const escaped = name.replace(/\./g, "\\.");
    const textarea = copyArea();
    textarea.value = textarea.value.replace(new RegExp(`(?<!\\{)\\{\\s*${escaped}\\s*\\}(?!\\})`, "g"), text);
    textarea.dispatchEvent(new Event("input"));
  }

  const refresh = debounce(async () => {
    const ticket = ++asked;
    const current = content();
    if (!hasVariables(current.copy, current.buttons ? current.buttons.flat() : [])) return show([]);
    const audienceBody = audience();
    if (!audienceBody) return show([]);
    try {
      const answer = await api("POST", paths.estimate(), { bot_slug: botOf(), ...audienceBody, copy: current.copy, buttons: current.buttons, media_type: current.media_type });
      if (ticket !== asked) return;
      const missing = Object.entries(answer.missing || {}).filter(([, n]) => n > 0);
      const items = missing.map(([name, n]) => missingLine(name, n));
      if (answer.too_long > 0) {
        const limit = fmtNumber(copyLimit(current.media_type));
        items.push(h("p", { class: "personal-line personal-long", "data-testid": "too-long-risk", "data-count": answer.too_long }, t(answer.too_long === 1 ? "vars.tooLong.one" : "vars.tooLong", { n: fmtNumber(answer.too_long), limit })));
      }
      if (!items.length) items.push(h("p", { class: "personal-line personal-ok", "data-testid": "personal-ok" }, t(answer.count === 1 ? "vars.allHave.one" : "vars.allHave", { n: fmtNumber(answer.count) })));
      if (scope()) items.unshift(h("p", { class: "personal-scope" }, scope()));
      show(items);
    } catch (err) {
      if (ticket !== asked || !(err instanceof ApiError)) return;
      const text = variableErrorText(err);
      show(text ? [h("p", { class: "personal-line personal-error", "data-testid": "variable-error" }, text, h("span", { class: "field-error-detail" }, err.message))] : []);
    }
  }, 400);

  return {
    el,
    refresh,
    /** The API refused the copy for its possible length: explain and offer the checkbox. */
    showRefusal(err) {
      accept.hidden = false;
      el.hidden = false;
      accept.classList.add("has-error");
      replace(refusal, t("vars.tooLong.refused"), h("span", { class: "field-error-detail" }, err.message));
      box.focus();
    },
    clear() {
      accept.classList.remove("has-error");
      refusal.textContent = "";
    },
  };
}
