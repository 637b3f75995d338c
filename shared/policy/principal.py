"""Who is asking (the principal) and what we know about a student's relationships (the facts).

Both are plain values so the policy functions that take them stay pure and table-testable.
A `Principal` is built from a verified token by `shared.security.tokens`; `StudentFacts` are
computed by the records service from its dated relationship tables ("currently" = today within
the relationship's dates) and handed to `shared.policy.access`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

PrincipalKind = Literal["user", "client"]


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """Access beyond a role's own reach: a researcher's active agreement, a vendor's contract,
    or an approved access request. Scoped to fields and students and bounded in time."""

    grant_id: str
    fields: frozenset[str]
    student_ids: frozenset[str] = frozenset()  # explicit students, or
    district_ids: frozenset[str] = frozenset()  # every student currently in these districts
    school_ids: frozenset[str] = frozenset()  # every student currently in these schools
    starts_on: date | None = None
    ends_on: date | None = None

    def active_on(self, day: date) -> bool:
        if self.starts_on is not None and day < self.starts_on:
            return False
        return self.ends_on is None or day <= self.ends_on


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str  # "user:<id>" or "client:<client_id>"
    kind: PrincipalKind
    role: str  # a role code from shared/policy/data/roles.toml
    state: str | None = None  # state code when the principal is state-wide (e.g. "MO")
    district_ids: frozenset[str] = frozenset()
    school_ids: frozenset[str] = frozenset()
    staff_id: str | None = None  # staff state ID, the key of teacher/counselor relationships
    student_ids: frozenset[str] = frozenset()  # parent / eligible student: their own records
    grants: tuple[AccessGrant, ...] = ()
    token_id: str | None = None
    # The last day the person's NDA and privacy training clear them for student PII (issue 9;
    # shared.policy.access.lacks_clearance); None: not cleared. The token verifier always sets it
    # from the token (absent claim = None); principals made in code (probes, policy tests) are
    # cleared unless told otherwise.
    cleared_until: date | None = date.max


@dataclass(frozen=True, slots=True)
class StudentFacts:
    """A student's relationships as of one day."""

    state_student_id: str
    district_ids: frozenset[str] = frozenset()  # districts currently enrolled in
    school_ids: frozenset[str] = frozenset()  # schools currently enrolled in
    teacher_staff_ids: frozenset[str] = frozenset()  # teachers of current class sections
    counselor_staff_ids: frozenset[str] = frozenset()  # counselors with the student on caseload
    service_provider_staff_ids: frozenset[str] = frozenset()  # psychologists, social workers...
    receives_special_education: bool = False
    has_504_plan: bool = False
    as_of: date = field(default_factory=date.today)
