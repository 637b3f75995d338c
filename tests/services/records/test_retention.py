"""The retention schedule against real records (submitted over HTTP by the district's SIS):
discipline older than three years is deleted with all its versions and the newer kept; students
gone five years are archived, seven years destroyed down to the permanent sections; the log says
so without data."""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import select

from services.records.models import RecordItem, RecordItemVersion, RecordSubject
from services.records.retention import is_archived, run_retention, years_before
from tests.services.records.conftest import World, basic_record, enrollment

V1 = "/records/v1"


def incident(day: str, kind: str = "defiance", **extra) -> dict:
    return {"incident_date": day, "incident_type": kind, "action_type": "detention", **extra}


async def _run(db, today: date, **kw):
    async with db.sessionmaker() as session:
        report = await run_retention(session, today, **kw)
        await session.commit()
    return report


async def _sections(db, sid: str, model=RecordItem) -> list[tuple[str, str]]:
    async with db.sessionmaker() as session:
        rows = await session.execute(select(model.section, model.item_key).where(model.state_id == sid))
        return sorted((section, key) for section, key in rows)


async def _log(world: World, sid: str) -> list[dict]:
    response = await world.client.get(f"{V1}/access-log", headers=world.steward, params={"state_id": sid})
    return response.json()["entries"]


async def test_discipline_older_than_three_years_is_deleted_and_newer_kept(world: World, db) -> None:
    sid, other = world.students[0], world.students[1]
    old, boundary, recent = incident("2022-05-31", "theft"), incident("2022-06-01"), incident("2024-09-10")
    assert (await world.submit(basic_record(sid, discipline=[old, boundary, recent]))).status_code == 201
    assert (await world.submit(basic_record(sid, discipline=[{**old, "action_days": 1}]))).status_code == 200
    assert (await world.submit(basic_record(other, discipline=[recent]))).status_code == 201
    today = date(2025, 6, 1)
    async with db.sessionmaker() as session:
        version_before = (await session.get(RecordSubject, ("student", sid))).version

    dry = await _run(db, today, dry_run=True)
    assert (dry.discipline_students, dry.discipline_elements, dry.discipline_versions) == (1, 1, 2)
    assert len(await _sections(db, sid, RecordItemVersion)) > 0
    assert "expunge_retention" not in [e["action"] for e in await _log(world, sid)]

    report = await _run(db, today)
    assert report.discipline_cutoff == date(2022, 6, 1)
    assert (report.discipline_students, report.discipline_elements, report.discipline_versions) == (1, 1, 2)
    discipline = [key for section, key in await _sections(db, sid) if section == "discipline"]
    assert [k[:10] for k in discipline] == ["2022-06-01", "2024-09-10"]
    versions = [key for section, key in await _sections(db, sid, RecordItemVersion) if section == "discipline"]
    assert sorted(k[:10] for k in versions) == ["*", "2022-06-01", "2024-09-10"]  # "*": the feed's marker
    assert next(k for s, k in await _sections(db, other) if s == "discipline").startswith("2024-09-10")
    async with db.sessionmaker() as session:
        assert (await session.get(RecordSubject, ("student", sid))).version == version_before + 1

    record = (await world.client.get(f"{V1}/students/{sid}", headers=world.steward)).json()
    assert [d["incident_date"] for d in record["discipline"]] == ["2022-06-01", "2024-09-10"]
    (entry,) = [e for e in await _log(world, sid) if e["action"] == "expunge_retention"]
    assert entry["actor"] == "system:retention"
    assert (entry["payload"]["elements_removed"], entry["payload"]["versions_removed"]) == (1, 2)
    assert "theft" not in json.dumps(entry) and "2022-05-31" not in json.dumps(entry)
    assert (await _run(db, today)).discipline_elements == 0  # nothing left to do


async def test_gone_students_are_archived_then_destroyed_down_to_the_permanent_sections(world: World, db) -> None:
    sid, active = world.students[2], world.students[0]
    left = enrollment(entry="2020-08-20", exit_date="2021-06-01")
    record = {
        "state_student_id": sid, "local_student_id": "L-3",
        "demographics": {"first_name": "Chen", "last_name": "Wu", "birth_date": "2012-05-02", "sex": "M"},
        "enrollment": [left],
        "special_education": {"primary_disability": "SLD", "iep_begin_date": "2020-09-01"},
        "discipline": [incident("2021-01-15")],
        "courses": [{"school_year": "2020-2021", "term": "full_year", "course_code": "02052", "final_letter_grade": "B"}],
        "transcript": {"cumulative_gpa": 3.1},
        "assessments": [{"assessment_family": "state_summative", "subject": "mathematics", "school_year": "2020-2021",
                         "scale_score": 498}],
    }
    submitted = await world.submit(record)
    assert submitted.status_code == 201, submitted.text
    assert (await world.submit(basic_record(active))).status_code == 201  # still enrolled

    four_years = await _run(db, date(2025, 7, 1))
    assert four_years.archived == [] and not await is_archived_now(db, sid)
    archived = await _run(db, date(2026, 7, 1))
    assert archived.archived == [sid] and archived.destroyed == []
    assert await is_archived_now(db, sid) and not await is_archived_now(db, active)
    assert {s for s, _ in await _sections(db, sid)} >= {"special_education", "demographics"}

    dry = await _run(db, date(2028, 7, 1), dry_run=True)
    assert dry.destroyed == [sid] and dry.destroyed_elements > 0
    destroyed = await _run(db, date(2028, 7, 1))
    assert destroyed.destroyed == [sid] and destroyed.destroyed_elements == dry.destroyed_elements
    kept = {s for s, _ in await _sections(db, sid)}
    assert kept == {"enrollment", "courses", "transcript", "assessments"}
    assert {s for s, k in await _sections(db, sid, RecordItemVersion) if k != "*"} == kept
    assert await is_archived_now(db, sid)
    assert (await _run(db, date(2029, 7, 1))).destroyed == []  # once
    actions = [e["action"] for e in await _log(world, sid)]
    assert "archive_retention" in actions and "destroy_retention" in actions
    entry = next(e for e in await _log(world, sid) if e["action"] == "destroy_retention")
    assert "SLD" not in json.dumps(entry) and "Chen" not in json.dumps(entry)

    # Enrolled again: active once more.
    back = {"state_student_id": sid, "enrollment": [enrollment(entry="2029-08-20")]}
    assert (await world.submit(back)).status_code == 200
    again = await _run(db, date(2029, 9, 1))
    assert again.unarchived == [sid] and not await is_archived_now(db, sid)


async def is_archived_now(db, sid: str) -> bool:
    async with db.sessionmaker() as session:
        return await is_archived(session, sid)


def test_years_before_handles_the_leap_day() -> None:
    assert years_before(date(2024, 2, 29), 3) == date(2021, 2, 28)
    assert years_before(date(2025, 6, 1), 3) == date(2022, 6, 1)
