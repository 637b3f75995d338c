"""Access beyond a role (Connecticut item 10), over real HTTP with real tokens: a teacher applies in
writing for a field of a student outside their class, the superintendent grants it in writing and
the teacher then reads exactly that field of that student, until revocation or the end date; a
denial carries its reason; bad applications name the field; requests are listed for review."""

from __future__ import annotations

import json
from datetime import date, timedelta

from sqlalchemy import select, update

from services.records.access_request_models import AccessRequest
from services.records.models import RecordsAccessLogEntry
from shared.audit import verify_chain
from tests.helpers import bearer, password_token
from tests.services.records.conftest import STUDENTS, World, basic_record, enrollment

V1 = "/records/v1"
REQUESTS = f"{V1}/access-requests"
TODAY = date.today()
PAST, FUTURE = (TODAY - timedelta(days=60)).isoformat(), (TODAY + timedelta(days=60)).isoformat()
IN_30 = (TODAY + timedelta(days=30)).isoformat()
NEED = "Bram joins my reading intervention group; I need his discipline history to plan it (ZQX-need)."
REASON = "Granted for the intervention term only (ZQX-reason)."
DENIAL = "The counselor already holds this information; ask her (ZQX-denial)."
INCIDENT = [{"incident_date": "2025-03-03", "incident_type": "defiance", "action_type": "out_of_school_suspension",
             "action_days": 2}]


async def _user(world: World, make_user, name: str, role: str, **scope) -> dict[str, str]:
    await make_user(name, role, **scope)
    return bearer(await password_token(world.client, name))


async def _section(world: World, code: str, teacher: str, students: list[str]) -> None:
    response = await world.client.put(f"{V1}/class-sections/1001/{code}", headers=world.sis, json={
        "school_id": "1001-01", "school_year": "2025-2026", "course_code": "02052", "begin_date": PAST,
        "end_date": FUTURE, "teachers": [{"staff_id": teacher, "begin_date": PAST}],
        "students": [{"state_student_id": s, "begin_date": PAST} for s in students]})
    assert response.status_code == 200, response.text


async def _classroom(world: World, make_user) -> tuple[dict[str, str], dict[str, str]]:
    """Ana in the teacher's class, Bram (with a suspension) not; the teacher and the superintendent."""
    a, b, _ = world.students
    assert (await world.submit(basic_record(a))).status_code == 201
    assert (await world.submit(basic_record(b, discipline=INCIDENT))).status_code == 201
    await _section(world, "READ-6A", "S10000001", [a])
    teacher = await _user(world, make_user, "teacher", "teacher", staff_id="S10000001", district_ids=["1001"])
    superintendent = await _user(world, make_user, "super.1001", "superintendent", district_ids=["1001"])
    return teacher, superintendent


async def _apply(world: World, headers: dict[str, str], **body) -> dict:
    response = await world.client.post(REQUESTS, headers=headers, json={
        "fields": ["discipline.incident_type"], "student_ids": [world.students[1]], "need": NEED, "ends_on": IN_30,
        **body})
    assert response.status_code == 201, response.text
    return response.json()


def _fields(response) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return [e["field"] for e in response.json()["errors"]]


async def test_granted_access_gives_exactly_the_field_until_revoked(world: World, make_user) -> None:
    a, b, _ = world.students
    teacher, superintendent = await _classroom(world, make_user)
    other_super = await _user(world, make_user, "super.1002", "superintendent", district_ids=["1002"])
    assert (await world.client.get(f"{STUDENTS}/{b}", headers=teacher)).status_code == 404  # not in class

    filed = await world.client.post(REQUESTS, headers=teacher, json={
        "fields": ["discipline.incident_type"], "student_ids": [b], "need": NEED, "ends_on": IN_30})
    assert filed.status_code == 201, filed.text
    request = filed.json()
    rid = request["id"]
    assert filed.headers["location"] == f"{REQUESTS}/{rid}" and filed.headers["cache-control"] == "no-store"
    assert request["status"] == "pending" and request["in_force"] is False
    assert request["district_id"] == "1001" and request["starts_on"] == TODAY.isoformat()
    assert request["need"] == NEED and request["requester_role"] == "teacher"
    assert (await world.client.get(f"{STUDENTS}/{b}", headers=teacher)).status_code == 404  # pending is nothing

    # Decided in writing by the district's superintendent: not by the applicant, not by another district.
    own = await world.client.post(f"{REQUESTS}/{rid}/decision", headers=teacher,
                                  json={"decision": "granted", "reason": REASON})
    assert own.status_code == 403
    assert (await world.client.post(f"{REQUESTS}/{rid}/decision", headers=other_super,
                                    json={"decision": "granted", "reason": REASON})).status_code == 404
    assert (await world.client.get(f"{REQUESTS}/{rid}", headers=other_super)).status_code == 404
    granted = await world.client.post(f"{REQUESTS}/{rid}/decision", headers=superintendent,
                                      json={"decision": "granted", "reason": REASON})
    assert granted.status_code == 200, granted.text
    decision = granted.json()
    assert decision["status"] == "granted" and decision["in_force"] is True
    assert decision["decision_reason"] == REASON and decision["decider_role"] == "superintendent"
    assert decision["granted_fields"] == ["discipline.incident_type"] and decision["granted_student_ids"] == [b]
    assert decision["granted_ends_on"] == IN_30
    assert (await world.client.post(f"{REQUESTS}/{rid}/decision", headers=superintendent,
                                    json={"decision": "denied", "reason": DENIAL})).status_code == 409

    # The teacher now reads that one field of that one student: single read, list, history.
    record = await world.client.get(f"{STUDENTS}/{b}", headers=teacher)
    assert record.status_code == 200, record.text
    assert record.json() == {"discipline": [{"incident_type": "defiance"}]}
    listed = (await world.client.get(STUDENTS, headers=teacher)).json()["items"]
    assert len(listed) == 2
    assert {"discipline": [{"incident_type": "defiance"}]} in listed
    assert any(r.get("state_student_id") == a and r["demographics"]["first_name"] == "Ana" for r in listed)
    history = (await world.client.get(f"{STUDENTS}/{b}/history", headers=teacher)).json()["versions"]
    assert [v["record"] for v in history] == [{"discipline": [{"incident_type": "defiance"}]}]
    assert (await world.client.get(f"{STUDENTS}/{a}", headers=teacher)).json()["demographics"]["first_name"] == "Ana"
    # The grant adds to nobody else's reads.
    colleague = await _user(world, make_user, "colleague", "teacher", staff_id="S10000009", district_ids=["1001"])
    assert (await world.client.get(f"{STUDENTS}/{b}", headers=colleague)).status_code == 404

    # Revoked with a reason: gone from the next read.
    assert (await world.client.post(f"{REQUESTS}/{rid}/revocation", headers=teacher,
                                    json={"reason": "I no longer need it"})).status_code == 403
    revoked = await world.client.post(f"{REQUESTS}/{rid}/revocation", headers=superintendent,
                                      json={"reason": "The intervention group was dissolved."})
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked" and revoked.json()["in_force"] is False
    assert revoked.json()["revocation_reason"] == "The intervention group was dissolved."
    assert (await world.client.get(f"{STUDENTS}/{b}", headers=teacher)).status_code == 404
    assert [r["state_student_id"] for r in (await world.client.get(STUDENTS, headers=teacher)).json()["items"]] == [a]
    assert (await world.client.post(f"{REQUESTS}/{rid}/revocation", headers=superintendent,
                                    json={"reason": "again"})).status_code == 409

    # The access log has the application, the grant and the revocation, never the words.
    log = await world.client.get(f"{V1}/access-log", headers=world.steward, params={"state_id": b, "limit": 1000})
    entries = [e for e in log.json()["entries"] if e["action"].startswith("access_request")]
    assert [e["action"] for e in entries] == ["access_request", "access_request_granted", "access_request_revoked"]
    assert all(e["payload"]["access_request_id"] == rid for e in entries)
    assert entries[1]["payload"]["fields"] == ["discipline.incident_type"]
    assert "ZQX" not in json.dumps(log.json()) and "dissolved" not in json.dumps(log.json())
    teacher_reads = [e for e in log.json()["entries"] if e["action"] == "read" and e["actor"] == entries[0]["actor"]]
    assert [e["payload"]["fields"] for e in teacher_reads] == [["discipline.incident_type"]] * 2  # read, list


async def test_a_denial_carries_its_reason_and_gives_nothing(world: World, make_user) -> None:
    b = world.students[1]
    teacher, superintendent = await _classroom(world, make_user)
    rid = (await _apply(world, teacher))["id"]
    no_reason = await world.client.post(f"{REQUESTS}/{rid}/decision", headers=superintendent,
                                        json={"decision": "denied"})
    assert _fields(no_reason) == ["body.reason"]
    narrowed = await world.client.post(f"{REQUESTS}/{rid}/decision", headers=superintendent,
                                       json={"decision": "denied", "reason": DENIAL, "ends_on": IN_30})
    assert _fields(narrowed) == ["ends_on"]
    denied = await world.client.post(f"{REQUESTS}/{rid}/decision", headers=superintendent,
                                     json={"decision": "denied", "reason": DENIAL})
    assert denied.status_code == 200, denied.text
    seen = (await world.client.get(f"{REQUESTS}/{rid}", headers=teacher)).json()
    assert seen["status"] == "denied" and seen["decision_reason"] == DENIAL and seen["granted_fields"] is None
    assert seen["decided_at"] and seen["in_force"] is False
    assert (await world.client.get(f"{STUDENTS}/{b}", headers=teacher)).status_code == 404
    assert (await world.client.post(f"{REQUESTS}/{rid}/revocation", headers=superintendent,
                                    json={"reason": "x"})).status_code == 409


async def test_bad_applications_name_the_field(world: World, make_user) -> None:
    a, b, _ = world.students
    teacher, _ = await _classroom(world, make_user)
    base = {"fields": ["discipline.incident_type"], "student_ids": [b], "need": NEED, "ends_on": IN_30}

    async def post(**changes) -> list[str]:
        body = {**base, **changes}
        for key in [k for k, v in changes.items() if v is None]:
            body.pop(key)
        return _fields(await world.client.post(REQUESTS, headers=teacher, json=body))

    assert await post(ends_on=None) == ["body.ends_on"]  # no end date: no grant without one
    assert await post(ends_on="2026-13-40") == ["body.ends_on"]
    assert await post(ends_on=(TODAY - timedelta(days=1)).isoformat()) == ["ends_on"]
    assert await post(ends_on=(TODAY + timedelta(days=365)).isoformat()) == ["ends_on"]  # 366 days
    assert await post(starts_on=(TODAY - timedelta(days=1)).isoformat()) == ["starts_on"]
    assert await post(need=None) == ["body.need"]
    assert await post(need="   ") == ["body.need"]
    assert await post(fields=["discipline.incident_type", "discipline.shoe_size", "ssn",
                              "discipline.incident_type"]) == ["fields[1]", "fields[2]", "fields[3]"]
    assert await post(fields=[]) == ["body.fields"]
    assert await post(student_ids=[]) == ["student_ids"]
    assert await post(student_ids=[b, b]) == ["student_ids[1]"]
    assert await post(school_ids=["1002-01"]) == ["school_ids[0]"]  # not a school of the district
    assert await post(district_id="1002") == ["district_id"]
    assert await post(salary=1) == ["body.salary"]
    assert await post(need="a\x00b", student_ids=["12\x0034"]) == ["body"]  # NUL: refused at the door
    # The longest allowed grant is accepted.
    ok = await world.client.post(REQUESTS, headers=teacher, json={**base, "ends_on": (TODAY + timedelta(days=364)).isoformat()})
    assert ok.status_code == 201, ok.text

    # Only district staff apply, in person: not a system, a parent, a superintendent or a researcher.
    parent = await _user(world, make_user, "parent", "parent", student_ids=[a])
    researcher = await _user(world, make_user, "researcher", "researcher")
    superintendent = await _user(world, make_user, "super.b", "superintendent", district_ids=["1001"])
    for headers in (world.sis, parent, researcher, superintendent):
        assert (await world.client.post(REQUESTS, headers=headers, json=base)).status_code == 403
    no_district = await _user(world, make_user, "floating", "teacher", staff_id="S10000007")
    assert (await world.client.post(REQUESTS, headers=no_district, json=base)).status_code == 403


async def test_a_grant_may_be_narrower_never_wider_and_stays_in_the_district(world: World, make_user) -> None:
    a, b, _ = world.students
    teacher, superintendent = await _classroom(world, make_user)
    c = await world.resolve("X-9", "Dara", "Fenn", "2013-01-01", world.other_sis, "1002")
    foreign = basic_record(c, enrollment=[enrollment(district="1002", school="1002-01")], discipline=INCIDENT)
    foreign["district_id"] = "1002"
    assert (await world.submit(foreign, headers=world.other_sis)).status_code == 201
    rid = (await _apply(world, teacher, fields=["discipline.incident_type", "discipline.action_type"],
                        student_ids=[b, c]))["id"]

    as_asked = await world.client.post(f"{REQUESTS}/{rid}/decision", headers=superintendent,
                                       json={"decision": "granted", "reason": REASON})
    assert _fields(as_asked) == ["student_ids[1]"]  # c is enrolled in 1002, not in 1001
    wider = await world.client.post(f"{REQUESTS}/{rid}/decision", headers=superintendent, json={
        "decision": "granted", "reason": REASON, "fields": ["discipline.action_days"], "student_ids": [b, a],
        "ends_on": (TODAY + timedelta(days=31)).isoformat()})
    assert _fields(wider) == ["fields[0]", "student_ids[1]", "ends_on"]
    ends = (TODAY + timedelta(days=7)).isoformat()
    narrowed = await world.client.post(f"{REQUESTS}/{rid}/decision", headers=superintendent, json={
        "decision": "granted", "reason": REASON, "fields": ["discipline.action_type"], "student_ids": [b],
        "ends_on": ends})
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["granted_fields"] == ["discipline.action_type"]
    assert narrowed.json()["fields"] == ["discipline.incident_type", "discipline.action_type"]  # the request stays
    assert narrowed.json()["granted_ends_on"] == ends
    assert (await world.client.get(f"{STUDENTS}/{b}", headers=teacher)).json() == {
        "discipline": [{"action_type": "out_of_school_suspension"}]}
    assert (await world.client.get(f"{STUDENTS}/{c}", headers=teacher)).status_code == 404


async def test_access_is_bounded_by_its_dates(world: World, make_user, db) -> None:
    b = world.students[1]
    teacher, superintendent = await _classroom(world, make_user)
    later = await _apply(world, teacher, starts_on=(TODAY + timedelta(days=3)).isoformat())
    now = await _apply(world, teacher)
    for request in (later, now):
        response = await world.client.post(f"{REQUESTS}/{request['id']}/decision", headers=world.steward,
                                           json={"decision": "granted", "reason": REASON})
        assert response.status_code == 200 and response.json()["decider_role"] == "state_data_admin"
    assert (await world.client.get(f"{REQUESTS}/{later['id']}", headers=teacher)).json()["in_force"] is False
    assert (await world.client.get(f"{STUDENTS}/{b}", headers=world.steward)).status_code == 200
    # Only the one that started: revoke it, and the future one gives nothing yet.
    assert (await world.client.get(f"{STUDENTS}/{b}", headers=teacher)).status_code == 200
    assert (await world.client.post(f"{REQUESTS}/{now['id']}/revocation", headers=superintendent,
                                    json={"reason": "Ends"})).status_code == 200
    assert (await world.client.get(f"{STUDENTS}/{b}", headers=teacher)).status_code == 404

    # After its end date: nothing, and it shows as expired (and cannot be revoked any more).
    yesterday = TODAY - timedelta(days=1)
    async with db.sessionmaker() as session:
        await session.execute(update(AccessRequest).where(AccessRequest.id == later["id"]).values(
            starts_on=TODAY - timedelta(days=10), granted_ends_on=yesterday))
        await session.commit()
    assert (await world.client.get(f"{STUDENTS}/{b}", headers=teacher)).status_code == 404
    assert (await world.client.get(f"{REQUESTS}/{later['id']}", headers=teacher)).json()["status"] == "expired"
    assert (await world.client.post(f"{REQUESTS}/{later['id']}/revocation", headers=superintendent,
                                    json={"reason": "late"})).status_code == 409
    expired = await world.client.get(REQUESTS, headers=superintendent, params={"status": "expired"})
    assert [r["id"] for r in expired.json()["items"]] == [later["id"]]
    was_active = await world.client.get(REQUESTS, headers=superintendent, params={"active_on": yesterday.isoformat()})
    assert [r["id"] for r in was_active.json()["items"]] == [later["id"]]  # the revoked one began today
    active_today = await world.client.get(REQUESTS, headers=superintendent, params={"active_on": TODAY.isoformat()})
    assert [r["id"] for r in active_today.json()["items"]] == [now["id"]]  # in force until revoked today


async def test_requests_are_listed_for_review_by_whom_they_concern(world: World, make_user) -> None:
    a = world.students[0]
    teacher, superintendent = await _classroom(world, make_user)
    other_super = await _user(world, make_user, "super.1002", "superintendent", district_ids=["1002"])
    counselor = await _user(world, make_user, "counselor", "counselor", staff_id="S20000002", district_ids=["1001"])
    parent = await _user(world, make_user, "parent", "parent", student_ids=[a])
    pending = await _apply(world, teacher)
    granted = await _apply(world, counselor, fields=["programs.lunch_status"], student_ids=[a])
    denied = await _apply(world, teacher, fields=["discipline.action_type"])
    assert (await world.client.post(f"{REQUESTS}/{granted['id']}/decision", headers=superintendent,
                                    json={"decision": "granted", "reason": REASON})).status_code == 200
    assert (await world.client.post(f"{REQUESTS}/{denied['id']}/decision", headers=world.steward,
                                    json={"decision": "denied", "reason": DENIAL})).status_code == 200

    async def ids(headers: dict[str, str], **params) -> set[str]:
        response = await world.client.get(REQUESTS, headers=headers, params=params)
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        return {r["id"] for r in response.json()["items"]}

    everything = {pending["id"], granted["id"], denied["id"]}
    assert await ids(world.steward) == everything
    assert await ids(superintendent) == everything
    assert await ids(other_super) == set()
    assert await ids(teacher) == {pending["id"], denied["id"]}
    assert await ids(counselor) == {granted["id"]}
    assert await ids(superintendent, status="pending") == {pending["id"]}
    assert await ids(superintendent, status="granted") == {granted["id"]}
    assert await ids(superintendent, status="denied") == {denied["id"]}
    assert await ids(superintendent, status="revoked") == set()
    assert await ids(superintendent, active_on=TODAY.isoformat()) == {granted["id"]}
    assert await ids(superintendent, active_on=(TODAY + timedelta(days=31)).isoformat()) == set()
    assert await ids(world.steward, district_id="1002") == set()
    assert (await world.client.get(REQUESTS, headers=parent)).status_code == 403
    assert (await world.client.get(REQUESTS, headers=world.sis)).status_code == 403
    assert _fields(await world.client.get(REQUESTS, headers=world.steward, params={"status": "approved"})) == [
        "query.status"]
    assert _fields(await world.client.get(REQUESTS, headers=world.steward, params={"active_on": "0"})) == [
        "query.active_on"]
    assert _fields(await world.client.get(REQUESTS, headers=world.steward, params={"district_id": "10\x0001"})) == [
        "query"]
    # A colleague sees neither the request nor its need.
    assert (await world.client.get(f"{REQUESTS}/{pending['id']}", headers=counselor)).status_code == 404
    assert (await world.client.get(f"{REQUESTS}/{pending['id']}", headers=superintendent)).json()["need"] == NEED


async def test_school_wide_grant_to_central_office(world: World, make_user, db) -> None:
    a, b, c = world.students
    for sid in (a, b):
        assert (await world.submit(basic_record(sid))).status_code == 201
    assert (await world.submit(basic_record(c, enrollment=[enrollment(school="1001-02")]))).status_code == 201
    central = await _user(world, make_user, "curriculum", "central_office", district_ids=["1001"])
    superintendent = await _user(world, make_user, "super.1001", "superintendent", district_ids=["1001"])
    assert (await world.client.get(STUDENTS, headers=central)).json()["items"] == []  # aggregates only
    rid = (await _apply(world, central, fields=["enrollment.grade_level"], student_ids=[],
                        school_ids=["1001-02"]))["id"]
    assert (await world.client.post(f"{REQUESTS}/{rid}/decision", headers=superintendent,
                                    json={"decision": "granted", "reason": REASON})).status_code == 200
    items = (await world.client.get(STUDENTS, headers=central)).json()["items"]
    assert items == [{"enrollment": [{"grade_level": "06"}]}]  # c only, and only the grade
    assert (await world.client.get(f"{STUDENTS}/{a}", headers=central)).status_code == 404
    async with db.sessionmaker() as session:
        assert (await verify_chain(session, RecordsAccessLogEntry)).ok
        logged = list(await session.scalars(select(RecordsAccessLogEntry.action).where(
            RecordsAccessLogEntry.action.like("access_request%")).order_by(RecordsAccessLogEntry.seq)))
    assert logged == ["access_request", "access_request_granted"]


async def test_a_grant_that_names_the_student_reaches_the_change_feed_for_its_sections(world: World, make_user) -> None:
    a, b, _ = world.students
    teacher, superintendent = await _classroom(world, make_user)

    def feed_for(changes: list[dict]) -> set[tuple[str, str]]:
        return {(c["state_student_id"], c["section"]) for c in changes}

    before = feed_for((await world.client.get(f"{V1}/changes", headers=teacher)).json()["changes"])
    assert all(sid == a for sid, _ in before) and (a, "demographics") in before  # Bram is not in the class
    request = await _apply(world, teacher, fields=["state_student_id", "discipline.incident_type"])
    granted = await world.client.post(f"{REQUESTS}/{request['id']}/decision", headers=superintendent,
                                      json={"decision": "granted", "reason": REASON})
    assert granted.status_code == 200, granted.text
    after = feed_for((await world.client.get(f"{V1}/changes", headers=teacher)).json()["changes"])
    # Bram's changes to the granted fields' sections now (his state ID is an identifier), and
    # nothing else of his: not his demographics or enrolment.
    assert {section for sid, section in after if sid == b} == {"discipline", "identifiers"}
    assert {(sid, section) for sid, section in after if sid == a} == {(sid, s) for sid, s in before}
