"""Who reaches which student, role by role (grants: see test_policy_grants.py)."""

from __future__ import annotations

from datetime import date

import pytest

from shared.policy.access import can_reach_student, visible_fields
from shared.policy.principal import Principal, PrincipalKind, StudentFacts

TODAY = date(2026, 3, 2)


def person(
    role: str,
    *,
    kind: PrincipalKind = "user",
    districts: tuple[str, ...] = (),
    schools: tuple[str, ...] = (),
    staff: str | None = None,
    students: tuple[str, ...] = (),
) -> Principal:
    return Principal(
        subject=f"{kind}:{role}",
        kind=kind,
        role=role,
        district_ids=frozenset(districts),
        school_ids=frozenset(schools),
        staff_id=staff,
        student_ids=frozenset(students),
    )


def student(
    sid: str = "S1",
    *,
    district: str = "D1",
    school: str = "D1-S1",
    teachers: tuple[str, ...] = (),
    counselors: tuple[str, ...] = (),
    providers: tuple[str, ...] = (),
    sped: bool = False,
    plan_504: bool = False,
) -> StudentFacts:
    return StudentFacts(
        state_student_id=sid,
        district_ids=frozenset({district}),
        school_ids=frozenset({school}),
        teacher_staff_ids=frozenset(teachers),
        counselor_staff_ids=frozenset(counselors),
        service_provider_staff_ids=frozenset(providers),
        receives_special_education=sped,
        has_504_plan=plan_504,
        as_of=TODAY,
    )


OTHER_DISTRICT = student("S9", district="D2", school="D2-S1")

CASES = [
    # Level 1: everything statewide.
    pytest.param(
        person("state_data_admin"), OTHER_DISTRICT, True,
        id="state admin, other district",
    ),
    pytest.param(
        person("service", kind="client"), OTHER_DISTRICT, True,
        id="service client, any student",
    ),
    # Superintendent and district SIS: own district only.
    pytest.param(
        person("superintendent", districts=("D1",)), student(), True,
        id="superintendent, own district",
    ),
    pytest.param(
        person("superintendent", districts=("D1",)), OTHER_DISTRICT, False,
        id="superintendent, other district",
    ),
    pytest.param(person("superintendent"), student(), False, id="superintendent, no district"),
    pytest.param(
        person("superintendent", districts=("D1", "D2")), OTHER_DISTRICT, True,
        id="superintendent, two districts",
    ),
    pytest.param(
        person("district_sis", kind="client", districts=("D1",)), student(), True,
        id="district SIS, own district",
    ),
    pytest.param(
        person("district_sis", kind="client", districts=("D1",)), OTHER_DISTRICT, False,
        id="district SIS, other district",
    ),
    # Principal: own building only, not the rest of the district.
    pytest.param(
        person("principal", schools=("D1-S1",)), student(), True,
        id="principal, own building",
    ),
    pytest.param(
        person("principal", districts=("D1",), schools=("D1-S2",)), student(), False,
        id="principal, other building same district",
    ),
    # Teacher: students currently in their classes.
    pytest.param(
        person("teacher", staff="T1", schools=("D1-S1",)), student(teachers=("T1", "T7")), True,
        id="teacher, current class",
    ),
    pytest.param(
        person("teacher", staff="T1", schools=("D1-S1",)), student(teachers=()), False,
        id="teacher, class ended (not current)",
    ),
    pytest.param(
        person("teacher", staff="T1", schools=("D1-S1",)), student(teachers=("T2",)), False,
        id="teacher, other teacher's student same school",
    ),
    pytest.param(
        person("teacher", staff="T1"), student(counselors=("T1",)), False,
        id="teacher, counselor relationship only",
    ),
    pytest.param(person("teacher"), student(teachers=("T1",)), False, id="teacher, no staff id"),
    # Counselor: assigned caseload.
    pytest.param(
        person("counselor", staff="C1"), student(counselors=("C1",)), True,
        id="counselor, on caseload",
    ),
    pytest.param(
        person("counselor", staff="C1", schools=("D1-S1",)), student(counselors=("C2",)), False,
        id="counselor, not on caseload",
    ),
    pytest.param(
        person("counselor", staff="C1"), student(teachers=("C1",)), False,
        id="counselor, teaches the student only",
    ),
    # Psychologist and social worker: served or assigned for evaluation.
    pytest.param(
        person("psychologist", staff="P1"), student(providers=("P1",)), True,
        id="psychologist, serving",
    ),
    pytest.param(
        person("psychologist", staff="P1"), student(providers=("P2",)), False,
        id="psychologist, not serving",
    ),
    pytest.param(
        person("social_worker", staff="W1"), student(providers=("W1",)), True,
        id="social worker, serving",
    ),
    pytest.param(
        person("social_worker", staff="W1"), student(counselors=("W1",)), False,
        id="social worker, on someone's caseload",
    ),
    # Special education administrator: IEP or 504 students of own district.
    pytest.param(
        person("special_education_admin", districts=("D1",)), student(sped=True), True,
        id="sped admin, IEP own district",
    ),
    pytest.param(
        person("special_education_admin", districts=("D1",)), student(plan_504=True), True,
        id="sped admin, 504 own district",
    ),
    pytest.param(
        person("special_education_admin", districts=("D1",)), student(), False,
        id="sped admin, neither",
    ),
    pytest.param(
        person("special_education_admin", districts=("D1",)),
        student(district="D2", sped=True),
        False,
        id="sped admin, IEP other district",
    ),
    # Registrar and state reporting analyst: statewide.
    pytest.param(
        person("registrar", districts=("D1",)), OTHER_DISTRICT, True,
        id="registrar, any student statewide",
    ),
    pytest.param(
        person("state_reporting_analyst"), OTHER_DISTRICT, True,
        id="analyst, any student",
    ),
    # No student records by role.
    pytest.param(
        person("central_office", districts=("D1",)), student(), False,
        id="central office",
    ),
    pytest.param(person("public"), student(), False, id="public"),
    pytest.param(person("researcher"), student(), False, id="researcher without agreement"),
    pytest.param(
        person("vendor", kind="client", districts=("D1",)), student(), False,
        id="vendor without contract",
    ),
    # Parents and eligible students: own records.
    pytest.param(
        person("parent", students=("S1", "S2")), student("S2"), True,
        id="parent, own child",
    ),
    pytest.param(
        person("parent", students=("S1",)), student("S3"), False,
        id="parent, other child same school",
    ),
    pytest.param(
        person("eligible_student", students=("S1",)), student("S1"), True,
        id="eligible student, self",
    ),
    pytest.param(
        person("eligible_student", students=("S1",)), student("S4"), False,
        id="eligible student, classmate",
    ),
]


@pytest.mark.parametrize(("principal", "facts", "expected"), CASES)
def test_reach(principal: Principal, facts: StudentFacts, expected: bool) -> None:
    assert can_reach_student(principal, facts, today=TODAY) is expected
    # Out of reach means no field at all; in reach means at least one.
    assert bool(visible_fields(principal, facts, today=TODAY)) is expected


def test_today_defaults_to_now() -> None:
    assert can_reach_student(person("state_data_admin"), student())
