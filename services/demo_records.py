"""The demo's organisation directory, student records, classes and caseloads, written the way the
state and the districts write them: demo.admin puts the state, its districts and their schools into
the directory (`PUT /records/v1/organisations/{code}`) first, so the records meet the hierarchy
check; then each district's SIS client posts its students' records to `/records/v1/students/bulk` and its class
sections and caseloads to the relationship endpoints, through the real app in-process (tokens,
validation, identity checks, versions and the access log included).

Program participation, assessments and attendance are drawn from a seeded generator at rough
national rates (special education ~14%, English learners ~10%, free or reduced lunch ~50%); they
are for looking at, not for statistics.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import httpx

from services.gateway import create_gateway
from shared.settings import Settings

SCHOOL_YEAR = "2025-2026"
STATE_NAME = "Demo State Department of Elementary and Secondary Education"
ADMINISTRATORS = ("Robin Hale", "Dana Reyes", "Sam Okafor", "Jordan Lee", "Avery Brooks", "Morgan Diaz",
                  "Casey Nguyen", "Taylor Grant", "Jamie Patel", "Riley Morgan")
YEAR_START = date(2025, 8, 18)
YEAR_END = date(2026, 6, 30)


def build_record(state_id: str, row: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A student's record from the district's latest submission of them."""
    grade = row.get("grade") or "05"
    demographics = {k: v for k, v in {
        "first_name": row["first_name"], "middle_name": row.get("middle_name"), "last_name": row["last_name"],
        "generation_code_suffix": row.get("suffix"), "birth_date": row.get("birth_date"), "sex": row.get("sex"),
        "hispanic_latino_ethnicity": row.get("hispanic_latino"), "races": row.get("races") or None,
        "address_street": row.get("address"), "address_postal_code": row.get("postal_code"),
    }.items() if v is not None}
    entry = max(YEAR_START, date.fromisoformat(row.get("submitted_on") or YEAR_START.isoformat()))
    record: dict[str, Any] = {
        "state_student_id": state_id, "local_student_id": row["local_student_id"], "demographics": demographics,
        "enrollment": [{"school_year": SCHOOL_YEAR, "district_id": row["district_id"], "school_id": row["school_id"],
                        "grade_level": grade, "entry_date": entry.isoformat(),
                        "entry_type": "first_entry_in_state", "primary_school": True}],
    }
    sped, el = rng.random() < 0.14, rng.random() < 0.10
    record["programs"] = {"title_i": rng.random() < 0.6, "special_education": sped, "section_504": rng.random() < 0.03,
                          "english_learner": el, "lunch_status": rng.choice(["free", "reduced", "not_eligible", "not_eligible"])}
    if sped:
        record["special_education"] = {
            "primary_disability": rng.choice(["SLD", "SLI", "OHI", "AUT"]),
            "iep_begin_date": (YEAR_START - timedelta(days=rng.randint(30, 300))).isoformat(),
            "iep_end_date": (YEAR_END + timedelta(days=rng.randint(30, 200))).isoformat()}
    if el:
        record["english_learner"] = {"status": "active", "proficiency_level": rng.choice(["1", "2", "3", "4"])}
    if grade in {"03", "04", "05", "06", "07", "08", "10"}:
        record["assessments"] = [{
            "assessment_family": "state_summative", "subject": subject, "school_year": "2024-2025",
            "tested_grade_level": f"{int(grade) - 1:02d}", "scale_score": rng.randint(650, 850),
            "performance_level": rng.choice(["1", "2", "3", "4"])} for subject in ("ela", "mathematics")]
    days = 170
    absent = min(days, int(rng.expovariate(1 / 8)))
    record["attendance"] = [{"school_year": "2024-2025", "school_id": row["school_id"], "days_enrolled": days,
                             "days_present": days - absent, "days_absent_excused": absent // 2,
                             "days_absent_unexcused": absent - absent // 2}]
    return record


def directory_entries(districts: list[dict[str, Any]], schools: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The synthetic state's directory, parents first: the state, its districts, their schools
    (names, types, grades and addresses from bench.synth; administrators invented)."""
    state = districts[0]["state_code"] if districts else "ST"
    entries: list[tuple[str, dict[str, Any]]] = [(state, {
        "kind": "state", "name": STATE_NAME, "type": "state_education_agency",
        "address": {"street": "205 Jefferson St", "city": "Capital City", "state": state, "postal_code": "65101"},
        "website": "https://education.state.example"})]
    city = {d["district_id"]: d["city"] for d in districts}
    for n, d in enumerate(districts):
        entries.append((d["district_id"], {
            "kind": "district", "parent_code": state, "name": d["name"], "type": "public_district",
            "lowest_grade": "KG", "highest_grade": "12", "phone": f"573-555-{1000 + n * 100:04d}",
            "address": {"street": "100 Main St", "city": d["city"], "state": state, "postal_code": d["postal_codes"][0]},
            "administrators": [{"title": "Superintendent", "name": ADMINISTRATORS[n % len(ADMINISTRATORS)]}],
            "contacts": [{"title": "MOSIS data contact", "name": ADMINISTRATORS[(n + 5) % len(ADMINISTRATORS)],
                          "email": f"data@{d['district_id']}.k12.example"}]}))
    for n, s in enumerate(schools):
        entries.append((s["school_id"], {
            "kind": "school", "parent_code": s["district_id"], "name": s["name"], "type": s["type"],
            "lowest_grade": s["grades"][0], "highest_grade": s["grades"][-1], "opened_on": "1985-08-19",
            "phone": f"573-555-{2000 + n:04d}",
            "address": {"street": s["address"], "city": city[s["district_id"]], "state": state,
                        "postal_code": s["postal_code"]},
            "administrators": [{"title": "Principal", "name": ADMINISTRATORS[(n + 2) % len(ADMINISTRATORS)]}]}))
    return entries


async def load_demo_records(settings: Settings, clients: dict[str, dict[str, Any]], latest: dict[str, dict[str, Any]],
                            staff: dict[str, str], users: dict[str, dict[str, Any]],
                            directory: list[tuple[str, dict[str, Any]]] | None = None) -> dict[str, Any]:
    """`latest`: state ID -> the district submission row it was last resolved from; `staff`:
    role -> the demo user's staff ID (teacher, counselor, psychologist); `users`: the demo people
    with their passwords and subjects; `directory`: the entries `directory_entries` made."""
    rng = random.Random(2026)
    sis = {info["name"].rsplit(" ", 1)[-1]: (cid, info["client_secret"]) for cid, info in clients.items()
           if info["role"] == "district_sis"}
    gateway = create_gateway(settings)
    summary: dict[str, Any] = {"records": 0, "rejected": 0, "sections": 0, "caseloads": 0, "organisations": 0}
    async with gateway.running():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://demo") as http:
            summary["organisations"] = await _directory(http, users, directory or [])
            for district, (client_id, secret) in sorted(sis.items()):
                token = (await http.post("/identity/v1/oauth/token", data={"grant_type": "client_credentials"},
                                         auth=(client_id, secret))).json()["access_token"]
                headers = {"Authorization": f"Bearer {token}"}
                mine = sorted(sid for sid, row in latest.items() if row["district_id"] == district)
                records = [build_record(sid, latest[sid], rng) for sid in mine]
                response = await http.post("/records/v1/students/bulk", headers=headers, json=records)
                response.raise_for_status()
                summary["records"] += response.json()["accepted"]
                summary["rejected"] += response.json()["rejected"]
                if district != "1001":
                    continue
                school = sorted(sid for sid in mine if latest[sid]["school_id"] == "1001-01")
                sped = [r["state_student_id"] for r in records if "special_education" in r]
                summary["sections"] += await _section(http, headers, "1001-01-MATH-A", staff["teacher"], school[:25])
                summary["sections"] += await _section(http, headers, "1001-01-MATH-B", staff["teacher"], school[25:50])
                for sid in school[:40]:
                    summary["caseloads"] += await _caseload(http, headers, staff["counselor"], sid, "counselor")
                for sid in sped[:10]:
                    summary["caseloads"] += await _caseload(http, headers, staff["psychologist"], sid, "service_provider")
                summary["agreement_students"] = school[:25]
            summary["agreement_id"] = await _research_agreement(http, users, summary["agreement_students"])
    return summary


async def _directory(http: httpx.AsyncClient, users: dict[str, dict[str, Any]],
                     entries: list[tuple[str, dict[str, Any]]]) -> int:
    if not entries:
        return 0
    token = (await http.post("/identity/v1/oauth/token", data={
        "grant_type": "password", "username": "demo.admin", "password": users["demo.admin"]["password"]})).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    for code, body in entries:
        response = await http.put(f"/records/v1/organisations/{code}", headers=headers, json=body)
        response.raise_for_status()
    return len(entries)


RESEARCH_FIELDS = ["state_student_id", "demographics.birth_date", "enrollment.grade_level", "enrollment.school_id",
                   "assessments.subject", "assessments.scale_score", "assessments.performance_level"]


async def _research_agreement(http: httpx.AsyncClient, users: dict[str, dict[str, Any]], students: list[str]) -> str:
    """A signed MOA for demo.researcher: drafted and approved by demo.admin, signed by demo.admin2
    (the one who drafted may not sign), so the researcher reads exactly these students and fields
    and every read lands in the disclosure log."""
    async def bearer(username: str) -> dict[str, str]:
        token = (await http.post("/identity/v1/oauth/token", data={
            "grant_type": "password", "username": username, "password": users[username]["password"]})).json()
        return {"Authorization": f"Bearer {token['access_token']}"}

    admin, admin2 = await bearer("demo.admin"), await bearer("demo.admin2")
    today = date.today()
    draft = await http.post("/disclosure/v1/agreements", headers=admin, json={
        "title": "Demo: grade progression and assessment study", "organisation": "State University",
        "contact_name": "Demo Researcher", "contact_email": "researcher@university.example",
        "subjects": [users["demo.researcher"]["subject"]], "purpose": "Study grade progression for the agency",
        "legal_basis": "studies", "fields": RESEARCH_FIELDS, "student_ids": students,
        "starts_on": today.isoformat(), "ends_on": (today + timedelta(days=365)).isoformat(),
        "destroy_by": (today + timedelta(days=395)).isoformat()})
    draft.raise_for_status()
    agreement_id = draft.json()["id"]
    for to, who in (("coordinator_review", admin), ("legal_review", admin), ("board_consent", admin),
                    ("superintendent_approval", admin), ("active", admin2)):
        moved = await http.post(f"/disclosure/v1/agreements/{agreement_id}/transitions", headers=who,
                                json={"to": to, "note": "demo"})
        moved.raise_for_status()
    return agreement_id


async def _section(http: httpx.AsyncClient, headers: dict[str, str], code: str, teacher: str, students: list[str]) -> int:
    response = await http.put(f"/records/v1/class-sections/1001/{code}", headers=headers, json={
        "school_id": "1001-01", "school_year": SCHOOL_YEAR, "course_code": "02052", "title": "Mathematics",
        "begin_date": YEAR_START.isoformat(), "end_date": YEAR_END.isoformat(),
        "teachers": [{"staff_id": teacher, "begin_date": YEAR_START.isoformat()}],
        "students": [{"state_student_id": s, "begin_date": YEAR_START.isoformat()} for s in students]})
    response.raise_for_status()
    return 1


async def _caseload(http: httpx.AsyncClient, headers: dict[str, str], staff_id: str, sid: str, kind: str) -> int:
    response = await http.post("/records/v1/caseloads", headers=headers, json={
        "district_id": "1001", "staff_id": staff_id, "state_student_id": sid, "kind": kind,
        "begin_date": YEAR_START.isoformat()})
    response.raise_for_status()
    return 1
