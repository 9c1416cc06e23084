"""Registration trusts getMe only when it answers for the token's own bot."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import TOKEN, Client

BOTS = "/admin/api/bots"
# Another token of the same bot id (a new token from @BotFather), with its own getMe answer.
SAME_BOT_TOKEN = "123456789:NNHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw9"


def _secret_free(answer_text: str) -> None:
    for token in (TOKEN, SAME_BOT_TOKEN):
        assert token not in answer_text
        assert token.split(":")[1] not in answer_text


@pytest.mark.parametrize(
    ("me", "says"),
    [
        (
            {"id": 42, "username": "other_bot"},
            "getMe answered for bot id 42 (@other_bot), not 123456789: the token is wrong, or "
            "DISPARO_TELEGRAM_API_URL points at another server",
        ),
        (
            {"is_bot": False, "username": "ana"},
            "getMe answered for user id 123456789 (@ana), not a bot: the token is wrong, or "
            "DISPARO_TELEGRAM_API_URL points at another server",
        ),
    ],
    ids=["another-bot", "a-user"],
)
async def test_registration_refuses_a_get_me_of_someone_else(
    api: Client, sim: Client, me: dict[str, Any], says: str
) -> None:
    """getMe for another bot id, or for a user, is a 422 on `token` saying what came back."""
    await sim.post(f"/sim/bots/{TOKEN}/me", me, token=None)
    answer = await api.post(BOTS, {"slug": "loja", "token": TOKEN})
    assert answer.status == 422, answer.body
    assert answer.body["error"] == {"code": "validation_error", "message": says, "field": "token"}
    _secret_free(answer.text)
    assert (await api.get(BOTS)).body == {"items": []}


async def test_a_new_token_is_checked_the_same_way(api: Client, sim: Client) -> None:
    """PATCHing a token whose getMe answers for a user is refused; the bot keeps its token."""
    created = await api.post(BOTS, {"slug": "loja", "token": TOKEN})
    assert created.status == 201, created.body
    await sim.post(f"/sim/bots/{SAME_BOT_TOKEN}/me", {"is_bot": False}, token=None)
    answer = await api.patch(f"{BOTS}/loja", {"token": SAME_BOT_TOKEN})
    assert answer.status == 422, answer.body
    assert answer.body["error"]["field"] == "token"
    assert answer.body["error"]["message"].startswith("getMe answered for user id 123456789")
    _secret_free(answer.text)
    assert (await api.get(f"{BOTS}/loja")).body == created.body
