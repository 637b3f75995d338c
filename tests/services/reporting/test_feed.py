"""Records' feed of the de-identified fact table: records submitted over HTTP by a district SIS
become one fact row per student per school year, keyed by a keyed hash of the state ID, with no
name, birth date or state ID anywhere in the table; a refresh replaces the rows."""

from __future__ import annotations

import hashlib
import hmac

import httpx
from sqlalchemy import select

from services.records.reporting_feed import refresh_facts
from services.reporting.facts_model import StudentFact
from shared.settings import Settings
from shared.state import Database
from tests.helpers import bearer, client_token, password_token


async def _sis(client: httpx.AsyncClient, make_client_app) -> dict[str, str]:
    sis = await make_client_app("SIS 1001", "district_sis", district_ids=["1001"])
    return bearer(await client_token(client, sis.client.client_id, sis.secret))


async def _resolve(client: httpx.AsyncClient, sis: dict[str, str], local: str, first: str, last: str, dob: str) -> str:
    response = await client.post("/identity/v1/students/resolve", headers=sis, json={
        "district_id": "1001", "local_student_id": local, "first_name": first, "last_name": last,
        "birth_date": dob, "guardian_names": [f"Guardian {local}"]})
    assert response.status_code == 200, response.text
    return response.json()["state_student_id"]


def _record(state_id: str, *, level: str, absent: int, incidents: int, graduated: bool = False) -> dict:
    enrollment = {"school_year": "2025-2026", "district_id": "1001", "school_id": "1001-01",
                  "grade_level": "12", "entry_date": "2025-08-20", "entry_type": "first_entry_in_state",
                  "expected_graduation_year": 2026}
    if graduated:
        enrollment |= {"exit_date": "2026-06-01", "exit_type": "graduated_regular"}
    return {
        "state_student_id": state_id, "local_student_id": "L-" + state_id[-4:],
        "demographics": {"first_name": "Ana", "last_name": "Lopez", "birth_date": "2008-03-09", "sex": "F",
                         "federal_race_ethnicity": "HI7"},
        "enrollment": [enrollment],
        "programs": {"english_learner": True, "special_education": False, "lunch_status": "free", "migrant": False},
        "assessments": [{"assessment_family": "state_summative", "assessment_title": "ST ELA 11", "subject": "ela",
                         "school_year": "2025-2026", "tested_grade_level": "11", "scale_score": 520,
                         "performance_level": level}],
        "attendance": [{"school_year": "2025-2026", "school_id": "1001-01", "days_enrolled": 100,
                        "days_present": 100 - absent, "days_absent_excused": absent, "days_absent_unexcused": 0}],
        "discipline": [{"incident_date": f"2025-10-0{i + 1}", "incident_type": "tobacco", "action_type": "in_school_suspension"}
                       for i in range(incidents)],
    }


async def test_submitted_records_become_pseudonymous_facts(client: httpx.AsyncClient, make_client_app,
                                                           make_user, db: Database, settings: Settings) -> None:
    sis = await _sis(client, make_client_app)
    ana = await _resolve(client, sis, "L-1", "Ana", "Lopez", "2008-03-09")
    ben = await _resolve(client, sis, "L-2", "Ben", "Okafor", "2008-11-21")
    for record in (_record(ana, level="4", absent=3, incidents=0, graduated=True),
                   _record(ben, level="2", absent=15, incidents=2)):
        response = await client.post("/records/v1/students", headers=sis, json=record)
        assert response.status_code in (200, 201), response.text

    async with db.sessionmaker() as session:
        counts = await refresh_facts(session, settings)
        await session.commit()
    assert counts == {"2025-2026": 2}

    async with db.sessionmaker() as session:
        facts = {f.student_key: f for f in (await session.execute(select(StudentFact))).scalars()}
    key = hmac.new(settings.resolved_secret_key(), b"slds/reporting/student-key/v1", hashlib.sha256).digest()
    ana_key = hmac.new(key, ana.encode(), hashlib.sha256).hexdigest()
    assert set(facts) == {ana_key, hmac.new(key, ben.encode(), hashlib.sha256).hexdigest()}
    a = facts[ana_key]
    assert (a.school_id, a.district_id, a.grade_level, a.sex, a.race_ethnicity) == ("1001-01", "1001", "12", "F", "HI7")
    assert a.english_learner and a.free_reduced_lunch and not a.special_education
    assert a.ela_proficient is True and a.math_proficient is None  # not tested in mathematics
    assert a.chronically_absent is False and abs(a.attendance_rate - 0.97) < 1e-9
    assert a.graduation_cohort and a.graduated is True and a.discipline_incidents == 0
    b = next(f for k, f in facts.items() if k != ana_key)
    assert b.ela_proficient is False and b.chronically_absent is True and b.discipline_incidents == 2
    assert b.graduation_cohort and b.graduated is False
    # Nothing identifying: no column holds a state ID, a name or a birth date.
    columns = set(StudentFact.__table__.columns.keys())
    assert not columns & {"state_student_id", "first_name", "last_name", "birth_date"}
    for fact in facts.values():
        values = {str(getattr(fact, c)) for c in columns}
        assert not values & {ana, ben, "Ana", "Lopez", "2008-03-09"}

    # The facts feed a report end to end; a refresh replaces rows rather than adding to them.
    async with db.sessionmaker() as session:
        await refresh_facts(session, settings)
        await session.commit()
    await make_user("analyst", "state_reporting_analyst")
    analyst = bearer(await password_token(client, "analyst"))
    response = await client.get("/reporting/v1/aggregates", headers=analyst, params={
        "measure": "graduation_rate", "level": "school", "school_year": "2025-2026"})
    assert response.status_code == 200, response.text
    school = next(r for r in response.json()["table"]["rows"] if r["row"] == "school:1001-01")
    assert school["cells"][0] == {"column": "all", "count": 2, "numerator": 1, "rate": 50.0}
