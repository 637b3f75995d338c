"""Unknown roles and malformed input give no access, never an exception (which would be a 500)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from shared.policy.access import (
    RowScope,
    can_reach_student,
    row_scope,
    visible_fields,
    visible_staff_fields,
)
from shared.policy.principal import AccessGrant, Principal, StudentFacts

TODAY = date(2026, 3, 2)
FACTS = StudentFacts(
    state_student_id="S1",
    district_ids=frozenset({"D12"}),
    school_ids=frozenset({"D12-S1"}),
    teacher_staff_ids=frozenset({"T1"}),
    as_of=TODAY,
)
SCORE = frozenset({"assessments.scale_score"})
S1 = frozenset({"S1"})
GRANT = AccessGrant(grant_id="g", fields=SCORE, student_ids=S1)


def p(role: str = "superintendent", **kw: object) -> Principal:
    values: dict[str, object] = {"subject": "user:x", "kind": "user", "role": role,
                                 "district_ids": frozenset({"D12"})}
    values.update(kw)
    return Principal(**values)  # type: ignore[arg-type]


def test_control_well_formed_principal_has_access() -> None:
    assert can_reach_student(p(), FACTS, today=TODAY)
    assert can_reach_student(p("researcher", grants=(GRANT,)), FACTS, today=TODAY)
    assert can_reach_student(p(), FACTS, today=datetime(2026, 3, 2, 9, 30))


BAD_PRINCIPALS = [
    ("unknown role", p("dean")),
    ("empty role", p("")),
    ("unhashable role", p(["superintendent"])),
    ("user holding a machine role", p("service")),
    ("user holding the SIS role", p("district_sis")),
    ("client holding a person's role", p(kind="client")),
    ("unknown kind", p(kind="robot")),
    ("district ids as a string (substring trap)", p(district_ids="D1")),
    ("district ids as a list", p(district_ids=["D12"])),
    ("empty district id", p(district_ids=frozenset({""}))),
    ("empty staff id", p("teacher", staff_id="")),
    ("grants as a list", p("researcher", grants=[GRANT])),
    ("grant fields as a set", p("researcher", grants=(AccessGrant("g", set(SCORE), S1),))),
    (
        "grant with a datetime end",
        p("researcher", grants=(AccessGrant("g", SCORE, S1, ends_on=datetime(2027, 1, 1)),)),
    ),
    ("grant that is not an AccessGrant", p("researcher", grants=({"fields": list(SCORE)},))),
    ("not a Principal", {"role": "state_data_admin", "kind": "user"}),
    ("nothing", None),
]


@pytest.mark.parametrize(
    "principal", [c[1] for c in BAD_PRINCIPALS], ids=[c[0] for c in BAD_PRINCIPALS]
)
def test_malformed_or_unknown_principal_gets_nothing(principal: Principal) -> None:
    assert can_reach_student(principal, FACTS, today=TODAY) is False
    assert visible_fields(principal, FACTS, today=TODAY) == frozenset()
    assert row_scope(principal, today=TODAY) == RowScope("none")
    assert visible_staff_fields(principal) == frozenset()


BAD_FACTS = [
    ("district ids as a list", StudentFacts("S1", district_ids=["D12"])),
    ("empty student id", StudentFacts("", district_ids=frozenset({"D12"}))),
    ("teacher ids as a string", StudentFacts("S1", frozenset({"D12"}), teacher_staff_ids="T1")),
    ("flag not a bool", StudentFacts("S1", district_ids=frozenset({"D12"}), has_504_plan="no")),
    ("not facts", {"state_student_id": "S1", "district_ids": frozenset({"D12"})}),
]


@pytest.mark.parametrize("facts", [c[1] for c in BAD_FACTS], ids=[c[0] for c in BAD_FACTS])
def test_malformed_facts_give_no_access(facts: StudentFacts) -> None:
    for principal in (p(), p("state_data_admin"), p("researcher", grants=(GRANT,))):
        assert visible_fields(principal, facts, today=TODAY) == frozenset()
        assert row_scope(principal, today=TODAY).matches(facts) is False


@pytest.mark.parametrize("today", ["2026-03-02", 20260302])
def test_bad_today_gives_no_access(today: object) -> None:
    assert visible_fields(p(), FACTS, today=today) == frozenset()  # type: ignore[arg-type]
    assert row_scope(p(), today=today) == RowScope("none")  # type: ignore[arg-type]
