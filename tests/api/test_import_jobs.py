"""Import jobs: a file received at once and imported in the background, with its progress,
rejections and failures readable over HTTP (and from the database, by any API process)."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_support import Client
from sqlalchemy import func, select

from disparo.api import import_jobs as runner
from disparo.api.import_body import CHUNK_LINES
from disparo.api.routes.import_jobs import KINDS
from disparo.db import import_jobs as store
from disparo.db.engine import Database
from disparo.db.tables import telegram_contacts

BASE = "/admin/api/bots/loja"
CSV = {"Content-Type": "text/csv"}
NDJSON = {"Content-Type": "application/x-ndjson"}


async def wait_done(api: Client, job_id: int, seen: list[dict[str, Any]]) -> dict[str, Any]:
    """Poll the job until it ends; every answer is appended to `seen`."""
    for _ in range(600):
        answer = await api.get(f"{BASE}/imports/{job_id}")
        assert answer.status == 200, answer.body
        seen.append(answer.body)
        if answer.body["status"] in ("done", "failed"):
            return dict(answer.body)
        await asyncio.sleep(0.05)
    raise AssertionError("the import job did not end")


@pytest.fixture
def slow_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each chunk's progress is followed by a pause, so polling sees the job move."""
    record = store.record_import_progress

    async def paused(*args: Any, **kwargs: Any) -> None:
        await record(*args, **kwargs)
        await asyncio.sleep(0.15)

    monkeypatch.setattr(runner.store, "record_import_progress", paused)


async def test_contacts_job_progress_and_rejections(
    api: Client, bot: dict[str, Any], db: Database, slow_progress: None
) -> None:
    """A CSV job answers 202 at once, its progress moves chunk by chunk, it ends done with the
    counts, and its rejected lines come back as CSV with their numbers, reasons and text."""
    lines = ["telegram_id,first_name,tags"]
    total = 3 * CHUNK_LINES + 10
    for n in range(1, total + 1):
        lines.append(f"{n},Pessoa {n},vip" if n % 1000 else f"x{n},Ruim,vip")
    body = "\n".join(lines) + "\n"
    answer = await api.request(
        "POST", f"{BASE}/imports?kind=contacts&tags_mode=replace", data=body, headers=CSV
    )
    assert answer.status == 202, answer.body
    job = answer.body
    assert (job["status"], job["kind"], job["file_format"]) == ("queued", "contacts", "csv")
    assert job["tags_mode"] == "replace"
    assert job["total_bytes"] == len(body)
    seen: list[dict[str, Any]] = []
    done = await wait_done(api, job["id"], seen)
    assert done["status"] == "done", done
    assert (done["processed"], done["rejected"]) == (total, 6)
    assert (done["inserted"], done["updated"]) == (total - 6, 0)
    assert done["read_bytes"] == len(body)
    assert done["rate_per_s"] > 0
    assert done["started_at"]
    assert done["finished_at"]
    assert done["error"] is None
    running = [s for s in seen if s["status"] == "running"]
    assert len({s["processed"] for s in running}) >= 2  # seen moving, chunk by chunk
    assert any(s["seconds_left"] is not None for s in running)
    processed = [s["processed"] for s in seen]
    assert processed == sorted(processed)
    async with db.read() as conn:
        count = (await conn.execute(select(func.count()).select_from(telegram_contacts))).scalar()
    assert count == total - 6

    answer = await api.get(f"{BASE}/imports/{job['id']}/rejections.csv")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == ["line", "field", "reason", "raw"]
    # the header is line 1
    assert [r[0] for r in rows[1:]] == ["1001", "2001", "3001", "4001", "5001", "6001"]
    assert rows[1][1] == "telegram_id"
    assert "positive integer" in rows[1][2]
    assert rows[1][3] == "x1000,Ruim,vip"

    listed = await api.get(f"{BASE}/imports")
    assert [j["id"] for j in listed.body["jobs"]] == [job["id"]]


async def test_ndjson_job_and_another_process_reads_it(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """A JSON-lines job of events ends done; its state is in the database for any process."""
    body = "".join(
        f'{{"telegram_id": {n}, "event": "start", "occurred_at": "2026-12-01T10:00:00Z"}}\n'
        for n in range(1, 51)
    )
    answer = await api.request("POST", f"{BASE}/imports?kind=events", data=body, headers=NDJSON)
    assert answer.status == 202, answer.body
    done = await wait_done(api, answer.body["id"], [])
    assert (done["status"], done["inserted"], done["tags_mode"]) == ("done", 50, None)
    async with db.read() as conn:
        stored = await store.get_import_job(conn, "loja", answer.body["id"])
    assert stored is not None
    assert stored["status"] == "done"
    assert stored["processed"] == 50


async def test_failed_job_says_why(api: Client, bot: dict[str, Any]) -> None:
    """A CSV whose header names an unknown column fails with the column named."""
    body = "telegram_id,colour\n1,blue\n"
    answer = await api.request("POST", f"{BASE}/imports?kind=contacts", data=body, headers=CSV)
    assert answer.status == 202
    done = await wait_done(api, answer.body["id"], [])
    assert done["status"] == "failed"
    assert "colour" in done["error"]
    assert "is not a column" in done["error"]


async def test_job_of_a_dead_process_is_failed(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """A running job whose process stopped beating is failed with the reason when listed or read."""
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    async with db.write() as conn:
        job_id = await store.create_import_job(
            conn,
            bot_slug="loja",
            kind="contacts",
            tags_mode="add",
            file_format="csv",
            total_bytes=100,
            now=long_ago,
        )
        await store.start_import_job(conn, job_id, long_ago)
    listed = (await api.get(f"{BASE}/imports")).body["jobs"]
    assert [(j["id"], j["status"], j["error"]) for j in listed] == [
        (job_id, "failed", runner.ABANDONED)
    ]
    answer = await api.get(f"{BASE}/imports/{job_id}")
    assert answer.body["status"] == "failed"
    assert answer.body["error"] == runner.ABANDONED


async def test_refusals(api: Client, bot: dict[str, Any]) -> None:
    """An unknown bot is a 404, an unknown type a 415, an unknown kind a 422, a missing job 404."""
    answer = await api.request("POST", "/admin/api/bots/nada/imports?kind=contacts", data="a\n")
    assert answer.status == 404
    answer = await api.request(
        "POST", f"{BASE}/imports?kind=contacts", data="a", headers={"Content-Type": "text/plain"}
    )
    assert answer.status == 415
    answer = await api.request("POST", f"{BASE}/imports?kind=people", data="a\n", headers=CSV)
    assert answer.status == 422
    assert (await api.get(f"{BASE}/imports/99")).status == 404
    assert (await api.get(f"{BASE}/imports/99/rejections.csv")).status == 404


async def test_preview(api: Client, bot: dict[str, Any]) -> None:
    """The first bytes of a file give its format, columns and what each first row becomes;
    a line cut at the end is left out."""
    head = "telegram_id,first_name,chat_state,attr.plano\n1,Ana,active,anual\nx,Bia,,\n"
    head += "3,Cid,gone,\n4,Da"
    answer = await api.request(
        "POST", f"{BASE}/imports:preview?kind=contacts", data=head.encode(),
        headers={"Content-Type": "application/octet-stream"},
    )  # fmt: skip
    assert answer.status == 200, answer.body
    got = answer.body
    assert got["file_format"] == "csv"
    assert got["error"] is None
    assert got["columns"] == ["telegram_id", "first_name", "chat_state", "attr.plano"]
    assert got["unknown_columns"] == []
    assert got["missing_columns"] == []
    assert [r["line"] for r in got["rows"]] == [2, 3, 4]
    first, second, third = got["rows"]
    assert first["row"]["attributes"] == {"plano": "anual"}
    assert first["reason"] is None
    assert second["field"] == "telegram_id"
    assert second["row"] is None
    assert third["field"] == "chat_state"

    answer = await api.request(
        "POST", f"{BASE}/imports:preview?kind=transactions&complete=true",
        data='{"telegram_id": 1, "external_id": "p1", "status": "paid", "amount_cents": 10}\n',
    )  # fmt: skip
    got = answer.body
    assert got["file_format"] == "ndjson"
    assert got["rows"][0]["row"]["external_id"] == "p1"
    assert got["columns"] == ["telegram_id", "external_id", "status", "amount_cents"]

    answer = await api.request(
        "POST", f"{BASE}/imports:preview?kind=events", data="telegram_id,when\n1,2\n", headers=CSV
    )
    assert answer.body["error"]
    assert answer.body["unknown_columns"] == ["when"]
    assert answer.body["missing_columns"] == ["event", "occurred_at"]


async def test_a_stopped_process_fails_its_running_job(
    api: Client, bot: dict[str, Any], db: Database, tmp_path: Any, slow_progress: None
) -> None:
    """An API process stopped mid-import fails its job with the reason; nothing is stored."""
    jobs = runner.ImportJobs(db, lambda: datetime.now(UTC))
    path = tmp_path / "contacts.csv"
    path.write_text("telegram_id\n" + "".join(f"{n}\n" for n in range(1, 3 * CHUNK_LINES)))
    async with db.write() as conn:
        job_id = await store.create_import_job(
            conn,
            bot_slug="loja",
            kind="contacts",
            tags_mode="add",
            file_format="csv",
            total_bytes=path.stat().st_size,
            now=datetime.now(UTC),
        )
    spec, kind = KINDS["contacts"]
    async with jobs.running():
        jobs.start(runner.JobFile(job_id, "loja", str(path), spec, kind, True, "add"))
        for _ in range(100):
            job = (await api.get(f"{BASE}/imports/{job_id}")).body
            if job["processed"]:
                break
            await asyncio.sleep(0.05)
        assert job["status"] == "running"
    job = (await api.get(f"{BASE}/imports/{job_id}")).body
    assert (job["status"], job["error"]) == ("failed", runner.STOPPED)
    assert not path.exists()
    async with db.read() as conn:
        count = (await conn.execute(select(func.count()).select_from(telegram_contacts))).scalar()
    assert count == 0
