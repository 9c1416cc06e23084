// "Aplicar tag" / "Remover tag" on a segment's card: one tag put on (or taken off) every contact
// the segment's filter matches now (POST /bots/{slug}/tags:apply), and how many changed.

import { api, paths } from "./api.js";
import { h, replace } from "./dom.js";
import { fmtNumber, t } from "./i18n.js";
import { formDialog } from "./prompt.js";
import { toast } from "./ui.js";

/** `{buttons, result}` for `segment`: the two actions and the line that reports what changed. */
export function bulkTagActions(segment) {
  const result = h("p", { class: "tag-result", "data-testid": "tag-result", "aria-live": "polite", hidden: true });

  async function run(remove) {
    let tags = [];
    try {
      tags = ((await api("GET", paths.tags(segment.bot_slug))).items || []).map((i) => i.tag);
    } catch {
      // suggestions only
    }
    const word = remove ? "remove" : "apply";
    const answer = await formDialog({
      title: t(`tags.${word}.title`, { name: segment.name }),
      body: t(`tags.${word}.body`),
      testid: "tag-dialog",
      fields: [{ name: "tag", label: t("tags.tag"), options: tags, maxlength: 40, help: t("tags.tag.help"), errorText: t("tags.tag.invalid") }],
      ok: t(`tags.${word}`),
      submit: ({ tag }) => api("POST", paths.tagsApply(segment.bot_slug), { tag, filter: segment.filter, remove }),
    });
    if (!answer) return;
    const n = answer.changed;
    const key = `tags.${remove ? "removed" : "applied"}${n === 1 ? ".one" : ""}`;
    const text = t(key, { tag: answer.tag, n: fmtNumber(n) });
    replace(result, text);
    result.dataset.changed = String(n);
    result.dataset.tag = answer.tag;
    result.hidden = false;
    toast(text);
  }

  const apply = h("button", { type: "button", class: "btn btn-sm btn-ghost", "data-action": "apply-tag", on: { click: () => run(false) } }, t("tags.apply"));
  const remove = h("button", { type: "button", class: "btn btn-sm btn-ghost", "data-action": "remove-tag", on: { click: () => run(true) } }, t("tags.remove"));
  return { buttons: [apply, remove], result };
}
