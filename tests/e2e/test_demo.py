"""`disparo demo` as a newcomer runs it: one command, a seeded product, a clean Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _call(url: str, token: str, method: str = "GET", body: Any = None) -> Any:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


class Output:
    """The demo's output, read line by line in a thread so the test can wait on it."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def text(self) -> str:
        """Everything printed so far."""
        return "".join(self.lines)

    def wait_for(self, marker: str, timeout_s: float) -> str:
        """Everything printed once `marker` has been; fail if the demo exits or stalls."""
        deadline = time.monotonic() + timeout_s
        while marker not in self.text:
            if time.monotonic() > deadline or (
                self.process.poll() is not None and not self.thread.is_alive()
            ):
                pytest.fail(
                    f"no {marker!r} from the demo (exit {self.process.poll()}):\n{self.text}"
                )
            time.sleep(0.1)
        return self.text


def test_demo_seeds_two_bots_prints_url_and_token_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """The demo prints a working admin URL and token, its worker sends, its A/B shot gets
    conversions from simulated buyers and clicks and replies from simulated readers, and
    Ctrl-C ends all."""
    port, sim_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPARO_")}
    demo = subprocess.Popen(
        [sys.executable, "-m", "disparo", "demo", "--port", str(port),
         "--simulator-port", str(sim_port), "--database", str(tmp_path / "demo.sqlite3")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        printed = Output(demo)
        output = printed.wait_for("Press Ctrl-C to stop.", timeout_s=120)
        base = f"http://127.0.0.1:{port}"
        assert f"{base}/admin/#token=" in output
        token_line = re.search(r"^\s+token\s+(\S+)$", output, re.MULTILINE)
        assert token_line, output
        token = token_line.group(1)
        assert len(token) >= 16
        assert f"admin page  {base}/admin/#token={token}" in output
        assert "loja-da-ana" in output
        assert "curso-pro" in output
        assert "INFO" not in output  # the banner is not buried under logs

        with urllib.request.urlopen(f"{base}/admin/", timeout=5) as page:
            assert page.status == 200
            assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        assert f"API docs    {base}/docs" in output
        with urllib.request.urlopen(f"{base}/docs", timeout=5) as docs:  # the demo turns them on
            assert docs.status == 200
            assert "script-src 'self'" in docs.headers["Content-Security-Policy"]
        bots = {b["slug"]: b for b in _call(f"{base}/admin/api/bots", token)["items"]}
        assert set(bots) == {"loja-da-ana", "curso-pro"}
        users = 0
        for slug in bots:
            metrics = _call(f"{base}/admin/api/bots/{slug}/metrics", token)
            users += metrics["total"]
            assert metrics["blocked"] > 0  # told by webhook (my_chat_member)
            assert metrics["change_24h"]["started"] > 0  # /start came through the webhook
            pix = _call(
                f"{base}/admin/api/audience/estimate?bot_slug={slug}&target=pix_created", token
            )
            assert pix["count"] > 0  # imported PIX events and payments
            [segment] = _call(f"{base}/admin/api/bots/{slug}/segments", token)["items"]
            assert (segment["name"], segment["count"] > 0) == ("PIX sem pagamento", True)
            tags = _call(f"{base}/admin/api/bots/{slug}/tags", token)["items"]
            assert tags[0]["tag"] == "comprador"
            assert tags[0]["count"] > 0
        assert users == 5000
        templates = _call(f"{base}/admin/api/templates", token)["items"]
        assert {t["bot_slug"] for t in templates} == set(bots)

        shot = _call(
            f"{base}/admin/api/shots",
            token,
            "POST",
            {"bot_slug": "curso-pro", "target": "started", "copy": "Olá do demo!"},
        )
        deadline = time.monotonic() + 15
        while _call(f"{base}/admin/api/shots/{shot['id']}/stats", token)["sent"] == 0:
            assert time.monotonic() < deadline, "the demo's worker sent nothing in 15 s"
            time.sleep(0.3)

        # The A/B shot went out on its own; simulated buyers pay for it within minutes.
        ab = re.search(r"^\s+A/B test\s+shot (\d+) of loja-da-ana", output, re.MULTILINE)
        assert ab, output
        ab_shot = int(ab.group(1))
        assert f"{base}/admin/#/shots/{ab_shot}" in output
        assert "Conversões" in output
        shown = _call(f"{base}/admin/api/shots/{ab_shot}", token)
        assert [v["name"] for v in shown["variants"]] == ["A", "B"]
        assert shown["holdout_percent"] == 20
        assert [c["event"] for c in shown["conversions"]] == ["paid", "pix_created"]
        deadline = time.monotonic() + 60
        while True:
            report = _call(f"{base}/admin/api/shots/{ab_shot}/conversions", token)
            if any(sum(g["conversions"].values()) for g in report["groups"]):
                break
            assert time.monotonic() < deadline, f"no conversions in 60 s: {report}"
            time.sleep(1)
        assert {g["name"] for g in report["groups"]} == {"A", "B", "holdout"}
        # Simulated readers follow the tracked buttons and write back: the bot's report counts.
        assert f"Reports     {base}/admin/#/reports" in output
        deadline = time.monotonic() + 60
        while True:
            totals = _call(f"{base}/admin/api/bots/loja-da-ana/report", token)["totals"]
            if totals["clicks"] > 0 and totals["replies"] > 0:
                break
            assert time.monotonic() < deadline, f"no clicks or replies in 60 s: {totals}"
            time.sleep(1)

        demo.send_signal(signal.SIGINT)
        printed.wait_for("Disparo demo stopped.", timeout_s=30)
        assert demo.wait(timeout=15) == 0
        printed.thread.join(timeout=5)
        assert "Traceback" not in printed.text
        assert "[DEMO][BUYERS]" not in printed.text  # the buyers keep the terminal quiet
        assert "[DEMO][CLICKERS]" not in printed.text  # and so do the readers
        for listening in (port, sim_port):
            with socket.socket() as sock:
                assert sock.connect_ex(("127.0.0.1", listening)) != 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        assert demo.stdout is not None
        demo.stdout.close()
