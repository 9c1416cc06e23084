"""Received import files left by a process that died are removed at the next start, and only
those: other files, and recent import files (a running job's), stay."""

from __future__ import annotations

import os
import time
from pathlib import Path

from disparo.api.import_jobs import FILE_PREFIX, LEFTOVER_AFTER_S, remove_leftover_files


def test_only_old_import_files_are_removed(tmp_path: Path) -> None:
    """An import file older than a day goes; a fresh one and another program's old file stay."""
    now = time.time()
    old = tmp_path / f"{FILE_PREFIX}old"
    fresh = tmp_path / f"{FILE_PREFIX}fresh"
    other = tmp_path / "someone-else"
    for path in (old, fresh, other):
        path.write_bytes(b"telegram_id\n1\n")
    # Every time set from the test's one clock: the file system stamps a new file with the
    # kernel's time, which a shifted clock (faketime) does not move.
    os.utime(fresh, (now, now))
    for path in (old, other):
        os.utime(path, (now - LEFTOVER_AFTER_S - 60, now - LEFTOVER_AFTER_S - 60))
    assert remove_leftover_files(str(tmp_path), now) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{FILE_PREFIX}fresh", "someone-else"]
