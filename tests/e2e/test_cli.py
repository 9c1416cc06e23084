"""The `disparo` command as a user runs it: real processes, real databases, real HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sqlalchemy.engine import URL

from disparo.db import migrate

TOKEN = "424242:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"


def _run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DISPARO_")}
    return subprocess.run(
        [sys.executable, "-m", "disparo", *args],
        env={**clean, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_help_lists_every_command_with_its_purpose() -> None:
    """`disparo --help` names each command with a one-line purpose."""
    result = _run("--help")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    for command in ("migrate", "api", "simulator", "demo"):
        at = next(i for i, line in enumerate(lines) if line.strip().startswith(command))
        purpose = lines[at].strip()[len(command) :].strip() or lines[at + 1].strip()
        assert len(purpose) > 10, f"{command} has no purpose line"


def test_migrate_brings_database_to_head(empty_db_url: URL, tmp_path: Path) -> None:
    """`disparo migrate` applies every migration to DISPARO_DATABASE_URL, twice safely."""
    url = empty_db_url.render_as_string(hide_password=False)
    for _ in range(2):
        result = _run("migrate", env={"DISPARO_DATABASE_URL": url}, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "newest schema" in result.stdout
    assert migrate.current_revision(empty_db_url) == migrate.head_revision()


def test_bad_database_url_names_the_variable(tmp_path: Path) -> None:
    """An unsupported database URL stops the command with a message naming the variable."""
    result = _run("migrate", env={"DISPARO_DATABASE_URL": "mysql://root@localhost/x"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "DISPARO_DATABASE_URL" in result.stderr
    assert "postgresql://" in result.stderr


def test_bad_setting_names_the_variable(tmp_path: Path) -> None:
    """An invalid setting stops the command with the variable and what it accepts."""
    result = _run("migrate", env={"DISPARO_LOG_FORMAT": "xml"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "DISPARO_LOG_FORMAT" in result.stderr
    assert "text or json" in result.stderr


def test_api_refuses_to_start_without_admin_token(tmp_path: Path) -> None:
    """`disparo api` exits with a clear message when DISPARO_ADMIN_TOKEN is missing."""
    result = _run("api", "--port", str(_free_port()), cwd=tmp_path)
    assert result.returncode == 2
    assert "DISPARO_ADMIN_TOKEN is not set" in result.stderr


def test_api_refuses_placeholder_admin_token(tmp_path: Path) -> None:
    """`disparo api` exits with a clear message when the admin token is a placeholder."""
    result = _run(
        "api", "--port", str(_free_port()), env={"DISPARO_ADMIN_TOKEN": "changeme"}, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "placeholder" in result.stderr


def test_simulator_answers_send_message() -> None:
    """`disparo simulator` answers a sendMessage over HTTP with a Telegram-shaped result."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "disparo", "simulator", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = json.dumps({"chat_id": 42, "text": "<b>Olá</b>", "parse_mode": "HTML"}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/bot{TOKEN}/sendMessage",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    answer = json.loads(response.read())
                break
            except OSError:
                assert time.monotonic() < deadline, "the simulator did not answer within 15 s"
                time.sleep(0.1)
        assert answer["ok"] is True
        message = answer["result"]
        assert message["chat"]["id"] == 42
        assert message["text"] == "Olá"
        assert message["entities"] == [{"type": "bold", "offset": 0, "length": 3}]
        assert message["from"]["id"] == 424242
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert process.returncode == 0


def test_serve_refuses_a_public_url_telegram_would_refuse(tmp_path: Path) -> None:
    """With Telegram's Bot API, an http DISPARO_PUBLIC_URL stops `disparo serve` with the fix."""
    # No admin token either: the settings are checked first, so only this message may come.
    env = {"DISPARO_PUBLIC_URL": "http://disparo.example.com:8080"}
    result = _run("serve", "--port", str(_free_port()), env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "DISPARO_PUBLIC_URL: Telegram sends webhooks only to https URLs" in result.stderr
    assert "Traceback" not in result.stderr
