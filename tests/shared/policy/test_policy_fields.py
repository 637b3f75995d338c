"""Which fields each role sees of a student it reaches, and of staff records."""

from __future__ import annotations

from datetime import date

import pytest

from shared.policy.access import student_fields_for_role, visible_fields, visible_staff_fields
from shared.policy.dictionary import load_data_dictionary
from shared.policy.principal import AccessGrant, Principal, PrincipalKind, StudentFacts
from shared.policy.roles import get_role, load_roles

TODAY = date(2026, 3, 2)
DD = load_data_dictionary()
STUDENT = DD.fields_for("student")
ALL_STUDENT = frozenset(f.name for f in STUDENT)


def at_or_above(level: int) -> frozenset[str]:
    return frozenset(f.name for f in STUDENT if f.level >= level and not f.never_returned)


# A student every role's own scope reaches, given the principal below.
FACTS = StudentFacts(
    state_student_id="S1",
    district_ids=frozenset({"D1"}),
    school_ids=frozenset({"D1-S1"}),
    teacher_staff_ids=frozenset({"X1"}),
    counselor_staff_ids=frozenset({"X1"}),
    service_provider_staff_ids=frozenset({"X1"}),
    receives_special_education=True,
    as_of=TODAY,
)
OTHER = StudentFacts(
    state_student_id="S9", district_ids=frozenset({"D2"}), school_ids=frozenset({"D2-S1"})
)


def person(
    role: str, kind: PrincipalKind | None = None, grants: tuple[AccessGrant, ...] = ()
) -> Principal:
    kinds = get_role(role).principal_kinds
    return Principal(
        subject=f"user:{role}",
        kind=kind or ("user" if "user" in kinds else "client"),
        role=role,
        district_ids=frozenset({"D1"}),
        school_ids=frozenset({"D1-S1"}),
        staff_id="X1",
        student_ids=frozenset({"S1"}),
        grants=grants,
    )


def sees(role: str, facts: StudentFacts = FACTS) -> frozenset[str]:
    return visible_fields(person(role), facts, today=TODAY)


def test_teacher_sees_name_and_grade_but_nothing_of_level_1_or_2() -> None:
    fields = sees("teacher")
    assert {"state_student_id", "demographics.first_name", "demographics.last_name",
            "enrollment.grade_level", "assessments.scale_score", "special_education.accommodations",
            "parent_contacts.phone_number"} <= fields
    assert fields == at_or_above(3)
    assert not {"ssn", "programs.lunch_status", "special_education.primary_disability",
                "discipline.incident_type", "demographics.address_street", "medicaid_id",
                "record_management.identity_match_status"} & fields


def test_superintendent_sees_all_district_fields_of_own_district_and_nothing_elsewhere() -> None:
    assert sees("superintendent") == at_or_above(2)
    assert sees("superintendent", OTHER) == frozenset()


def test_state_data_admin_sees_every_field_but_the_ssn() -> None:
    assert sees("state_data_admin") == ALL_STUDENT - {"ssn"}
    assert "record_management.identity_match_status" in sees("state_data_admin")


def test_registrar_sees_exactly_the_level_4_locator_fields_statewide() -> None:
    fields = sees("registrar", OTHER)
    assert fields == at_or_above(4)
    assert {"state_student_id", "demographics.last_name", "demographics.birth_date",
            "enrollment.school_id", "enrollment.grade_level"} <= fields
    hidden = {"local_student_id", "assessments.scale_score", "programs.special_education"}
    assert not hidden & fields


def test_analyst_sees_no_names_or_other_direct_identifiers() -> None:
    fields = sees("state_reporting_analyst", OTHER)
    assert {"programs.lunch_status", "assessments.scale_score", "discipline.action_type",
            "demographics.federal_race_ethnicity"} <= fields
    assert not {"demographics.first_name", "demographics.last_name", "state_student_id"} & fields
    assert all(DD.field("student", n).pii != "direct" for n in fields)
    excluded = ("parent_contacts.", "activities.", "student_success_plan.")
    assert not any(n.startswith(excluded) for n in fields)


@pytest.mark.parametrize("role", ["principal", "counselor", "psychologist", "social_worker",
                                  "special_education_admin"])
def test_building_and_service_staff_see_all_fields_of_reached_students(role: str) -> None:
    assert sees(role) == at_or_above(2)
    assert sees(role, OTHER) == frozenset()


def test_district_sis_sees_its_district_at_level_2() -> None:
    assert visible_fields(person("district_sis"), FACTS, today=TODAY) == at_or_above(2)


@pytest.mark.parametrize("role", ["parent", "eligible_student"])
def test_parent_and_eligible_student_see_own_record_but_not_other_adults(role: str) -> None:
    fields = sees(role)
    assert {"demographics.last_name", "discipline.incident_type", "assessments.scale_score"} <= (
        fields
    )
    assert not any(n.startswith("parent_contacts.") for n in fields)
    assert "record_management.identity_match_status" not in fields
    assert sees(role, OTHER) == frozenset()


@pytest.mark.parametrize("role", ["central_office", "public", "researcher", "vendor"])
def test_roles_without_own_reach_see_no_student_field(role: str) -> None:
    assert sees(role) == frozenset()
    assert student_fields_for_role(get_role(role)) == frozenset()


@pytest.mark.parametrize("role", sorted(load_roles()))
def test_fields_respect_level_and_never_include_never_returned(role: str) -> None:
    r = get_role(role)
    fields = sees(role)
    assert "ssn" not in fields
    assert all(DD.field("student", n).level >= r.level for n in fields)


ALL_FIELDS_GRANT = AccessGrant(
    grant_id="g-all", fields=ALL_STUDENT | {"ssn"}, student_ids=frozenset({"S1"})
)


@pytest.mark.parametrize("role", sorted(load_roles()))
def test_ssn_is_never_visible_even_when_granted(role: str) -> None:
    principal = person(role, grants=(ALL_FIELDS_GRANT,))
    assert "ssn" not in visible_fields(principal, FACTS, today=TODAY)
    assert "ssn" not in visible_staff_fields(principal)


def test_only_categories_limit_a_role() -> None:
    teacher = get_role("teacher")
    narrowed = teacher.model_copy(update={"only_categories": frozenset({"assessments"})})
    fields = student_fields_for_role(narrowed)
    assert fields and all(n.startswith("assessments.") for n in fields)


def test_exclude_categories_and_pii_limit_a_role() -> None:
    teacher = get_role("teacher")
    narrowed = teacher.model_copy(
        update={"exclude_categories": frozenset({"courses"}), "exclude_pii": frozenset({"direct"})}
    )
    fields = student_fields_for_role(narrowed)
    assert "enrollment.grade_level" in fields
    assert not any(n.startswith("courses.") for n in fields)
    assert "demographics.first_name" not in fields


STAFF_CASES = [
    ("public", {"staff_id", "demographics.last_name", "credentials.credential_type"},
     {"demographics.birth_date", "employment.years_experience", "ssn"}),
    ("teacher", {"assignments.school_id"}, {"assignments.class_size", "demographics.sex"}),
    ("principal", {"assignments.class_size", "employment.hire_date"}, {"demographics.sex"}),
    ("central_office", {"demographics.birth_date", "employment.exit_reason"}, {"ssn"}),
    ("state_data_admin", {"demographics.birth_date", "local_staff_id"}, {"ssn"}),
    ("parent", {"demographics.last_name"}, {"employment.exit_reason", "local_staff_id"}),
]


@pytest.mark.parametrize(
    ("role", "included", "excluded"), STAFF_CASES, ids=[c[0] for c in STAFF_CASES]
)
def test_staff_fields(role: str, included: set[str], excluded: set[str]) -> None:
    fields = visible_staff_fields(person(role))
    assert included <= fields
    assert not excluded & fields
