"""Load test of the Bot API simulator: sendMessage throughput on one core.

Starts `python -m disparo.simulator` as a subprocess pinned to core 0 (`taskset -c 0`), raises
the bot's rate limits so no 429 happens, and drives it from this process (pinned to core 1)
with a raw keep-alive HTTP/1.1 load generator: C connections, one request in flight on each.
Runs once with latency 0 and once with latency 40 ms (jitter 10 ms) and prints the machine,
the parameters and one JSON object with, per run, requests_per_s, p50/p99 latency, errors, the
simulator's CPU per request over the measured seconds and the 1-minute load average.

`--floor` adds a run against an aiohttp.web app whose handler only parses the JSON body and
answers a Message, under the same load at latency 0: what the HTTP library alone costs, the
part of the simulator's CPU per request that is not its own work.

    .venv/bin/python bench/simulator_load.py [--seconds 10] [--connections 64,256] [--floor]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import free_port, machine

TOKEN = "424242:" + "B" * 35
CHATS = 200_000


def _control(base: str, path: str, body: Any) -> Any:
    request = urllib.request.Request(  # noqa: S310 - our own server, http only
        base + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - our own server
        return json.loads(answer.read())


def _get(base: str, path: str) -> Any:
    with urllib.request.urlopen(base + path, timeout=10) as answer:  # noqa: S310
        return json.loads(answer.read())


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Tally:
    """What the load generator saw."""

    latencies_s: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    disconnects: int = 0
    measuring: bool = False
    sequence: int = 0


class LoadConnection(asyncio.Protocol):
    """One keep-alive connection sending sendMessage requests back to back."""

    def __init__(self, tally: Tally, stop: asyncio.Event, done: asyncio.Future[None]) -> None:
        self.tally = tally
        self.stop = stop
        self.done = done
        self.buffer = b""
        self.sent_at = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.send()

    def send(self) -> None:
        tally = self.tally
        tally.sequence += 1
        chat_id = tally.sequence % CHATS + 1
        body = b'{"chat_id":%d,"text":"Oferta %d: <b>50%% off</b> hoje","parse_mode":"HTML"}' % (
            chat_id,
            tally.sequence,
        )
        head = b"POST /bot%s/sendMessage HTTP/1.1\r\nHost: sim\r\n" % TOKEN.encode()
        head += b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        self.sent_at = time.perf_counter()
        assert self.transport is not None
        self.transport.write(head + body)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            status = int(head[9:12])
            tally = self.tally
            if tally.measuring:
                tally.latencies_s.append(time.perf_counter() - self.sent_at)
                tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if self.stop.is_set():
                if not self.done.done():
                    self.done.set_result(None)
                assert self.transport is not None
                self.transport.close()
                return
            self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.stop.is_set():
            self.tally.disconnects += 1
        if not self.done.done():
            self.done.set_result(None)


async def drive(
    port: int, connections: int, warmup_s: float, seconds: float, server_pid: int
) -> dict[str, Any]:
    """Run the load for warmup + seconds; the figures of the measured part."""
    loop = asyncio.get_running_loop()
    tally, stop = Tally(), asyncio.Event()
    finished: list[asyncio.Future[None]] = []
    for _ in range(connections):
        done: asyncio.Future[None] = loop.create_future()
        finished.append(done)
        await loop.create_connection(
            lambda done=done: LoadConnection(tally, stop, done), "127.0.0.1", port
        )
    await asyncio.sleep(warmup_s)
    tally.measuring = True
    started, cpu_started = time.perf_counter(), _cpu_seconds(server_pid)
    await asyncio.sleep(seconds)
    tally.measuring = False
    elapsed = time.perf_counter() - started
    cpu_s = _cpu_seconds(server_pid) - cpu_started
    stop.set()
    await asyncio.wait(finished, timeout=10)
    latencies = sorted(tally.latencies_s)
    count = len(latencies)

    def percentile(p: float) -> float:
        return round(latencies[min(count - 1, int(p * count))] * 1000, 2) if count else 0.0

    errors = sum(n for status, n in tally.statuses.items() if status != 200)
    return {
        "requests": count,
        "requests_per_s": round(count / elapsed, 1),
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "max_ms": round(latencies[-1] * 1000, 2) if count else 0.0,
        "errors": errors + tally.disconnects,
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "server_cpu_share": round(cpu_s / elapsed, 3),
        "server_cpu_us_per_request": round(cpu_s / count * 1e6, 1) if count else None,
        "load_1min": round(os.getloadavg()[0], 2),
    }


def _run_loop(coroutine: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def _pinned(command: list[str]) -> subprocess.Popen[bytes]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        command = ["taskset", "-c", "0", *command]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _start_simulator(port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "disparo.simulator", "--port", str(port)]
    command += ["--latency-ms", "0", "--latency-jitter-ms", "0"]
    command += ["--per-second", "1000000", "--per-chat-burst", "1000000"]
    return _pinned(command)


# The least a Bot API server does for sendMessage: parse the JSON body, answer a Message.
FLOOR_APP = """
import sys, time, orjson, uvloop
from aiohttp import web

async def send_message(request):
    body = orjson.loads(await request.read())
    message = {"message_id": 1, "date": int(time.time()), "chat": {"id": body["chat_id"],
               "type": "private"}, "from": {"id": 424242, "is_bot": True, "first_name": "B"},
               "text": body["text"]}
    return web.Response(body=orjson.dumps({"ok": True, "result": message}),
                        content_type="application/json")

async def health(request):
    return web.json_response({"ok": True})

app = web.Application()
app.router.add_post("/bot{token}/sendMessage", send_message)
app.router.add_get("/sim/health", health)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None,
            loop=uvloop.new_event_loop())
"""


def _floor(connections: int, warmup_s: float, seconds: float) -> dict[str, Any]:
    """The empty aiohttp.web handler under the latency-0 load."""
    port = free_port()
    process = _pinned([sys.executable, "-c", FLOOR_APP, str(port)])
    try:
        _wait_ready(f"http://127.0.0.1:{port}", process)
        result = _run_loop(drive(port, connections, warmup_s, seconds, process.pid))
    finally:
        _stop(process)
    return {**result, "connections": connections}


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(100):
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        with contextlib.suppress(OSError):
            _get(base, "/sim/health")
            return
        time.sleep(0.1)
    raise SystemExit("the server did not answer within 10 s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured time per run")
    parser.add_argument(
        "--connections",
        default="64,256",
        help="keep-alive connections for latency 0 and latency 40 ms runs",
    )
    parser.add_argument(
        "--floor", action="store_true", help="also run an empty aiohttp.web handler (latency 0)"
    )
    args = parser.parse_args()
    conns_fast, conns_slow = (int(n) for n in args.connections.split(","))
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})  # the load generator stays off the simulator's core

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = _start_simulator(port)
    try:
        _wait_ready(base, process)
        limits = {"per_second": 10**9, "paid_per_second": 10**9, "per_chat_burst": 10**9}
        _control(base, f"/sim/bots/{TOKEN}/limits", limits)
        uvloop = importlib.util.find_spec("uvloop") is not None
        print("machine:", json.dumps({**machine(), "uvloop": uvloop}))
        print(
            "parameters:",
            json.dumps(
                {
                    "simulator": "python -m disparo.simulator pinned with taskset -c 0",
                    "load_generator": "raw asyncio keep-alive HTTP/1.1, pinned to core 1",
                    "method": "sendMessage, JSON body, parse_mode HTML, distinct chat ids",
                    "seconds": args.seconds,
                    "warmup_s": args.warmup,
                    "connections": {"latency_0": conns_fast, "latency_40": conns_slow},
                    "rate_limits": limits,
                }
            ),
        )
        runs: dict[str, Any] = {}
        for name, latency, jitter, conns in (
            ("latency_0ms", 0, 0, conns_fast),
            ("latency_40ms", 40, 10, conns_slow),
        ):
            _control(base, "/sim/faults", {"latency_ms": latency, "latency_jitter_ms": jitter})
            result = _run_loop(drive(port, conns, args.warmup, args.seconds, process.pid))
            result["connections"] = conns
            result["latency_ms"] = {"mean": latency, "jitter": jitter}
            runs[name] = result
        stats = _get(base, "/sim/stats")["result"]["totals"]
    finally:
        _stop(process)
    if args.floor:
        runs["aiohttp_floor_latency_0ms"] = _floor(conns_fast, args.warmup, args.seconds)
    print(json.dumps({"runs": runs, "simulator_totals": stats}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
