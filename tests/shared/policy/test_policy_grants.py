"""AccessGrants: researchers' agreements, vendors' contracts and approved access requests."""

from __future__ import annotations

from datetime import date

import pytest

from shared.policy.access import (
    can_reach_student,
    row_scope,
    student_fields_for_role,
    visible_fields,
)
from shared.policy.principal import AccessGrant, Principal, PrincipalKind, StudentFacts
from shared.policy.roles import get_role

TODAY = date(2026, 3, 2)
FACTS = StudentFacts(
    state_student_id="S1",
    district_ids=frozenset({"D1"}),
    school_ids=frozenset({"D1-S1"}),
    as_of=TODAY,
)
RESEARCH_FIELDS = frozenset({"assessments.scale_score", "enrollment.grade_level"})


def grant(
    *,
    fields: frozenset[str] = RESEARCH_FIELDS,
    students: tuple[str, ...] = (),
    districts: tuple[str, ...] = (),
    schools: tuple[str, ...] = (),
    starts: date | None = date(2026, 1, 1),
    ends: date | None = date(2026, 6, 30),
) -> AccessGrant:
    return AccessGrant(
        grant_id="g1",
        fields=fields,
        student_ids=frozenset(students),
        district_ids=frozenset(districts),
        school_ids=frozenset(schools),
        starts_on=starts,
        ends_on=ends,
    )


def holder(
    role: str, *grants: AccessGrant, kind: PrincipalKind = "user", staff: str | None = None
) -> Principal:
    return Principal(subject=f"{kind}:x", kind=kind, role=role, staff_id=staff, grants=grants)


CASES = [
    ("active, names the student", grant(students=("S1",)), RESEARCH_FIELDS),
    ("active, covers the district", grant(districts=("D1",)), RESEARCH_FIELDS),
    ("active, covers the school", grant(schools=("D1-S1",)), RESEARCH_FIELDS),
    ("last day is inclusive", grant(students=("S1",), ends=TODAY), RESEARCH_FIELDS),
    ("open-ended", grant(students=("S1",), starts=None, ends=None), RESEARCH_FIELDS),
    ("expired", grant(students=("S1",), ends=date(2026, 3, 1)), frozenset()),
    ("not started yet", grant(students=("S1",), starts=date(2026, 3, 3)), frozenset()),
    ("another student", grant(students=("S2",)), frozenset()),
    ("another district", grant(districts=("D2",)), frozenset()),
    ("another school", grant(schools=("D1-S2",)), frozenset()),
    ("covers nobody", grant(), frozenset()),
    (
        "only unknown and never-returned fields",
        grant(students=("S1",), fields=frozenset({"ssn", "shoe_size"})),
        frozenset(),
    ),
    ("unknown and SSN dropped, rest kept",
     grant(students=("S1",), fields=RESEARCH_FIELDS | {"ssn", "shoe_size"}), RESEARCH_FIELDS),
]


@pytest.mark.parametrize(("g", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_researcher_sees_only_active_grants_covering_the_student(
    g: AccessGrant, expected: frozenset[str]
) -> None:
    researcher = holder("researcher", g)
    assert visible_fields(researcher, FACTS, today=TODAY) == expected
    assert can_reach_student(researcher, FACTS, today=TODAY) is bool(expected)


def test_several_grants_add_up() -> None:
    researcher = holder(
        "researcher",
        grant(students=("S1",), fields=frozenset({"assessments.scale_score"})),
        grant(districts=("D1",), fields=frozenset({"attendance.days_present"})),
        grant(districts=("D2",), fields=frozenset({"programs.lunch_status"})),
    )
    expected = {"assessments.scale_score", "attendance.days_present"}
    assert visible_fields(researcher, FACTS, today=TODAY) == expected


def test_vendor_sees_contracted_fields_of_contracted_schools_only() -> None:
    contracted = frozenset({"demographics.first_name", "courses.course_code"})
    vendor = holder("vendor", grant(schools=("D1-S1",), fields=contracted), kind="client")
    assert visible_fields(vendor, FACTS, today=TODAY) == contracted
    elsewhere = StudentFacts(
        state_student_id="S2", school_ids=frozenset({"D1-S2"}), district_ids=frozenset({"D1"})
    )
    assert visible_fields(vendor, elsewhere, today=TODAY) == frozenset()


def test_teacher_grant_outside_class_gives_only_granted_fields() -> None:
    request = grant(students=("S1",), fields=frozenset({"discipline.incident_type"}))
    teacher = holder("teacher", request, staff="T1")
    assert visible_fields(teacher, FACTS, today=TODAY) == {"discipline.incident_type"}


def test_teacher_grant_inside_class_adds_to_role_fields() -> None:
    request = grant(students=("S1",), fields=frozenset({"discipline.incident_type"}))
    teacher = holder("teacher", request, staff="T1")
    in_class = StudentFacts(state_student_id="S1", teacher_staff_ids=frozenset({"T1"}))
    expected = student_fields_for_role(get_role("teacher")) | {"discipline.incident_type"}
    assert visible_fields(teacher, in_class, today=TODAY) == expected


def test_central_office_access_request_grant_reaches_the_granted_students() -> None:
    request = grant(students=("S1",), fields=frozenset({"assessments.performance_level"}))
    central = holder("central_office", request)
    assert visible_fields(central, FACTS, today=TODAY) == {"assessments.performance_level"}


def test_role_exclusions_bind_granted_fields() -> None:
    granted = frozenset({"demographics.last_name", "programs.lunch_status"})
    analyst = holder("state_reporting_analyst", grant(students=("S1",), fields=granted))
    own = student_fields_for_role(get_role("state_reporting_analyst"))
    assert "programs.lunch_status" in own
    assert visible_fields(analyst, FACTS, today=TODAY) == own
    names = frozenset({"demographics.last_name"})
    names_only = holder("state_reporting_analyst", grant(districts=("D9",), fields=names))
    assert row_scope(names_only, today=TODAY).grants == ()


def test_row_scope_carries_only_usable_grants_narrowed_to_allowed_fields() -> None:
    researcher = holder(
        "researcher",
        grant(students=("S1",), fields=RESEARCH_FIELDS | {"ssn"}),
        grant(students=("S1",), ends=date(2025, 12, 31)),
        grant(),
    )
    scope = row_scope(researcher, today=TODAY)
    assert scope.kind == "grants"
    assert [g.fields for g in scope.grants] == [RESEARCH_FIELDS]
