"""Student success plans (003 Connecticut: career and academic choices, grades 6 to 12) and the
Colorado collection categories added with them (004: concurrent enrollment, IEP information), end to
end: a district submits them, the right people read them back, and bad ones are refused naming the
field, never echoing the value."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import bearer, client_token, password_token
from tests.services.records.conftest import STUDENTS, World, basic_record, enrollment

PLAN: dict[str, Any] = {
    "plan_start_date": "2025-09-15",
    "last_review_date": "2026-05-20",
    "next_review_date": "2027-05-20",
    "advisor_staff_id": "S-COUNS",
    "career_interests": ["health", "stem"],
    "career_pathway": "51.3801",
    "academic_goals": ["advanced_coursework", "seal_of_biliteracy"],
    "postsecondary_plan": "four_year_college",
    "postsecondary_goal": "Study nursing at a state university",
    "planned_courses": [
        {"school_year": "2026-2027", "grade_level": "07", "course_code": "02052", "course_level": "honors"},
        {"school_year": "2027-2028", "grade_level": "08", "course_code": "03051", "course_level": "general"},
    ],
}
# What a teacher of the student sees (level 3): the schedule of the plan, not the student's choices.
TEACHER_VIEW = {key: PLAN[key] for key in
                ("plan_start_date", "last_review_date", "next_review_date", "advisor_staff_id", "planned_courses")}
COUNSELLING = {"career_interests", "career_pathway", "academic_goals", "postsecondary_plan", "postsecondary_goal"}

CONCURRENT = [{"school_year": "2025-2026", "program_type": "concurrent_enrollment", "institution_id": "126614",
               "institution_name": "Front Range Community College", "credit_hours_attempted": 6,
               "credit_hours_earned": 6, "tuition_paid_by_district": True}]


def problems(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {e["field"]: e["code"] for e in response.json()["errors"]}


async def read(world: World, state_id: str, headers: dict[str, str]) -> httpx.Response:
    return await world.client.get(f"{STUDENTS}/{state_id}", headers=headers)


async def test_a_plan_round_trips_through_a_district_submission_and_a_read(world: World) -> None:
    ana = world.students[0]
    created = await world.submit(basic_record(ana, student_success_plan=PLAN))
    assert created.status_code == 201, created.text

    body = (await read(world, ana, world.sis)).json()
    assert body["student_success_plan"] == PLAN

    # A later review is sent alone: the stored grade-6 enrollment makes it lawful, and it replaces
    # the plan as one unit (a single section) while the history keeps the first version.
    reviewed = {**PLAN, "last_review_date": "2026-11-30", "career_interests": ["health"]}
    updated = await world.submit({"state_student_id": ana, "student_success_plan": reviewed})
    assert updated.status_code == 200 and updated.json()["status"] == "updated", updated.text
    assert (await read(world, ana, world.sis)).json()["student_success_plan"] == reviewed
    again = await world.submit({"state_student_id": ana, "student_success_plan": reviewed})
    assert again.json()["status"] == "unchanged"


async def test_the_counselor_and_parent_see_the_plan_a_teacher_its_schedule_and_outsiders_nothing(
        world: World, make_user, make_client_app) -> None:
    ana = world.students[0]
    sent = basic_record(ana, student_success_plan=PLAN)
    assert (await world.submit(sent)).status_code == 201
    client = world.client
    dated = {"begin_date": "2025-08-20"}
    section = await client.put("/records/v1/class-sections/1001/MATH-6-1", headers=world.sis, json={
        "school_id": "1001-01", "school_year": "2025-2026", "course_code": "02052", "title": "Math 6",
        "begin_date": "2025-08-20", "end_date": "2027-06-30", "teachers": [{"staff_id": "S-TEACH", **dated}],
        "students": [{"state_student_id": ana, **dated}]})
    assert section.status_code == 200, section.text
    caseload = await client.post("/records/v1/caseloads", headers=world.sis, json={
        "district_id": "1001", "staff_id": "S-COUNS", "state_student_id": ana, "kind": "counselor", **dated})
    assert caseload.status_code == 201, caseload.text
    await make_user("counselor", "counselor", staff_id="S-COUNS", district_ids=["1001"])
    await make_user("teacher", "teacher", staff_id="S-TEACH", district_ids=["1001"])
    await make_user("ana.parent", "parent", student_ids=[ana])
    await make_user("analyst", "state_reporting_analyst")
    yearbook = await make_client_app("Yearbook vendor", "directory_recipient", district_ids=["1001"])

    for who in ("counselor", "ana.parent"):
        got = await read(world, ana, bearer(await password_token(client, who)))
        assert got.status_code == 200 and got.json()["student_success_plan"] == PLAN, who

    teacher = await read(world, ana, bearer(await password_token(client, "teacher")))
    assert teacher.status_code == 200
    assert teacher.json()["student_success_plan"] == TEACHER_VIEW
    assert not COUNSELLING & set(teacher.json()["student_success_plan"])
    assert "Study nursing" not in teacher.text

    analyst = await read(world, ana, bearer(await password_token(client, "analyst")))
    assert analyst.status_code == 200 and "student_success_plan" not in analyst.json()

    outsider = bearer(await client_token(client, yearbook.client.client_id, yearbook.secret))
    directory = await read(world, ana, outsider)
    assert directory.status_code == 200
    assert set(directory.json()) == {"demographics", "enrollment"}  # directory fields only
    assert "student_success_plan" not in directory.text and "nursing" not in directory.text


@pytest.mark.parametrize("grade", ["03", "KG", "UG"])
async def test_a_plan_for_a_student_below_grade_6_is_refused_naming_the_field(world: World, grade: str) -> None:
    ana = world.students[0]
    refused = await world.submit(basic_record(ana, enrollment=[enrollment(grade_level=grade)],
                                              student_success_plan=PLAN))
    assert problems(refused) == {"student_success_plan": "grade-range"}
    assert all(grade not in e["message"] for e in refused.json()["errors"])  # the grade is not echoed
    assert "Study nursing" not in refused.text
    # Nothing of the record was kept: the whole row failed.
    assert (await read(world, ana, world.steward)).status_code == 404


async def test_the_grade_is_the_stored_current_enrollment_once_the_submission_is_applied(world: World) -> None:
    ana, bram, chen = world.students
    assert (await world.submit(basic_record(ana, enrollment=[enrollment(grade_level="03")]))).status_code == 201
    alone = await world.submit({"state_student_id": ana, "student_success_plan": PLAN})
    assert problems(alone) == {"student_success_plan": "grade-range"}

    # The same enrollment (same school and entry date) corrected to grade 6 in the same submission.
    corrected = await world.submit({"state_student_id": ana, "enrollment": [enrollment(grade_level="06")],
                                    "student_success_plan": PLAN})
    assert corrected.status_code == 200, corrected.text
    assert (await read(world, ana, world.sis)).json()["student_success_plan"] == PLAN

    # A student with no enrollment at all has no grade 6 to 12 either.
    assert problems(await world.submit({"state_student_id": bram, "local_student_id": "L-2",
                                        "student_success_plan": PLAN}, headers=world.steward)) == {
        "student_success_plan": "grade-range"}

    # A past grade-5 enrollment does not count against a current grade-6 one.
    history = [enrollment(school="1001-02", entry="2024-08-21", grade_level="05", exit_date="2025-06-10"),
               enrollment(grade_level="06")]
    assert (await world.submit(basic_record(chen, enrollment=history, student_success_plan=PLAN))).status_code == 201


async def test_in_a_bulk_file_the_plan_below_grade_6_fails_alone(world: World) -> None:
    ana, bram, _ = world.students
    rows = [basic_record(ana, student_success_plan=PLAN),
            basic_record(bram, enrollment=[enrollment(grade_level="04")], student_success_plan=PLAN)]
    response = await world.client.post(f"{STUDENTS}/bulk", headers=world.sis, json=rows)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 1)
    results = {r["row"]: r for r in body["results"]}
    assert results[0]["status"] == "created"
    assert results[1]["status"] == "rejected"
    assert results[1]["errors"] == [{"field": "student_success_plan", "code": "grade-range",
                                     "message": "Is kept only for a student whose current enrollment is in grades 6 to 12."}]


async def test_bad_plan_values_are_refused_naming_each_field(world: World) -> None:
    ana = world.students[0]
    bad = {**PLAN, "next_review_date": "2026-01-01", "career_pathway": "nursing-secret",
           "postsecondary_plan": "gap_year_in_paris", "academic_goals": ["advanced_coursework", "advanced_coursework"],
           "planned_courses": [{"school_year": "2026-2027", "course_code": "ALG-1", "teacher_note": "struggles"}]}
    response = await world.submit(basic_record(ana, student_success_plan=bad))
    assert problems(response) == {
        "student_success_plan.next_review_date": "date-order",
        "student_success_plan.career_pathway": "invalid",
        "student_success_plan.postsecondary_plan": "invalid",
        "student_success_plan.academic_goals": "invalid",
        "student_success_plan.planned_courses[0].course_code": "invalid",
        "student_success_plan.planned_courses[0].teacher_note": "unknown-field",
    }
    for value in ("nursing-secret", "gap_year_in_paris", "ALG-1", "struggles"):
        assert value not in response.text


async def test_concurrent_enrollment_round_trips_and_its_codes_are_validated(world: World, make_user) -> None:
    ana = world.students[0]
    iep = {"iep_begin_date": "2025-09-01", "iep_end_date": "2026-08-31", "last_evaluation_date": "2024-05-01",
           "reevaluation_due_date": "2027-05-01", "transition_plan": True}
    created = await world.submit(basic_record(ana, concurrent_enrollment=CONCURRENT, special_education=iep))
    assert created.status_code == 201, created.text
    body = (await read(world, ana, world.sis)).json()
    assert body["concurrent_enrollment"] == CONCURRENT
    assert body["special_education"] == iep

    # Level 3 like courses: a registrar's locator view leaves it out (only_categories).
    await make_user("registrar", "registrar")
    locator = await read(world, ana, bearer(await password_token(world.client, "registrar")))
    assert locator.status_code == 200 and "concurrent_enrollment" not in locator.json(), locator.text

    bad_program = [{**CONCURRENT[0], "program_type": "summer-camp-xyz"}]
    response = await world.submit(basic_record(ana, concurrent_enrollment=bad_program))
    assert problems(response) == {"concurrent_enrollment[0].program_type": "invalid"}
    assert "summer-camp-xyz" not in response.text
    assert "concurrent_enrollment_program" in response.json()["errors"][0]["message"]

    bad_institution = [{**CONCURRENT[0], "institution_id": "FRCC-9"}, {"school_year": "2025-2026",
                                                                       "program_type": "ascent"}]
    response = await world.submit(basic_record(ana, concurrent_enrollment=bad_institution))
    assert problems(response) == {"concurrent_enrollment[0].institution_id": "invalid",
                                  "concurrent_enrollment[1].institution_id": "required"}
    assert "FRCC-9" not in response.text

    late = {**iep, "reevaluation_due_date": "2024-01-01"}
    assert problems(await world.submit(basic_record(ana, special_education=late))) == {
        "special_education.reevaluation_due_date": "date-order"}
    # The refused submissions changed nothing.
    assert (await read(world, ana, world.sis)).json()["concurrent_enrollment"] == CONCURRENT


async def test_the_published_dictionary_describes_the_new_sections(client: httpx.AsyncClient) -> None:
    body = (await client.get("/records/v1/data-dictionary")).json()
    fields = {f["name"]: f for f in body["fields"] if f["entity"] == "student"}
    plan = {n: f for n, f in fields.items() if f["category"] == "student_success_plan"}
    assert {n.removeprefix("student_success_plan.").split(".")[0] for n in plan} == set(PLAN)
    assert {n for n, f in plan.items() if f["level"] == 2} == {f"student_success_plan.{n}" for n in COUNSELLING}
    assert all("Connecticut" in plan[f"student_success_plan.{n}"]["description"] for n in COUNSELLING - {"postsecondary_goal"})
    concurrent = {n for n, f in fields.items() if f["category"] == "concurrent_enrollment"}
    assert {f"concurrent_enrollment.{k}" for k in CONCURRENT[0]} == concurrent
    code_sets = {c["name"]: c for c in body["code_sets"]}
    assert "ascent" in code_sets["concurrent_enrollment_program"]["values"]
    assert code_sets["ipeds_unit_id"]["standard"] == "IPEDS UnitID"
