"""Reads over HTTP: reach follows dated relationships ("currently" = today within the dates), lists
page by keyset and are projected like single reads, bulk reads need a purpose, the volume alarm
answers 429 and logs one alert, and the access log is for level-1 auditors and verifies."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from services.records.models import RecordsAccessLogEntry
from shared.audit import verify_chain
from tests.helpers import bearer, bypass_append_only_logs, password_token
from tests.services.records.conftest import STUDENTS, World, basic_record

TODAY = date.today()
PAST, FUTURE = (TODAY - timedelta(days=60)).isoformat(), (TODAY + timedelta(days=60)).isoformat()


async def _section(world: World, code: str, teacher: str, students: list[str], *, end: str = FUTURE) -> None:
    response = await world.client.put(f"/records/v1/class-sections/1001/{code}", headers=world.sis, json={
        "school_id": "1001-01", "school_year": "2025-2026", "course_code": "02052", "begin_date": PAST,
        "end_date": end, "teachers": [{"staff_id": teacher, "begin_date": PAST}],
        "students": [{"state_student_id": s, "begin_date": PAST} for s in students]})
    assert response.status_code == 200, response.text


async def _user(world: World, make_user, name: str, role: str, **scope) -> dict[str, str]:
    await make_user(name, role, **scope)
    return bearer(await password_token(world.client, name))


async def test_teacher_reaches_current_class_only_and_sees_level_three(world: World, make_user) -> None:
    a, b, c = world.students
    for sid in (a, b, c):
        assert (await world.submit(basic_record(sid, programs={"lunch_status": "free", "title_i": True}))).status_code == 201
    await _section(world, "MATH-6A", "S10000001", [a])
    await _section(world, "ART-6B", "S10000001", [b], end=(TODAY - timedelta(days=1)).isoformat())  # ended
    teacher = await _user(world, make_user, "teacher", "teacher", staff_id="S10000001", district_ids=["1001"])

    record = (await world.client.get(f"{STUDENTS}/{a}", headers=teacher)).json()
    assert record["programs"] == {"title_i": True}  # lunch status is level 2: absent, not null
    assert record["demographics"]["first_name"] == "Ana"
    assert (await world.client.get(f"{STUDENTS}/{b}", headers=teacher)).status_code == 404  # section ended
    missing = await world.client.get(f"{STUDENTS}/{c}", headers=teacher)
    nonexistent = await world.client.get(f"{STUDENTS}/0000000000", headers=teacher)
    assert missing.status_code == nonexistent.status_code == 404
    assert missing.json()["detail"] == nonexistent.json()["detail"]

    listed = (await world.client.get(STUDENTS, headers=teacher)).json()
    assert [r["state_student_id"] for r in listed["items"]] == [a]
    assert listed["items"][0] == record


async def test_counselor_and_principal_reach(world: World, make_user) -> None:
    a, b, _ = world.students
    for sid in (a, b):
        assert (await world.submit(basic_record(sid))).status_code == 201
    added = await world.client.post("/records/v1/caseloads", headers=world.sis, json={
        "district_id": "1001", "staff_id": "S20000002", "state_student_id": b, "kind": "counselor", "begin_date": PAST})
    assert added.status_code == 201, added.text
    counselor = await _user(world, make_user, "counselor", "counselor", staff_id="S20000002", district_ids=["1001"])
    assert (await world.client.get(f"{STUDENTS}/{a}", headers=counselor)).status_code == 404
    assert (await world.client.get(f"{STUDENTS}/{b}", headers=counselor)).status_code == 200
    principal = await _user(world, make_user, "principal", "principal", school_ids=["1001-01"], district_ids=["1001"])
    other_school = await _user(world, make_user, "principal2", "principal", school_ids=["1001-02"], district_ids=["1001"])
    assert (await world.client.get(f"{STUDENTS}/{a}", headers=principal)).status_code == 200
    assert (await world.client.get(f"{STUDENTS}/{a}", headers=other_school)).status_code == 404


async def test_lists_page_by_keyset_and_bulk_reads_need_a_purpose(world: World) -> None:
    for sid in world.students:
        assert (await world.submit(basic_record(sid))).status_code == 201
    first = (await world.client.get(STUDENTS, headers=world.sis, params={"limit": 2})).json()
    assert not any(sid in first["next_cursor"] for sid in world.students)  # opaque
    second = (await world.client.get(STUDENTS, headers=world.sis,
                                     params={"limit": 2, "cursor": first["next_cursor"]})).json()
    seen = [r["state_student_id"] for r in first["items"] + second["items"]]
    assert seen == sorted(world.students) and second["next_cursor"] is None
    forged = await world.client.get(STUDENTS, headers=world.sis, params={"cursor": first["next_cursor"][:-4] + "AAAA"})
    assert forged.status_code == 422 and forged.json()["errors"][0]["field"] == "cursor"
    stolen = await world.client.get(STUDENTS, headers=world.other_sis, params={"cursor": first["next_cursor"]})
    assert stolen.status_code == 422
    assert (await world.client.get(STUDENTS, headers=world.other_sis)).json()["items"] == []
    export = await world.client.get(STUDENTS, headers=world.sis, params={"limit": 500})
    assert export.status_code == 422 and export.json()["errors"][0]["field"] == "purpose"
    ok = await world.client.get(STUDENTS, headers=world.sis, params={"limit": 500, "purpose": "annual SIS reconciliation"})
    assert ok.status_code == 200 and len(ok.json()["items"]) == 3


async def test_volume_alarm_refuses_and_alerts_once(world: World, settings, monkeypatch: pytest.MonkeyPatch) -> None:
    sid = world.students[0]
    assert (await world.submit(basic_record(sid))).status_code == 201
    monkeypatch.setattr(settings, "records_reads_per_hour", 2)
    codes = [(await world.client.get(f"{STUDENTS}/{sid}", headers=world.sis)).status_code for _ in range(4)]
    assert codes == [200, 200, 429, 429]
    monkeypatch.setattr(settings, "records_reads_per_hour", 1000)
    log = (await world.client.get("/records/v1/access-log", headers=world.steward, params={"limit": 1000})).json()
    alerts = [e for e in log["entries"] if e["action"] == "volume_alert"]
    reads = [e for e in log["entries"] if e["action"] == "read" and e["payload"]["state_id"] == sid]
    assert len(alerts) == 1 and alerts[0]["payload"]["limit"] == 2
    assert len(reads) == 2  # refused reads sent nothing, so they are not logged as reads


async def test_access_log_names_fields_never_values_and_verifies(world: World, db) -> None:
    sid = world.students[0]
    assert (await world.submit(basic_record(sid))).status_code == 201
    assert (await world.client.get(f"{STUDENTS}/{sid}", headers=world.sis,
                                   params={"purpose": "enrollment check"})).status_code == 200
    assert (await world.client.get("/records/v1/access-log", headers=world.sis)).status_code == 403
    log = await world.client.get("/records/v1/access-log", headers=world.steward, params={"state_id": sid})
    read = [e for e in log.json()["entries"] if e["action"] == "read"][0]
    assert read["payload"]["purpose"] == "enrollment check" and read["payload"]["role"] == "district_sis"
    assert "demographics.first_name" in read["payload"]["fields"]
    assert "Ana" not in log.text and "Lopez" not in log.text
    async with db.sessionmaker() as session:
        assert (await verify_chain(session, RecordsAccessLogEntry)).ok
        seq = await session.scalar(select(RecordsAccessLogEntry.seq).where(RecordsAccessLogEntry.action == "read"))
        await bypass_append_only_logs(session)
        await session.execute(update(RecordsAccessLogEntry).where(RecordsAccessLogEntry.seq == seq)
                              .values(payload='{"fields":[]}'))
        report = await verify_chain(session, RecordsAccessLogEntry)
        assert not report.ok and report.first_bad_seq == seq
        await session.rollback()


async def test_staff_open_records_view_never_has_the_ssn(world: World, make_user) -> None:
    resolved = await world.client.post("/identity/v1/staff/resolve", headers=world.sis, json={
        "district_id": "1001", "local_staff_id": "E-7", "first_name": "Marguerite", "last_name": "Duval",
        "birth_date": "1984-06-02", "sex": "F"})
    staff_id = resolved.json()["staff_state_id"]
    created = await world.client.post("/records/v1/staff", headers=world.sis, json={
        "staff_id": staff_id, "ssn": "078-05-1120", "local_staff_id": "E-7",
        "demographics": {"first_name": "Marguerite", "last_name": "Duval", "birth_date": "1984-06-02", "sex": "F"},
        "credentials": [{"credential_type": "professional", "teaching_field": "mathematics", "expiration_date": "2030-06-30"}],
        "assignments": [{"school_year": "2025-2026", "district_id": "1001", "school_id": "1001-01",
                         "assignment_role": "teacher", "subject_area": "mathematics", "class_size": 24}]})
    assert created.status_code == 201, created.text
    public = await _user(world, make_user, "citizen", "public")
    view = await world.client.get(f"/records/v1/staff/{staff_id}", headers=public)
    assert view.status_code == 200, view.text
    body = view.json()
    assert body["demographics"] == {"first_name": "Marguerite", "last_name": "Duval"}  # birth date is level 2
    assert body["credentials"][0]["teaching_field"] == "mathematics"
    assert "class_size" not in body["assignments"][0] and "ssn" not in body and "078-05-1120" not in view.text
    full = (await world.client.get(f"/records/v1/staff/{staff_id}", headers=world.steward)).json()
    assert full["demographics"]["birth_date"] == "1984-06-02" and "ssn" not in full


async def test_a_roster_cannot_reach_another_districts_student(world: World) -> None:
    own, foreign = world.students[0], await world.resolve("X-9", "Dara", "Fenn", "2013-01-01", world.other_sis, "1002")
    assert (await world.submit(basic_record(own))).status_code == 201
    record = basic_record(foreign)
    record["enrollment"][0].update(district_id="1002", school_id="1002-01")
    assert (await world.submit(record, world.other_sis)).status_code == 201
    response = await world.client.put("/records/v1/class-sections/1001/SNEAK", headers=world.sis, json={
        "school_id": "1001-01", "school_year": "2025-2026", "begin_date": PAST, "end_date": FUTURE,
        "teachers": [{"staff_id": "S10000001", "begin_date": PAST}],
        "students": [{"state_student_id": own, "begin_date": PAST}, {"state_student_id": foreign, "begin_date": PAST}]})
    assert response.status_code == 422 and [e["field"] for e in response.json()["errors"]] == ["students[1].state_student_id"]
    caseload = await world.client.post("/records/v1/caseloads", headers=world.sis, json={
        "district_id": "1001", "staff_id": "S2", "state_student_id": foreign, "kind": "counselor", "begin_date": PAST})
    assert caseload.status_code == 422 and caseload.json()["errors"][0]["field"] == "state_student_id"


async def test_a_role_that_cannot_see_state_ids_pages_without_learning_them(world: World, make_user) -> None:
    for sid in world.students:
        assert (await world.submit(basic_record(sid))).status_code == 201
    analyst = await _user(world, make_user, "analyst", "state_reporting_analyst", state="ST")
    seen = 0
    cursor = None
    while True:
        page = await world.client.get(STUDENTS, headers=analyst, params={"limit": 1, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        assert not any(sid in page.text for sid in world.students)
        seen += len(page.json()["items"])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == 3


async def test_the_change_feed_does_not_name_students_to_a_role_that_cannot_see_their_ids(world: World, make_user) -> None:
    assert (await world.submit(basic_record(world.students[0]))).status_code == 201
    analyst = await _user(world, make_user, "analyst2", "state_reporting_analyst", state="ST")
    feed = await world.client.get("/records/v1/changes", headers=analyst)
    assert feed.status_code == 200 and feed.json()["changes"] == []
    assert world.students[0] not in feed.text
    steward = (await world.client.get("/records/v1/changes", headers=world.steward)).json()["changes"]
    assert {c["state_student_id"] for c in steward} == {world.students[0]}
