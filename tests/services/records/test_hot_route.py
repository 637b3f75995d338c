"""The plain single-record read route (`services/records/hot_route.py`): it answers plain reads
(a bearer token, at most a `purpose`) without FastAPI's dependency machinery, and must answer
exactly what the documented FastAPI route answers; everything else goes on to that route.

The reference is the same request with an extra, unknown query parameter: FastAPI ignores it, the
plain route does not take it, so the documented route answers it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.gateway import Gateway, create_gateway
from services.records import hot_route
from services.records.app import create_app
from services.records.hot_route import plain_read
from shared.app import served_by
from shared.settings import Settings
from shared.state import Database
from tests.helpers import bearer, password_token
from tests.services.records.conftest import STUDENTS, World, basic_record


def _scope(query: bytes = b"", authorization: bytes | None = b"Bearer abc") -> dict[str, Any]:
    headers = [(b"host", b"t")] + ([(b"authorization", authorization)] if authorization is not None else [])
    return {"type": "http", "method": "GET", "headers": headers, "query_string": query}


@pytest.mark.parametrize(("query", "authorization", "expected"), [
    (b"", b"Bearer abc", ("Bearer abc", "abc", None)),
    (b"purpose=dashboard%20sync", b"bearer abc", ("bearer abc", "abc", "dashboard sync")),
    (b"as_of=2026-01-01T00:00:00Z", b"Bearer abc", None),  # history: the documented route
    (b"purpose=a&purpose=b", b"Bearer abc", None),  # repeated
    (b"purpose=", b"Bearer abc", None),  # empty
    (b"purpose=" + b"x" * 201, b"Bearer abc", None),  # over the parameter's max_length
    (b"purpose=x&other=1", b"Bearer abc", None),  # anything else
    (b"", None, None),  # no token: the documented route's 401
    (b"", b"Basic abc", None),
    (b"", b"Bearer ", None),
])
def test_only_a_plain_read_is_taken(query: bytes, authorization: bytes | None, expected: Any) -> None:
    assert plain_read(_scope(query, authorization)) == expected


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The student IDs the plain route answered."""
    calls: list[str] = []
    answer = hot_route.answer_student_read

    async def counting(state, caller, state_student_id, as_of, purpose):
        calls.append(state_student_id)
        return await answer(state, caller, state_student_id, as_of, purpose)

    monkeypatch.setattr(hot_route, "answer_student_read", counting)
    return calls


def _same(plain: httpx.Response, documented: httpx.Response) -> None:
    assert plain.status_code == documented.status_code
    assert plain.headers.get("content-type") == documented.headers.get("content-type")
    for header in ("etag", "cache-control", "content-location", "retry-after"):
        assert plain.headers.get(header) == documented.headers.get(header), header
    body, reference = plain.json(), documented.json()
    if plain.headers.get("content-type") == "application/problem+json":  # each names its own request
        for key in ("instance", "request_id"):
            assert (key in body) == (key in reference), key
            body.pop(key, None), reference.pop(key, None)
    assert body == reference


async def test_plain_reads_answer_what_the_documented_route_answers(world: World, served: list[str],
                                                                    make_user) -> None:
    a, b, _ = world.students
    assert (await world.submit(basic_record(a, programs={"lunch_status": "free", "title_i": True}))).status_code == 201
    await make_user("uncleared", "teacher", staff_id="S10000009", district_ids=["1001"], cleared=False)
    uncleared = bearer(await password_token(world.client, "uncleared"))

    cases = [
        (f"{STUDENTS}/{a}", world.sis),  # in reach: the record
        (f"{STUDENTS}/{a}", world.steward),  # level 1: every field
        (f"{STUDENTS}/{a}", world.other_sis),  # out of reach: 404
        (f"{STUDENTS}/{b}", world.sis),  # known to identity, no record: 404
        (f"{STUDENTS}/0000000000", world.sis),  # unknown: the same 404
        (f"{STUDENTS}/{a}", {"Authorization": "Bearer not-a-token"}),  # 401 from the verifier
        (f"{STUDENTS}/{a}", uncleared),  # 403 clearance-required
    ]
    for path, headers in cases:
        plain = await world.client.get(path, headers=headers, params={"purpose": "check"})
        documented = await world.client.get(path, headers=headers, params={"purpose": "check", "unused": "1"})
        _same(plain, documented)
    assert served == [a, a, a, b, "0000000000"]  # the bad token and the uncleared teacher: refused before


async def test_what_the_plain_route_does_not_take_reaches_the_documented_route(world: World, served: list[str]) -> None:
    a = world.students[0]
    assert (await world.submit(basic_record(a))).status_code == 201

    missing = await world.client.get(f"{STUDENTS}/{a}")
    assert missing.status_code == 401 and missing.headers["content-type"] == "application/problem+json"
    too_long = await world.client.get(f"{STUDENTS}/{a}", headers=world.sis, params={"purpose": "x" * 201})
    assert too_long.status_code == 422
    assert [e["field"] for e in too_long.json()["errors"]] == ["query.purpose"]
    bad_date = await world.client.get(f"{STUDENTS}/{a}", headers=world.sis, params={"as_of": "30 February"})
    assert bad_date.status_code == 422 and "30 February" not in bad_date.text
    history = await world.client.get(f"{STUDENTS}/{a}", headers=world.sis, params={"as_of": "2999-01-01T00:00:00Z"})
    assert history.status_code == 200 and history.json()["state_student_id"] == a
    assert (await world.client.head(f"{STUDENTS}/{a}", headers=world.sis)).status_code == 405
    assert (await world.client.get(f"{STUDENTS}/{a}/history", headers=world.sis)).status_code == 200
    assert served == []

    assert (await world.client.get(f"{STUDENTS}/{a}", headers=world.sis)).status_code == 200
    assert served == [a]


@pytest.fixture
def through_fastapi(gateway: Gateway) -> list[str]:
    """The paths that went through the records app's FastAPI middleware stack."""
    app = gateway.apps["records"]
    stack = app.build_middleware_stack()
    paths: list[str] = []

    async def counting(scope, receive, send):
        paths.append(scope["path"])
        await stack(scope, receive, send)

    app.middleware_stack = counting
    return paths


async def test_a_plain_read_skips_fastapis_layers_but_not_the_apps_own(world: World, served: list[str],
                                                                       through_fastapi: list[str]) -> None:
    a = world.students[0]
    assert (await world.submit(basic_record(a))).status_code == 201
    through_fastapi.clear()

    plain = await world.client.get(f"{STUDENTS}/{a}", headers={**world.sis, "X-Request-ID": "lane-check-1"})
    assert plain.status_code == 200 and plain.json()["state_student_id"] == a
    assert plain.headers["x-request-id"] == "lane-check-1"  # the app's own middleware ran
    refused = await world.client.get(f"{STUDENTS}/{a}", headers={"Authorization": "Bearer not-a-token"})
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["x-request-id"]  # the app's exception handlers answered, inside its middleware
    assert served == [a] and through_fastapi == []

    history = await world.client.get(f"{STUDENTS}/{a}", headers=world.sis, params={"as_of": "2999-01-01T00:00:00Z"})
    assert history.status_code == 200
    assert through_fastapi == [f"{STUDENTS}/{a}"]  # anything else: the app, as before


async def test_a_failure_in_the_lane_is_a_problem_answer(settings: Settings, db: Database, world: World,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    a = world.students[0]

    async def failing(*_args: Any) -> None:
        raise RuntimeError("Ada Lovelace 1815-12-10")  # a bug whose message holds student data

    monkeypatch.setattr(hot_route, "answer_student_read", failing)
    gateway = create_gateway(settings, database=db)
    async with gateway.running():
        transport = httpx.ASGITransport(app=gateway, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get(f"{STUDENTS}/{a}", headers=world.sis)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 500
    assert "Ada" not in response.text and "Traceback" not in response.text


def test_the_lane_stands_aside_when_requests_are_traced(settings: Settings) -> None:
    assert isinstance(served_by(create_app(settings)), hot_route.PlainReadLane)
    traced = create_app(settings.model_copy(update={"opentelemetry": True}))
    assert served_by(traced) is traced  # FastAPI's telemetry hook sees every request
