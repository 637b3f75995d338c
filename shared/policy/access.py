"""The one place that decides what anyone may see of a student record, and of a staff record.

Reach (which students): the role's `row_scope` applied to the principal's ids and the student's
facts, OR any of the principal's AccessGrants active that day that covers the student.
Fields (what of them): for a student reached by role, the fields of the role's level and above;
for a student covered by a grant, that grant's fields; both minus the role's exclusions and minus
`never_returned` fields (SSNs), which no one ever receives.

Fail closed: an unknown role, a role the principal's kind may not hold (a user claiming `service`),
a malformed principal, grant or facts value, or a bad `today` means no access. These functions
never raise for such input, so a bad token cannot become a 500; only `roles.get_role` raises
(`UnknownRoleError`, which callers map to 403).

`today` defaults to `date.today()`: grants are judged on the day of the request, whatever day the
facts were computed for.

Clearance (issue 9; Utah plan 4 and 4.4): a person (kind "user") in a staff role that reaches
students by role (row scope state, district, school, class sections, caseload, service provider,
special education) needs a signed NDA and current privacy training, carried in the token as the
last day they clear (`Principal.cleared_until`). Without it they get no student reach and no
student fields, grants included, and only the open-records (level-4) staff fields: aggregates
only, like the central office. Parents and eligible students (own records), researchers and
vendors (their agreement or contract is their undertaking), directory recipients and machine
clients need none.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Literal

from shared.policy.dictionary import FieldSpec, load_data_dictionary
from shared.policy.principal import AccessGrant, Principal, StudentFacts
from shared.policy.roles import Role, load_roles

RowScopeKind = Literal[
    "all",
    "none",
    "districts",
    "schools",
    "teacher_of",
    "counselor_of",
    "service_provider_of",
    "special_education_in_districts",
    "students",
    "grants",
]


@dataclass(frozen=True, slots=True)
class RowScope:
    """The student filter the records service turns into SQL: rows matching `kind` (with its ids)
    OR covered by one of `grants` (a grant covers the students in its student_ids, district_ids or
    school_ids). Kinds "none" and "grants" match nothing by themselves; a kind whose ids would be
    empty is given as "none", so no caller has to render `IN ()`. `matches` is the same filter in
    Python, kept in step with `can_reach_student` by the tests."""

    kind: RowScopeKind
    district_ids: frozenset[str] = frozenset()
    school_ids: frozenset[str] = frozenset()
    staff_id: str | None = None
    student_ids: frozenset[str] = frozenset()
    grants: tuple[AccessGrant, ...] = ()

    def matches(self, facts: StudentFacts) -> bool:
        if not _facts_ok(facts):
            return False
        return self._kind_matches(facts) or any(_covers(g, facts) for g in self.grants)

    def _kind_matches(self, facts: StudentFacts) -> bool:
        match self.kind:
            case "all":
                return True
            case "districts":
                return not self.district_ids.isdisjoint(facts.district_ids)
            case "schools":
                return not self.school_ids.isdisjoint(facts.school_ids)
            case "teacher_of":
                return self.staff_id in facts.teacher_staff_ids
            case "counselor_of":
                return self.staff_id in facts.counselor_staff_ids
            case "service_provider_of":
                return self.staff_id in facts.service_provider_staff_ids
            case "special_education_in_districts":
                return _has_plan(facts) and not self.district_ids.isdisjoint(facts.district_ids)
            case "students":
                return facts.state_student_id in self.student_ids
            case _:
                return False


def can_reach_student(
    principal: Principal, facts: StudentFacts, *, today: date | None = None
) -> bool:
    """Whether the principal may see anything of this student's record."""
    return bool(visible_fields(principal, facts, today=today))


def visible_fields(
    principal: Principal, facts: StudentFacts, *, today: date | None = None
) -> frozenset[str]:
    """Student field names the principal may receive for this student; empty if out of reach."""
    role, day = _role_of(principal), _day(today)
    if role is None or day is None or not _facts_ok(facts) or _uncleared(role, principal, day):
        return frozenset()
    fields = student_fields_for_role(role) if _role_reaches(role, principal, facts) else frozenset()
    for grant in _usable_grants(principal, role, day):
        if _covers(grant, facts):
            fields |= grant.fields
    return fields


def row_scope(principal: Principal, *, today: date | None = None) -> RowScope:
    """The filter selecting every student `can_reach_student` allows, for list queries."""
    role, day = _role_of(principal), _day(today)
    if role is None or day is None or _uncleared(role, principal, day):
        return RowScope("none")
    grants = _usable_grants(principal, role, day)
    p = principal
    match role.row_scope:
        case "state":
            scope = RowScope("all")
        case "district" if p.district_ids:
            scope = RowScope("districts", district_ids=p.district_ids)
        case "school" if p.school_ids:
            scope = RowScope("schools", school_ids=p.school_ids)
        case "class_sections" if p.staff_id:
            scope = RowScope("teacher_of", staff_id=p.staff_id)
        case "caseload" if p.staff_id:
            scope = RowScope("counselor_of", staff_id=p.staff_id)
        case "service_provider" if p.staff_id:
            scope = RowScope("service_provider_of", staff_id=p.staff_id)
        case "special_education" if p.district_ids:
            scope = RowScope("special_education_in_districts", district_ids=p.district_ids)
        case "own_records" if p.student_ids:
            scope = RowScope("students", student_ids=p.student_ids)
        case "grants":
            scope = RowScope("grants")
        case _:
            scope = RowScope("none")
    return replace(scope, grants=grants)


def aggregate_scope(principal: Principal, *, today: date | None = None) -> RowScope:
    """The students whose counts the principal's internal aggregates may cover: the role's reach
    whether or not the person is cleared, since counts are not records (issue 9: without an NDA
    and training, "aggregates only")."""
    if not isinstance(principal, Principal):
        return RowScope("none")
    return row_scope(replace(principal, cleared_until=date.max), today=today)


def visible_staff_fields(principal: Principal, *, today: date | None = None) -> frozenset[str]:
    """Staff field names the principal may receive. Staff data follows `staff_level` alone:
    staff records are largely open records (MOSIS Sunshine Law, Maine FOAA); SSNs never. A person
    who lacks clearance sees the open-records (level-4) fields only, as the public does."""
    role, day = _role_of(principal), _day(today)
    if role is None or day is None:
        return frozenset()
    level = 4 if _uncleared(role, principal, day) else role.staff_level
    return frozenset(
        spec.name
        for spec in load_data_dictionary().fields_for("staff")
        if spec.level >= level and not spec.never_returned
    )


# Row scopes through which a role reaches students as the agency's or a district's staff.
STAFF_REACH_SCOPES = frozenset(
    {"state", "district", "school", "class_sections", "caseload", "service_provider", "special_education"}
)


def role_requires_clearance(role: Role, kind: str) -> bool:
    """Whether a principal of this kind in this role needs a current NDA and training for PII."""
    return kind == "user" and role.row_scope in STAFF_REACH_SCOPES and not role.directory_only


def requires_clearance(principal: Principal) -> bool:
    role = _role_of(principal)
    return role is not None and role_requires_clearance(role, principal.kind)


def lacks_clearance(principal: Principal, *, today: date | None = None) -> bool:
    """True when the principal's role requires clearance and they are not cleared on `today`:
    the services answer such a person's reads of student data with 403 "clearance required".
    A malformed principal is False here: it reaches nothing anyway."""
    role, day = _role_of(principal), _day(today)
    return role is not None and day is not None and _uncleared(role, principal, day)


def _uncleared(role: Role, principal: Principal, day: date) -> bool:
    if not role_requires_clearance(role, principal.kind):
        return False
    until = principal.cleared_until
    return not (isinstance(until, date) and not isinstance(until, datetime) and until >= day)


@lru_cache(maxsize=64)
def student_fields_for_role(role: Role) -> frozenset[str]:
    """Student fields a role sees of a student it reaches by role (before grants); empty for
    roles that reach no one by role ("grants", "none")."""
    if role.row_scope in ("grants", "none"):
        return frozenset()
    return frozenset(
        spec.name
        for spec in load_data_dictionary().fields_for("student")
        if spec.level >= role.level and _allowed(role, spec)
    )


def project(record: Mapping[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    """A copy of `record` holding only the keys `fields` select; the rest are left out, not nulled.

    A name selects a path of keys (`enrollment.entry_date` is `entry_date` inside `enrollment`).
    When a section holds a list, each element is projected alike. Sections, list elements and
    lists that end up empty are left out too, so the shape of hidden data does not show (an
    empty `special_education` section would itself tell that there is one). A scalar where a
    section is expected is dropped.
    """
    if not isinstance(record, Mapping):
        return {}
    return _project_mapping(record, _tree(frozenset(fields)))


def project_with_names(record: Mapping[str, Any], fields: frozenset[str]) -> tuple[dict[str, Any], set[str]]:
    """`project`, and the dictionary field names that carry a value in the result (what went out,
    for the access log: `a.b` for key `b` inside section `a`, a list of sub-records counted
    through its elements), in one walk instead of projecting and then walking the result."""
    names: set[str] = set()
    if not isinstance(record, Mapping):
        return {}, names
    return _project_named(record, _named_tree(frozenset(fields)), names), names


_NamedTree = dict[str, tuple[str, "_NamedTree | None"]]


@lru_cache(maxsize=256)
def _named_tree(fields: frozenset[str]) -> _NamedTree:
    """`_tree` with each node's dotted name beside it, so a read builds no name strings."""
    def named(tree: _Tree, prefix: str) -> _NamedTree:
        out: _NamedTree = {}
        for key, sub in tree.items():
            name = f"{prefix}.{key}" if prefix else key
            out[key] = (name, None if sub is None else named(sub, name))
        return out
    return named(_tree(fields), "")


def _project_named(record: Mapping[Any, Any], tree: _NamedTree, names: set[str]) -> dict[str, Any]:
    # `_project_mapping`, noting the name of each leaf it keeps.
    out: dict[str, Any] = {}
    for key, value in record.items():
        node = tree.get(key) if type(key) is str else None
        if node is None:
            continue
        name, sub = node
        if sub is None:
            if isinstance(value, (dict, list)):
                value = copy.deepcopy(value)
                if isinstance(value, dict) or (value and isinstance(value[0], dict)):
                    field_names_in(value, name, names)  # a section selected whole: its keys went out
                else:
                    names.add(name)
            else:
                names.add(name)
            out[key] = value
            continue
        if _is_mapping(value):
            projected: Any = _project_named(value, sub, names)
        elif isinstance(value, (list, tuple)):
            projected = [e for e in (_project_named(v, sub, names) for v in value if _is_mapping(v)) if e]
        else:
            projected = None
        if projected:
            out[key] = projected
    return out


def field_names_in(value: Any, prefix: str, names: set[str]) -> None:
    """Add to `names` the dictionary field names that carry a value in `value` (a record, a
    section or a list of sub-records), under `prefix` ("" at the top of a record)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            name = f"{prefix}.{key}" if prefix else key
            if isinstance(inner, dict) or (isinstance(inner, list) and inner and isinstance(inner[0], dict)):
                field_names_in(inner, name, names)
            else:
                names.add(name)
    elif isinstance(value, list):
        for element in value:
            field_names_in(element, prefix, names)


# --- reach -------------------------------------------------------------------------------------


def _role_reaches(role: Role, p: Principal, facts: StudentFacts) -> bool:
    match role.row_scope:
        case "state":
            return True
        case "district":
            return not p.district_ids.isdisjoint(facts.district_ids)
        case "school":
            return not p.school_ids.isdisjoint(facts.school_ids)
        case "class_sections":
            return p.staff_id is not None and p.staff_id in facts.teacher_staff_ids
        case "caseload":
            return p.staff_id is not None and p.staff_id in facts.counselor_staff_ids
        case "service_provider":
            return p.staff_id is not None and p.staff_id in facts.service_provider_staff_ids
        case "special_education":
            return _has_plan(facts) and not p.district_ids.isdisjoint(facts.district_ids)
        case "own_records":
            return facts.state_student_id in p.student_ids
        case _:
            return False


def _has_plan(facts: StudentFacts) -> bool:
    return facts.receives_special_education or facts.has_504_plan


def _covers(grant: AccessGrant, facts: StudentFacts) -> bool:
    return (
        facts.state_student_id in grant.student_ids
        or not grant.district_ids.isdisjoint(facts.district_ids)
        or not grant.school_ids.isdisjoint(facts.school_ids)
    )


def _usable_grants(principal: Principal, role: Role, day: date) -> tuple[AccessGrant, ...]:
    """Grants active on `day` that cover someone, narrowed to the known student fields the role
    may receive; a grant left with no field gives no reach either."""
    dictionary = load_data_dictionary()
    usable = []
    for grant in principal.grants:
        if not grant.active_on(day):
            continue
        if not (grant.student_ids or grant.district_ids or grant.school_ids):
            continue
        fields = frozenset(
            name
            for name in grant.fields
            if dictionary.has_field("student", name)
            and _allowed(role, dictionary.field("student", name))
        )
        if fields:
            usable.append(replace(grant, fields=fields))
    return tuple(usable)


def _allowed(role: Role, spec: FieldSpec) -> bool:
    """The role's exclusions, which bind granted fields too."""
    return (
        not spec.never_returned
        and spec.pii not in role.exclude_pii
        and (role.only_categories is None or spec.category in role.only_categories)
        and spec.category not in role.exclude_categories
        and (spec.directory or not role.directory_only)
    )


# --- fail-closed input checks ------------------------------------------------------------------


def _role_of(principal: Principal) -> Role | None:
    """The principal's role, or None when the principal is malformed or may not hold it."""
    if not _principal_ok(principal):
        return None
    role = load_roles().get(principal.role)
    if role is None or principal.kind not in role.principal_kinds:
        return None
    return role


def _day(today: date | None) -> date | None:
    if today is None:
        return date.today()
    if isinstance(today, datetime):  # a datetime cannot be compared with grant dates
        return today.date()
    return today if isinstance(today, date) else None


def _ids(value: object) -> bool:
    """A frozenset of non-empty strings; a bare string would make `in` a substring test."""
    return isinstance(value, frozenset) and all(isinstance(v, str) and v for v in value)


def _plain_date(value: object) -> bool:
    return value is None or (isinstance(value, date) and not isinstance(value, datetime))


def _grant_ok(grant: object) -> bool:
    return (
        isinstance(grant, AccessGrant)
        and _ids(grant.fields)
        and _ids(grant.student_ids)
        and _ids(grant.district_ids)
        and _ids(grant.school_ids)
        and _plain_date(grant.starts_on)
        and _plain_date(grant.ends_on)
    )


def _principal_ok(p: object) -> bool:
    return (
        isinstance(p, Principal)
        and isinstance(p.role, str)
        and isinstance(p.kind, str)
        and _ids(p.district_ids)
        and _ids(p.school_ids)
        and _ids(p.student_ids)
        and (p.staff_id is None or (isinstance(p.staff_id, str) and bool(p.staff_id)))
        and isinstance(p.grants, tuple)
        and all(_grant_ok(g) for g in p.grants)
        and _plain_date(p.cleared_until)
    )


def _facts_ok(f: object) -> bool:
    return (
        isinstance(f, StudentFacts)
        and isinstance(f.state_student_id, str)
        and bool(f.state_student_id)
        and _ids(f.district_ids)
        and _ids(f.school_ids)
        and _ids(f.teacher_staff_ids)
        and _ids(f.counselor_staff_ids)
        and _ids(f.service_provider_staff_ids)
        and isinstance(f.receives_special_education, bool)
        and isinstance(f.has_504_plan, bool)
    )


# --- projection --------------------------------------------------------------------------------

# A projection tree: each selected key maps to the tree of its sub-keys, or to None when the
# key's whole value is selected.
_Tree = dict[str, "_Tree | None"]


@lru_cache(maxsize=256)
def _tree(fields: frozenset[str]) -> _Tree:
    root: _Tree = {}
    for name in fields:
        if not isinstance(name, str) or not name:
            continue
        *sections, leaf = name.split(".")
        node = root
        for part in sections:
            child = node.setdefault(part, {})
            if child is None:  # an ancestor is selected whole already
                break
            node = child
        else:
            node[leaf] = None
    return root


_ABSENT = object()


def _project_mapping(record: Mapping[Any, Any], tree: _Tree) -> dict[str, Any]:
    # Runs for every read over every element: plain dict lookups, and the cheap type checks first.
    out: dict[str, Any] = {}
    for key, value in record.items():
        sub = tree.get(key, _ABSENT) if type(key) is str else _ABSENT
        if sub is _ABSENT:
            continue
        if sub is None:
            # Scalars are immutable: only containers are copied, so the caller's record stays untouched.
            out[key] = copy.deepcopy(value) if isinstance(value, (dict, list)) else value
            continue
        projected = _project_section(value, sub)
        if projected:
            out[key] = projected
    return out


def _is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def _project_section(value: Any, tree: _Tree) -> dict[str, Any] | list[dict[str, Any]] | None:
    if _is_mapping(value):
        return _project_mapping(value, tree)
    if isinstance(value, (list, tuple)):
        elements = (_project_mapping(v, tree) for v in value if _is_mapping(v))
        return [e for e in elements if e]
    return None
