"""Fuzz the HTTP API with schemathesis against real `disparo serve` and simulator processes.

Shared by `tests/fuzz/test_schemathesis.py` (a small budget, in CI) and `bench/fuzz_api.py`
(the long run). The stack is seeded through the API with a bot, contacts, events, payments and
shots in every state, so generated cases reach existing resources as well as missing ones; every
response is counted and checked, and every check failure is collected (none stops the run).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from sqlalchemy import create_engine, insert, select
from sqlalchemy.engine import URL

from disparo.db.secrets import TokenCipher
from disparo.db.tables import bots
from disparo.db.tables_jobs import shot_jobs
from disparo.db.urls import sync_url

ADMIN_TOKEN = "fuzz-admin-token-5c2e8b1f9d47a3"
SECRET_KEY = "Xc0nVZpGBf9nZ5DRbzG0Ayb4Gq8OfNm8v6s2I3sU8vM="
ADMIN = "/admin/api"
LOJA = "loja"
VALID_FILTER = {"all": [{"started": {"within_days": 30}}, {"not": {"paid": {}}}]}
DISPOSABLE = tuple(f"descartavel-{n}" for n in range(12))
STARTUP_S = 30.0

# The import routes take JSON lines or CSV: schemathesis sends their (string) bodies as text.
schemathesis.serializer.alias(["application/x-ndjson", "text/csv"], "text/plain")


def bot_token(bot_id: int) -> str:
    """A well-formed token for Telegram bot `bot_id` (the simulator accepts any such token;
    not shaped like a real one, which starts its secret with AA)."""
    return f"{bot_id}:TTF{'z' * 16}{bot_id:016d}"


LOJA_TOKEN = bot_token(700_000_001)


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# the stack ------------------------------------------------------------------------------------


def _clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPARO_")}
    return {**env, **values}


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_until_up(process: subprocess.Popen[bytes], url: str, what: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer {url} in {STARTUP_S} s")
        time.sleep(0.1)


@dataclass
class Stack:
    """A running simulator and `disparo serve`, their logs, and the seeded resources."""

    base_url: str
    simulator_url: str
    database_url: URL
    server_log: Path
    session: requests.Session
    shot_ids: list[int] = field(default_factory=list)
    fresh_shot_ids: list[int] = field(default_factory=list)
    slugs: list[str] = field(default_factory=list)
    disposable: list[str] = field(default_factory=list)
    job_ids: list[int] = field(default_factory=list)
    edited_shot_id: int = 0  # a sent shot only edits touch (no other job of it gets in the way)
    recalled_shot_id: int = 0  # and one only recalls touch
    webhook_ids: list[int] = field(default_factory=list)  # kept
    disposable_webhooks: list[int] = field(default_factory=list)  # for DELETE
    webhook_secret: str = ""

    def admin(self, method: str, path: str, **kw: Any) -> requests.Response:
        """One admin API request with the token."""
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", **kw.pop("headers", {})}
        return self.session.request(method, self.base_url + path, headers=headers, timeout=30, **kw)

    def unexpected_errors(self) -> list[str]:
        """Server log lines of unhandled exceptions (each answered 500)."""
        lines = self.server_log.read_text(errors="replace").splitlines()
        return [line for line in lines if "unexpected error" in line]


@contextlib.contextmanager
def running_stack(database_url: URL, workdir: Path) -> Iterator[Stack]:
    """The simulator and `disparo serve` (API + worker) on a migrated database, seeded."""
    sim_port, api_port = free_port(), free_port()
    sim_url, api_url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{api_port}"
    sim_log, server_log = workdir / "simulator.log", workdir / "server.log"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with sim_log.open("wb") as out:
            simulator = subprocess.Popen(
                [sys.executable, "-m", "disparo", "simulator", "--port", str(sim_port),
                 "--latency-ms", "0", "--latency-jitter-ms", "0", "--seed", "7"],
                env=_clean_env(), stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        processes.append(simulator)
        _wait_until_up(simulator, f"{sim_url}/sim/health", "the simulator", sim_log)
        env = _clean_env(
            DISPARO_DATABASE_URL=database_url.render_as_string(hide_password=False),
            DISPARO_ADMIN_TOKEN=ADMIN_TOKEN,
            DISPARO_TELEGRAM_API_URL=sim_url,
            DISPARO_TELEGRAM_TIMEOUT_S="5",
            DISPARO_PUBLIC_URL=api_url,
            DISPARO_SECRET_KEY=SECRET_KEY,
            DISPARO_LOG_FORMAT="json",
        )
        with server_log.open("wb") as out:
            server = subprocess.Popen(
                [sys.executable, "-m", "disparo", "serve", "--port", str(api_port)],
                env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        processes.append(server)
        _wait_until_up(server, f"{api_url}/readyz", "disparo serve", server_log)
        with requests.Session() as session:
            stack = Stack(api_url, sim_url, database_url, server_log, session)
            seed_stack(stack)
            yield stack
    finally:
        for process in reversed(processes):
            _stop(process)


def _created(response: requests.Response) -> dict[str, Any]:
    if response.status_code not in (200, 201):
        raise RuntimeError(f"seeding failed: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json()
    return body


def seed_stack(stack: Stack) -> None:
    """A bot with contacts, events, payments, a webhook, and shots sent, pending, paused and
    cancelled; bots to delete; the webhook secret (read from the database)."""
    stack.session.post(
        f"{stack.simulator_url}/sim/bots/{LOJA_TOKEN}/users",
        json=[{"id": n, "state": "active"} for n in range(1, 21)]
        + [{"id": 21, "state": "blocked"}, {"id": 22, "state": "deactivated"}],
        timeout=10,
    ).raise_for_status()
    _created(stack.admin("POST", f"{ADMIN}/bots", json={"slug": LOJA, "token": LOJA_TOKEN}))
    for index, slug in enumerate(DISPOSABLE):
        body = {"slug": slug, "token": bot_token(710_000_000 + index)}
        _created(stack.admin("POST", f"{ADMIN}/bots", json=body))
    stack.slugs, stack.disposable = [LOJA], list(DISPOSABLE)
    contacts = "".join(
        f'{{"telegram_id": {n}, "first_name": "C{n}", "started_at": "2026-11-01T12:00:00Z"}}\n'
        for n in range(1, 24)
    )
    ndjson = {"Content-Type": "application/x-ndjson"}
    path = f"{ADMIN}/bots/{LOJA}"
    _created(stack.admin("POST", f"{path}/contacts:import", data=contacts, headers=ndjson))
    events = "telegram_id,event,occurred_at\n1,pix_created,2026-11-02T12:00:00Z\n"
    csv = {"Content-Type": "text/csv"}
    _created(stack.admin("POST", f"{path}/events:import", data=events, headers=csv))
    payments = "telegram_id,external_id,status,amount_cents\n2,pix-1,paid,4990\n"
    _created(stack.admin("POST", f"{path}/transactions:import", data=payments, headers=csv))
    job = stack.admin("POST", f"{path}/imports?kind=contacts", data=contacts, headers=ndjson)
    if job.status_code != 202:  # an import job (id 1) for its progress and rejections
        raise RuntimeError(f"seeding failed: {job.status_code} {job.text}")
    _created(stack.admin("POST", f"{path}/webhook"))
    shots = f"{ADMIN}/shots"
    sent = _created(stack.admin("POST", shots, json={"bot_slug": LOJA, "target": "started",
                                                     "copy": "<b>Oferta</b> de hoje"}))  # fmt: skip
    later = {"bot_slug": LOJA, "target": "pix_created", "copy": "Seu PIX",
             "scheduled_at": "2099-01-01T12:00:00Z"}  # fmt: skip
    pending = _created(stack.admin("POST", shots, json=later))
    paused = _created(stack.admin("POST", shots, json=later))
    _created(stack.admin("POST", f"{shots}/{paused['id']}/pause"))
    cancelled = _created(stack.admin("POST", shots, json=later))
    _created(stack.admin("POST", f"{shots}/{cancelled['id']}/cancel"))
    now = {"bot_slug": LOJA, "target": "started", "copy": "Outra oferta"}
    held, edited, recalled = (_created(stack.admin("POST", shots, json=now)) for _ in range(3))
    stack.shot_ids = [sent["id"], pending["id"], paused["id"], cancelled["id"]]
    deadline = time.monotonic() + 30
    for shot in (sent, held, edited, recalled):
        while _created(stack.admin("GET", f"{shots}/{shot['id']}"))["status"] != "sent":
            if time.monotonic() > deadline:
                raise RuntimeError("the seeded shots were not sent in 30 s")
            time.sleep(0.1)
    stack.edited_shot_id, stack.recalled_shot_id = edited["id"], recalled["id"]
    edit = _created(stack.admin("POST", f"{shots}/{edited['id']}/edit", json={"copy": "Oferta"}))
    hook = {"url": "http://127.0.0.1:9/hook", "events": ["shot.finished"]}
    hooks = [_created(stack.admin("POST", f"{ADMIN}/webhooks", json=hook))["id"] for _ in range(4)]
    stack.webhook_ids, stack.disposable_webhooks = hooks[:1], hooks[1:]
    stack.job_ids = [edit["id"], *held_jobs(stack, held["id"])]
    read_webhook_secret(stack)


def held_jobs(stack: Stack, shot_id: int) -> list[int]:
    """Three paused recall jobs of a sent shot, written directly (the API lets one job of a
    shot be active, and a worker would end one before a pause reached it): each resume, pause
    or cancel of the fuzzer finds one it may move."""
    engine = create_engine(sync_url(stack.database_url))
    try:
        with engine.begin() as conn:
            return [
                int(conn.execute(
                    insert(shot_jobs)
                    .values(shot_id=shot_id, bot_slug=LOJA, kind="recall", status="paused")
                    .returning(shot_jobs.c.id)
                ).scalar_one())
                for _ in range(3)
            ]  # fmt: skip
    finally:
        engine.dispose()


def read_webhook_secret(stack: Stack) -> None:
    """Keep `loja`'s webhook secret, read from the database (stored sealed)."""
    engine = create_engine(sync_url(stack.database_url))
    try:
        with engine.connect() as conn:
            secret = conn.scalar(select(bots.c.webhook_secret).where(bots.c.slug == LOJA))
    finally:
        engine.dispose()
    stack.webhook_secret = TokenCipher(SECRET_KEY).open(str(secret))


# fuzzing --------------------------------------------------------------------------------------


# Every check of a single response that applies to this API. Left out, with the reason:
#   positive_data_acceptance: schema-valid requests are refused on meaning the schema cannot
#     express (a token Telegram refuses, copy that is not valid Telegram HTML, an unknown bot);
#   negative_data_rejection: run on the negative cases, except for an import, an import job or
#     a preview (its body is text: bad lines are reported one by one, by design) and a case
#     that carries a query parameter the operation does not declare (the API ignores those);
#   missing_required_header, unsupported_method, ignored_auth: the auth walk of the tests sends
#     every admin operation without and with a wrong token, and the 405 answers are tested in
#     tests/api/test_errors.py; use_after_free, ensure_resource_availability: stateful checks.
CHECK_NAMES = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
NEGATIVE_CHECK_NAMES = (*CHECK_NAMES, "negative_data_rejection")
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


def _checks(names: tuple[str, ...]) -> list[Any]:
    return [getattr(schemathesis.checks, name) for name in names]


@dataclass
class Failure:
    """One distinct check failure: where, which check, and how to reproduce it."""

    operation: str
    code: str
    title: str
    status: int
    body: str
    curl: str

    def __str__(self) -> str:
        where = f"{self.operation}: {self.code} {self.title}"
        return f"{where} -> {self.status} {self.body}\n  {self.curl}"


@dataclass
class Report:
    """What a fuzz run sent and met."""

    operations: int = 0
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    per_operation: Counter[str] = field(default_factory=Counter)
    transport_errors: list[str] = field(default_factory=list)
    failures: dict[tuple[str, str, str], Failure] = field(default_factory=dict)
    failure_counts: Counter[str] = field(default_factory=Counter)
    without_negative_cases: list[str] = field(default_factory=list)
    by_operation: defaultdict[str, Counter[int]] = field(
        default_factory=lambda: defaultdict(Counter)
    )

    @property
    def server_errors(self) -> int:
        """Responses with a 5xx status."""
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def schema_violations(self) -> int:
        """Responses that break the OpenAPI document: a status, body, content type or header
        it does not list for the operation, or invalid data accepted (every check but 5xx)."""
        return sum(n for code, n in self.failure_counts.items() if code != "ST101")

    def summary(self) -> dict[str, Any]:
        """The figures as one JSON-able object."""
        return {
            "operations": self.operations,
            "cases": self.cases,
            "responses_5xx": self.server_errors,
            "schema_violations": self.schema_violations,
            "transport_errors": len(self.transport_errors),
            "failures_by_code": dict(sorted(self.failure_counts.items())),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "min_cases_per_operation": min(self.per_operation.values(), default=0),
        }


def refresh(stack: Stack, operation: Any) -> None:
    """Before each operation: a pending and a paused shot to act on (the one the operation
    can act on first, as generation favours it), `loja` on webhooks and its current secret
    (an operation may have rotated it)."""
    shots = f"{ADMIN}/shots"
    later = {"bot_slug": LOJA, "target": "started", "copy": "Novidade",
             "scheduled_at": "2099-01-01T12:00:00Z"}  # fmt: skip
    pending = _created(stack.admin("POST", shots, json=later))
    paused = _created(stack.admin("POST", shots, json=later))
    _created(stack.admin("POST", f"{shots}/{paused['id']}/pause"))
    stack.fresh_shot_ids = [pending["id"], paused["id"]]
    if operation.path.endswith("/resume"):
        stack.fresh_shot_ids.reverse()
    _created(stack.admin("PATCH", f"{ADMIN}/bots/{LOJA}", json={"polling": False}))
    read_webhook_secret(stack)


def _known(stack: Stack, case: Any, data: st.DataObject) -> None:
    """Point most cases at resources that exist (a random slug or id is nearly always 404)."""
    # Generation favours the first choice of sampled_from: most cases use known values.
    if not data.draw(st.sampled_from((True, True, True, False)), label="use known values"):
        return
    params = case.path_parameters if case.path_parameters is not None else {}
    if "shot_id" in params:
        pool = st.sampled_from(stack.fresh_shot_ids) | st.sampled_from(stack.shot_ids)
        params["shot_id"] = data.draw(pool, label="shot_id")
    if "job_id" in params:
        params["job_id"] = data.draw(st.sampled_from(stack.job_ids), label="job_id")
    if "webhook_id" in params:
        deleting = case.method.upper() == "DELETE"
        pool = stack.disposable_webhooks if deleting else stack.webhook_ids
        params["webhook_id"] = data.draw(st.sampled_from(pool), label="webhook_id")
    if case.path.endswith("/{shot_id}/recall"):
        params["shot_id"] = stack.recalled_shot_id
    if case.path.endswith("/{shot_id}/edit") and isinstance(case.body, dict):
        params["shot_id"] = stack.edited_shot_id  # most bodies a valid edit
        copy = case.body.get("copy")
        case.body["copy"] = data.draw(st.sampled_from(("Oferta <b>nova</b>", copy)))
    if "telegram_id" in params:  # the seeded contacts (deleted only at the end)
        params["telegram_id"] = data.draw(st.integers(1, 23), label="telegram_id")
    if "slug" in params:
        deleting = case.method.upper() == "DELETE" and case.path == f"{ADMIN}/bots/{{slug}}"
        pool = stack.disposable if deleting and stack.disposable else stack.slugs
        params["slug"] = data.draw(st.sampled_from(pool), label="slug")
        if case.path == "/telegram/{slug}/webhook":
            case.headers = {
                **(case.headers or {}),
                "X-Telegram-Bot-Api-Secret-Token": stack.webhook_secret,
            }
    if isinstance(case.query, dict) and "bot_slug" in case.query:
        case.query["bot_slug"] = LOJA
    if isinstance(case.body, dict) and "bot_slug" in case.body:
        case.body["bot_slug"] = LOJA
    if isinstance(case.body, dict) and isinstance(case.body.get("filter"), dict):
        # A generated filter tree or tag is nearly never valid: most cases get valid ones.
        case.body["filter"] = data.draw(st.sampled_from((VALID_FILTER, case.body["filter"])))
        if "tag" in case.body:
            case.body["tag"] = data.draw(st.sampled_from(("quente", case.body["tag"])))
        if case.path.endswith("/contacts:delete"):  # a filter of nobody, confirmed: harmless
            case.body["filter"] = {"tag": "ninguem"}
            case.body["expected_count"] = 0
    if (
        case.path == f"{ADMIN}/bots"
        and case.method.upper() == "POST"
        and isinstance(case.body, dict)
    ):
        bot_id = data.draw(st.integers(720_000_000, 729_999_999), label="bot id")
        case.body["token"] = bot_token(bot_id)


def _remember(stack: Stack, case: Any, response: requests.Response) -> None:
    """Shots and bots the fuzzer created become known resources too."""
    if response.status_code != 201:
        return
    body = response.json()
    if case.path == f"{ADMIN}/shots":
        stack.shot_ids.append(int(body["id"]))
    elif case.path == f"{ADMIN}/bots":
        stack.disposable.append(str(body["slug"]))
    elif case.path == f"{ADMIN}/webhooks":  # an unknown case's small id may delete a seeded one
        stack.webhook_ids.append(int(body["id"]))


def fuzz_operation(
    stack: Stack, operation: Any, mode: GenerationMode, max_examples: int, run_seed: int,
    report: Report,
) -> None:  # fmt: skip
    """Send `max_examples` generated cases of one operation; record statuses and failures."""
    strategy = operation.as_strategy(generation_mode=mode)
    # An import's body is text: any bytes are a "string", and bad lines are reported one by
    # one in a 200 answer, by design; so an invalid import body is not refused as a whole.
    text_body = operation.method.upper() == "POST" and operation.path.endswith(
        (":import", "/imports", "/imports:preview")
    )
    negative = mode is GenerationMode.NEGATIVE and not text_body
    declared_query = {parameter.name for parameter in operation.query}
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    label = f"{operation.method.upper()} {operation.path}"

    @seed(run_seed)
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        case = data.draw(strategy, label="case")
        if mode is GenerationMode.POSITIVE:
            _known(stack, case, data)
        report.cases += 1
        report.per_operation[label] += 1
        try:
            response = case.call(base_url=stack.base_url, session=stack.session, headers=auth,
                                 timeout=30)  # fmt: skip
        except requests.RequestException as exc:
            report.transport_errors.append(f"{label}: {type(exc).__name__}: {exc}")
            return
        report.statuses[response.status_code] += 1
        report.by_operation[label][response.status_code] += 1
        if mode is GenerationMode.POSITIVE:
            _remember(stack, case, response)
        # The API ignores query parameters it does not know, as HTTP APIs do; schemathesis
        # counts one (an empty name, say) as invalid data that should have been refused.
        unknown_query = bool(set(case.query or {}) - declared_query)
        # A list of one value is sent as that one value (`?bot_slug=x`): the request on the wire
        # is valid whatever schemathesis meant, so it cannot be refused.
        single = any(isinstance(v, list) and len(v) == 1 for v in (case.query or {}).values())
        refusable = negative and not unknown_query and not single
        names = NEGATIVE_CHECK_NAMES if refusable else CHECK_NAMES
        try:
            case.validate_response(response, checks=_checks(names), headers=auth)
        except FailureGroup as group:
            for failure in group.exceptions:
                report.failure_counts[failure.code] += 1
                key = (label, failure.code, failure.title)
                if key not in report.failures:
                    report.failures[key] = Failure(
                        label, failure.code, failure.title, response.status_code,
                        response.text[:300], case.as_curl_command(headers=auth),
                    )  # fmt: skip

    try:
        run()
    except Unsatisfiable:  # nothing of the operation can be made invalid (no parameters)
        report.without_negative_cases.append(label)


def fuzz(stack: Stack, *, max_examples: int, run_seed: int | None = None) -> Report:
    """Every operation of /openapi.json: `max_examples` positive and half as many negative
    cases each, with the admin token."""
    run_seed = random.randrange(2**32) if run_seed is None else run_seed
    schema = schemathesis.openapi.from_url(f"{stack.base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    # Bots are deleted last, so the other operations meet them first.
    operations.sort(key=lambda op: op.method.upper() == "DELETE" and "/bots/" in op.path)
    report = Report(operations=len(operations))
    for operation, mode in itertools.product(operations, MODES):
        budget = max_examples if mode is GenerationMode.POSITIVE else max(1, max_examples // 2)
        refresh(stack, operation)
        fuzz_operation(stack, operation, mode, budget, run_seed, report)
    return report
