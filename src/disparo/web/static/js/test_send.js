// "Enviar teste": the shot form's card that sends the saved message to a single chat.

import { ApiError, api, paths } from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";
import { clearFieldErrors, field, showFieldError, showServerError, toast } from "./ui.js";

/** The card; only a saved shot (`mode` "edit", shot `id`) can be tested. */
export function testSendCard(mode, id) {
  const input = h("input", { type: "text", inputmode: "numeric", id: "test_chat", class: "input", placeholder: "123456789", disabled: mode !== "edit" });
  const button = h("button", { type: "button", class: "btn", "data-testid": "send-test", disabled: mode !== "edit" }, t("form.test"));
  const testField = field(
    "telegram_id",
    t("form.test.chat"),
    h("div", { class: "test-row" }, input, button),
    mode === "edit" ? t("form.test.help") : t("form.test.saveFirst"),
  );
  testField.querySelector("label").htmlFor = "test_chat";
  const card = h("div", { class: "card test-card" }, h("h2", { class: "card-title" }, t("form.test")), testField);
  button.addEventListener("click", async () => {
    clearFieldErrors(card);
    const chat = input.value.trim();
    if (!/^-?\d+$/.test(chat)) {
      showFieldError(card, "telegram_id", t("form.required"));
      return;
    }
    button.disabled = true;
    try {
      await api("POST", paths.shotAction(id, "test"), { telegram_id: Number(chat) });
      toast(t("form.test.sent", { id: chat }));
    } catch (err) {
      if (!(err instanceof ApiError) || !showServerError(card, err, "telegram_id")) toast(err.message, "error");
    } finally {
      button.disabled = false;
    }
  });
  return card;
}
