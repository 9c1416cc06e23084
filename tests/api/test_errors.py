"""One JSON error shape for every failure; OpenAPI describes every route; metrics are exposed."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from api_support import ADMIN_TOKEN, TOKEN, BuildApp, Client, Serve

from disparo.db.engine import Database

SHOTS = "/admin/api/shots"


def assert_error(body: Any, code: str) -> None:
    """`body` is the one error shape with this code."""
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert set(body["error"]) <= {"code", "message", "field"}


async def test_unknown_route_and_wrong_method(api: Client) -> None:
    """An unknown path is a 404 and a wrong method a 405, both in the error shape."""
    unknown = await api.get("/admin/api/nothing-here")
    assert unknown.status == 404
    assert_error(unknown.body, "not_found")
    wrong = await api.request("PUT", SHOTS)
    assert wrong.status == 405
    assert_error(wrong.body, "method_not_allowed")
    assert wrong.headers["Allow"] == "GET, POST"
    assert wrong.body["error"]["message"] == "this path accepts GET, POST"


async def test_malformed_json_and_non_object_bodies(api: Client) -> None:
    """Malformed JSON is a 400; a JSON value that is not an object is a 422."""
    json_type = {"Content-Type": "application/json"}
    broken = await api.request("POST", SHOTS, data='{"bot_slug": ', headers=json_type)
    assert broken.status == 400
    assert_error(broken.body, "bad_request")
    assert "not valid JSON" in broken.body["error"]["message"]
    listed = await api.post(SHOTS, [1, 2])
    assert listed.status == 422
    assert_error(listed.body, "validation_error")
    assert "JSON object" in listed.body["error"]["message"]
    empty = await api.request("POST", SHOTS, headers=json_type)
    assert empty.status == 422
    assert_error(empty.body, "validation_error")


async def test_a_query_parameter_given_twice_is_refused(api: Client) -> None:
    """A repeated query parameter is a 422 naming it, not one of its values picked silently."""
    answer = await api.get("/admin/api/templates?bot_slug=loja&bot_slug=outra")
    assert answer.status == 422
    assert_error(answer.body, "validation_error")
    assert answer.body["error"]["field"] == "bot_slug"
    assert answer.body["error"]["message"] == "'bot_slug' is given 2 times; give it once"
    once = await api.get("/admin/api/templates?bot_slug=loja")
    assert once.status == 200


async def test_path_parameters_are_validated(api: Client) -> None:
    """A shot id that is not a number is a 422 naming shot_id."""
    answer = await api.get(f"{SHOTS}/abc")
    assert answer.status == 422
    assert answer.body["error"]["field"] == "shot_id"
    assert answer.body["error"]["message"] == "shot_id must be an integer"


async def test_oversized_bodies_are_413(api: Client, session: aiohttp.ClientSession) -> None:
    """A body over the limit is refused whether its length is declared or streamed."""
    big = b'{"copy": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    declared = await api.request(
        "POST", SHOTS, data=big, headers={"Content-Type": "application/json"}
    )
    assert declared.status == 413
    assert_error(declared.body, "payload_too_large")

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 100_000

    async with session.post(
        api.base_url + SHOTS,
        data=chunks(),
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
    ) as response:
        assert response.status == 413
        assert_error(await response.json(), "payload_too_large")


async def test_database_outage_is_503(
    build_app: BuildApp, serve: Serve, backend: str, tmp_path: Path
) -> None:
    """With the database unreachable, routes answer 503 unavailable and /readyz says so."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'missing-dir' / 'db.sqlite3'}"
    else:
        url = "postgresql://postgres@127.0.0.1:9/disparo"
    down = Database(url, pool_size=1)
    try:
        api = await serve(build_app(db=down))
        for path in (f"{SHOTS}?bot_slug=loja", "/admin/api/bots", f"{SHOTS}/1/stats"):
            answer = await api.get(path)
            assert answer.status == 503, (path, answer.body)
            assert_error(answer.body, "unavailable")
            assert "database" in answer.body["error"]["message"]
        created = await api.post(SHOTS, {"bot_slug": "loja", "target": "started", "copy": "oi"})
        assert created.status == 503
        ready = await api.get("/readyz", token=None)
        assert ready.status == 503
    finally:
        await down.dispose()


async def test_openapi_describes_every_route_and_field(api: Client) -> None:
    """Every operation has a summary and description, every field and parameter a description."""
    schema = (await api.get("/openapi.json", token=None)).body
    paths = schema["paths"]
    assert "/admin/api/bots/{slug}/contacts:import" in paths
    assert "/admin/api/shots/{shot_id}/deliveries.csv" in paths
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert operation.get("summary"), (method, path)
            assert operation.get("description"), (method, path)
            for parameter in operation.get("parameters", []):
                assert parameter.get("description"), (method, path, parameter["name"])
            if path.startswith("/admin/api"):
                assert operation["security"] == [{"AdminToken": []}], (method, path)
                assert "401" in operation["responses"]
    for name, component in schema["components"]["schemas"].items():
        for field, spec in component.get("properties", {}).items():
            assert spec.get("description"), (name, field)
    create = schema["components"]["schemas"]["ShotCreate"]
    assert create["examples"][0]["copy"]
    # copy is required unless from_template gives it (the route names it when neither is there)
    assert "from_template" in create["properties"]["copy"]["description"]


async def test_metrics_count_requests_by_route_template(
    api: Client, bot: dict[str, Any], db: Database
) -> None:
    """/metrics has the HTTP counters, labelled by template, never by id, token or content."""
    await api.get(f"{SHOTS}/424242")
    await api.get("/admin/api/no/such/route/zzqq")
    await api.post(SHOTS, {"bot_slug": "loja", "target": "started", "copy": "segredo-da-copy"})
    answer = await api.get("/metrics", token=None)
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    text = answer.text
    assert (
        'disparo_http_requests_total{method="GET",route="/admin/api/shots/{shot_id}",status="404"}'
        in text
    )
    assert 'route="unmatched",status="404"' in text
    assert 'route="/admin/api/shots",status="201"' in text
    assert "disparo_http_request_duration_seconds_bucket" in text
    routes = set(re.findall(r'route="([^"]*)"', text))
    templates = set((await api.get("/openapi.json")).body["paths"])
    # The click redirect is a public route outside the admin API's document (docs/api.md).
    assert routes <= templates | {"unmatched", "/openapi.json", "/r/{code}"}
    for secret in ("zzqq", "segredo-da-copy", TOKEN, TOKEN.split(":")[1], ADMIN_TOKEN):
        assert secret not in text


async def test_hostile_input_never_yields_a_500(api: Client, bot: dict[str, Any]) -> None:
    """Huge ids, NUL characters, out-of-range times and numbers are refused, never a 500."""
    huge = "9" * 30
    shot = (await api.post(SHOTS, {"bot_slug": "loja", "target": "started", "copy": "oi"})).body
    ndjson = {"Content-Type": "application/x-ndjson"}
    requests: list[tuple[str, str, Any, bytes | None]] = [
        ("GET", f"{SHOTS}/{huge}/stats", None, None),
        ("POST", f"{SHOTS}/{huge}/resume", None, None),
        ("GET", f"{SHOTS}?bot_slug=a%00b", None, None),
        ("GET", f"{SHOTS}?bot_slug=loja&cursor=²", None, None),
        ("GET", f"{SHOTS}/{shot['id']}/deliveries?cursor={huge}", None, None),
        ("POST", SHOTS, {"bot_slug": "loja", "target": "started", "copy": "a\x00b"}, None),
        ("POST", SHOTS, {"bot_slug": "lo\x00ja", "target": "started", "copy": "ab"}, None),
        (
            "POST",
            SHOTS,
            {"bot_slug": "loja", "target": "started", "copy": "x",
             "scheduled_at": "9999-12-31T23:00:00-03:00"},
            None,
        ),
        ("POST", f"{SHOTS}/{shot['id']}/test", None, b'{"telegram_id": 1' + b"0" * 30 + b"}"),
        ("PATCH", "/admin/api/bots/loja", {"name": "a\x00b"}, None),
        ("PATCH", "/admin/api/bots/loja", {"timezone": "Europe/\x00"}, None),
        ("POST", "/admin/api/bots/loja/contacts:import", None,
         b'{"telegram_id": 99999999999999999999}\n{"telegram_id": 1, "first_name": "a\\u0000"}\n'
         b'{"telegram_id": 2, "started_at": 99999999999999}\n'
         b'{"telegram_id": 3, "started_at": "0001-01-01T00:00:00+01:00"}\n'),
    ]  # fmt: skip
    for method, path, json, data in requests:
        headers = None
        if data is not None:
            headers = ndjson if path.endswith(":import") else {"Content-Type": "application/json"}
        answer = await api.request(method, path, json=json, data=data, headers=headers)
        assert answer.status < 500, (method, path, answer.body)
        if answer.status >= 400:
            assert_error(answer.body, answer.body["error"]["code"])
    imported = await api.request("POST", requests[-1][1], data=requests[-1][3], headers=ndjson)
    assert (imported.body["inserted"], imported.body["rejected"]) == (0, 4)
