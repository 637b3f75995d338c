"""POST /identity/v1/persons/status: many state IDs at once, each active, retired (with its
survivor) or unknown, and whether the asking district holds a local ID for it; in a bounded number
of queries, never cached."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from stdnum import damm

from services.identity.schemas import PersonStatusResults
from tests.helpers import bearer, client_token, password_token

STATUS = "/identity/v1/persons/status"
RESOLVE = "/identity/v1/students/resolve"


@pytest.fixture
async def tokens(client: httpx.AsyncClient, make_user, make_client_app) -> dict[str, dict[str, str]]:
    await make_user("steward", "state_data_admin")
    await make_user("reg", "registrar", district_ids=["1002"])
    await make_user("teach", "teacher", district_ids=["1001"], school_ids=["1001-01"], staff_id="S1")
    sis1 = await make_client_app("SIS 1001", "district_sis", district_ids=["1001"])
    sis2 = await make_client_app("SIS 1002", "district_sis", district_ids=["1002"])
    records = await make_client_app("records", "service", state="ST")
    return {
        "steward": bearer(await password_token(client, "steward")),
        "reg": bearer(await password_token(client, "reg")),
        "teach": bearer(await password_token(client, "teach")),
        "sis1": bearer(await client_token(client, sis1.client.client_id, sis1.secret)),
        "sis2": bearer(await client_token(client, sis2.client.client_id, sis2.secret)),
        "records": bearer(await client_token(client, records.client.client_id, records.secret)),
    }


async def _new_student(client: httpx.AsyncClient, headers: dict[str, str], district: str, local: str,
                       first: str, dob: str) -> str:
    response = await client.post(RESOLVE, headers=headers, json={
        "district_id": district, "local_student_id": local, "first_name": first,
        "last_name": "Okonkwo-Berg", "birth_date": dob, "guardian_names": [f"P {local}"]})
    assert response.status_code == 200 and response.json()["decision"] == "assigned", response.text
    return response.json()["state_student_id"]


async def _merge(client: httpx.AsyncClient, tokens, survivor: str, retired: str) -> None:
    response = await client.post("/identity/v1/students/merges", headers=tokens["steward"], json={
        "survivor_id": survivor, "retired_id": retired, "reason": "same child, confirmed"})
    assert response.status_code == 201, response.text


def _unused_student_id() -> str:
    body = "100000000"
    return body + damm.calc_check_digit(body)


async def _status(client: httpx.AsyncClient, headers: dict[str, str], **body) -> httpx.Response:
    return await client.post(STATUS, headers=headers, json={"kind": "student", **body})


@contextmanager
def _person_queries(engine: AsyncEngine) -> Iterator[list[str]]:
    """The statements that read persons or aliases while the block runs."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT") and (
                "identity_person" in statement or "identity_alias" in statement):
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def test_active_retired_and_unknown_in_request_order(client: httpx.AsyncClient, tokens) -> None:
    survivor = await _new_student(client, tokens["sis2"], "1002", "B1", "Priya", "2011-02-03")
    retired = await _new_student(client, tokens["sis1"], "1001", "A2", "Quentin", "2009-08-19")
    active = await _new_student(client, tokens["sis1"], "1001", "A3", "Rosalind", "2012-05-27")
    await _merge(client, tokens, survivor, retired)
    unknown = _unused_student_id()

    response = await _status(client, tokens["sis1"], district_id="1001",
                             state_ids=[retired, active, unknown, survivor, "not-an-id", active])
    assert response.status_code == 200, response.text
    assert response.json() == {"results": [
        # 1001 holds A2, the retired ID's alias: it holds a local ID for it.
        {"state_id": retired, "status": "retired", "current_state_id": survivor, "district_holds_local_id": True, "merged_ids": [retired]},
        {"state_id": active, "status": "active", "current_state_id": active, "district_holds_local_id": True, "merged_ids": []},
        {"state_id": unknown, "status": "unknown", "current_state_id": None, "district_holds_local_id": False, "merged_ids": []},
        # 1001 holds the alias of an ID merged into the survivor: its local ID resolves to the
        # survivor now, so the survivor is 1001's student too.
        {"state_id": survivor, "status": "active", "current_state_id": survivor, "district_holds_local_id": True, "merged_ids": [retired]},
        {"state_id": "not-an-id", "status": "unknown", "current_state_id": None, "district_holds_local_id": False, "merged_ids": []},
        {"state_id": active, "status": "active", "current_state_id": active, "district_holds_local_id": True, "merged_ids": []},
    ]}

    # 1002 holds the survivor's alias, which counts for the retired ID too; 1002 never saw `active`.
    by_1002 = (await _status(client, tokens["sis2"], district_id="1002", state_ids=[retired, active])).json()
    assert [r["district_holds_local_id"] for r in by_1002["results"]] == [True, False]

    # Without a district_id nobody's aliases are consulted.
    plain = (await _status(client, tokens["records"], state_ids=[retired, unknown])).json()
    assert plain == {"results": [
        {"state_id": retired, "status": "retired", "current_state_id": survivor, "district_holds_local_id": None, "merged_ids": [retired]},
        {"state_id": unknown, "status": "unknown", "current_state_id": None, "district_holds_local_id": None, "merged_ids": []},
    ]}


async def test_staff_id_asked_as_student_is_unknown(client: httpx.AsyncClient, tokens) -> None:
    staff = (await client.post("/identity/v1/staff/resolve", headers=tokens["sis1"], json={
        "district_id": "1001", "local_staff_id": "E-55", "first_name": "Marguerite", "last_name": "Duval",
        "birth_date": "1984-06-02", "sex": "F"})).json()["staff_state_id"]
    student = await _new_student(client, tokens["sis1"], "1001", "A1", "Tobias", "2013-03-03")

    as_student = (await _status(client, tokens["sis1"], district_id="1001", state_ids=[staff, student])).json()
    assert [(r["status"], r["current_state_id"], r["district_holds_local_id"]) for r in as_student["results"]] == [
        ("unknown", None, False), ("active", student, True)]
    as_staff = (await client.post(STATUS, headers=tokens["sis1"], json={
        "kind": "staff", "district_id": "1001", "state_ids": [staff, student]})).json()
    assert [(r["status"], r["current_state_id"], r["district_holds_local_id"]) for r in as_staff["results"]] == [
        ("active", staff, True), ("unknown", None, False)]


async def test_district_roles_ask_only_for_their_own_districts(client: httpx.AsyncClient, tokens) -> None:
    student = await _new_student(client, tokens["sis1"], "1001", "A1", "Ulrike", "2010-10-10")
    other = await _status(client, tokens["sis1"], district_id="1002", state_ids=[student])
    assert other.status_code == 403
    assert other.json()["errors"][0]["field"] == "body.district_id"
    assert (await _status(client, tokens["reg"], district_id="1001", state_ids=[student])).status_code == 403
    # Statuses alone, or for their own district, they may ask.
    assert (await _status(client, tokens["reg"], district_id="1002", state_ids=[student])).status_code == 200
    assert (await _status(client, tokens["sis1"], state_ids=[student])).status_code == 200
    # The service and state staff ask for any district.
    for who in ("records", "steward"):
        response = await _status(client, tokens[who], district_id="1002", state_ids=[student])
        assert response.status_code == 200
        assert response.json()["results"][0]["district_holds_local_id"] is False


async def test_roles_without_state_ids_are_refused(client: httpx.AsyncClient, tokens) -> None:
    response = await _status(client, tokens["teach"], state_ids=[_unused_student_id()])
    assert response.status_code == 403
    assert (await client.post(STATUS, json={"kind": "student", "state_ids": ["1"]})).status_code == 401


async def test_request_limits_name_the_field(client: httpx.AsyncClient, tokens) -> None:
    too_many = await _status(client, tokens["records"], state_ids=[str(1000000000 + i) for i in range(5001)])
    assert too_many.status_code == 422
    assert [e["field"] for e in too_many.json()["errors"]] == ["body.state_ids"]
    empty = await _status(client, tokens["records"], state_ids=[])
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "body.state_ids"
    too_long = await _status(client, tokens["records"], state_ids=["1" * 17])
    assert too_long.status_code == 422 and too_long.json()["errors"][0]["field"] == "body.state_ids[0]"
    wrong_kind = await client.post(STATUS, headers=tokens["records"], json={"kind": "teacher", "state_ids": ["1"]})
    assert wrong_kind.status_code == 422 and wrong_kind.json()["errors"][0]["field"] == "body.kind"
    extra = await _status(client, tokens["records"], state_ids=["1"], local_ids=["A1"])
    assert extra.status_code == 422 and extra.json()["errors"][0]["field"] == "body.local_ids"


async def test_queries_do_not_grow_with_the_number_of_ids(client: httpx.AsyncClient, tokens,
                                                          engine: AsyncEngine) -> None:
    # A chain: first merged into second, then second into third. The first answers with the third.
    first = await _new_student(client, tokens["sis1"], "1001", "C1", "Valentina", "2008-01-15")
    second = await _new_student(client, tokens["sis1"], "1001", "C2", "Wendell", "2010-07-04")
    third = await _new_student(client, tokens["sis2"], "1002", "D3", "Xiomara", "2012-11-30")
    await _merge(client, tokens, second, first)
    await _merge(client, tokens, third, second)

    with _person_queries(engine) as few:
        small = await _status(client, tokens["sis1"], district_id="1001", state_ids=[first])
    many_ids = [first] + [str(1000000000 + i) for i in range(4999)]
    with _person_queries(engine) as lots:
        large = await _status(client, tokens["sis1"], district_id="1001", state_ids=many_ids)
    assert small.status_code == 200 and large.status_code == 200
    assert small.json()["results"] == [
        {"state_id": first, "status": "retired", "current_state_id": third, "district_holds_local_id": True, "merged_ids": sorted([first, second])}]
    results = large.json()["results"]
    assert len(results) == 5000 and [r["state_id"] for r in results] == many_ids
    assert (results[0]["status"], results[0]["current_state_id"]) == ("retired", third)
    assert {r["status"] for r in results[1:]} == {"unknown"}
    # Persons in three steps (the asked IDs, then each step of the chain) and one alias query,
    # for one ID as for five thousand.
    assert len(few) == len(lots) == 7, lots  # 2 merge levels: persons x3, chain x3, aliases


async def test_answers_are_not_cached(client: httpx.AsyncClient, tokens) -> None:
    response = await _status(client, tokens["records"], state_ids=[_unused_student_id()])
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    # Encoded by the endpoint itself: the answer still has exactly the documented shape.
    assert PersonStatusResults.model_validate(response.json()).model_dump(mode="json") == response.json()
