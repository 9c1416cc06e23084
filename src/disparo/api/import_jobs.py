"""Import jobs: a received file imported in the background of the API process, its progress
written to the database after each chunk, so that any API process can report it.

A job runs through the same path as the import routes (`disparo.api.import_body.write_all`):
it is stored whole or not at all. A process that stops mid-import fails its jobs on the way
out; one that dies leaves a heartbeat going stale, and the next look at the job (or the next
start of an API process) fails it with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any

from disparo.api.deps import Clock
from disparo.api.import_body import CHUNK_LINES, write_all
from disparo.db import import_jobs as store
from disparo.db import imports
from disparo.db.engine import Database
from disparo.ingest.import_reader import MAX_LINE_BYTES, Chunk, RowReader, UnreadableBodyError
from disparo.ingest.import_rows import RowError, Spec, combine_contacts, keep_given

log = logging.getLogger("disparo.api.import_jobs")

HEARTBEAT_S = 5.0
SILENT_AFTER = timedelta(seconds=60)  # a running job whose process is silent this long is gone
MAX_REJECTIONS_KEPT = 10_000  # rejected lines stored per job; the count goes on beyond
RAW_CHARS = 200  # the start of a rejected line kept beside its reason
FILE_PREFIX = "disparo-import-"  # a received file, in the system's temporary directory
LEFTOVER_AFTER_S = 24 * 3600  # a received file this old was left by a process that died
ABANDONED = (
    "the API process running this import stopped before it ended; nothing of the file was "
    "stored (an import is stored whole or not at all): start it again"
)
STOPPED = (
    "the API was stopped during this import; nothing of the file was stored (an import is "
    "stored whole or not at all): start it again"
)


@dataclass(frozen=True, slots=True)
class JobFile:
    """A received file waiting for its job: where it is and how to read it."""

    job_id: int
    bot_slug: str
    path: str
    spec: Spec
    kind: imports.ImportKind
    is_csv: bool
    tags_mode: str | None


class RawLines:
    """The start of numbered lines of a file, read forward once (the numbers asked only grow)."""

    def __init__(self, path: str) -> None:
        self._file: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed by `close`
        self._number = 0
        self._line = b""

    def close(self) -> None:
        self._file.close()

    def _next(self) -> bool:
        line = self._file.readline(MAX_LINE_BYTES + 1)
        if not line:
            return False
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := self._file.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
        self._number += 1
        self._line = line.removeprefix(b"\xef\xbb\xbf") if self._number == 1 else line
        return True

    def get(self, numbers: Sequence[int]) -> dict[int, str]:
        """The first RAW_CHARS characters of each line numbered in `numbers` (from 1)."""
        found: dict[int, str] = {}
        for number in sorted(numbers):
            while self._number < number and self._next():
                pass
            if self._number == number:
                text = self._line[: RAW_CHARS * 4].decode("utf-8", "replace")
                found[number] = text.rstrip("\r\n")[:RAW_CHARS]
        return found


def remove_leftover_files(directory: str, now_s: float) -> int:
    """Remove the received files that processes which died left in `directory` (older than
    LEFTOVER_AFTER_S: a running job has its file open, and none lasts that long); how many."""
    removed = 0
    with os.scandir(directory) as entries:
        for entry in entries:
            if not entry.name.startswith(FILE_PREFIX) or not entry.is_file():
                continue
            with contextlib.suppress(OSError):
                if now_s - entry.stat().st_mtime > LEFTOVER_AFTER_S:
                    os.unlink(entry.path)
                    removed += 1
    return removed


class ImportJobs:
    """The import jobs this process runs, each an asyncio task; `running` is their lifetime."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Fail the jobs left by a process that died; on the way out, stop and fail ours."""
        try:
            await self.fail_abandoned()
        except Exception as exc:  # the database may be down: the API starts, the next look fails
            log.warning("could not fail abandoned import jobs: %s", type(exc).__name__)
        # File times are the system's: the wall clock, not the app's (maybe a test's) clock.
        with contextlib.suppress(OSError):
            await asyncio.to_thread(remove_leftover_files, tempfile.gettempdir(), time.time())
        try:
            yield
        finally:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def fail_abandoned(self) -> int:
        """Fail every job whose process has been silent for SILENT_AFTER; how many."""
        now = self.clock()
        async with self.db.write() as conn:
            failed = await store.fail_abandoned_import_jobs(
                conn, silent_since=now - SILENT_AFTER, error=ABANDONED, now=now
            )
        if failed:
            log.warning("import jobs abandoned by a stopped process failed", extra={"jobs": failed})
        return failed

    def start(self, job: JobFile) -> None:
        """Run the job in the background (its file is removed once it ends)."""
        task = asyncio.create_task(self._run(job), name=f"import-job-{job.job_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _beat(self, job_id: int) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                async with self.db.write() as conn:
                    await store.beat_import_job(conn, job_id, self.clock())
            except Exception as exc:  # the database may be busy; the next beat will do
                log.warning("import job heartbeat failed: %s", type(exc).__name__)

    async def _fail(self, job_id: int, error: str) -> None:
        async with self.db.write() as conn:
            await store.fail_import_job(conn, job_id, error, self.clock())

    async def _run(self, job: JobFile) -> None:
        beat = asyncio.create_task(self._beat(job.job_id))
        try:
            await self._import(job)
        except asyncio.CancelledError:
            await asyncio.shield(self._fail(job.job_id, STOPPED))
            raise
        except RowError as exc:  # the CSV header itself
            await self._fail(job.job_id, f"{exc.field}: {exc.reason}" if exc.field else exc.reason)
        except UnreadableBodyError as exc:
            await self._fail(job.job_id, str(exc))
        except Exception as exc:
            log.exception("import job failed", extra={"job_id": job.job_id})
            await self._fail(job.job_id, f"the import failed ({type(exc).__name__}): {exc}")
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            with contextlib.suppress(OSError):
                os.unlink(job.path)

    async def _import(self, job: JobFile) -> None:
        now = self.clock()
        async with self.db.write() as conn:
            await store.start_import_job(conn, job.job_id, now)
        replace_tags = job.tags_mode == "replace"
        combine = combine_contacts(replace_tags=replace_tags) if job.tags_mode else keep_given
        body = open(job.path, "rb")  # noqa: ASYNC230, SIM115 - a local file; the reader closes it
        reader = RowReader(
            body, job.spec, is_csv=job.is_csv, chunk_lines=CHUNK_LINES, combine=combine
        )
        raw = RawLines(job.path)
        totals = {"processed": 0, "valid": 0, "rejected": 0}

        async def on_chunk(chunk: Chunk) -> None:
            room = MAX_REJECTIONS_KEPT - totals["rejected"]
            kept = chunk.rejections[: max(room, 0)]
            lines = await asyncio.to_thread(raw.get, [n for n, _ in kept]) if kept else {}
            totals["processed"] += chunk.lines
            totals["valid"] += chunk.valid
            totals["rejected"] += len(chunk.rejections)
            rejections: list[dict[str, Any]] = [
                {"line": n, "field": e.field, "reason": e.reason, "raw": lines.get(n)}
                for n, e in kept
            ]
            async with self.db.write() as conn:
                await store.record_import_progress(
                    conn,
                    job.job_id,
                    read_bytes=chunk.position,
                    rejections=rejections,
                    now=self.clock(),
                    **totals,
                )

        try:
            tally = await write_all(
                self.db, reader, job.kind, job.bot_slug, now, replace_tags, on_chunk
            )
        finally:
            raw.close()
        async with self.db.write() as conn:
            await store.finish_import_job(
                conn,
                job.job_id,
                inserted=tally.new,
                updated=tally.valid - tally.new,
                now=self.clock(),
            )
        log.info(
            "import job done",
            extra={"job_id": job.job_id, "bot_slug": job.bot_slug, "rejected": tally.rejected},
        )
