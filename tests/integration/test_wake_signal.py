"""SQLite's wake-up between processes: a commit with wake=True in one process wakes another's
receiver (and its worker) at once, dead processes' sockets are swept, long paths fall back."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import URL, make_url
from worker_support import StartWorker, add_bot, add_contacts, wait_for_status, wait_until

from disparo.db.engine import Database
from disparo.db.wake_signal import SOCKET_PATH_MAX, signal_directory

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])  # the signal is SQLite's

WAKE_BOUND_S = 0.5  # far below the 1 s poll; bench/wakeup.py measures the real figures

# Another process: opens the database, warms its pool, then on each line of stdin commits
# with wake=True (an empty transaction, or a shot due now for the bot named on the line).
WRITER = """
import asyncio, sys
from datetime import UTC, datetime
from sqlalchemy import insert
from disparo.db.engine import Database
from disparo.db.tables import shots_queue

async def main():
    db = Database(sys.argv[1])
    async with db.write() as conn:
        await conn.exec_driver_sql("SELECT 1")
    print("ready", flush=True)
    for line in sys.stdin:
        async with db.write(wake=True) as conn:
            if line.strip():
                await conn.execute(insert(shots_queue).values(
                    bot_slug=line.strip(), target="started", copy="<b>Agora</b>",
                    scheduled_at=datetime.now(UTC)))
        print("committed", flush=True)
    await db.dispose()

asyncio.run(main())
"""

# Another process that binds a receiver and then waits to be killed.
RECEIVER = """
import asyncio, sys
from disparo.db.wake_signal import WakeSignal

async def main():
    async with WakeSignal(sys.argv[1]).receive(lambda: None):
        print("bound", flush=True)
        await asyncio.sleep(60)

asyncio.run(main())
"""


class OtherProcess:
    """A Python process of ours, spoken to line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def expect(self, word: str) -> None:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 30)
        assert line.decode().strip() == word

    async def say(self, line: str = "") -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{line}\n".encode())
        await self.process.stdin.drain()


@asynccontextmanager
async def other_process(script: str, *args: str, ready: str) -> AsyncIterator[OtherProcess]:
    """Run `script` in a new interpreter until it says `ready`; killed at the end."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, *args, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    other = OtherProcess(process)
    try:
        await other.expect(ready)
        yield other
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


def sqlite_file(url: URL) -> str:
    """The database file of a SQLite URL."""
    assert url.database is not None
    return url.database


class Wakes:
    """Counts wake-ups and remembers when the last one came."""

    def __init__(self) -> None:
        self.count = 0
        self.at = 0.0
        self.event = asyncio.Event()

    def __call__(self) -> None:
        self.count += 1
        self.at = time.monotonic()
        self.event.set()

    async def wait(self, timeout_s: float = 5.0) -> None:
        await asyncio.wait_for(self.event.wait(), timeout_s)
        self.event.clear()


@pytest.fixture
def short_url(db_url: URL) -> Iterator[URL]:
    """A copy of the test database at a path short enough for `<file>.wake/` (pytest's own
    temporary paths are not, under xdist)."""
    directory = Path(tempfile.mkdtemp(prefix="dw"))
    path = directory / "disparo.sqlite3"
    shutil.copyfile(sqlite_file(db_url), path)
    yield make_url(f"sqlite:///{path}")
    shutil.rmtree(directory)


async def test_a_commit_in_another_process_wakes_the_receiver_at_once(short_url: URL) -> None:
    """Another process's write(wake=True) calls this process's callback well within 0.5 s,
    every time; the socket and its 0700 directory beside the file are gone once it leaves."""
    db, wakes = Database(short_url), Wakes()
    directory = signal_directory(sqlite_file(short_url))
    assert directory == Path(f"{sqlite_file(short_url)}.wake")
    async with (
        other_process(WRITER, str(short_url), ready="ready") as writer,
        db.receive_wake_ups(wakes),
    ):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert len(list(directory.glob("*.sock"))) == 1
        latencies = []
        for _ in range(5):
            asked = time.monotonic()
            await writer.say()
            await wakes.wait()
            latencies.append(wakes.at - asked)
            await writer.expect("committed")
    await db.dispose()
    print(f"wake-up latencies: {[round(s, 4) for s in latencies]}")
    assert max(latencies) < WAKE_BOUND_S
    assert wakes.count == 5
    assert not directory.exists()


async def test_a_commit_wakes_other_handles_but_not_its_own_socket(db_url: URL) -> None:
    """A write(wake=True) signals the sockets of other handles on the file (another process's,
    or another pool's in this one); its own handle is woken in-process, not by its socket."""
    db, other = Database(db_url), Database(db_url)
    own, others = Wakes(), Wakes()
    db.on_wake(own)
    async with db.receive_wake_ups(own), other.receive_wake_ups(others):
        async with db.write(wake=True):
            pass
        await others.wait()
        assert db.wake_signal is not None
        assert db.wake_signal.send() == 1  # the other handle's socket only
        await asyncio.sleep(0.05)
    assert own.count == 1  # the in-process event, not the datagram
    await db.dispose()
    await other.dispose()


async def test_a_dead_process_socket_is_removed_and_the_others_still_woken(
    short_url: URL,
) -> None:
    """A process killed while receiving leaves its socket; the next write(wake=True) removes
    it, still wakes the live receivers, and commits as usual."""
    path = sqlite_file(short_url)
    directory = signal_directory(path)
    db, wakes = Database(short_url), Wakes()
    async with db.receive_wake_ups(wakes):
        async with other_process(RECEIVER, path, ready="bound") as doomed:
            doomed.process.kill()
        assert len(list(directory.glob("*.sock"))) == 2  # ours, and the dead one's
        writer = Database(short_url)
        async with writer.write(wake=True) as conn:
            await conn.exec_driver_sql("SELECT 1")
        await wakes.wait(WAKE_BOUND_S)
        assert len(list(directory.glob("*.sock"))) == 1
    await writer.dispose()
    await db.dispose()


@pytest.fixture
def deep_file(tmp_path: Path, db_url: URL) -> Path:
    """A copy of the test database so deep that `<file>.wake/<socket>` exceeds AF_UNIX."""
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    path = deep / "disparo.sqlite3"
    shutil.copyfile(sqlite_file(db_url), path)
    return path


async def test_a_path_too_long_for_a_socket_falls_back_to_the_temp_directory(
    deep_file: Path,
) -> None:
    """When `<file>.wake/<socket>` would not fit AF_UNIX, every process uses one directory in
    the temp directory named by the file's hash, and wakes across processes there too."""
    path = deep_file
    directory = signal_directory(path)
    assert directory.parent == Path(tempfile.gettempdir())
    assert directory.name.startswith("disparo-wake-")
    assert len(os.fsencode(directory / f"{2**22}-00000000.sock")) <= SOCKET_PATH_MAX
    db, wakes = Database(f"sqlite:///{path}"), Wakes()
    async with (
        other_process(WRITER, f"sqlite:///{path}", ready="ready") as writer,
        db.receive_wake_ups(wakes),
    ):
        asked = time.monotonic()
        await writer.say()
        await wakes.wait()
        assert wakes.at - asked < WAKE_BOUND_S
    await db.dispose()
    assert not directory.exists()


async def test_an_unusable_directory_leaves_the_worker_on_its_poll(
    short_url: URL, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A symlink where the directory should be is not followed: a warning, no socket, and
    writes still commit."""
    path = sqlite_file(short_url)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    signal_directory(path).symlink_to(elsewhere)
    db, wakes = Database(short_url), Wakes()
    with caplog.at_level(logging.WARNING, logger="disparo.db.wake_signal"):
        async with db.receive_wake_ups(wakes), db.write(wake=True):
            pass
    assert "polling only" in caplog.text
    assert not list(elsewhere.iterdir())
    await db.dispose()


async def test_a_shot_created_by_another_process_starts_without_the_poll(
    db: Database, db_url: URL, start_worker: StartWorker
) -> None:
    """A worker polling every 30 s starts a shot another process created due now at once."""
    await add_bot(db, "loja")
    await add_contacts(db, "loja", range(1, 4))
    worker = await start_worker(poll_interval_s=30.0)
    await wait_until(lambda: _ticked(worker), what="first tick")
    async with other_process(WRITER, str(db_url), ready="ready") as writer:
        asked = time.monotonic()
        await writer.say("loja")
        await writer.expect("committed")
        async with db.read() as conn:
            shot_id = (await conn.exec_driver_sql("SELECT max(id) FROM shots_queue")).scalar()
        row = await wait_for_status(db, shot_id, ("running", "sent"), timeout_s=10)
    latency_s = time.monotonic() - asked
    print(f"created in another process to started in {latency_s:.3f} s")
    assert row["started_at"] is not None
    assert latency_s < 5  # a 30 s poll would take up to 30 s


async def _ticked(worker: object) -> bool:
    return getattr(worker, "_next_rescue", 0.0) > 0
