"""Access beyond a role: applied for in writing, decided in writing, scoped, time-limited, enforced
by the policy library and listed for review.

Connecticut ("General Access to Database", item 10): "Any individual who wishes to receive
information outside the general access provided above shall apply, in writing, to the
Superintendent of Schools. The application shall state the precise information requested and the
legitimate educational need for the information. The Superintendent ... shall determine whether,
and in what form, to grant the requested access [and] notify the applicant in writing."

- A person in a district staff role (`REQUESTER_ROLES`) applies: dictionary fields, the students
  (state IDs) and/or schools of their district, the need, and dates no longer than the
  `records_access_grant_max_days` setting.
- The superintendent of the district the request concerns, or a state data administrator,
  decides in writing (a reason is always required): granted, in the form asked or a narrower one
  (fewer fields, students or schools, an earlier end), or denied. No one decides their own
  request, and only students currently enrolled in the district can be granted.
- A granted request in force today becomes an `AccessGrant` on the requester's reads
  (`grants_in_force`, called by `releases.get_caller`): the policy library then gives the granted
  fields of the granted students, with the role's exclusions and never-returned fields still
  applied. Nothing after the end date, or once a decider revoked it (with a reason).
- Filing, decision and revocation go to the records access log (ids, roles, fields, dates; never
  the need or the reasons, which stay in the table).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.records.access_request_models import AccessRequest
from services.records.facts import current_on
from services.records.models import Enrollment, RecordsAccessLogEntry
from shared.audit import append_many
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, NotFound, UnprocessableContent
from shared.policy.access import visible_fields
from shared.policy.dictionary import load_data_dictionary
from shared.policy.principal import AccessGrant, Principal, StudentFacts
from shared.request_context import current_request_id

# Connecticut items 1-8: the staff whose general access is limited; the superintendent (item 9)
# already sees the whole district. Families, researchers and vendors have their own routes
# (consent, agreements).
REQUESTER_ROLES = frozenset({"teacher", "counselor", "psychologist", "social_worker", "special_education_admin",
                             "principal", "central_office"})
STATE_DECIDERS = frozenset({"state_data_admin"})
DISTRICT_DECIDERS = frozenset({"superintendent"})
GRANT_PREFIX = "access-request:"


def today() -> date:
    return datetime.now(UTC).date()


def _problem(field: str, message: str, code: str = "invalid") -> dict[str, str]:
    return {"field": field, "code": code, "message": message}


def _invalid(problems: list[dict[str, str]]) -> UnprocessableContent:
    return UnprocessableContent("See 'errors' for every field that needs attention.", errors=problems)


def effective_status(request: AccessRequest, day: date | None = None) -> str:
    """The stored status, with a grant past its end date shown as "expired"."""
    if request.status == "granted" and request.granted_ends_on is not None and (day or today()) > request.granted_ends_on:
        return "expired"
    return request.status


def in_force(request: AccessRequest, day: date | None = None) -> bool:
    day = day or today()
    return (request.status == "granted" and request.granted_ends_on is not None
            and request.starts_on <= day <= request.granted_ends_on)


# --- the read path -------------------------------------------------------------------------------


def _ids(value: Any) -> frozenset[str]:
    """A stored JSON list as the frozenset of non-empty strings the policy library accepts (one
    malformed grant would otherwise make the whole principal fail closed)."""
    if not isinstance(value, list):
        return frozenset()
    return frozenset(v for v in value if isinstance(v, str) and v)


def may_hold_grants(principal: Principal) -> bool:
    return principal.kind == "user" and principal.role in REQUESTER_ROLES


async def grants_in_force(session: AsyncSession, principal: Principal, day: date | None = None) -> tuple[AccessGrant, ...]:
    """The caller's granted access requests in force on `day`, as AccessGrants. One indexed query,
    and none at all for roles that cannot hold such a grant (systems, superintendents, families).
    A grant binds the role and district it was given to: after a change of either it stops."""
    if not may_hold_grants(principal):
        return ()
    day = day or today()
    rows = await session.execute(
        select(AccessRequest.id, AccessRequest.requester_role, AccessRequest.district_id,
               AccessRequest.granted_fields, AccessRequest.granted_student_ids, AccessRequest.granted_school_ids,
               AccessRequest.starts_on, AccessRequest.granted_ends_on)
        .where(AccessRequest.requested_by == principal.subject, AccessRequest.status == "granted",
               AccessRequest.granted_ends_on >= day, AccessRequest.starts_on <= day))
    return tuple(
        AccessGrant(grant_id=GRANT_PREFIX + row.id, fields=_ids(row.granted_fields),
                    student_ids=_ids(row.granted_student_ids), school_ids=_ids(row.granted_school_ids),
                    starts_on=row.starts_on, ends_on=row.granted_ends_on)
        for row in rows
        if row.requester_role == principal.role and row.district_id in principal.district_ids)


# --- who may do what -----------------------------------------------------------------------------


def is_decider_for(principal: Principal, request: AccessRequest) -> bool:
    if principal.kind != "user":
        return False
    if principal.role in STATE_DECIDERS:
        return True
    return principal.role in DISTRICT_DECIDERS and request.district_id in principal.district_ids


def _may_view(principal: Principal, request: AccessRequest) -> bool:
    return request.requested_by == principal.subject or is_decider_for(principal, request)


async def get_visible(session: AsyncSession, principal: Principal, request_id: str, *,
                      for_update: bool = False) -> AccessRequest:
    """The requester and the request's deciders see it; anyone else gets 404, as for a request
    that does not exist."""
    query = select(AccessRequest).where(AccessRequest.id == request_id)
    request = await session.scalar(query.with_for_update() if for_update else query)
    if request is None or not _may_view(principal, request):
        raise NotFound("No such access request.")
    return request


# --- checks ----------------------------------------------------------------------------------------


def grantable_fields(principal: Principal, names: Iterable[str]) -> frozenset[str]:
    """The names that a grant to this principal would actually give: known student fields the
    role may receive (its exclusions and never-returned fields bind granted fields too). Asked of
    the policy library itself, with a probe grant over a student the role does not reach."""
    wanted = frozenset(n for n in names if isinstance(n, str) and n)
    if not wanted:
        return frozenset()
    probe = AccessGrant(grant_id="probe", fields=wanted, student_ids=frozenset({"probe"}))
    prober = Principal(subject=principal.subject, kind=principal.kind, role=principal.role, grants=(probe,))
    return visible_fields(prober, StudentFacts(state_student_id="probe")) & wanted


def _check_fields(principal: Principal, fields: Sequence[str], prefix: str = "fields") -> list[dict[str, str]]:
    dictionary = load_data_dictionary()
    grantable = grantable_fields(principal, fields)
    problems: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    for i, name in enumerate(fields):
        if name in seen:
            problems.append(_problem(f"{prefix}[{i}]", f"Repeats {prefix}[{seen[name]}].", "duplicate"))
        elif not dictionary.has_field("student", name):
            problems.append(_problem(f"{prefix}[{i}]", "Is not a student field of the data dictionary "
                                     "(see GET /records/v1/data-dictionary).", "unknown-field"))
        elif name not in grantable:
            problems.append(_problem(f"{prefix}[{i}]", "May not be given to this role at all (a field the role "
                                     "is excluded from, or one never returned to anyone).", "not-grantable"))
        seen.setdefault(name, i)
    return problems


def _duplicates(values: Sequence[str], prefix: str) -> list[dict[str, str]]:
    seen: dict[str, int] = {}
    problems = []
    for i, value in enumerate(values):
        if value in seen:
            problems.append(_problem(f"{prefix}[{i}]", f"Repeats {prefix}[{seen[value]}].", "duplicate"))
        seen.setdefault(value, i)
    return problems


async def _schools_of_district(session: AsyncSession, district_id: str, school_ids: Sequence[str]) -> set[str]:
    """Schools known to belong to the district: some enrollment of the district names them."""
    if not school_ids:
        return set()
    rows = await session.scalars(select(Enrollment.school_id).distinct().where(
        Enrollment.district_id == district_id, Enrollment.school_id.in_(set(school_ids))))
    return set(rows)


async def _enrolled_in_district(session: AsyncSession, district_id: str, student_ids: Sequence[str],
                                day: date) -> set[str]:
    if not student_ids:
        return set()
    rows = await session.scalars(select(Enrollment.state_student_id).distinct().where(
        Enrollment.district_id == district_id, Enrollment.state_student_id.in_(set(student_ids)),
        current_on(Enrollment.entry_date, Enrollment.exit_date, day)))
    return set(rows)


# --- the access log ----------------------------------------------------------------------------------


async def _log(session: AsyncSession, principal: Principal, action: str, request: AccessRequest,
               students: Sequence[str], **extra: Any) -> None:
    """One entry per student named (so a student's log shows who was given access to the record),
    or one for the request when it names schools only."""
    common = {"role": principal.role, "access_request_id": request.id, "requester": request.requested_by,
              "requester_role": request.requester_role, "district_id": request.district_id, **extra}
    if students:
        entries = [{"action": action, "index_columns": {"state_id": sid},
                    "payload": {"entity": "student", "state_id": sid, **common}} for sid in sorted(students)]
    else:
        entries = [{"action": action, "payload": {"entity": "access_request", **common}}]
    await append_many(session, RecordsAccessLogEntry, entries, actor=principal.subject,
                      request_id=current_request_id())


# --- filing ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Application:
    district_id: str | None
    fields: list[str]
    student_ids: list[str]
    school_ids: list[str]
    need: str
    starts_on: date | None
    ends_on: date


async def file_request(session: AsyncSession, principal: Principal, body: Application,
                       max_days: int) -> AccessRequest:
    if principal.kind != "user" or principal.role not in REQUESTER_ROLES:
        raise Forbidden("Access beyond a role is applied for by district staff in person (Connecticut item 10).")
    if not principal.district_ids:
        raise Forbidden("Your account names no district to apply to.")
    problems: list[dict[str, str]] = []
    district = body.district_id
    if district is None:
        if len(principal.district_ids) == 1:
            (district,) = principal.district_ids
        else:
            problems.append(_problem("district_id", "Is required: your account is in more than one district.",
                                     "required"))
    elif district not in principal.district_ids:
        problems.append(_problem("district_id", "Is not a district of your account.", "not-your-district"))
    problems += _check_fields(principal, body.fields)
    problems += _duplicates(body.student_ids, "student_ids")
    problems += _duplicates(body.school_ids, "school_ids")
    if not body.student_ids and not body.school_ids:
        problems.append(_problem("student_ids", "Name the students (state IDs) or the schools the access is for.",
                                 "missing"))
    if district is not None and district in principal.district_ids:
        known = await _schools_of_district(session, district, body.school_ids)
        problems += [_problem(f"school_ids[{i}]", "Is not a school of the district.", "not-in-district")
                     for i, school in enumerate(body.school_ids) if school not in known]
    day = today()
    starts_on = body.starts_on or day
    if starts_on < day:
        problems.append(_problem("starts_on", "Must not be in the past.", "in-the-past"))
    problems += _check_end(starts_on, body.ends_on, max_days)
    if problems:
        raise _invalid(problems)
    request = AccessRequest(requested_by=principal.subject, requester_role=principal.role, district_id=district,
                            fields=list(body.fields), student_ids=list(body.student_ids),
                            school_ids=list(body.school_ids), need=body.need, starts_on=starts_on,
                            ends_on=body.ends_on, status="pending")
    session.add(request)
    await session.flush()
    await _log(session, principal, "access_request", request, request.student_ids, fields=sorted(request.fields),
               school_ids=sorted(request.school_ids), starts_on=request.starts_on.isoformat(),
               ends_on=request.ends_on.isoformat())
    return request


def _check_end(starts_on: date, ends_on: date, max_days: int) -> list[dict[str, str]]:
    if ends_on < starts_on:
        return [_problem("ends_on", "Must not be before starts_on.", "before-start")]
    if (ends_on - starts_on).days + 1 > max_days:
        return [_problem("ends_on", f"Access may last at most {max_days} days.", "too-long")]
    return []


# --- review ------------------------------------------------------------------------------------------


def _status_filter(query: Select, status: str, day: date) -> Select:
    if status == "expired":
        return query.where(AccessRequest.status == "granted", AccessRequest.granted_ends_on < day)
    if status == "granted":
        return query.where(AccessRequest.status == "granted", AccessRequest.granted_ends_on >= day)
    return query.where(AccessRequest.status == status)


async def list_requests(session: AsyncSession, principal: Principal, *, status: str | None, active_on: date | None,
                        district_id: str | None, limit: int, offset: int) -> Sequence[AccessRequest]:
    """For review: a state data administrator sees every request, a superintendent those of their
    district, a requester their own. `active_on` keeps the grants that were in force on that day
    (including ones revoked later)."""
    query = select(AccessRequest)
    if principal.kind == "user" and principal.role in STATE_DECIDERS:
        pass
    elif principal.kind == "user" and principal.role in DISTRICT_DECIDERS:
        query = query.where(AccessRequest.district_id.in_(principal.district_ids))
    elif principal.kind == "user" and principal.role in REQUESTER_ROLES:
        query = query.where(AccessRequest.requested_by == principal.subject)
    else:
        raise Forbidden("Access requests are for district staff and those who decide them.")
    if district_id is not None:
        query = query.where(AccessRequest.district_id == district_id)
    if status is not None:
        query = _status_filter(query, status, today())
    if active_on is not None:
        start_of_day = datetime.combine(active_on, time.min, tzinfo=UTC)
        query = query.where(AccessRequest.status.in_(("granted", "revoked")),
                            AccessRequest.granted_ends_on.is_not(None),
                            AccessRequest.starts_on <= active_on, AccessRequest.granted_ends_on >= active_on,
                            (AccessRequest.revoked_at.is_(None)) | (AccessRequest.revoked_at > start_of_day))
    query = query.order_by(AccessRequest.created_at.desc(), AccessRequest.id).offset(offset).limit(limit)
    return (await session.scalars(query)).all()


# --- decision and revocation -------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    decision: str  # "granted" | "denied"
    reason: str
    fields: list[str] | None = None
    student_ids: list[str] | None = None
    school_ids: list[str] | None = None
    ends_on: date | None = None


def _narrowed(asked: list[str], given: list[str] | None, prefix: str) -> tuple[list[str], list[dict[str, str]]]:
    """The decider's narrower list (each entry one the request asked for), or the request's own."""
    if given is None:
        return list(asked), []
    problems = _duplicates(given, prefix)
    problems += [_problem(f"{prefix}[{i}]", "Was not asked for in the request: a grant may be narrower than "
                          "the request, never wider.", "not-requested")
                 for i, value in enumerate(given) if value not in asked]
    return list(given), problems


async def decide(session: AsyncSession, principal: Principal, request_id: str, body: Decision) -> AccessRequest:
    request = await get_visible(session, principal, request_id, for_update=True)
    if request.requested_by == principal.subject:
        raise Forbidden("No one decides their own access request.")
    if not is_decider_for(principal, request):
        raise Forbidden("Access requests are decided by the district's superintendent or a state data administrator.")
    if request.status != "pending":
        raise Conflict(f"The request is {effective_status(request)}; only a pending request is decided.",
                       current_status=effective_status(request))
    day = today()
    if body.decision == "denied":
        extras = [name for name in ("fields", "student_ids", "school_ids", "ends_on") if getattr(body, name) is not None]
        if extras:
            raise _invalid([_problem(name, "Is given only with a grant.", "only-with-grant") for name in extras])
        request.status = "denied"
    else:
        fields, problems = _narrowed(request.fields, body.fields, "fields")
        students, more = _narrowed(request.student_ids, body.student_ids, "student_ids")
        schools, most = _narrowed(request.school_ids, body.school_ids, "school_ids")
        problems += more + most
        if not fields:
            problems.append(_problem("fields", "A grant gives at least one field.", "missing"))
        if not students and not schools:
            problems.append(_problem("student_ids", "A grant covers at least one student or school.", "missing"))
        # Only the district's own students: a superintendent cannot give access beyond the district.
        enrolled = await _enrolled_in_district(session, request.district_id, students, day)
        problems += [_problem(f"student_ids[{i}]", "Is not a student currently enrolled in the district the "
                              "request concerns; leave it out of student_ids.", "not-in-district")
                     for i, sid in enumerate(students) if sid not in enrolled]
        ends_on = body.ends_on or request.ends_on
        if body.ends_on is not None and body.ends_on > request.ends_on:
            problems.append(_problem("ends_on", "Must not be after the requested ends_on.", "after-request"))
        elif ends_on < request.starts_on:
            problems.append(_problem("ends_on", "Must not be before the request's starts_on.", "before-start"))
        elif ends_on < day:
            problems.append(_problem("ends_on", "Has passed: the access would never be in force.", "in-the-past"))
        if problems:
            raise _invalid(problems)
        request.status = "granted"
        request.granted_fields, request.granted_student_ids, request.granted_school_ids = fields, students, schools
        request.granted_ends_on = ends_on
    request.decision_reason, request.decided_by, request.decider_role = body.reason, principal.subject, principal.role
    request.decided_at = utcnow()
    await session.flush()
    if request.status == "granted":
        await _log(session, principal, "access_request_granted", request, request.granted_student_ids or [],
                   fields=sorted(request.granted_fields or []), school_ids=sorted(request.granted_school_ids or []),
                   starts_on=request.starts_on.isoformat(), ends_on=ends_on.isoformat())
    else:
        await _log(session, principal, "access_request_denied", request, request.student_ids)
    return request


async def revoke(session: AsyncSession, principal: Principal, request_id: str, reason: str) -> AccessRequest:
    """A decider ends a grant before its end date; the requester's next read no longer has it."""
    request = await get_visible(session, principal, request_id, for_update=True)
    if not is_decider_for(principal, request):
        raise Forbidden("Access is revoked by the district's superintendent or a state data administrator.")
    status = effective_status(request)
    if status != "granted":
        raise Conflict(f"The request is {status}; only a granted access in force or to come is revoked.",
                       current_status=status)
    request.status, request.revocation_reason = "revoked", reason
    request.revoked_by, request.revoked_at = principal.subject, utcnow()
    await session.flush()
    await _log(session, principal, "access_request_revoked", request, request.granted_student_ids or [],
               school_ids=sorted(request.granted_school_ids or []))
    return request

