"""District submissions over HTTP: natural-key upsert, versions and `as_of`, ETags, idempotency,
bad input that names fields and stores nothing, and a district writing only its own students."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx

from tests.services.records.conftest import STUDENTS, World, basic_record, enrollment


async def test_create_read_update_and_history(world: World) -> None:
    sid = world.students[0]
    created = await world.submit(basic_record(sid))
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "created" and created.headers["ETag"] == 'W/"1"'
    before_update = datetime.now(UTC)

    same = await world.submit(basic_record(sid))
    assert same.status_code == 200 and same.json()["status"] == "unchanged" and same.json()["version"] == 1

    changed = basic_record(sid, assessments=[{"assessment_family": "state_summative", "subject": "mathematics",
                                               "school_year": "2025-2026", "scale_score": 512}])
    changed["demographics"]["middle_name"] = "Maria"
    updated = await world.submit(changed)
    assert updated.status_code == 200 and updated.json()["version"] == 2, updated.text

    read = await world.client.get(f"{STUDENTS}/{sid}", headers=world.steward)
    assert read.status_code == 200 and read.headers["cache-control"] == "no-store"
    record = read.json()
    assert record["demographics"]["middle_name"] == "Maria"
    assert record["assessments"][0]["scale_score"] == 512
    assert record["enrollment"][0]["school_id"] == "1001-01"

    old = await world.client.get(f"{STUDENTS}/{sid}", headers=world.steward,
                                 params={"as_of": before_update.isoformat()})
    assert "middle_name" not in old.json()["demographics"] and "assessments" not in old.json()

    history = (await world.client.get(f"{STUDENTS}/{sid}/history", headers=world.steward)).json()["versions"]
    demographics = [v for v in history if v["section"] == "demographics"]
    assert [v["operation"] for v in demographics] == ["update", "create"]
    assert "middle_name" not in demographics[1]["record"]["demographics"]  # the old value is kept


async def test_a_new_list_element_leaves_the_others_alone(world: World) -> None:
    sid = world.students[0]
    assert (await world.submit(basic_record(sid))).status_code == 201
    second = {"state_student_id": sid, "enrollment": [enrollment(school="1001-02", entry="2026-01-05")]}
    assert (await world.submit(second)).status_code == 200
    record = (await world.client.get(f"{STUDENTS}/{sid}", headers=world.steward)).json()
    assert [e["school_id"] for e in record["enrollment"]] == ["1001-01", "1001-02"]
    assert record["demographics"]["first_name"] == "Ana"


async def test_bad_fields_are_named_never_echoed_and_nothing_is_stored(world: World) -> None:
    sid = world.students[0]
    secret = "ZZ-not-a-code-ZZ"
    bad = basic_record(sid, favourite_colour="blue")
    bad["demographics"]["sex"] = secret
    bad["enrollment"][0]["exit_date"] = "2025-01-01"  # before entry
    bad["enrollment"].append({"school_id": "1001-09"})
    response = await world.submit(bad)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"favourite_colour", "demographics.sex", "enrollment[0].exit_date", "enrollment[1].entry_date",
            "enrollment[1].school_year"} <= fields
    assert secret not in response.text and "blue" not in response.text
    assert (await world.client.get(f"{STUDENTS}/{sid}", headers=world.steward)).status_code == 404


async def test_numbers_too_big_to_store_are_named_and_nothing_is_stored(world: World) -> None:
    """JSON leaves a number's size open: one past a signed 64-bit integer, in an integer field
    or a decimal one, is refused by name (it used to reach the encoders and answer 500)."""
    sid = world.students[0]
    huge = 2 ** 63 + 4321
    bad = basic_record(sid, discipline=[{"incident_date": "2025-03-03", "incident_type": "defiance",
                                         "action_type": "out_of_school_suspension", "action_days": 10 ** 400}])
    bad["enrollment"][0]["expected_graduation_year"] = huge
    response = await world.submit(bad)
    assert response.status_code == 422, response.text
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"enrollment[0].expected_graduation_year", "discipline[0].action_days"}
    assert str(huge) not in response.text
    body = json.dumps([bad])
    bulk = await world.client.post(f"{STUDENTS}/bulk", headers={**world.sis, "Content-Type": "application/json"},
                                   content=body.encode())
    assert bulk.status_code == 422  # a number past a double's range does not parse: the answer says where
    column = body.index(str(10 ** 400)) + 1
    assert bulk.json()["errors"][0]["message"].endswith(f"(line 1, column {column}).")
    assert str(10 ** 400)[:40] not in bulk.text
    edge = basic_record(sid)
    edge["enrollment"][0]["expected_graduation_year"] = 2 ** 63 - 1  # the largest that fits is kept
    bulk = await world.client.post(f"{STUDENTS}/bulk", headers=world.sis, json=[edge])
    assert bulk.status_code == 200, bulk.text
    assert [r["status"] for r in bulk.json()["results"]] == ["created"]
    record = await world.client.get(f"{STUDENTS}/{sid}", headers=world.steward)
    assert record.json()["enrollment"][0]["expected_graduation_year"] == 2 ** 63 - 1
    assert "discipline" not in record.json()


async def test_a_rejected_update_changes_nothing(world: World) -> None:
    sid = world.students[0]
    assert (await world.submit(basic_record(sid))).status_code == 201
    bad = basic_record(sid)
    bad["demographics"]["first_name"] = "Anabel"
    bad["enrollment"][0]["grade_level"] = "13"
    assert (await world.submit(bad)).status_code == 422
    record = (await world.client.get(f"{STUDENTS}/{sid}", headers=world.steward))
    assert record.json()["demographics"]["first_name"] == "Ana" and record.headers["ETag"] == 'W/"1"'


async def test_a_district_writes_only_its_own_students(world: World) -> None:
    sid = world.students[0]  # resolved by 1001 only
    claim = basic_record(sid)
    claim["enrollment"] = [enrollment(district="1002", school="1002-01")]
    other = await world.submit(claim, headers=world.other_sis)
    assert other.status_code == 403
    assert "state_student_id" in {e["field"] for e in other.json()["errors"]}
    # Enrolling the student in another district is not for 1001 to say either.
    record = basic_record(sid)
    record["enrollment"] = [enrollment(district="1002", school="1002-01")]
    wrong = await world.submit(record)
    assert wrong.status_code == 403 and wrong.json()["errors"][0]["field"] == "enrollment[0].district_id"
    # State-only sections are refused to a district.
    state_only = await world.submit(basic_record(sid, record_management={"identity_match_status": "matched"}))
    assert state_only.status_code in (403, 422)
    assert (await world.client.get(f"{STUDENTS}/{sid}", headers=world.steward)).status_code == 404


async def test_an_unknown_state_id_is_refused(world: World) -> None:
    response = await world.submit(basic_record("1234567890"))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "state_student_id"


async def test_if_match_refuses_a_stale_write(world: World) -> None:
    sid = world.students[1]
    assert (await world.submit(basic_record(sid))).status_code == 201
    ok = await world.submit(basic_record(sid, programs={"title_i": True}), extra_headers={"If-Match": 'W/"1"'})
    assert ok.status_code == 200 and ok.headers["ETag"] == 'W/"2"'
    stale = await world.submit(basic_record(sid, programs={"title_i": False}), extra_headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412 and stale.json()["errors"][0]["field"] == "If-Match"
    record = (await world.client.get(f"{STUDENTS}/{sid}", headers=world.steward)).json()
    assert record["programs"]["title_i"] is True


async def test_idempotency_key_replays_and_refuses_reuse(world: World) -> None:
    sid = world.students[2]
    first = await world.submit(basic_record(sid), extra_headers={"Idempotency-Key": "k-1"})
    again = await world.submit(basic_record(sid), extra_headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    reused = await world.submit(basic_record(sid, programs={"migrant": True}), extra_headers={"Idempotency-Key": "k-1"})
    assert reused.status_code == 422 and reused.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_bulk_rows_fail_alone(world: World) -> None:
    good, bad = basic_record(world.students[0]), basic_record(world.students[1])
    bad["demographics"]["birth_date"] = "2014-02-30"
    foreign = basic_record("1234567890")
    response = await world.client.post(f"{STUDENTS}/bulk", headers=world.sis, json=[good, bad, foreign])
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 2)
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["created", "rejected", "rejected"]
    assert body["results"][1]["errors"][0]["field"] == "demographics.birth_date"
    assert (await world.client.get(f"{STUDENTS}/{world.students[0]}", headers=world.steward)).status_code == 200
    assert (await world.client.get(f"{STUDENTS}/{world.students[1]}", headers=world.steward)).status_code == 404


async def test_bulk_idempotency_key_replays_and_refuses_reuse(world: World) -> None:
    rows = [basic_record(sid) for sid in world.students[:2]]
    headers = {**world.sis, "Idempotency-Key": "bulk-1"}
    first = await world.client.post(f"{STUDENTS}/bulk", headers=headers, json=rows)
    again = await world.client.post(f"{STUDENTS}/bulk", headers=headers, json=rows)
    assert first.status_code == again.status_code == 200, first.text
    assert [r["status"] for r in first.json()["results"]] == ["created", "created"]
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    changed = await world.client.post(f"{STUDENTS}/bulk", headers=headers, json=rows[:1])
    assert changed.status_code == 422 and changed.json()["errors"][0]["field"] == "Idempotency-Key"
    # Without a key the same rows are submitted again (and change nothing).
    unkeyed = await world.client.post(f"{STUDENTS}/bulk", headers=world.sis, json=rows)
    assert [r["status"] for r in unkeyed.json()["results"]] == ["unchanged", "unchanged"]


async def test_a_bulk_answer_closes_its_connection(world: World) -> None:
    """So that a client's next bulk request is accepted by whichever server worker is free, not
    queued behind another client's on the worker its kept-alive connection landed on."""
    response = await world.client.post(f"{STUDENTS}/bulk", headers=world.sis, json=[basic_record(world.students[0])])
    assert response.status_code == 200 and response.headers["connection"] == "close"
    one = await world.client.post(STUDENTS, headers=world.sis, json=basic_record(world.students[1]))
    assert one.status_code == 201 and "connection" not in one.headers


async def test_bulk_ndjson_with_an_unparsable_line(world: World) -> None:
    lines = [json.dumps(basic_record(sid)) for sid in world.students] + ["{not json"]
    response = await world.client.post(f"{STUDENTS}/bulk", headers={**world.sis, "Content-Type": "application/x-ndjson"},
                                       content="\n".join(lines).encode())
    body = response.json()
    assert response.status_code == 200 and (body["accepted"], body["rejected"]) == (3, 1)
    error = body["results"][3]["errors"][0]
    assert error["field"] == "body" and error["message"].startswith("Line 4 is not valid JSON: ")
    assert error["message"].endswith("(column 2).") and "not json" not in error["message"]


async def test_ssn_is_accepted_but_never_returned_or_logged(world: World, caplog) -> None:
    sid = world.students[0]
    ssn = "078-05-1120"
    response = await world.submit({**basic_record(sid), "ssn": ssn})
    assert response.status_code == 201
    read = await world.client.get(f"{STUDENTS}/{sid}", headers=world.steward)
    history = await world.client.get(f"{STUDENTS}/{sid}/history", headers=world.steward)
    log = await world.client.get("/records/v1/access-log", headers=world.steward, params={"state_id": sid})
    for text in (response.text, read.text, history.text, log.text, caplog.text):
        assert ssn not in text and "078051120" not in text.replace("-", "")
    assert "ssn" not in read.json()
    entry = next(e for e in log.json()["entries"] if e["action"] == "write")
    assert entry["payload"]["ssn_received"] is True and "ssn" not in entry["payload"]["fields"]


async def test_each_write_entry_names_the_fields_its_row_changed(world: World) -> None:
    """Rows of one bulk request with the same shapes, another shape, and a later row that changes one
    element: each log entry names exactly the fields its own row wrote, sorted."""
    a, b, c = world.students
    plain = sorted(["local_student_id", "demographics.first_name", "demographics.last_name",
                    "demographics.birth_date", "demographics.sex", "enrollment.district_id",
                    "enrollment.school_id", "enrollment.entry_date", "enrollment.entry_type", "enrollment.school_year",
                    "enrollment.grade_level"])
    with_programs = {**basic_record(c), "programs": {"english_learner": True}}
    rows = [basic_record(a), basic_record(b), with_programs, {**basic_record(a), "demographics": {
        "first_name": "Ana", "last_name": "Lopez-Diaz", "birth_date": "2014-03-09", "sex": "F"}}]
    response = await world.client.post(f"{STUDENTS}/bulk", headers=world.sis, json=rows)
    assert response.status_code == 200 and response.json()["accepted"] == 4
    fields = {}
    for sid in (a, b, c):
        log = await world.client.get("/records/v1/access-log", headers=world.steward, params={"state_id": sid})
        fields[sid] = [e["payload"]["fields"] for e in log.json()["entries"] if e["action"] == "write"]
    assert fields[b] == [plain]
    assert fields[c] == [sorted([*plain, "programs.english_learner"])]
    # a's second row changed only its demographics: that entry names those fields alone
    assert sorted(fields[a]) == sorted([plain, [n for n in plain if n.startswith("demographics.")]])


async def test_change_feed_tells_only_what_the_caller_reaches(world: World, client: httpx.AsyncClient) -> None:
    for sid in world.students[:2]:
        assert (await world.submit(basic_record(sid))).status_code == 201
    feed = (await client.get("/records/v1/changes", headers=world.steward)).json()
    assert {c["state_student_id"] for c in feed["changes"]} == set(world.students[:2])
    later = (await client.get("/records/v1/changes", headers=world.steward,
                              params={"min_change_version": feed["next_min_change_version"]})).json()
    assert later["changes"] == []
    outsider = (await client.get("/records/v1/changes", headers=world.other_sis)).json()
    assert outsider["changes"] == []
