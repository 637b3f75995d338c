"""Deadlines on the family's requests, over real HTTP with real tokens: an inspection request
(FERPA 34 CFR 99.10) due 45 calendar days after it was received, owed by the student's district
and school, on the overdue list the day after, answered by the staff who owe it; and the clock on
amendment requests (99.20, "a reasonable time": 30 days here) with their overdue list. The day
the lists are judged on is passed explicitly (`as_of`): no test waits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from services.gateway import create_gateway
from services.records.rights_models import AmendmentRequest
from tests.helpers import bearer, password_token
from tests.services.records.conftest import World, basic_record, enrollment

V1 = "/records/v1"
WORDS = "The attendance letters of last spring (ZQX-inspection-words)."
NOTE = "Inspected at the district office with the registrar (ZQX-note)."


def _today() -> date:
    return datetime.now(UTC).date()


def _day(offset: int) -> str:
    return (_today() + timedelta(days=offset)).isoformat()


async def _token(world: World, make_user, username: str, role: str, **scope) -> dict[str, str]:
    await make_user(username, role, **scope)
    return bearer(await password_token(world.client, username))


async def _ids(world: World, headers: dict[str, str], **params) -> list[str]:
    response = await world.client.get(f"{V1}/inspection-requests", headers=headers, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return [item["id"] for item in response.json()["items"]]


async def test_an_inspection_request_is_due_in_45_days_owed_by_the_students_school_and_district(
        world: World, make_user) -> None:
    sid, other_sid = world.students[0], world.students[1]
    assert (await world.submit(basic_record(sid))).status_code == 201  # enrolled in 1001 / 1001-01
    parent = await _token(world, make_user, "lopez.parent", "parent", student_ids=[sid])

    filed = await world.client.post(f"{V1}/students/{sid}/inspection-requests", headers=parent,
                                    json={"records_requested": WORDS})
    assert filed.status_code == 201, filed.text
    assert filed.headers["cache-control"] == "no-store"
    request = filed.json()
    rid = request["id"]
    assert filed.headers["location"] == f"{V1}/inspection-requests/{rid}"
    assert request["received_on"] == _day(0) and request["due_on"] == _day(45)
    assert request["state"] == "open" and request["days_overdue"] == 0 and request["records_requested"] == WORDS

    # Only the family asks, and only for their own child with a record here: 404 otherwise.
    teacher = await _token(world, make_user, "teach", "teacher", district_ids=["1001"], school_ids=["1001-01"],
                           staff_id="S100000011")
    for headers, student in ((parent, other_sid), (teacher, sid), (world.steward, sid)):
        refused = await world.client.post(f"{V1}/students/{student}/inspection-requests", headers=headers, json={})
        assert refused.status_code == 404, refused.text
    no_record = await _token(world, make_user, "okafor.parent", "parent", student_ids=[other_sid])
    assert (await world.client.post(f"{V1}/students/{other_sid}/inspection-requests", headers=no_record,
                                    json={})).status_code == 404

    # Who sees it: the district's superintendent and registrar, the school's principal, the state.
    superintendent = await _token(world, make_user, "super.1001", "superintendent", district_ids=["1001"])
    registrar = await _token(world, make_user, "registrar.1001", "registrar", district_ids=["1001"])
    principal = await _token(world, make_user, "principal.1001-01", "principal", district_ids=["1001"],
                             school_ids=["1001-01"])
    other_super = await _token(world, make_user, "super.1002", "superintendent", district_ids=["1002"])
    other_principal = await _token(world, make_user, "principal.1001-02", "principal", district_ids=["1001"],
                                   school_ids=["1001-02"])
    for headers in (superintendent, registrar, principal, world.steward, parent):
        assert await _ids(world, headers) == [rid]
    for headers in (other_super, other_principal):
        assert await _ids(world, headers) == []
    assert (await world.client.get(f"{V1}/inspection-requests", headers=teacher)).status_code == 403
    co_parent = await _token(world, make_user, "lopez.coparent", "parent", student_ids=[sid])
    assert await _ids(world, co_parent) == []  # the other parent's request is theirs
    assert (await world.client.get(f"{V1}/inspection-requests/{rid}", headers=other_super)).status_code == 404

    # The clock: open on day 45, overdue on day 46.
    assert await _ids(world, superintendent, overdue="true", as_of=_day(45)) == []
    assert await _ids(world, superintendent, overdue="false", as_of=_day(45)) == [rid]
    late = await world.client.get(f"{V1}/inspection-requests", headers=superintendent,
                                  params={"overdue": "true", "as_of": _day(46)})
    (item,) = late.json()["items"]
    assert late.json()["as_of"] == _day(46)
    assert item["id"] == rid and item["state"] == "overdue" and item["days_overdue"] == 1
    assert await _ids(world, superintendent, state="open", as_of=_day(46)) == []
    one = await world.client.get(f"{V1}/inspection-requests/{rid}", headers=parent, params={"as_of": _day(50)})
    assert one.status_code == 200 and one.json()["state"] == "overdue" and one.json()["days_overdue"] == 5

    # Answered by those who owe it; the family does not answer its own request.
    answer = {"available_on": _day(3), "copies_provided": True, "note": NOTE}
    assert (await world.client.post(f"{V1}/inspection-requests/{rid}/answer", headers=other_super,
                                    json=answer)).status_code == 404
    assert (await world.client.post(f"{V1}/inspection-requests/{rid}/answer", headers=parent,
                                    json=answer)).status_code == 403
    too_early = await world.client.post(f"{V1}/inspection-requests/{rid}/answer", headers=principal,
                                        json={**answer, "available_on": _day(-1)})
    assert too_early.status_code == 422 and too_early.json()["errors"][0]["field"] == "available_on"
    answered = await world.client.post(f"{V1}/inspection-requests/{rid}/answer", headers=principal, json=answer)
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert body["state"] == "answered" and body["answered_on"] == _day(0) and body["answerer_role"] == "principal"
    assert body["available_on"] == _day(3) and body["copies_provided"] is True and body["answered_on_time"] is True
    again = await world.client.post(f"{V1}/inspection-requests/{rid}/answer", headers=registrar, json=answer)
    assert again.status_code == 409
    assert await _ids(world, world.steward, overdue="true", as_of=_day(100)) == []
    assert await _ids(world, parent, state="answered") == [rid]

    # The access log says who did what to which record, never the family's words or the note.
    log = await world.client.get(f"{V1}/access-log", headers=world.steward, params={"state_id": sid, "limit": 1000})
    actions = [e["action"] for e in log.json()["entries"]]
    assert "inspection_request" in actions and "inspection_answered" in actions
    assert "read_inspection_requests" in actions
    assert "ZQX" not in log.text


async def test_a_request_stays_with_the_district_that_received_it_after_the_student_moves(
        world: World, make_user) -> None:
    sid = world.students[0]
    assert (await world.submit(basic_record(sid))).status_code == 201
    parent = await _token(world, make_user, "lopez.parent", "parent", student_ids=[sid])
    rid = (await world.client.post(f"{V1}/students/{sid}/inspection-requests", headers=parent, json={})).json()["id"]
    moved = basic_record(sid, enrollment=[enrollment(entry="2025-08-20", exit_date=_day(-1)),
                                          enrollment(district="1002", school="1002-01", entry=_day(0))])
    assert (await world.submit(moved, headers=world.steward)).status_code == 200
    superintendent = await _token(world, make_user, "super.1001", "superintendent", district_ids=["1001"])
    new_super = await _token(world, make_user, "super.1002", "superintendent", district_ids=["1002"])
    assert await _ids(world, superintendent) == [rid]
    assert await _ids(world, new_super) == []


async def test_amendment_requests_carry_their_due_date_and_have_an_overdue_list(world: World, make_user, db) -> None:
    sid = world.students[1]
    assert (await world.submit(basic_record(sid))).status_code == 201
    parent = await _token(world, make_user, "okafor.parent", "parent", student_ids=[sid])
    superintendent = await _token(world, make_user, "super.1001", "superintendent", district_ids=["1001"])
    other_super = await _token(world, make_user, "super.1002", "superintendent", district_ids=["1002"])
    hearing_officer = await _token(world, make_user, "hearing.officer", "state_data_admin")

    filed = await world.client.post(f"{V1}/students/{sid}/amendment-requests", headers=parent, json={
        "fields": ["demographics.birth_date"], "explanation": "The birth date is wrong by a year."})
    assert filed.status_code == 201, filed.text
    rid = filed.json()["id"]
    assert filed.json()["due_on"] == _day(30) and filed.json()["overdue"] is False

    async def listed(headers: dict[str, str], **params) -> list[dict]:
        response = await world.client.get(f"{V1}/amendment-requests", headers=headers, params=params)
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        return response.json()["items"]

    assert [i["id"] for i in await listed(world.steward, overdue="false")] == [rid]
    assert await listed(world.steward, overdue="true", as_of=_day(30)) == []
    (late,) = await listed(world.steward, overdue="true", as_of=_day(31))
    assert late["id"] == rid and late["overdue"] is True and late["days_overdue"] == 1 and late["due_on"] == _day(30)
    assert [i["id"] for i in await listed(superintendent, overdue="true", as_of=_day(31))] == [rid]
    assert [i["id"] for i in await listed(parent, overdue="true", as_of=_day(31))] == [rid]
    assert await listed(other_super, overdue="true", as_of=_day(31)) == []
    teacher = await _token(world, make_user, "teach", "teacher", district_ids=["1001"], school_ids=["1001-01"],
                           staff_id="S100000011")
    assert (await world.client.get(f"{V1}/amendment-requests", headers=teacher)).status_code == 403

    # A request filed 40 days ago is 10 days overdue today.
    async with db.sessionmaker() as session:
        request = await session.get(AmendmentRequest, rid)
        request.created_at = datetime.now(UTC) - timedelta(days=40)
        await session.commit()
    (old,) = await listed(world.steward, overdue="true")
    assert old["due_on"] == _day(-10) and old["days_overdue"] == 10

    # Decided: off the list, no clock. A hearing asked for: on it again, due 30 days after.
    denied = await world.client.post(f"{V1}/amendment-requests/{rid}/decision", headers=world.steward,
                                     json={"decision": "deny", "reason": "The birth certificate agrees."})
    assert denied.status_code == 200 and denied.json()["due_on"] is None and denied.json()["overdue"] is False
    assert await listed(world.steward, as_of=_day(31)) == []
    hearing = await world.client.post(f"{V1}/amendment-requests/{rid}/hearing-request", headers=parent)
    assert hearing.status_code == 200 and hearing.json()["due_on"] == _day(30)  # from the hearing request
    assert await listed(world.steward, overdue="true") == []
    assert [i["status"] for i in await listed(superintendent, overdue="true", as_of=_day(31))] == ["hearing_requested"]
    heard = await world.client.post(f"{V1}/amendment-requests/{rid}/hearing-outcome", headers=hearing_officer,
                                    json={"outcome": "amend", "reason": "The hospital record shows the error."})
    assert heard.status_code == 200 and heard.json()["due_on"] is None
    assert await listed(world.steward, overdue="true", as_of=_day(31)) == []


async def test_bad_input_names_the_field(world: World, make_user) -> None:
    sid = world.students[0]
    assert (await world.submit(basic_record(sid))).status_code == 201
    parent = await _token(world, make_user, "lopez.parent", "parent", student_ids=[sid])
    extra = await world.client.post(f"{V1}/students/{sid}/inspection-requests", headers=parent,
                                    json={"records_requested": "all", "due_on": _day(90)})
    assert extra.status_code == 422 and extra.headers["content-type"] == "application/problem+json"
    assert extra.json()["errors"][0]["field"] == "body.due_on"
    for path in ("/inspection-requests", "/amendment-requests"):
        far = await world.client.get(V1 + path, headers=world.steward, params={"as_of": "0001-01-01"})
        assert far.status_code == 422 and far.json()["errors"][0]["field"] == "as_of"
        number = await world.client.get(V1 + path, headers=world.steward, params={"as_of": "20261202"})
        assert number.status_code == 422 and number.json()["errors"][0]["field"] == "query.as_of"
    rid = (await world.client.post(f"{V1}/students/{sid}/inspection-requests", headers=parent, json={})).json()["id"]
    missing = await world.client.post(f"{V1}/inspection-requests/{rid}/answer", headers=world.steward,
                                      json={"copies_provided": False})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "body.available_on"
    assert (await world.client.get(f"{V1}/inspection-requests")).status_code == 401


@pytest.fixture
async def thirty_days(settings, db) -> httpx.AsyncClient:
    gateway = create_gateway(settings.model_copy(update={"records_inspection_response_days": 30}), database=db)
    async with gateway.running(), httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway),
                                                    base_url="http://slds.test") as c:
        yield c


async def test_a_state_may_promise_fewer_days(world: World, make_user, thirty_days: httpx.AsyncClient) -> None:
    sid = world.students[0]
    assert (await world.submit(basic_record(sid))).status_code == 201
    await make_user("lopez.parent", "parent", student_ids=[sid])
    parent = bearer(await password_token(thirty_days, "lopez.parent"))
    filed = await thirty_days.post(f"{V1}/students/{sid}/inspection-requests", headers=parent, json={})
    assert filed.status_code == 201 and filed.json()["due_on"] == _day(30)
