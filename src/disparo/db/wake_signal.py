"""The shot wake-up between processes on SQLite: each worker process binds a Unix datagram
socket in a directory beside the database file, and a commit that queues work sends every
socket there one byte. (PostgreSQL uses LISTEN/NOTIFY instead: `disparo.db.notify`.)

Sending never blocks and never fails the commit; a socket nobody reads any more (its process
died) is removed by the next sender. The worker's ≤ 1 s poll stays the safety net.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import socket
import stat
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from disparo.db.errors import StoreError

log = logging.getLogger("disparo.db.wake_signal")

# A socket path must fit `sun_path` with its NUL: 108 bytes on Linux, 104 on macOS and the BSDs.
SOCKET_PATH_MAX = 103
SUFFIX = ".sock"
NAME_MAX = len(f"{2**22}-{'0' * 8}{SUFFIX}")  # "<pid>-<8 hex>.sock"; Linux pids stay < 2^22
BIND_ATTEMPTS = 3
DRAIN_MAX = 64  # datagrams read per wake-up; more waiting only means the same thing again
PAYLOAD = b"\x01"
SUPPORTED = hasattr(socket, "AF_UNIX")


class UnusableDirectoryError(StoreError, OSError):
    """The wake-up directory is not a directory of this user (a symlink, or someone else's)."""


def signal_directory(database: str | os.PathLike[str]) -> Path:
    """Where the sockets of the processes sharing `database` live: `<file>.wake/` beside it,
    or, when a socket path there would be too long for AF_UNIX, `disparo-wake-<hash of the
    file's absolute path>/` in the temp directory. Every process derives the same one."""
    path = Path(os.path.realpath(database))
    beside = path.with_name(f"{path.name}.wake")
    if len(os.fsencode(beside)) + 1 + NAME_MAX <= SOCKET_PATH_MAX:
        return beside
    digest = hashlib.sha256(os.fsencode(path)).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"disparo-wake-{digest}"


class WakeSignal:
    """Wakes the worker processes of one SQLite file (`send`), and wakes this process's worker
    when another process sends (`receive`). `Database` holds one per SQLite file."""

    def __init__(self, database: str | os.PathLike[str]) -> None:
        self._database = database
        self._directory: Path | None = None
        self._own: set[str] = set()  # this handle's sockets: its commits wake them in-process

    @property
    def directory(self) -> Path:
        """The directory of the sockets (derived once, on first use: it resolves symlinks)."""
        if self._directory is None:
            self._directory = signal_directory(self._database)
        return self._directory

    def send(self) -> int:
        """Send one byte to every other process's socket; how many were signalled.

        Never raises: a failure costs the other workers latency (they still poll), never a shot.
        """
        if not SUPPORTED:
            return 0
        directory = self.directory
        try:
            with os.scandir(directory) as entries:
                names = [entry.name for entry in entries if entry.name.endswith(SUFFIX)]
        except FileNotFoundError:
            return 0  # no worker process has bound a socket (or the last one left)
        except OSError as exc:
            log.debug(
                "[SHOTS][WAKE] cannot list the sockets",
                extra={"directory": str(directory), "error": str(exc)},
            )
            return 0
        names = [name for name in names if name not in self._own]
        if not names:
            return 0
        # A socket per send, not one kept open: a handle never disposed leaks nothing.
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
                sender.setblocking(False)
                return sum(_send_to(sender, directory / name) for name in names)
        except OSError as exc:  # no socket to send with (out of file descriptors)
            log.debug("[SHOTS][WAKE] cannot signal", extra={"error": str(exc)})
            return 0

    @asynccontextmanager
    async def receive(self, callback: Callable[[], None]) -> AsyncIterator[None]:
        """While inside, call `callback` (on the running loop) whenever another process sends.

        The socket is bound before this returns, so a commit made after it is never missed.
        When it cannot be bound, a warning says why and only the poll wakes the worker.
        """
        bound = self._bind() if SUPPORTED else None
        if bound is None:
            yield
            return
        sock, path = bound
        loop = asyncio.get_running_loop()
        loop.add_reader(sock.fileno(), _drain, sock, callback)
        self._own.add(path.name)
        try:
            yield
        finally:
            loop.remove_reader(sock.fileno())
            self._own.discard(path.name)
            path.unlink(missing_ok=True)
            sock.close()
            with suppress(OSError):  # removed only when no other process has a socket there
                path.parent.rmdir()

    def _bind(self) -> tuple[socket.socket, Path] | None:
        problem: OSError | None = None
        for _ in range(BIND_ATTEMPTS):
            try:
                directory = self._make_directory()
                path = directory / f"{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                try:
                    sock.setblocking(False)
                    sock.bind(os.fsencode(path))
                except BaseException:
                    sock.close()
                    raise
            except FileNotFoundError as exc:
                problem = exc  # the last process left and removed the directory: again
                continue
            except OSError as exc:
                problem = exc
                break
            return sock, path
        log.warning(
            "[SHOTS][WAKE] cannot receive wake-ups from other processes; polling only",
            extra={"directory": str(self.directory), "error": str(problem)},
        )
        return None

    def _make_directory(self) -> Path:
        directory = self.directory
        with suppress(FileExistsError):
            directory.mkdir(mode=0o700)
        info = directory.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            raise UnusableDirectoryError(
                f"{directory} must be a directory of this user; remove it while no Disparo "
                "process runs, and the next worker creates it again"
            )
        return directory


def _send_to(sender: socket.socket, path: Path) -> bool:
    """One byte to the socket at `path`; False when nobody could be signalled there."""
    try:
        sender.sendto(PAYLOAD, os.fsencode(path))
    except BlockingIOError:
        return True  # its queue is full: it has wake-ups waiting already
    except ConnectionRefusedError:
        # Nobody reads it: its process died without removing it.
        path.unlink(missing_ok=True)
        log.debug("[SHOTS][WAKE] removed a dead process's socket", extra={"path": str(path)})
        return False
    except FileNotFoundError:
        return False  # its process left meanwhile
    except OSError as exc:
        log.debug("[SHOTS][WAKE] cannot signal", extra={"path": str(path), "error": str(exc)})
        return False
    return True


def _drain(sock: socket.socket, callback: Callable[[], None]) -> None:
    """Read what is waiting (one wake-up however many processes sent) and call back once."""
    for _ in range(DRAIN_MAX):
        try:
            sock.recv(16)
        except BlockingIOError:
            break
        except OSError as exc:
            log.debug("[SHOTS][WAKE] cannot receive", extra={"error": str(exc)})
            break
    callback()
