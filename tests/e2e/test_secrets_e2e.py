"""Secrets, end to end: a bot token and the admin token never leave Disparo, whatever happens;
bot tokens are stored sealed; `disparo keygen` / `rotate-key`; a wrong key stops the start.

The big run drives real `disparo simulator --log-requests` and `disparo serve` processes
(DEBUG logs, text then JSON) through success, every Telegram error class, injected faults and
a restart mid-shot, keeps every log line and every answer, and searches them all.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, insert, select
from sqlalchemy.engine import URL

from disparo.db.schema import metadata
from disparo.db.secrets import SEALED_PREFIX, TokenCipher, generate_key
from disparo.db.tables import bots
from disparo.db.urls import sync_url

pytestmark = pytest.mark.slow

ADMIN = "/admin/api"
FINAL = ("sent", "error", "cancelled")


def _bot_token() -> str:
    """A fresh, well-formed token: `<id>:<35 characters>`, random so it matches nothing else."""
    return f"{secrets.randbelow(9 * 10**9) + 10**9}:TT{secrets.token_urlsafe(40)[:33]}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(**values: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DISPARO_")}
    return {**clean, **values}


def _stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    return process.returncode


def _wait_for(predicate: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        time.sleep(0.05)


@contextmanager
def _process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "disparo", *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        _stop(process)


def _answers(url: str) -> Callable[[], bool]:
    def up() -> bool:
        try:
            return requests.get(url, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    return up


@dataclass
class Run:
    """The secrets of one run, and everything it saw: (where, text) pairs."""

    bot_token: str
    admin_token: str
    secret_key: str
    api_url: str
    sim_url: str
    session: requests.Session
    seen: list[tuple[str, str]] = field(default_factory=list)

    @property
    def needles(self) -> dict[str, str]:
        """What must appear nowhere."""
        return {
            "bot token": self.bot_token,
            "bot token secret": self.bot_token.partition(":")[2],
            "admin token": self.admin_token,
            "secret key": self.secret_key,
        }

    def api(
        self, method: str, path: str, *, auth: bool = True, bearer: str | None = None, **kw: Any
    ) -> Any:
        """One API request (with the admin token, another `bearer`, or none); its status,
        headers and body are kept."""
        headers = dict(kw.pop("headers", {}))
        if auth:
            headers["Authorization"] = f"Bearer {bearer or self.admin_token}"
        answer = self.session.request(
            method, self.api_url + path, headers=headers, timeout=30, **kw
        )
        self.seen.append(
            (f"{method} {path} -> {answer.status_code}", f"{answer.headers}\n{answer.text}")
        )
        return answer

    def sim(self, method: str, path: str, **kw: Any) -> Any:
        """One simulator control call (the token is in its path); its answer is kept."""
        answer = self.session.request(method, self.sim_url + path, timeout=30, **kw)
        answer.raise_for_status()
        self.seen.append((f"simulator {method} {path.split('/bots/')[0]}", answer.text))
        return answer.json()["result"]

    def shot(self, **fields: Any) -> int:
        """Create a shot of bot `loja` now; its id."""
        body = {"bot_slug": "loja", "target": "started", "copy": "<b>Oferta</b> só hoje", **fields}
        answer = self.api("POST", f"{ADMIN}/shots", json=body)
        assert answer.status_code == 201, answer.text
        return int(answer.json()["id"])

    def finished(self, shot_id: int, timeout_s: float = 40.0) -> dict[str, Any]:
        """Wait until the shot is sent, error or cancelled; the shot."""
        last: dict[str, Any] = {}

        def done() -> bool:
            nonlocal last
            last = self.api("GET", f"{ADMIN}/shots/{shot_id}").json()
            return last["status"] in FINAL

        _wait_for(done, f"shot {shot_id} finished", timeout_s)
        return last


def _serve(run: Run, db_url: URL, log: Path, fmt: str, port: int) -> Any:
    env = _env(
        DISPARO_DATABASE_URL=db_url.render_as_string(hide_password=False),
        DISPARO_ADMIN_TOKEN=run.admin_token,
        DISPARO_SECRET_KEY=run.secret_key,
        DISPARO_TELEGRAM_API_URL=run.sim_url,
        DISPARO_TELEGRAM_TIMEOUT_S="1",
        DISPARO_PUBLIC_URL=run.api_url,
        DISPARO_LOG_LEVEL="DEBUG",
        DISPARO_LOG_FORMAT=fmt,
    )
    return _process(["serve", "--port", str(port)], env, log)


def _script(run: Run, db_url: URL, workdir: Path, port: int) -> dict[str, Any]:
    """Everything the run does; what to check afterwards."""
    users = [{"id": n, "state": "active", "first_name": f"U{n}"} for n in range(1, 31)]
    users += [{"id": 31, "state": "blocked"}, {"id": 32, "state": "deactivated"}]
    users += [{"id": 33, "state": "missing"}]
    run.sim("POST", f"/sim/bots/{run.bot_token}/users", json=users)
    seen: dict[str, Any] = {}
    with _serve(run, db_url, workdir / "serve-text.log", "text", port) as first:
        _wait_for(_answers(f"{run.api_url}/readyz"), "disparo serve (text logs) ready")
        created = run.api("POST", f"{ADMIN}/bots", json={"slug": "loja", "token": run.bot_token})
        assert created.status_code == 201, created.text
        again = run.api("POST", f"{ADMIN}/bots", json={"slug": "loja2", "token": run.bot_token})
        assert again.status_code == 409
        short = run.api("POST", f"{ADMIN}/bots", json={"slug": "x", "token": "12:short"})
        assert short.status_code == 422
        contacts = "".join(f'{{"telegram_id": {n}}}\n' for n in range(1, 34))
        imported = run.api("POST", f"{ADMIN}/bots/loja/contacts:import", data=contacts,
                           headers={"Content-Type": "application/x-ndjson"})  # fmt: skip
        assert imported.json()["inserted"] == 33
        assert run.api("POST", f"{ADMIN}/bots/loja/webhook").status_code == 200
        run.sim("POST", f"/sim/bots/{run.bot_token}/updates", json={"start": [1, 2, 3]})
        # success, 403 blocked, 403 deactivated, 400 chat not found
        plain = run.finished(run.shot())
        assert plain["stats"]["sent"] == 30, plain
        run.api("POST", f"{ADMIN}/shots/{plain['id']}/test", json={"telegram_id": 1})
        run.api("POST", f"{ADMIN}/shots/{plain['id']}/test", json={"telegram_id": 31})
        # 5xx, dropped connections, answers past the 1 s timeout, a 429 storm
        run.sim("POST", "/sim/faults", json={
            "error_5xx": 0.15, "drop": 0.1, "slow": 0.1, "slow_s": 2,
            "retry_after_storm": {"bot": run.bot_token, "seconds": 1}})  # fmt: skip
        faulty = run.finished(run.shot(copy="Com <i>falhas</i>"))
        run.sim("POST", "/sim/faults", json={})
        seen["faulty"] = faulty
        # a restart mid-shot: SIGTERM while sending at 10/s
        run.api("PATCH", f"{ADMIN}/bots/loja", json={"rate_per_s": 10})
        resumed_id = run.shot(copy="Depois do reinício")
        _wait_for(
            lambda: run.api("GET", f"{ADMIN}/shots/{resumed_id}").json()["stats"]["sent"] >= 5,
            "the shot sends before the restart",
        )
        assert _stop(first) == 0
    with _serve(run, db_url, workdir / "serve-json.log", "json", port):
        _wait_for(_answers(f"{run.api_url}/readyz"), "disparo serve (JSON logs) ready")
        seen["resumed"] = run.finished(resumed_id)
        run.api("PATCH", f"{ADMIN}/bots/loja", json={"rate_per_s": 25})
        # a content error: Telegram cannot fetch the photo, so the shot itself stops
        seen["content"] = run.finished(
            run.shot(media_type="photo", media_url="https://cdn.invalid/promo.jpg")
        )
        # 401: the token is revoked at Telegram (the shot, a new check, the webhook, polling)
        run.sim("POST", f"/sim/bots/{run.bot_token}/revoke")
        run.api("PATCH", f"{ADMIN}/bots/loja", json={"polling": True})
        seen["revoked"] = run.finished(run.shot(copy="Depois da revogação"))
        assert (
            run.api("PATCH", f"{ADMIN}/bots/loja", json={"token": run.bot_token}).status_code == 422
        )
        run.api("POST", f"{ADMIN}/bots/loja/webhook")
        _collect_answers(run)
        _wait_for(
            lambda: "polling failed" in (workdir / "serve-json.log").read_text(),
            "the poller meets the revoked token",
        )
    seen["sim_stats"] = run.sim("GET", "/sim/stats")
    return seen


def _collect_answers(run: Run) -> None:
    """Every reading route, every shot, and some refusals: all kept in `run.seen`."""
    shots = run.api("GET", f"{ADMIN}/shots?bot_slug=loja&limit=100").json()["items"]
    for shot in shots:
        base = f"{ADMIN}/shots/{shot['id']}"
        for path in (base, f"{base}/stats", f"{base}/deliveries?limit=1000",
                     f"{base}/deliveries.csv"):  # fmt: skip
            assert run.api("GET", path).status_code == 200, path
    readings = [
        f"{ADMIN}/bots",
        f"{ADMIN}/bots/loja",
        f"{ADMIN}/bots/loja/metrics",
        f"{ADMIN}/audience/estimate?bot_slug=loja&target=started",
        "/metrics",
        "/healthz",
        "/readyz",
        f"{ADMIN}/shots/999999",
        f"{ADMIN}/bots/nobody",
    ]
    for path in readings:
        run.api("GET", path)
    run.api("GET", f"{ADMIN}/bots", bearer=run.admin_token[:-1])
    run.api("GET", f"{ADMIN}/bots", auth=False)
    run.api("POST", f"{ADMIN}/shots", json={"bot_slug": "loja", "target": "x", "copy": ""})
    run.api("POST", f"{ADMIN}/shots", data="{", headers={"Content-Type": "application/json"})


def _database_text(db_url: URL) -> str:
    engine = create_engine(sync_url(db_url))
    try:
        with engine.connect() as conn:
            return "\n".join(
                repr(row) for table in metadata.sorted_tables for row in conn.execute(select(table))
            )
    finally:
        engine.dispose()


def test_tokens_never_leave_disparo_through_errors_faults_and_restarts(
    db_url: URL, tmp_path: Path
) -> None:
    """Every log line (DEBUG, text and JSON), every answer, /metrics, the simulator's request
    log and the database hold neither token, nor its secret part, nor the key: 0 hits."""
    sim_port, api_port = _free_port(), _free_port()
    run = Run(
        bot_token=_bot_token(),
        admin_token=secrets.token_urlsafe(24),
        secret_key=generate_key(),
        api_url=f"http://127.0.0.1:{api_port}",
        sim_url=f"http://127.0.0.1:{sim_port}",
        session=requests.Session(),
    )
    sim_log = tmp_path / "simulator.log"
    sim_env = _env(DISPARO_LOG_LEVEL="DEBUG", DISPARO_LOG_FORMAT="text")
    sim_args = ["simulator", "--port", str(sim_port), "--latency-ms", "2", "--latency-jitter-ms",
                "1", "--slow-s", "2", "--seed", "3", "--log-requests"]  # fmt: skip
    with run.session, _process(sim_args, sim_env, sim_log) as simulator:
        _wait_for(_answers(f"{run.sim_url}/sim/health"), "the simulator is up")
        seen = _script(run, db_url, tmp_path, api_port)
        assert _stop(simulator) == 0

    # The run went through what it claims.
    stats = next(iter(seen["sim_stats"]["bots"].values()))
    for counter in ("5xx", "dropped", "slow", "429", "4xx"):
        assert stats[counter] > 0, (counter, stats)
    assert seen["faulty"]["status"] == "sent", seen["faulty"]
    assert seen["resumed"]["status"] == "sent", seen["resumed"]
    assert seen["resumed"]["stats"]["sent"] == 30
    assert seen["content"]["status"] == "error"
    assert "URL" in seen["content"]["last_error"]
    assert seen["revoked"]["status"] == "error", seen["revoked"]
    text_log = (tmp_path / "serve-text.log").read_text()
    json_log = (tmp_path / "serve-json.log").read_text()
    simulator_log = sim_log.read_text()
    assert " DEBUG " in text_log
    assert '"level":"DEBUG"' in json_log
    assert all(json.loads(line) for line in json_log.splitlines() if line.startswith("{"))
    assert re.search(r"-> 403 Forbidden: bot was blocked", simulator_log), simulator_log[-500:]
    assert "-> 400 Bad Request: chat not found" in simulator_log
    statuses = {where.split(" -> ")[-1] for where, _ in run.seen}
    assert {"200", "201", "401", "404", "409", "422"} <= statuses, statuses
    assert any(where.startswith("GET /metrics") for where, _ in run.seen)

    # The search: 0 hits anywhere.
    sources = [(name, text) for name, text in run.seen]
    sources += [("serve text log", text_log), ("serve JSON log", json_log)]
    sources += [("simulator log", simulator_log), ("database rows", _database_text(db_url))]
    if db_url.get_backend_name() == "sqlite":
        for path in Path(str(db_url.database)).parent.glob("*.sqlite3*"):
            sources.append((f"file {path.name}", path.read_bytes().decode("latin-1")))
    hits = [(what, name) for name, text in sources for what, needle in run.needles.items()
            if needle in text]  # fmt: skip
    log_lines = sum(text.count("\n") for text in (text_log, json_log, simulator_log))
    figures = {"answers": len(run.seen), "log_lines": log_lines, "sources": len(sources),
               "bytes": sum(len(text) for _, text in sources), "hits": len(hits)}  # fmt: skip
    (tmp_path / "secret-search.json").write_text(json.dumps(figures))  # docs/reliability.md
    assert hits == [], hits
    assert sum(len(text) for _, text in sources) > 100_000  # a real haystack
    stored = _tokens(db_url)
    assert list(stored) == ["loja"]
    assert stored["loja"].startswith(SEALED_PREFIX)
    assert TokenCipher(run.secret_key).open(stored["loja"]) == run.bot_token


# keys -----------------------------------------------------------------------------------------


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "disparo", *args],
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _tokens(db_url: URL, column: str = "token") -> dict[str, str]:
    engine = create_engine(sync_url(db_url))
    try:
        with engine.connect() as conn:
            return dict(conn.execute(select(bots.c.slug, bots.c[column])).tuples().all())
    finally:
        engine.dispose()


def _store_bots(db_url: URL, stored: dict[str, str], webhook_secret: str | None = None) -> None:
    engine = create_engine(sync_url(db_url))
    try:
        with engine.begin() as conn:
            for slug, token in stored.items():
                conn.execute(
                    insert(bots).values(
                        slug=slug, token=token, webhook_secret=webhook_secret or "s"
                    )
                )
    finally:
        engine.dispose()


def test_keygen_prints_a_new_key() -> None:
    """`disparo keygen` prints one Fernet key and nothing else, a different one each time."""
    first, second = _cli("keygen"), _cli("keygen")
    assert (first.returncode, second.returncode) == (0, 0)
    keys = [first.stdout.strip(), second.stdout.strip()]
    assert keys[0] != keys[1]
    for key in keys:
        Fernet(key.encode())
        assert len(key) == 44


def test_rotate_key_reseals_or_refuses_and_changes_nothing(db_url: URL) -> None:
    """`disparo rotate-key`: with a wrong old key it names the bot and changes nothing; with
    the right one it seals plain and old-key tokens, and the plain webhook secrets, with the
    new key, in one go."""
    old, new, wrong = generate_key(), generate_key(), generate_key()
    plain_token, sealed_token = _bot_token(), _bot_token()
    webhook_secret = secrets.token_urlsafe(32)
    stored = {"plain": plain_token, "sealed": TokenCipher(old).seal(sealed_token)}
    _store_bots(db_url, stored, webhook_secret)
    before = _tokens(db_url)
    url = db_url.render_as_string(hide_password=False)
    refused = _cli("rotate-key", DISPARO_DATABASE_URL=url, DISPARO_SECRET_KEY=new,
                   DISPARO_OLD_SECRET_KEY=wrong)  # fmt: skip
    assert refused.returncode == 2
    for words in ("(sealed)", "DISPARO_OLD_SECRET_KEY", "Nothing was changed"):
        assert words in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _tokens(db_url) == before
    done = _cli("rotate-key", DISPARO_DATABASE_URL=url, DISPARO_SECRET_KEY=new,
                DISPARO_OLD_SECRET_KEY=old)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "sealed the token and webhook secret of 2 bot(s)" in done.stdout
    assert "1 token(s) stored in plain" in done.stdout
    assert "2 webhook secret(s) stored in plain" in done.stdout
    for sealed_secret in _tokens(db_url, "webhook_secret").values():
        assert TokenCipher(new).open(sealed_secret) == webhook_secret
        assert webhook_secret not in sealed_secret
    after = _tokens(db_url)
    assert TokenCipher(new).open(after["plain"]) == plain_token
    assert TokenCipher(new).open(after["sealed"]) == sealed_token
    assert not TokenCipher(old).opens(after["sealed"])
    for output in (refused.stdout + refused.stderr, done.stdout + done.stderr):
        for secret in (old, new, wrong, plain_token, sealed_token, webhook_secret):
            assert secret not in output


@pytest.mark.parametrize("backend", ["sqlite"])  # the check reads one column: one backend will do
def test_a_key_that_cannot_open_the_stored_tokens_stops_the_start(db_url: URL) -> None:
    """`disparo serve` with another key and `disparo worker` with none exit with a message
    naming DISPARO_SECRET_KEY and the bot, not a traceback."""
    key = generate_key()
    _store_bots(db_url, {"loja": TokenCipher(key).seal(_bot_token())})
    common = {"DISPARO_DATABASE_URL": db_url.render_as_string(hide_password=False),
              "DISPARO_ADMIN_TOKEN": secrets.token_urlsafe(24)}  # fmt: skip
    port = str(_free_port())
    wrong = _cli("serve", "--port", port, DISPARO_SECRET_KEY=generate_key(), **common)
    missing = _cli("worker", **common)
    for result, words in ((wrong, "cannot be opened with DISPARO_SECRET_KEY"),
                          (missing, "DISPARO_SECRET_KEY is not set")):  # fmt: skip
        assert result.returncode == 2, result.stderr
        assert words in result.stderr
        assert "loja" in result.stderr
        assert "Traceback" not in result.stderr
    right = _cli("rotate-key", DISPARO_SECRET_KEY=key, **common)
    assert right.returncode == 0, right.stderr
