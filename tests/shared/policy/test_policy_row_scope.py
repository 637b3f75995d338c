"""RowScope: the list-query filter; it must select exactly the students can_reach_student allows."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta

import pytest

from shared.policy.access import RowScope, can_reach_student, row_scope
from shared.policy.principal import AccessGrant, Principal, StudentFacts
from shared.policy.roles import load_roles

TODAY = date(2026, 3, 2)


def person(role: str, kind: str = "user", **kw: object) -> Principal:
    return Principal(subject="user:x", kind=kind, role=role, **kw)  # type: ignore[arg-type]


D = frozenset({"D1"})
SC = frozenset({"D1-S1"})
ST = frozenset({"S1"})
KIND_CASES = [
    ("state_data_admin", {}, RowScope("all")),
    ("registrar", {}, RowScope("all")),
    ("superintendent", {"district_ids": D}, RowScope("districts", district_ids=D)),
    ("principal", {"school_ids": SC, "district_ids": D}, RowScope("schools", school_ids=SC)),
    ("teacher", {"staff_id": "T1"}, RowScope("teacher_of", staff_id="T1")),
    ("counselor", {"staff_id": "C1"}, RowScope("counselor_of", staff_id="C1")),
    ("psychologist", {"staff_id": "P1"}, RowScope("service_provider_of", staff_id="P1")),
    (
        "special_education_admin",
        {"district_ids": D},
        RowScope("special_education_in_districts", district_ids=D),
    ),
    ("parent", {"student_ids": ST}, RowScope("students", student_ids=ST)),
    ("researcher", {}, RowScope("grants")),
    ("public", {}, RowScope("none")),
    ("central_office", {"district_ids": D}, RowScope("none")),
    # Missing ids: nobody, rather than an empty IN ().
    ("superintendent", {}, RowScope("none")),
    ("principal", {"district_ids": D}, RowScope("none")),
    ("teacher", {}, RowScope("none")),
    ("parent", {}, RowScope("none")),
    ("special_education_admin", {}, RowScope("none")),
]


@pytest.mark.parametrize(("role", "kw", "expected"), KIND_CASES)
def test_row_scope_kind(role: str, kw: dict[str, object], expected: RowScope) -> None:
    assert row_scope(person(role, **kw), today=TODAY) == expected


def test_machine_roles_scope() -> None:
    assert row_scope(person("service", kind="client"), today=TODAY) == RowScope("all")
    sis = person("district_sis", kind="client", district_ids=D)
    assert row_scope(sis, today=TODAY) == RowScope("districts", district_ids=D)


# --- generated agreement -----------------------------------------------------------------------

DISTRICTS = ["D1", "D2", "D3"]
SCHOOLS = ["D1-S1", "D1-S2", "D2-S1", "D3-S1"]
STAFF = ["X1", "X2", "X3"]
STUDENTS = ["S1", "S2", "S3", "S4"]
FIELDS = [
    "assessments.scale_score",
    "demographics.last_name",
    "programs.lunch_status",
    "ssn",
    "not_a_field",
]
ROLE_CODES = sorted(load_roles()) + ["dean"]


def _some(rng: random.Random, pool: list[str], most: int = 2) -> frozenset[str]:
    return frozenset(rng.sample(pool, rng.randint(0, most)))


def _grant(rng: random.Random) -> AccessGrant:
    start = TODAY + timedelta(days=rng.randint(-60, 10))
    return AccessGrant(
        grant_id=f"g{rng.randint(0, 999)}",
        fields=_some(rng, FIELDS, 3),
        student_ids=_some(rng, STUDENTS, 1),
        district_ids=_some(rng, DISTRICTS, 1),
        school_ids=_some(rng, SCHOOLS, 1),
        starts_on=rng.choice([None, start]),
        ends_on=rng.choice([None, start + timedelta(days=rng.randint(0, 90))]),
    )


def _principal(rng: random.Random) -> Principal:
    return Principal(
        subject="user:generated",
        kind=rng.choice(["user", "client"]),
        role=rng.choice(ROLE_CODES),
        district_ids=_some(rng, DISTRICTS),
        school_ids=_some(rng, SCHOOLS),
        staff_id=rng.choice([None, *STAFF]),
        student_ids=_some(rng, STUDENTS),
        grants=tuple(_grant(rng) for _ in range(rng.choice([0, 0, 1, 2]))),
    )


def _facts(rng: random.Random) -> StudentFacts:
    return StudentFacts(
        state_student_id=rng.choice(STUDENTS),
        district_ids=_some(rng, DISTRICTS, 1),
        school_ids=_some(rng, SCHOOLS, 1),
        teacher_staff_ids=_some(rng, STAFF),
        counselor_staff_ids=_some(rng, STAFF, 1),
        service_provider_staff_ids=_some(rng, STAFF, 1),
        receives_special_education=rng.random() < 0.3,
        has_504_plan=rng.random() < 0.2,
        as_of=TODAY,
    )


def test_row_scope_matches_exactly_the_reachable_students() -> None:
    rng = random.Random(20260302)
    outcomes: Counter[tuple[str, bool]] = Counter()
    for _ in range(300):
        principal = _principal(rng)
        scope = row_scope(principal, today=TODAY)
        for _ in range(15):
            facts = _facts(rng)
            reach = can_reach_student(principal, facts, today=TODAY)
            assert scope.matches(facts) is reach, (principal, facts, scope)
            outcomes[(principal.role, reach)] += 1
    # The generator must exercise both answers for every role that can reach anyone.
    for code in load_roles():
        assert outcomes[(code, True)] > 0, code
        assert outcomes[(code, False)] > 0, code
    assert outcomes[("dean", True)] == 0


def test_matches_rejects_malformed_facts() -> None:
    facts = StudentFacts(state_student_id="S1", district_ids=["D1"])  # type: ignore[arg-type]
    assert RowScope("all").matches(facts) is False
    assert RowScope("all").matches(None) is False  # type: ignore[arg-type]
