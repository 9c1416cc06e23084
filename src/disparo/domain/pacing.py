"""Rate maths: how fast a bot may send, how requests are spaced, backoffs, batch and window sizes.

Pure values over a monotonic `now` in seconds; the engine owns the clock and the sleeping.
"""

from __future__ import annotations

import math
from collections import deque

DEFAULT_RATE_PER_S = 25
MAX_RATE_PER_S = 30  # Telegram's broadcast limit per bot without paid broadcast
MAX_PAID_RATE_PER_S = 1000  # with allow_paid_broadcast (Telegram Stars)
WINDOW_S = 1.0  # Telegram meters a bot over a sliding second
# Every `rate` sends span at least 1 s plus this: requests leave the client with a few
# milliseconds of jitter, and the server counts them when they arrive.
DEFAULT_GUARD_S = 0.02
BATCH_S = 1.0  # a reservation holds about this much traffic
MIN_IN_FLIGHT = 4
MAX_IN_FLIGHT = 1000
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 10.0
SERVER_ERROR_STREAK = 3  # consecutive 5xx/connect failures before the whole bot backs off
SERVER_PAUSE_CAP_S = 30.0
RETRY_AFTER_MARGIN_S = 0.05  # Telegram's clock and ours differ a little
# How late a send may be and still keep the ideal schedule (timer and loop latency). A busy
# loop with 100 bots is often 10-30 ms late; restarting the schedule on each of those cost
# 20 % of the pace at 30/s, and half of it at 1,000/s (where a slot is 1 ms). The slots missed
# within this much go back to back; the window below still caps every second.
DEFAULT_CATCH_UP_S = 0.050
# A 429 with a short retry_after means our requests reached Telegram closer together than we
# sent them: the guard doubles (up to this), and shrinks by 20 % per quiet period.
MAX_GUARD_S = 0.25
WIDENING_RETRY_AFTER_S = 2.0  # longer waits are flood bans or storms, not jitter
GUARD_QUIET_S = 10.0
GUARD_INCIDENT_S = 2.0  # refusals this close together are one incident
# A stall on the way to Telegram (or at the server: a busy moment, a pause) delays the requests
# of that moment: they are counted later than we wrote them, and the second after, whose
# requests arrive on time, holds one too many of each bot's. It shows as answers that come back
# late together: the median latency of each `LATE_BUCKET_S` (and at least `LATE_BUCKET_MIN`
# answers) above the usual one (an average of those medians, which a late one moves by at most
# `LATE_NOISE_S` × `USUAL_WEIGHT`). Beyond `LATE_NOISE_S`, twice that delay (some requests of
# the spell waited longer than its median) is added to the guard until `LATE_HOLD_S` after the
# spell's last late bucket, while the delayed requests still count.
LATE_BUCKET_S = 0.05
LATE_BUCKET_MIN = 16
LATE_NOISE_S = 0.01
LATE_HOLD_S = 1.1  # a request counts in the windows of the second after it left (and the guard)
USUAL_WEIGHT = 0.05
# A process starting shots is at its busiest (claims, snapshots, new connections, and the same
# on the server's side for many bots at once), and requests written then reach the server late
# by more than the guard, while those of the second after arrive on time. A starting bot's
# windows (in its first second) that begin while a bot of the process starts sending, or within
# `START_SPELL_S` after, close `START_EXTRA_S` later: a one-time shift of its schedule, not a
# slower pace; bots already sending keep theirs.
START_EXTRA_S = 0.03
START_SPELL_S = 0.3


def effective_rate(rate_per_s: float, paid_broadcast: bool) -> float:
    """The rate a bot is paced at: its setting, capped at 30/s (1000/s with paid broadcast)."""
    cap = MAX_PAID_RATE_PER_S if paid_broadcast else MAX_RATE_PER_S
    return float(min(max(rate_per_s, 1.0), cap))


def batch_size(rate_per_s: float, batch_s: float = BATCH_S) -> int:
    """How many deliveries one reservation takes: about `batch_s` of traffic, at least 1."""
    return max(1, math.ceil(rate_per_s * batch_s))


def in_flight_limit(rate_per_s: float, latency_s: float) -> int:
    """Concurrent requests a bot needs to keep its pace: rate × latency, doubled for jitter."""
    needed = math.ceil(rate_per_s * max(latency_s, 0.0) * 2) + 2
    return min(MAX_IN_FLIGHT, max(MIN_IN_FLIGHT, needed))


def backoff_s(tries: int, jitter: float = 0.5) -> float:
    """Wait before retrying a recipient after its `tries`-th transient failure.

    Exponential from 0.5 s, capped at 10 s, spread by ±20 % with `jitter` in [0, 1).
    """
    base = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** max(0, tries - 1))
    return base * (0.8 + 0.4 * jitter)


def server_error_pause_s(streak: int) -> float:
    """How long a bot pauses after `streak` consecutive 5xx/connect failures (0: no pause)."""
    if streak < SERVER_ERROR_STREAK:
        return 0.0
    return min(SERVER_PAUSE_CAP_S, 2.0 ** (streak - SERVER_ERROR_STREAK))


def rate_limit_pause_s(retry_after_s: float) -> float:
    """How long a bot pauses after a 429 with `retry_after_s`."""
    return max(1.0, retry_after_s) + RETRY_AFTER_MARGIN_S


def lease_renew_interval_s(lease_s: float) -> float:
    """How often a worker renews its leases: six times per lease, at least once a second."""
    return max(1.0, lease_s / 6)


def lease_margin_s(lease_s: float) -> float:
    """How long before the lease's expiry a worker stops sending (renewal late, clocks apart)."""
    return max(1.0, lease_s * 0.2)


class JitterGuard:
    """How far beyond one second every rate window stretches, shared by the bots of a process.

    Jitter belongs to the path to Telegram (our loop, the network, the server), not to a bot:

    * a short 429 on one bot doubles the guard for all of them, and each quiet `GUARD_QUIET_S`
      without one shrinks it by 20 % back towards the configured base;
    * answers coming back late all at once (`answered`; see `LATE_BUCKET_S`) add the stall
      they show to the guard for `LATE_HOLD_S`: their requests may have reached the server
      that much after they left, so the sends of the next second keep that much more room;
    * while bots of the process start sending (`starting`), a starting bot's windows close
      `START_EXTRA_S` later (`extra_at_write`).
    """

    __slots__ = (
        "_bucket",
        "_bucket_at",
        "_buckets",
        "_changed_at",
        "_level_s",
        "_stall_s",
        "_stall_until",
        "_start_until",
        "_usual_s",
        "_widened_at",
        "base_s",
        "value_s",
    )

    def __init__(self, base_s: float = DEFAULT_GUARD_S) -> None:
        self.base_s = self.value_s = self._level_s = base_s
        self._changed_at = 0.0
        self._widened_at = -math.inf
        self._bucket: list[float] = []
        self._bucket_at = -math.inf
        self._buckets = 0
        self._usual_s: float | None = None  # the usual median latency, once answers tell
        self._stall_s = 0.0
        self._stall_until = -math.inf
        self._start_until = -math.inf

    def widen(self, now: float) -> None:
        """A 429 that looks like jitter (short retry_after) came back.

        Refusals within `GUARD_INCIDENT_S` of a widening are the same incident (one stall hits
        every bot at once) and widen nothing more.
        """
        if now - self._widened_at < GUARD_INCIDENT_S:
            return
        self._level_s = min(MAX_GUARD_S, max(self._level_s * 2, self.base_s, 0.01))
        self._changed_at = self._widened_at = now
        self._update(now)

    def settle(self, now: float) -> None:
        """Shrink after a quiet period, or at the end of a late spell (called as requests go)."""
        if self._level_s > self.base_s and now - self._changed_at >= GUARD_QUIET_S:
            self._level_s = max(self.base_s, self._level_s * 0.8)
            self._changed_at = now
            self._update(now)
        elif self._stall_s and now >= self._stall_until:
            self._update(now)

    def starting(self, now: float) -> None:
        """A bot of the process starts sending now (see `START_EXTRA_S`)."""
        self._start_until = now + START_SPELL_S

    def extra_at_write(self, now: float) -> float:
        """How much later than the guard says a window that begins now closes."""
        return START_EXTRA_S if now < self._start_until else 0.0

    def answered(self, now: float, latency_s: float) -> None:
        """The server answered a request written `latency_s` ago (not a timeout or a failure
        to connect: those say nothing of when a request arrived)."""
        bucket = self._bucket
        bucket.append(latency_s)
        if len(bucket) < LATE_BUCKET_MIN or now - self._bucket_at < LATE_BUCKET_S:
            return
        bucket.sort()
        typical = bucket[len(bucket) // 2]
        bucket.clear()
        self._bucket_at = now
        if self._usual_s is None:
            self._usual_s = typical
        late_s = typical - self._usual_s
        self._buckets += 1  # an average of all of them until there are 1 / USUAL_WEIGHT
        self._usual_s += max(USUAL_WEIGHT, 1 / self._buckets) * min(late_s, LATE_NOISE_S)
        if late_s > LATE_NOISE_S:  # the largest stall of the spell, held from its last bucket
            held_s = self._stall_s if now < self._stall_until else 0.0
            self._stall_s, self._stall_until = max(held_s, 2 * late_s), now + LATE_HOLD_S
        self._update(now)

    def _update(self, now: float) -> None:
        if now >= self._stall_until:
            self._stall_s = 0.0
        self.value_s = min(MAX_GUARD_S, self._level_s + self._stall_s)


class Pacer:
    """One bot's send schedule: evenly spaced, never a burst, paused by a 429 and then probed.

    * spacing: sends follow an ideal schedule 1/rate apart, so a timer or a loop that is up to
      `catch_up_s` late does not slow the pace (the slots missed meanwhile go back to back); a
      send later than that restarts the schedule from itself (a stalled loop never earns a
      burst beyond `catch_up_s` of slots);
    * window: never more than `rate` requests written in any 1 s + the guard, counting the
      times they really left (`went`) and the slots granted but not yet written, so a request
      that leaves late cannot crowd the server's sliding second; the guard (`JitterGuard`,
      shared by the bots of a process) covers the jitter between our write and the server's
      clock, and adapts to it;
    * pause: after a 429 (or a run of server errors) nothing is sent until the pause ends; then
      exactly one probe goes, and the rest wait for its answer, so a pause costs one refusal at
      most, never a cascade.
    """

    __slots__ = (
        "_first_write",
        "_next",
        "_paused_until",
        "_pending",
        "_probe_out",
        "_probing",
        "_writes",
        "burst",
        "catch_up_s",
        "guard",
        "interval_s",
        "rate_per_s",
    )

    def __init__(
        self,
        rate_per_s: float,
        *,
        guard_s: float = DEFAULT_GUARD_S,
        guard: JitterGuard | None = None,
        catch_up_s: float = DEFAULT_CATCH_UP_S,
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be above 0")
        self.rate_per_s = rate_per_s
        self.interval_s = 1.0 / rate_per_s
        self.catch_up_s = catch_up_s
        self.burst = max(1, math.floor(rate_per_s * WINDOW_S))
        self.guard = guard if guard is not None else JitterGuard(guard_s)
        self._writes: deque[float] = deque(maxlen=self.burst)
        self._pending = 0  # slots granted whose request has not been written yet
        self._next = -math.inf
        self._first_write: float | None = None
        self._paused_until = -math.inf
        self._probing = False
        self._probe_out = False

    @property
    def paused_until(self) -> float:
        """The monotonic time the current pause ends (in the past when not paused)."""
        return self._paused_until

    @property
    def waiting_for_probe(self) -> bool:
        """True while a probe is out and every other send waits for its answer."""
        return self._probe_out

    def ready_at(self) -> float | None:
        """The monotonic time the next send may go (past: at once); None while it must wait
        for an answer (a probe is out) or for granted requests to be written."""
        if self._probe_out:
            return None
        at = max(self._next, self._paused_until)
        room = self.burst - self._pending  # writes allowed in the window besides the pending
        if room <= 0:
            return None
        writes = self._writes
        if len(writes) >= room:
            at = max(at, writes[-room] + WINDOW_S + self.guard.value_s)
        return at

    def take(self, now: float) -> bool:
        """Record a send at `now` (after `ready_at` allowed it); True if it is the probe."""
        late_s = now - self._next
        self._next = (now if late_s > self.catch_up_s else self._next) + self.interval_s
        self._pending += 1
        if self._probing:
            self._probe_out = True
            return True
        return False

    def went(self, now: float) -> None:
        """A granted request is being written now (call right before the request)."""
        self._pending = max(0, self._pending - 1)
        if self._first_write is None:
            self._first_write = now
        starting = now - self._first_write < WINDOW_S
        self._writes.append(now + self.guard.extra_at_write(now) if starting else now)
        self.guard.settle(now)

    def rate_limited(self, now: float, retry_after_s: float) -> None:
        """Telegram refused a request with 429: pause; widen the guard if it looks like jitter."""
        self.pause(now, rate_limit_pause_s(retry_after_s))
        if retry_after_s <= WIDENING_RETRY_AFTER_S:
            self.guard.widen(now)

    def pause(self, now: float, seconds: float) -> None:
        """Send nothing for `seconds`; the first send after it is a probe."""
        self._paused_until = max(self._paused_until, now + seconds)
        self._probing = True

    def answered(self, *, probe: bool, refused: bool) -> None:
        """A send's answer came back; a probe's ends the probing unless it was `refused`.

        `refused` means the answer keeps the bot paused (429, or a server error in a run).
        """
        if not probe:
            return
        self._probe_out = False
        if not refused:
            self._probing = False
