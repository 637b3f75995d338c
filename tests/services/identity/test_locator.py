"""The student locator: registrars find transfer students statewide, see only locator fields, and
every search and view lands in the hash-chained access log."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from services.identity.models import AccessLogEntry
from shared import audit
from shared.state import Database
from tests.helpers import bearer, bypass_append_only_logs, client_token, password_token

STUDENT = {"district_id": "1001", "local_student_id": "T-1", "first_name": "Katarzyna", "last_name": "Nowak",
           "birth_date": "2011-09-14", "sex": "F", "guardian_names": ["Ewa Nowak"], "ssn": "212-34-5678",
           "address": "77 Pine St", "races": ["WH"], "hispanic_latino": False}


@pytest.fixture
async def setup(client: httpx.AsyncClient, make_user, make_client_app) -> dict:
    await make_user("reg", "registrar", district_ids=["1002"])
    await make_user("teach", "teacher", district_ids=["1002"], school_ids=["1002-01"], staff_id="S9")
    created = await make_client_app("SIS 1001", "district_sis", district_ids=["1001"])
    sis = bearer(await client_token(client, created.client.client_id, created.secret))
    resolved = (await client.post("/identity/v1/students/resolve", headers=sis, json=STUDENT)).json()
    return {"id": resolved["state_student_id"], "sis": sis,
            "reg": bearer(await password_token(client, "reg")),
            "teach": bearer(await password_token(client, "teach"))}


async def test_registrar_finds_a_transfer_student_with_locator_fields_only(client, setup, db: Database) -> None:
    response = await client.post("/identity/v1/students/search", headers=setup["reg"], json={
        "first_name": "Kasia", "last_name": "NOWAK", "birth_date": "2011-09-14"})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    results = response.json()["results"]
    assert results and results[0]["state_student_id"] == setup["id"]
    assert results[0]["last_district_id"] == "1001"
    assert set(results[0]) == {"state_student_id", "first_name", "middle_name", "last_name", "suffix",
                               "birth_date", "sex", "last_district_id", "score", "requested_state_student_id"}
    assert "5678" not in response.text and "Pine" not in response.text and "Ewa" not in response.text
    async with db.sessionmaker() as session:
        entries = (await session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.seq))).all()
        assert entries[-1].action == "locator.search" and setup["id"] in entries[-1].payload
        assert "Kasia" not in entries[-1].payload and "2011" not in entries[-1].payload
        assert (await audit.verify_chain(session, AccessLogEntry)).ok


async def test_view_by_id_and_same_404_for_unknown_or_out_of_reach(client, setup) -> None:
    view = await client.get(f"/identity/v1/students/{setup['id']}", headers=setup["reg"])
    assert view.status_code == 200 and view.json()["last_name"] == "Nowak"
    out_of_reach = await client.get(f"/identity/v1/students/{setup['id']}", headers=setup["teach"])
    from stdnum import damm
    body = "123456789"
    unknown = await client.get(f"/identity/v1/students/{body}{damm.calc_check_digit(body)}", headers=setup["reg"])
    assert out_of_reach.status_code == unknown.status_code == 404
    strip = lambda r: {k: v for k, v in r.json().items() if k != "request_id"}  # noqa: E731
    assert strip(out_of_reach) == strip(unknown)


async def test_search_is_for_locator_roles_only(client, setup) -> None:
    response = await client.post("/identity/v1/students/search", headers=setup["teach"], json={
        "first_name": "Katarzyna", "last_name": "Nowak", "birth_date": "2011-09-14"})
    assert response.status_code == 403


async def test_access_log_chain_detects_edits_and_deletions(client, setup, db: Database) -> None:
    for _ in range(3):
        await client.get(f"/identity/v1/students/{setup['id']}", headers=setup["reg"])
    async with db.sessionmaker() as session:
        report = await audit.verify_chain(session, AccessLogEntry)
        assert report.ok and report.entries >= 3
        await bypass_append_only_logs(session)
        second = await session.get(AccessLogEntry, 2)
        second.actor = "user:someone-else"
        await session.flush()
        edited = await audit.verify_chain(session, AccessLogEntry)
        assert not edited.ok and edited.first_bad_seq == 2 and edited.problem == "content changed"
        await session.rollback()
    async with db.sessionmaker() as session:
        await bypass_append_only_logs(session)
        await session.delete(await session.get(AccessLogEntry, 2))
        await session.flush()
        deleted = await audit.verify_chain(session, AccessLogEntry)
        assert not deleted.ok and deleted.first_bad_seq == 2 and deleted.problem == "missing entry"
        await session.rollback()
