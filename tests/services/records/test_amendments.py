"""The family's rights over a record, over real HTTP with real tokens: amendment with denial,
hearing and statement of disagreement (FERPA 34 CFR 99.20-99.22), the statement disclosed with the
contested fields only, and expungement at 23 (Utah 53A-1-1407) that really deletes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import func, select

from services.records.amendments import statements_for
from services.records.models import RecordItem, RecordItemVersion, RecordSubject, StudentPlan
from shared.policy.access import visible_fields
from shared.policy.principal import Principal, StudentFacts
from tests.helpers import bearer, password_token
from tests.services.records.conftest import STUDENTS, World, basic_record, enrollment

V1 = "/records/v1"
EXPLANATION = "The suspension on 3 March never happened; my son was home sick that day (ZQX-explanation)."
STATEMENT = "We disagree: the school confused Bram with another pupil (ZQX-statement)."
REASON = "The incident report is signed by two staff members (ZQX-reason)."


async def _token(world: World, make_user, username: str, role: str, **scope) -> dict[str, str]:
    await make_user(username, role, **scope)
    return bearer(await password_token(world.client, username))


async def _log(world: World, sid: str) -> list[dict]:
    response = await world.client.get(f"{V1}/access-log", headers=world.steward, params={"state_id": sid, "limit": 1000})
    assert response.status_code == 200, response.text
    return response.json()["entries"]


async def test_amendment_denied_heard_upheld_and_statement_disclosed_with_its_fields(world: World, make_user, db) -> None:
    sid = world.students[1]
    record = basic_record(sid, discipline=[{"incident_date": "2025-03-03", "incident_type": "defiance",
                                            "action_type": "out_of_school_suspension", "action_days": 2}])
    assert (await world.submit(record)).status_code == 201
    parent = await _token(world, make_user, "okafor.parent", "parent", student_ids=[sid])
    superintendent = await _token(world, make_user, "super.1001", "superintendent", district_ids=["1001"])
    other_super = await _token(world, make_user, "super.1002", "superintendent", district_ids=["1002"])
    hearing_officer = await _token(world, make_user, "hearing.officer", "state_data_admin")

    filed = await world.client.post(f"{V1}/students/{sid}/amendment-requests", headers=parent, json={
        "fields": ["discipline.incident_type", "discipline.action_type"], "explanation": EXPLANATION})
    assert filed.status_code == 201, filed.text
    request = filed.json()
    rid = request["id"]
    assert request["status"] == "requested" and request["requester_role"] == "parent"
    assert filed.headers["cache-control"] == "no-store"

    # Only the deciders decide; a superintendent of another district does not even see it.
    assert (await world.client.post(f"{V1}/amendment-requests/{rid}/decision", headers=other_super,
                                    json={"decision": "deny", "reason": REASON})).status_code == 404
    assert (await world.client.post(f"{V1}/amendment-requests/{rid}/decision", headers=parent,
                                    json={"decision": "amend"})).status_code == 403
    assert (await world.client.post(f"{V1}/amendment-requests/{rid}/hearing-request",
                                    headers=parent)).status_code == 409  # not denied yet
    no_reason = await world.client.post(f"{V1}/amendment-requests/{rid}/decision", headers=superintendent,
                                        json={"decision": "deny"})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"

    denied = await world.client.post(f"{V1}/amendment-requests/{rid}/decision", headers=world.steward,
                                     json={"decision": "deny", "reason": REASON})
    assert denied.status_code == 200, denied.text
    assert denied.json()["status"] == "denied"
    assert "right to a hearing" in denied.json()["hearing_rights"] and rid in denied.json()["hearing_rights"]
    again = await world.client.post(f"{V1}/amendment-requests/{rid}/decision", headers=superintendent,
                                    json={"decision": "amend"})
    assert again.status_code == 409

    # The hearing: asked for by the requester, decided by someone other than who denied.
    assert (await world.client.post(f"{V1}/amendment-requests/{rid}/hearing-request",
                                    headers=world.steward)).status_code == 403
    hearing = await world.client.post(f"{V1}/amendment-requests/{rid}/hearing-request", headers=parent)
    assert hearing.status_code == 200 and hearing.json()["status"] == "hearing_requested"
    assert hearing.json()["hearing_requested_at"]
    assert (await world.client.post(f"{V1}/amendment-requests/{rid}/statement-of-disagreement", headers=parent,
                                    json={"text": STATEMENT})).status_code == 409  # hearing pending
    conflicted = await world.client.post(f"{V1}/amendment-requests/{rid}/hearing-outcome", headers=world.steward,
                                         json={"outcome": "uphold", "reason": REASON})
    assert conflicted.status_code == 403
    assert (await world.client.post(f"{V1}/amendment-requests/{rid}/hearing-outcome", headers=superintendent,
                                    json={"outcome": "uphold", "reason": REASON})).status_code == 403
    upheld = await world.client.post(f"{V1}/amendment-requests/{rid}/hearing-outcome", headers=hearing_officer,
                                     json={"outcome": "uphold", "reason": REASON})
    assert upheld.status_code == 200 and upheld.json()["status"] == "upheld_after_hearing"
    assert "statement" in upheld.json()["statement_rights"]

    statement = await world.client.post(f"{V1}/amendment-requests/{rid}/statement-of-disagreement", headers=parent,
                                        json={"text": STATEMENT})
    assert statement.status_code == 201, statement.text
    assert statement.json()["fields"] == ["discipline.incident_type", "discipline.action_type"]
    assert (await world.client.post(f"{V1}/amendment-requests/{rid}/statement-of-disagreement", headers=parent,
                                    json={"text": STATEMENT})).status_code == 409

    listed = await world.client.get(f"{V1}/students/{sid}/amendment-requests", headers=parent)
    assert listed.status_code == 200
    (item,) = listed.json()["items"]
    assert item["status"] == "upheld_after_hearing" and item["statement"]["text"] == STATEMENT
    assert item["explanation"] == EXPLANATION
    for viewer in (world.steward, superintendent, world.sis):
        assert (await world.client.get(f"{V1}/students/{sid}/amendment-requests", headers=viewer)).status_code == 200
    assert (await world.client.get(f"{V1}/students/{sid}/amendment-requests", headers=other_super)).status_code == 404
    other_parent = await _token(world, make_user, "other.parent", "parent", student_ids=[sid])
    mine = await world.client.get(f"{V1}/students/{sid}/amendment-requests", headers=other_parent)
    assert mine.status_code == 200 and mine.json()["items"] == []  # another parent's words are theirs

    # Disclosed with the contested part of the record, to whoever receives it, and only then.
    today = datetime.now(UTC).date()
    district = Principal(subject="user:s", kind="user", role="superintendent", district_ids=frozenset({"1001"}))
    teacher = Principal(subject="user:t", kind="user", role="teacher", staff_id="T-1")
    sees_discipline = visible_fields(district, StudentFacts(sid, district_ids=frozenset({"1001"})), today=today)
    no_discipline = visible_fields(teacher, StudentFacts(sid, teacher_staff_ids=frozenset({"T-1"})), today=today)
    assert "discipline.incident_type" in sees_discipline and "discipline.incident_type" not in no_discipline
    assert no_discipline  # the teacher does see other parts of the record
    async with db.sessionmaker() as session:
        shown = await statements_for(session, sid, sees_discipline)
        assert [s["text"] for s in shown] == [STATEMENT]
        assert shown[0]["fields"] == ["discipline.action_type", "discipline.incident_type"]
        assert shown[0]["amendment_request_id"] == rid
        assert await statements_for(session, sid, no_discipline) == []
        partial = await statements_for(session, sid, frozenset({"discipline.action_type", "enrollment.school_id"}))
        assert partial[0]["fields"] == ["discipline.action_type"]  # the other contested field is not named
        assert await statements_for(session, world.students[0], sees_discipline) == []

    # A read of the record carries the statement, and its access-log entry names the statement's fields.
    read = await world.client.get(f"{V1}/students/{sid}", headers=superintendent)
    assert read.status_code == 200 and [s["text"] for s in read.json()["statements_of_disagreement"]] == [STATEMENT]
    read_entry = [e for e in await _log(world, sid) if e["action"] == "read"][-1]
    assert {"discipline.incident_type", "statements_of_disagreement.text"} <= set(read_entry["payload"]["fields"])

    # Every step is logged, with field names and never anyone's words.
    entries = await _log(world, sid)
    actions = [e["action"] for e in entries]
    for action in ("amendment_request", "amendment_decision", "amendment_hearing_request",
                   "amendment_hearing_outcome", "statement_of_disagreement", "read_amendment_requests"):
        assert action in actions, action
    logged = json.dumps(entries)
    assert "ZQX" not in logged
    filed_entry = next(e for e in entries if e["action"] == "amendment_request")
    assert filed_entry["payload"]["fields"] == ["discipline.action_type", "discipline.incident_type"]


async def test_amend_decision_by_the_district_and_hearing_amend_withdraws_a_statement(world: World, make_user) -> None:
    sid = world.students[0]
    assert (await world.submit(basic_record(sid))).status_code == 201
    student = await _token(world, make_user, "ana.lopez", "eligible_student", student_ids=[sid])
    superintendent = await _token(world, make_user, "super.1001", "superintendent", district_ids=["1001"])
    first = (await world.client.post(f"{V1}/students/{sid}/amendment-requests", headers=student, json={
        "fields": ["demographics.birth_date"], "explanation": EXPLANATION})).json()["id"]
    amended = await world.client.post(f"{V1}/amendment-requests/{first}/decision", headers=superintendent,
                                      json={"decision": "amend"})
    assert amended.status_code == 200 and amended.json()["status"] == "amended"
    assert amended.json()["hearing_rights"] is None

    second = (await world.client.post(f"{V1}/students/{sid}/amendment-requests", headers=student, json={
        "fields": ["demographics.last_name"], "explanation": EXPLANATION})).json()["id"]
    assert (await world.client.post(f"{V1}/amendment-requests/{second}/decision", headers=superintendent,
                                    json={"decision": "deny", "reason": REASON})).status_code == 200
    # A statement straight after the denial, then a hearing after all, which amends.
    assert (await world.client.post(f"{V1}/amendment-requests/{second}/statement-of-disagreement", headers=student,
                                    json={"text": STATEMENT})).status_code == 201
    assert (await world.client.post(f"{V1}/amendment-requests/{second}/hearing-request",
                                    headers=student)).status_code == 200
    outcome = await world.client.post(f"{V1}/amendment-requests/{second}/hearing-outcome", headers=world.steward,
                                      json={"outcome": "amend", "reason": REASON})
    assert outcome.status_code == 200 and outcome.json()["status"] == "amended_after_hearing"
    items = (await world.client.get(f"{V1}/students/{sid}/amendment-requests", headers=student)).json()["items"]
    assert [(i["status"], i["statement"]) for i in items] == [("amended", None), ("amended_after_hearing", None)]


async def test_a_parent_files_only_for_their_own_child(world: World, make_user) -> None:
    mine, theirs = world.students[0], world.students[1]
    for sid in (mine, theirs):
        assert (await world.submit(basic_record(sid))).status_code == 201
    parent = await _token(world, make_user, "lopez.parent", "parent", student_ids=[mine])
    body = {"fields": ["demographics.first_name"], "explanation": EXPLANATION}
    other_child = await world.client.post(f"{V1}/students/{theirs}/amendment-requests", headers=parent, json=body)
    assert other_child.status_code == 404
    assert (await world.client.post(f"{V1}/students/1234567890/amendment-requests", headers=parent,
                                    json=body)).status_code == 404
    assert (await world.client.get(f"{V1}/students/{theirs}/amendment-requests", headers=parent)).status_code == 404
    # Staff who reach the student may not file for the family.
    assert (await world.client.post(f"{V1}/students/{mine}/amendment-requests", headers=world.steward,
                                    json=body)).status_code == 403
    assert (await world.client.post(f"{V1}/students/{mine}/amendment-requests", headers=parent,
                                    json=body)).status_code == 201


async def test_unknown_or_hidden_fields_are_named_and_nothing_is_echoed(world: World, make_user) -> None:
    sid = world.students[0]
    assert (await world.submit(basic_record(sid))).status_code == 201
    parent = await _token(world, make_user, "lopez.parent", "parent", student_ids=[sid])
    response = await world.client.post(f"{V1}/students/{sid}/amendment-requests", headers=parent, json={
        "fields": ["demographics.first_name", "demographics.favourite_colour", "parent_contacts.last_name",
                   "demographics.first_name"],
        "explanation": EXPLANATION})
    assert response.status_code == 422
    errors = {e["field"]: e["code"] for e in response.json()["errors"]}
    assert errors == {"fields[1]": "unknown-field", "fields[2]": "unknown-field", "fields[3]": "duplicate"}
    assert "ZQX" not in response.text and "favourite_colour" not in response.text
    too_many = await world.client.post(f"{V1}/students/{sid}/amendment-requests", headers=parent, json={
        "fields": ["demographics.first_name"] * 21, "explanation": EXPLANATION})
    assert too_many.status_code == 422
    empty = await world.client.post(f"{V1}/students/{sid}/amendment-requests", headers=parent, json={
        "fields": [], "explanation": "  "})
    assert {e["field"] for e in empty.json()["errors"]} == {"body.fields", "body.explanation"}
    assert (await world.client.get(f"{V1}/students/{sid}/amendment-requests", headers=parent)).json()["items"] == []


# --- expungement ---------------------------------------------------------------------------------


async def _adult(world: World, make_user) -> tuple[str, dict[str, str]]:
    """A former student, 26 now, with special education, a 504 plan, discipline and a transcript."""
    sid = await world.resolve("L-9", "Dana", "Reyes", "2000-02-01")
    record = {
        "state_student_id": sid, "local_student_id": "L-9",
        "demographics": {"first_name": "Dana", "last_name": "Reyes", "birth_date": "2000-02-01", "sex": "F"},
        "enrollment": [enrollment(entry="2014-08-20", exit_date="2018-06-01")],
        "special_education": {"primary_disability": "SLD", "iep_begin_date": "2015-01-10",
                              "iep_end_date": "2030-01-09"},
        "section_504": {"plan_begin_date": "2016-01-01"},
        "discipline": [{"incident_date": "2016-04-04", "incident_type": "vandalism", "action_type": "detention"}],
        "transcript": {"cumulative_gpa": 3.4},
    }
    assert (await world.submit(record)).status_code == 201
    record["discipline"][0]["action_days"] = 1  # a second version of the element
    assert (await world.submit(record)).status_code == 200
    return sid, await _token(world, make_user, "dana.reyes", "eligible_student", student_ids=[sid])


async def test_expungement_is_refused_under_23(world: World, make_user) -> None:
    sid = world.students[0]  # born 2014
    assert (await world.submit(basic_record(sid))).status_code == 201
    student = await _token(world, make_user, "ana.lopez", "eligible_student", student_ids=[sid])
    response = await world.client.post(f"{V1}/students/{sid}/expungement-requests", headers=student,
                                       json={"sections": ["discipline"]})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["demographics.birth_date"]
    assert "2014" not in response.text
    parent = await _token(world, make_user, "lopez.parent", "parent", student_ids=[sid])
    assert (await world.client.post(f"{V1}/students/{sid}/expungement-requests", headers=parent,
                                    json={"sections": ["discipline"]})).status_code == 403


async def test_permanent_sections_are_never_expunged(world: World, make_user) -> None:
    sid, student = await _adult(world, make_user)
    response = await world.client.post(f"{V1}/students/{sid}/expungement-requests", headers=student,
                                       json={"sections": ["discipline", "transcript", "enrollment", "nonsense"]})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["sections[1]", "sections[2]", "sections[3]"]
    assert {e["code"] for e in response.json()["errors"]} == {"not-expungeable"}
    other = await world.client.post(f"{V1}/students/{world.students[0]}/expungement-requests", headers=student,
                                    json={"sections": ["discipline"]})
    assert other.status_code == 404


async def test_expunge_deletes_the_rows_and_logs_no_data(world: World, make_user, db) -> None:
    sid, student = await _adult(world, make_user)
    expunged = ["special_education", "discipline"]

    async def rows(model, sections) -> int:
        async with db.sessionmaker() as session:
            return await session.scalar(select(func.count()).select_from(model).where(
                model.state_id == sid, model.section.in_(sections)))

    async with db.sessionmaker() as session:
        before_version = (await session.get(RecordSubject, ("student", sid))).version
        assert set(await session.scalars(select(StudentPlan.kind).where(StudentPlan.state_student_id == sid))) == {
            "iep", "504"}
    assert await rows(RecordItemVersion, expunged) == 3  # special_education + two discipline versions
    # A statement of disagreement about the discipline goes with it (kept as long as that part is).
    amendment = (await world.client.post(f"{V1}/students/{sid}/amendment-requests", headers=student, json={
        "fields": ["discipline.incident_type"], "explanation": EXPLANATION})).json()["id"]
    assert (await world.client.post(f"{V1}/amendment-requests/{amendment}/decision", headers=world.steward,
                                    json={"decision": "deny", "reason": REASON})).status_code == 200
    statement = (await world.client.post(f"{V1}/amendment-requests/{amendment}/statement-of-disagreement",
                                         headers=student, json={"text": STATEMENT})).json()["id"]

    filed = await world.client.post(f"{V1}/students/{sid}/expungement-requests", headers=student,
                                    json={"sections": expunged})
    assert filed.status_code == 201, filed.text
    rid = filed.json()["id"]
    assert (await world.client.post(f"{V1}/expungement-requests/{rid}/decision", headers=student,
                                    json={"decision": "expunge"})).status_code == 403
    assert (await world.client.post(f"{V1}/expungement-requests/{rid}/decision", headers=world.sis,
                                    json={"decision": "expunge"})).status_code == 404
    decided = await world.client.post(f"{V1}/expungement-requests/{rid}/decision", headers=world.steward,
                                      json={"decision": "expunge", "reason": "Eligible (ZQX-reason)."})
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert body["status"] == "expunged" and (body["elements_removed"], body["versions_removed"]) == (2, 3)
    assert (await world.client.post(f"{V1}/expungement-requests/{rid}/decision", headers=world.steward,
                                    json={"decision": "expunge"})).status_code == 409

    assert await rows(RecordItem, expunged) == 0
    async with db.sessionmaker() as session:
        left = (await session.execute(select(RecordItemVersion.section, RecordItemVersion.operation,
                                             RecordItemVersion.item_key, RecordItemVersion.data).where(
            RecordItemVersion.state_id == sid, RecordItemVersion.section.in_(expunged)))).all()
    # Only the change feed's markers remain: which section went, no key, no data.
    assert sorted(left) == sorted((section, "expunge", "*", None) for section in expunged)
    feed = (await world.client.get("/records/v1/changes", headers=world.steward)).json()["changes"]
    assert {(c["section"], c["operation"]) for c in feed if c["state_student_id"] == sid} >= {
        (section, "expunge") for section in expunged}
    assert await rows(RecordItem, ["section_504", "transcript", "enrollment", "demographics"]) == 4
    async with db.sessionmaker() as session:
        assert (await session.get(RecordSubject, ("student", sid))).version == before_version + 1
        assert set(await session.scalars(select(StudentPlan.kind).where(StudentPlan.state_student_id == sid))) == {
            "504"}
    record = await world.client.get(f"{STUDENTS}/{sid}", headers=world.steward)
    assert "special_education" not in record.json() and "discipline" not in record.json()
    assert record.json()["transcript"]["cumulative_gpa"] == 3.4
    history = (await world.client.get(f"{STUDENTS}/{sid}/history", headers=world.steward)).json()["versions"]
    # History keeps that the sections were expunged, and nothing of what they held.
    assert sorted((v["section"], v["operation"], v["record"]) for v in history if v["section"] in expunged) == [
        ("discipline", "expunge", {}), ("special_education", "expunge", {})]

    entries = await _log(world, sid)
    (entry,) = [e for e in entries if e["action"] == "expunge"]
    assert entry["payload"]["sections"] == ["discipline", "special_education"]
    assert (entry["payload"]["elements_removed"], entry["payload"]["versions_removed"]) == (2, 3)
    assert entry["payload"]["statements_removed"] == [statement]
    async with db.sessionmaker() as session:
        assert await statements_for(session, sid, frozenset({"discipline.incident_type"})) == []
    logged = json.dumps(entry)
    for value in ("SLD", "vandalism", "detention", "2016-04-04", "2015-01-10", "ZQX"):
        assert value not in logged
    listed = await world.client.get(f"{V1}/students/{sid}/expungement-requests", headers=student)
    assert [r["status"] for r in listed.json()["items"]] == ["expunged"]


async def test_expungement_denied_needs_a_reason_and_keeps_the_data(world: World, make_user, db) -> None:
    sid, student = await _adult(world, make_user)
    rid = (await world.client.post(f"{V1}/students/{sid}/expungement-requests", headers=student,
                                   json={"sections": ["section_504"]})).json()["id"]
    no_reason = await world.client.post(f"{V1}/expungement-requests/{rid}/decision", headers=world.steward,
                                        json={"decision": "deny"})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    denied = await world.client.post(f"{V1}/expungement-requests/{rid}/decision", headers=world.steward,
                                     json={"decision": "deny", "reason": "Plan still in use (ZQX)."})
    assert denied.status_code == 200 and denied.json()["status"] == "denied"
    async with db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(RecordItem).where(
            RecordItem.state_id == sid, RecordItem.section == "section_504")) == 1
    assert "expungement_denied" in [e["action"] for e in await _log(world, sid)]
