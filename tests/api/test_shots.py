"""The spec's shot routes: create, list, edit, cancel, and pause/resume/cancel while running."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from api_support import Client
from sqlalchemy import select, update

from disparo.db.engine import Database
from disparo.db.tables import shots_queue

SHOTS = "/admin/api/shots"


def new_shot(**fields: Any) -> dict[str, Any]:
    """A valid shot body, with `fields` changed."""
    return {"bot_slug": "loja", "target": "started", "copy": "<b>Oi</b>, tudo bem?", **fields}


async def set_status(db: Database, shot_id: int, status: str) -> None:
    """Move a shot as the engine would."""
    async with db.write() as conn:
        await conn.execute(
            update(shots_queue).where(shots_queue.c.id == shot_id).values(status=status)
        )


async def test_create_shot_with_defaults(api: Client, bot: dict[str, Any]) -> None:
    """A shot needs bot, target and copy; media none and scheduled_at now are the defaults."""
    before = datetime.now(UTC)
    answer = await api.post(SHOTS, new_shot())
    assert answer.status == 201, answer.body
    shot = answer.body
    assert shot["status"] == "pending"
    assert shot["media_type"] == "none"
    assert shot["media_url"] is None
    assert shot["buttons"] is None
    assert shot["copy"] == "<b>Oi</b>, tudo bem?"
    scheduled = datetime.fromisoformat(shot["scheduled_at"])
    assert scheduled.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= scheduled <= datetime.now(UTC)
    assert shot["stats"] == {
        "total": 0,
        "pending": 0,
        "sending": 0,
        "sent": 0,
        "skipped": 0,
        "error": 0,
        "unknown": 0,
        "holdout": 0,
        "progress": 0.0,
        "audience_complete": True,
    }


async def test_create_shot_with_every_field(api: Client, bot: dict[str, Any], db: Database) -> None:
    """Media, schedule (any offset, stored in UTC), recency and buttons are kept as given."""
    body = new_shot(
        target="pix_created",
        media_type="photo",
        media_url="https://example.com/promo.jpg",
        scheduled_at="2030-01-02T09:00:00-03:00",
        recency_days=7,
        buttons=[[{"text": "Pagar", "url": "https://example.com/pix"}]],
    )
    answer = await api.post(SHOTS, body)
    assert answer.status == 201, answer.body
    shot = answer.body
    assert shot["scheduled_at"] == "2030-01-02T12:00:00Z"
    assert shot["target"] == "pix_created"
    assert shot["recency_days"] == 7
    assert shot["buttons"] == [[{"text": "Pagar", "url": "https://example.com/pix"}]]
    async with db.read() as conn:
        stored = (await conn.execute(select(shots_queue))).mappings().one()
    assert stored["media_type"] == "photo"
    assert stored["scheduled_at"] == datetime(2030, 1, 2, 12, tzinfo=UTC)


async def test_create_shot_wakes_the_workers(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """Creating a shot fires the wake-up signal after its transaction commits."""
    woken: list[bool] = []
    db.on_wake(lambda: woken.append(True))
    assert (await api.post(SHOTS, new_shot())).status == 201
    assert woken == [True]


INVALID_FIELDS: list[tuple[dict[str, Any], str, str]] = [
    ({"bot_slug": "nobody"}, "bot_slug", "no bot is registered as 'nobody'"),
    ({"target": "everyone"}, "target", "started, pix_created"),
    ({"media_type": "gif"}, "media_type", "photo, video, audio, none"),
    ({"media_type": "photo"}, "media_url", "media_url is required"),
    ({"media_url": "https://example.com/a.jpg"}, "media_url", "media_type is none"),
    (
        {"media_type": "video", "media_url": "ftp://example.com/a.mp4"},
        "media_url",
        "https://",
    ),
    ({"copy": ""}, "copy", "empty"),
    ({"copy": "<b>Oi"}, "copy", "never closed"),
    ({"copy": "x" * 4097}, "copy", "4096"),
    (
        {"copy": "x" * 1025, "media_type": "photo", "media_url": "https://e.com/a.jpg"},
        "copy",
        "1024",
    ),
    ({"scheduled_at": "2030-01-02T09:00:00"}, "scheduled_at", "no UTC offset"),
    ({"scheduled_at": "amanhã"}, "scheduled_at", "ISO 8601"),
    ({"recency_days": 0}, "recency_days", "greater than or equal to 1"),
    ({"buttons": [[{"text": "Ir", "url": "javascript:alert(1)"}]]}, "buttons", "tg://"),
    ({"buttons": [[{"text": "Ir"}]]}, "buttons.0.0.url", "required"),
    ({"buttons": "yes"}, "buttons", "list"),
    ({"texto": "oi"}, "texto", "not a field"),
]


async def test_create_shot_refuses_invalid_fields(api: Client, bot: dict[str, Any]) -> None:
    """Each invalid field gets a 422 naming it and saying what it accepts; nothing is stored."""
    for change, field, says in INVALID_FIELDS:
        answer = await api.post(SHOTS, new_shot(**change))
        assert answer.status == 422, (change, answer.body)
        error = answer.body["error"]
        assert error["code"] == "validation_error"
        assert (error["field"], says in error["message"]) == (field, True), (change, error)
    assert (await api.get(f"{SHOTS}?bot_slug=loja")).body["items"] == []


async def test_create_shot_requires_the_spec_fields(api: Client, bot: dict[str, Any]) -> None:
    """A missing bot_slug, target or copy is named."""
    for missing in ("bot_slug", "target", "copy"):
        body = new_shot()
        del body[missing]
        answer = await api.post(SHOTS, body)
        assert answer.status == 422
        assert answer.body["error"]["field"] == missing
        assert answer.body["error"]["message"].startswith(f"{missing} is required")


async def test_list_shots_newest_first_with_pages(api: Client, bot: dict[str, Any]) -> None:
    """The list is the bot's shots, newest first, paginated by next_cursor."""
    ids = [(await api.post(SHOTS, new_shot(copy=f"shot {n}"))).body["id"] for n in range(5)]
    first = await api.get(f"{SHOTS}?bot_slug=loja&limit=2")
    assert first.status == 200
    assert [s["id"] for s in first.body["items"]] == ids[::-1][:2]
    assert all("stats" in s for s in first.body["items"])
    second = await api.get(f"{SHOTS}?bot_slug=loja&limit=2&cursor={first.body['next_cursor']}")
    third = await api.get(f"{SHOTS}?bot_slug=loja&limit=2&cursor={second.body['next_cursor']}")
    assert [s["id"] for s in second.body["items"]] == ids[::-1][2:4]
    assert [s["id"] for s in third.body["items"]] == ids[:1]
    assert third.body["next_cursor"] is None


async def test_list_shots_errors(api: Client, bot: dict[str, Any]) -> None:
    """bot_slug is required, the bot must exist, limit is 1–100, the cursor must be ours."""
    missing = await api.get(SHOTS)
    assert (missing.status, missing.body["error"]["field"]) == (422, "bot_slug")
    unknown = await api.get(f"{SHOTS}?bot_slug=nobody")
    assert (unknown.status, unknown.body["error"]["code"]) == (404, "not_found")
    too_many = await api.get(f"{SHOTS}?bot_slug=loja&limit=101")
    assert (too_many.status, too_many.body["error"]["field"]) == (422, "limit")
    cursor = await api.get(f"{SHOTS}?bot_slug=loja&cursor=abc")
    assert (cursor.status, cursor.body["error"]["field"]) == (422, "cursor")


async def test_get_one_shot(api: Client, bot: dict[str, Any]) -> None:
    """A shot can be read by id; an unknown id is a 404."""
    shot = (await api.post(SHOTS, new_shot())).body
    assert (await api.get(f"{SHOTS}/{shot['id']}")).body == shot
    missing = await api.get(f"{SHOTS}/999")
    assert missing.status == 404
    assert missing.body["error"] == {"code": "not_found", "message": "shot 999 does not exist"}


async def test_patch_pending_shot(api: Client, bot: dict[str, Any], db: Database) -> None:
    """A pending shot's copy, media, schedule, recency and buttons can change; it wakes workers."""
    shot = (await api.post(SHOTS, new_shot(recency_days=3))).body
    woken: list[bool] = []
    db.on_wake(lambda: woken.append(True))
    answer = await api.patch(
        f"{SHOTS}/{shot['id']}",
        {
            "copy": "<i>Novo</i>",
            "media_type": "video",
            "media_url": "https://example.com/v.mp4",
            "scheduled_at": "2030-05-01T10:00:00+00:00",
            "recency_days": None,
            "buttons": [[{"text": "Ver", "url": "tg://resolve?domain=loja"}]],
        },
    )
    assert answer.status == 200, answer.body
    edited = answer.body
    assert edited["copy"] == "<i>Novo</i>"
    assert (edited["media_type"], edited["media_url"]) == ("video", "https://example.com/v.mp4")
    assert edited["scheduled_at"] == "2030-05-01T10:00:00Z"
    assert edited["recency_days"] is None
    assert edited["buttons"] == [[{"text": "Ver", "url": "tg://resolve?domain=loja"}]]
    assert woken == [True]
    back = await api.patch(f"{SHOTS}/{shot['id']}", {"media_type": "none", "buttons": None})
    assert (back.body["media_type"], back.body["media_url"], back.body["buttons"]) == (
        "none",
        None,
        None,
    )
    assert back.body["copy"] == "<i>Novo</i>"


async def test_patch_checks_the_merged_content(api: Client, bot: dict[str, Any]) -> None:
    """A patch is validated with the shot's other fields: a long copy cannot become a caption."""
    shot = (await api.post(SHOTS, new_shot(copy="x" * 2000))).body
    answer = await api.patch(
        f"{SHOTS}/{shot['id']}", {"media_type": "photo", "media_url": "https://e.com/a.jpg"}
    )
    assert (answer.status, answer.body["error"]["field"]) == (422, "copy")
    assert "1024" in answer.body["error"]["message"]
    nulled = await api.patch(f"{SHOTS}/{shot['id']}", {"copy": None})
    assert (nulled.status, nulled.body["error"]["field"]) == (422, "copy")


async def test_patch_refuses_a_shot_not_pending(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """Only a pending shot can be edited; the 409 says the current status."""
    shot = (await api.post(SHOTS, new_shot())).body
    for status in ("running", "paused", "sent", "error", "cancelled"):
        await set_status(db, shot["id"], status)
        answer = await api.patch(f"{SHOTS}/{shot['id']}", {"copy": "outra"})
        assert answer.status == 409
        assert answer.body["error"]["code"] == "conflict"
        assert f"status is '{status}'" in answer.body["error"]["message"]
    assert (await api.get(f"{SHOTS}/{shot['id']}")).body["copy"] == shot["copy"]
    assert (await api.patch(f"{SHOTS}/999", {"copy": "x"})).status == 404


async def test_delete_cancels_a_pending_shot(api: Client, bot: dict[str, Any]) -> None:
    """DELETE keeps the shot as cancelled (history); a second DELETE is a 409."""
    shot = (await api.post(SHOTS, new_shot())).body
    answer = await api.delete(f"{SHOTS}/{shot['id']}")
    assert answer.status == 200
    assert answer.body["status"] == "cancelled"
    assert answer.body["finished_at"] is not None
    listed = await api.get(f"{SHOTS}?bot_slug=loja")
    assert [s["status"] for s in listed.body["items"]] == ["cancelled"]
    again = await api.delete(f"{SHOTS}/{shot['id']}")
    assert again.status == 409
    assert "status is 'cancelled'" in again.body["error"]["message"]
    assert (await api.delete(f"{SHOTS}/999")).status == 404


async def test_delete_refuses_a_running_shot(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """A running shot is stopped with /cancel, not DELETE."""
    shot = (await api.post(SHOTS, new_shot())).body
    await set_status(db, shot["id"], "running")
    answer = await api.delete(f"{SHOTS}/{shot['id']}")
    assert answer.status == 409
    assert "'running'" in answer.body["error"]["message"]


async def test_pause_resume_cancel(api: Client, bot: dict[str, Any], db: Database) -> None:
    """running → paused → pending (wakes the workers) → cancelled."""
    shot = (await api.post(SHOTS, new_shot())).body
    await set_status(db, shot["id"], "running")
    woken: list[bool] = []
    db.on_wake(lambda: woken.append(True))
    paused = await api.post(f"{SHOTS}/{shot['id']}/pause")
    assert (paused.status, paused.body["status"]) == (200, "paused")
    assert woken == []
    resumed = await api.post(f"{SHOTS}/{shot['id']}/resume")
    assert (resumed.status, resumed.body["status"]) == (200, "pending")
    assert woken == [True]
    cancelled = await api.post(f"{SHOTS}/{shot['id']}/cancel")
    assert (cancelled.status, cancelled.body["status"]) == (200, "cancelled")


async def test_actions_refused_from_the_wrong_status(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """Each action says which statuses allow it; an unknown shot is a 404."""
    shot = (await api.post(SHOTS, new_shot())).body
    for action, status in [
        ("pause", "sent"),
        ("pause", "cancelled"),
        ("resume", "running"),
        ("resume", "pending"),
        ("cancel", "error"),
        ("cancel", "sent"),
    ]:
        await set_status(db, shot["id"], status)
        answer = await api.post(f"{SHOTS}/{shot['id']}/{action}")
        assert answer.status == 409
        assert answer.body["error"]["field"] == "status"
        message = answer.body["error"]["message"]
        assert f"cannot {action} a shot whose status is '{status}'" in message
        assert (await api.post(f"{SHOTS}/999/{action}")).status == 404


async def test_copy_round_trips_unchanged_and_raw_markup_is_refused(
    api: Client, bot: dict[str, Any]
) -> None:
    """Copy that shows tags as text (escaped) comes back byte for byte from create, get, list
    and edit, as JSON; raw <img onerror> is refused as Telegram would. The admin page shows
    it as text: tests/web/test_admin_routes.py (no innerHTML) and tests/browser/."""
    hostile = (
        '&lt;img src=x onerror="alert(1)"&gt;&lt;script&gt;alert(2)&lt;/script&gt; '
        "<b>oferta</b> &amp; \"aspas\" 'simples' \u202e\u200b 😀"
    )
    created = await api.post(SHOTS, new_shot(copy=hostile))
    assert created.status == 201, created.body
    assert created.headers["Content-Type"] == "application/json"
    shot_id = created.body["id"]
    listed = await api.get(f"{SHOTS}?bot_slug=loja")
    one = await api.get(f"{SHOTS}/{shot_id}")
    assert created.body["copy"] == one.body["copy"] == listed.body["items"][0]["copy"] == hostile
    edited = await api.patch(f"{SHOTS}/{shot_id}", {"copy": hostile + "!"})
    assert edited.body["copy"] == hostile + "!"
    for raw in ('<img src=x onerror="alert(1)">', "<script>alert(1)</script>"):
        refused = await api.post(SHOTS, new_shot(copy=raw))
        assert refused.status == 422, refused.body
        assert refused.body["error"]["field"] == "copy"
