"""Start and stop the simulator: in-process for tests (`SimulatorServer`), or as a process.

`run` blocks until SIGINT or SIGTERM; `add_arguments` and `run_from_args` let the `disparo`
CLI offer the same flags as `python -m disparo.simulator`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Callable
from types import TracebackType

from aiohttp import web

from disparo.simulator.config import SimulatorConfig
from disparo.simulator.routes import Routes
from disparo.simulator.world import World

log = logging.getLogger("disparo.simulator")

# how long answers in flight (latency, long polls) may finish when the server stops
SHUTDOWN_GRACE_S = 0.05


class SimulatorServer:
    """The simulator listening on a TCP port of this event loop (port 0 picks a free one)."""

    def __init__(
        self, config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config or SimulatorConfig()
        self.host = host
        self.port = port
        self.world = World(self.config)
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        """`http://host:port`, the Bot API base URL to give a client."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Bind and listen."""
        runner = web.AppRunner(
            Routes(self.world).application(),
            access_log=None,
            # a client that hangs up cancels its request (a long poll stops waiting)
            handler_cancellation=True,
            shutdown_timeout=SHUTDOWN_GRACE_S,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True, backlog=2048)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop listening, close every connection and the webhook client."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.world.close()

    async def __aenter__(self) -> SimulatorServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop  # optional speed-up, absent on some platforms
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


FREEZE_EVERY_S = 1.0


async def _freeze_survivors(stop: asyncio.Event) -> None:
    """Keep full garbage collections short: every second, move what survived into the
    permanent generation.

    The simulator's state only grows (it records every delivery for the control API), and
    a full collection would walk all of it: 100-300 ms once it holds tens of thousands of
    deliveries. During such a stall requests queue up and are then stamped together, so the
    simulator would count them as arriving together and answer 429s Telegram would not have
    sent. Its state has no reference cycles; what refcounting frees is freed as usual.
    """
    while not stop.is_set():
        gc.freeze()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), FREEZE_EVERY_S)


async def serve(config: SimulatorConfig, host: str, port: int) -> None:
    """Run the simulator until SIGINT or SIGTERM."""
    server = SimulatorServer(config, host, port)
    await server.start()
    sys.stdout.write(f"disparo simulator listening on {server.base_url}\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    freezer = asyncio.create_task(_freeze_survivors(stop))
    try:
        await stop.wait()
    finally:
        await freezer
        await server.stop()


def run(
    host: str = "127.0.0.1",
    port: int = 8081,
    *,
    strict_users: bool = False,
    latency_ms: float = 40.0,
    latency_jitter_ms: float = 10.0,
    per_second: int = 30,
    paid_per_second: int = 1000,
    per_chat_burst: int = 3,
    slow_s: float = 15.0,
    seed: int | None = None,
    log_requests: bool = False,
) -> int:
    """Serve the simulated Bot API on host:port until interrupted; the exit status."""
    config = SimulatorConfig(
        strict_users=strict_users,
        latency_ms=latency_ms,
        latency_jitter_ms=latency_jitter_ms,
        per_second=per_second,
        paid_per_second=paid_per_second,
        per_chat_burst=per_chat_burst,
        slow_s=slow_s,
        seed=seed,
        log_requests=log_requests,
    )
    if log_requests and not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(serve(config, host, port))
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulator's command-line flags."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8081, help="TCP port (0 picks a free one)")
    parser.add_argument(
        "--strict-users",
        action="store_true",
        help="unknown chat ids answer 400 chat not found instead of being active users",
    )
    parser.add_argument("--latency-ms", type=float, default=40.0, help="mean answer delay")
    parser.add_argument(
        "--latency-jitter-ms", type=float, default=10.0, help="standard deviation of the delay"
    )
    parser.add_argument("--per-second", type=int, default=30, help="messages per bot per second")
    parser.add_argument(
        "--paid-per-second", type=int, default=1000, help="paid broadcast messages per second"
    )
    parser.add_argument(
        "--per-chat-burst", type=int, default=3, help="messages one chat takes in a burst"
    )
    parser.add_argument(
        "--slow-s", type=float, default=15.0, help="delay of a slow answer (fault injection)"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of latency and fault dice")
    parser.add_argument(
        "--log-requests", action="store_true", help="log one line per request (bot id only)"
    )


def run_from_args(args: argparse.Namespace) -> int:
    """`run` with the flags `add_arguments` defined."""
    return run(
        args.host,
        args.port,
        strict_users=args.strict_users,
        latency_ms=args.latency_ms,
        latency_jitter_ms=args.latency_jitter_ms,
        per_second=args.per_second,
        paid_per_second=args.paid_per_second,
        per_chat_burst=args.per_chat_burst,
        slow_s=args.slow_s,
        seed=args.seed,
        log_requests=args.log_requests,
    )
