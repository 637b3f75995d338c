"""The organisation directory (Missouri's MOSIS Directory): the state, its districts and their
schools, with type, grades served, address, administrators and contacts.

Who writes: state data staff (and services) any entry; a district (its superintendent, or its SIS
client) its own district entry and its own schools, which it may create but never move to
another district. The directory is public (directory information, no student in it), so an entry
outside the caller's districts is a 403, not the 404 that hides a student record.

Every change writes a version (who, when, the fields that changed); an identical resubmission
writes none. Updates need the entry's ETag in `If-Match` (428 without, 412 when stale). Reads are
not written to the records access log (that log is for student records); the versions are the
record of writes.

The hierarchy (school -> district -> state) is what the submission check uses: `district_of` and
`directory_parents` tell the district of a school the directory knows, and nothing for one it
does not (the directory may lag behind a district's SIS).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.records.organisation_models import Organisation, OrganisationVersion
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, PreconditionFailed, SLDSError, UnprocessableContent
from shared.policy.dictionary import load_data_dictionary
from shared.policy.principal import Principal

STATE_EDITORS = frozenset({"state_data_admin", "service"})
DISTRICT_EDITORS = frozenset({"superintendent", "district_sis"})  # of a district in their district_ids
PARENT_KIND: dict[str, str | None] = {"state": None, "district": "state", "school": "district"}

# The type code set, by kind (MOSIS directory "school or district type").
TYPES: dict[str, tuple[str, ...]] = {
    "state": ("state_education_agency",),
    "district": ("public_district", "charter_district", "special_district", "state_operated_district"),
    "school": ("elementary", "middle", "high", "combined", "charter", "alternative", "career_technical",
               "early_childhood", "special_education"),
}
ALL_TYPES: tuple[str, ...] = tuple(t for types in TYPES.values() for t in types)
UNGRADED = "UG"

Outcome = Literal["created", "updated", "unchanged"]


class PreconditionRequired(SLDSError):
    """RFC 6585: an update without `If-Match` could silently overwrite someone else's change."""

    status, code, title = 428, "precondition-required", "If-Match is required"


@cache
def grade_codes() -> tuple[str, ...]:
    """The data dictionary's grade levels in their listed order (IT, PR, PK, KG, 01-12, UG, AE)."""
    return tuple(load_data_dictionary().code_set("grade_level").values)


def _problem(field: str, message: str, code: str = "invalid") -> dict[str, str]:
    return {"field": field, "code": code, "message": message}


def etag(version: int) -> str:
    return f'W/"{version}"'


def public_view(row: Organisation) -> dict[str, Any]:
    return {"code": row.code, **row.entry, "version": row.version, "updated_at": row.updated_at.isoformat()}


def version_view(version: OrganisationVersion) -> dict[str, Any]:
    return {"code": version.code, **version.entry, "version": version.version,
            "updated_at": version.recorded_at.isoformat()}


@dataclass(slots=True)
class Written:
    row: Organisation
    outcome: Outcome


# --- the hierarchy, for others -------------------------------------------------------------------


async def directory_parents(session: AsyncSession, codes: Iterable[str]) -> dict[str, tuple[str, str | None]]:
    """Code -> (kind, parent code) for the codes the directory knows; unknown codes are absent."""
    wanted = sorted(set(codes))
    out: dict[str, tuple[str, str | None]] = {}
    for start in range(0, len(wanted), 1000):  # a bulk file may name many schools: bounded IN lists
        rows = await session.execute(select(Organisation.code, Organisation.kind, Organisation.parent_code)
                                     .where(Organisation.code.in_(wanted[start:start + 1000])))
        out.update({code: (kind, parent) for code, kind, parent in rows})
    return out


async def district_of(session: AsyncSession, school_code: str) -> str | None:
    """The district a school belongs to in the directory; None when the directory does not know
    it as a school (unknown schools are not an error: the directory may lag)."""
    kind, parent = (await directory_parents(session, [school_code])).get(school_code, (None, None))
    return parent if kind == "school" else None


# --- reads ----------------------------------------------------------------------------------------


class OrganisationDirectory:
    """The repository and the rules of the directory; flushes, never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, code: str) -> Organisation | None:
        return await self.session.get(Organisation, code)

    async def search(self, *, kind: str | None = None, parent_code: str | None = None, status: str | None = None,
                     name_prefix: str | None = None, limit: int = 50, offset: int = 0) -> list[Organisation]:
        query = select(Organisation)
        if kind:
            query = query.where(Organisation.kind == kind)
        if parent_code:
            query = query.where(Organisation.parent_code == parent_code)
        if status:
            query = query.where(Organisation.status == status)
        if name_prefix:
            query = query.where(func.lower(Organisation.name).startswith(name_prefix.lower(), autoescape=True))
        return list(await self.session.scalars(query.order_by(Organisation.code).limit(limit).offset(offset)))

    async def as_of(self, code: str, moment: datetime) -> OrganisationVersion | None:
        """The entry as it stood at `moment`: its newest version recorded by then."""
        return await self.session.scalar(
            select(OrganisationVersion)
            .where(OrganisationVersion.code == code, OrganisationVersion.recorded_at <= moment)
            .order_by(OrganisationVersion.version.desc()).limit(1))

    async def history(self, code: str, *, limit: int, offset: int) -> list[OrganisationVersion]:
        return list(await self.session.scalars(
            select(OrganisationVersion).where(OrganisationVersion.code == code)
            .order_by(OrganisationVersion.version.desc()).limit(limit).offset(offset)))

    # --- writes -----------------------------------------------------------------------------------

    async def put(self, principal: Principal, code: str, entry: dict[str, Any], if_match: int | None) -> Written:
        """Create or replace one entry (`entry`: the validated request body as JSON values)."""
        if principal.role not in STATE_EDITORS | DISTRICT_EDITORS:
            raise Forbidden("The directory is written by state data staff, or by a district for its own entries.")
        current = await self.session.scalar(
            select(Organisation).where(Organisation.code == code).with_for_update())
        self._authorise(principal, code, current, entry)
        if current is None and if_match is not None:
            raise PreconditionFailed("There is no entry with this code to match; send no If-Match to create it.",
                                     errors=[_problem("If-Match", "Matches no entry.", "stale")])
        if current is not None:
            if if_match is None:
                raise PreconditionRequired("Send the entry's ETag in If-Match (GET it first) to change it.",
                                           headers={"ETag": etag(current.version)},
                                           errors=[_problem("If-Match", "Is required to change an entry.", "required")])
            if if_match != current.version:
                raise PreconditionFailed("The entry changed since it was read: fetch it again and retry.",
                                         headers={"ETag": etag(current.version)},
                                         errors=[_problem("If-Match", "Does not match the entry's current version.",
                                                          "stale")])
        await self._check(code, current, entry)
        if current is not None and current.entry == entry:
            return Written(current, "unchanged")
        return await self._write(principal, code, current, entry)

    def _authorise(self, principal: Principal, code: str, current: Organisation | None,
                   entry: dict[str, Any]) -> None:
        if principal.role in STATE_EDITORS:
            return
        mine = principal.district_ids
        kind = current.kind if current is not None else entry["kind"]
        parent = entry.get("parent_code")
        if kind == "state":
            raise Forbidden("The state's entry is written by state data staff.",
                            errors=[_problem("kind", "Is written by state data staff only.", "state-only")])
        if kind == "district":
            if code not in mine:
                raise Forbidden("A district writes its own entry only.",
                                errors=[_problem("code", "Is not a district of this caller.", "other-district")])
            if current is None:
                raise Forbidden("District entries are created by state data staff.",
                                errors=[_problem("code", "Is not in the directory yet.", "state-only")])
            if parent != current.parent_code:
                raise Forbidden("A district's parent is set by state data staff.",
                                errors=[_problem("parent_code", "Is set by state data staff only.", "state-only")])
            return
        owner = current.parent_code if current is not None else parent
        if owner not in mine:
            raise Forbidden("A district writes its own schools only.",
                            errors=[_problem("parent_code", "Is not a district of this caller.", "other-district")])
        if current is not None and parent != current.parent_code:
            raise Forbidden("Only state data staff move a school to another district.",
                            errors=[_problem("parent_code", "Is set by state data staff only.", "state-only")])

    async def _check(self, code: str, current: Organisation | None, entry: dict[str, Any]) -> None:
        """Everything wrong at once: kind, parent, type, grades, dates; then closing with open children."""
        problems: list[dict[str, str]] = []
        kind, parent_code, status = entry["kind"], entry.get("parent_code"), entry["status"]
        if current is not None and current.kind != kind:
            problems.append(_problem("kind", "Cannot change: make a new entry instead.", "immutable"))
        expected = PARENT_KIND[kind]
        if expected is None:
            if parent_code is not None:
                problems.append(_problem("parent_code", "Must be empty for the state.", "not-allowed"))
        elif parent_code is None:
            problems.append(_problem("parent_code", f"Is required: the {expected} this {kind} belongs to.",
                                     "required"))
        else:
            parent = await self.get(parent_code) if parent_code != code else None
            if parent is None or parent.kind != expected:
                problems.append(_problem("parent_code", f"Is not a {expected} in the directory.", "unknown-parent"))
            elif parent.status == "closed" and status == "open":
                problems.append(_problem("parent_code", f"Is a closed {expected}: an open {kind} cannot be in it.",
                                         "parent-closed"))
        if entry["type"] not in TYPES[kind]:
            problems.append(_problem("type", f"Is not a type of {kind} ({', '.join(TYPES[kind])}).", "wrong-kind"))
        problems += _grade_problems(entry.get("lowest_grade"), entry.get("highest_grade"))
        problems += _date_problems(status, entry.get("opened_on"), entry.get("closed_on"))
        if problems:
            raise UnprocessableContent("See 'errors' for every field that needs attention.", errors=problems)
        if status == "closed" and kind != "school" and current is not None:
            open_children = await self.session.scalar(
                select(func.count()).select_from(Organisation)
                .where(Organisation.parent_code == code, Organisation.status == "open"))
            if open_children:
                raise Conflict(f"{open_children} entries under this one are still open: close or move them first.",
                               errors=[_problem("status", "Has open entries under it.", "open-children")])

    async def _write(self, principal: Principal, code: str, current: Organisation | None,
                     entry: dict[str, Any]) -> Written:
        now = utcnow()
        columns = {"kind": entry["kind"], "parent_code": entry.get("parent_code"), "name": entry["name"],
                   "org_type": entry["type"], "status": entry["status"], "entry": entry,
                   "updated_by": principal.subject}
        if current is None:
            row = Organisation(code=code, version=1, created_at=now, updated_at=now, **columns)
            changed = sorted(k for k, v in entry.items() if v not in (None, []))
        else:
            row = current
            changed = sorted(k for k in entry.keys() | current.entry.keys() if entry.get(k) != current.entry.get(k))
            for name, value in columns.items():
                setattr(row, name, value)
            row.version += 1
            row.updated_at = now
        try:
            async with self.session.begin_nested():  # a concurrent writer of the same code loses cleanly
                if current is None:
                    self.session.add(row)
                self.session.add(OrganisationVersion(
                    code=code, version=row.version, operation="create" if current is None else "update",
                    entry=entry, changed=changed, recorded_at=now, recorded_by=principal.subject,
                    recorded_role=principal.role))
                await self.session.flush()
        except IntegrityError:
            raise PreconditionFailed("The entry was written by someone else meanwhile: fetch it and retry.",
                                     errors=[_problem("If-Match", "Does not match the entry's current version.",
                                                      "stale")]) from None
        return Written(row, "created" if current is None else "updated")


def _grade_problems(lowest: str | None, highest: str | None) -> list[dict[str, str]]:
    if lowest is None and highest is None:
        return []
    if lowest is None or highest is None:
        missing = "lowest_grade" if lowest is None else "highest_grade"
        return [_problem(missing, "Is required when the other end of the grade span is given.", "required")]
    if UNGRADED in (lowest, highest):
        if lowest != highest:
            return [_problem("highest_grade", "An ungraded span is UG to UG.", "grade-order")]
        return []
    order = [g for g in grade_codes() if g != UNGRADED]
    if order.index(highest) < order.index(lowest):
        return [_problem("highest_grade", "Must not be below lowest_grade.", "grade-order")]
    return []


def _date_problems(status: str, opened_on: str | None, closed_on: str | None) -> list[dict[str, str]]:
    if status == "closed" and closed_on is None:
        return [_problem("closed_on", "Is required when status is closed.", "required")]
    if status == "open" and closed_on is not None and date.fromisoformat(closed_on) <= datetime.now(UTC).date():
        return [_problem("closed_on", "Is past: set status to closed.", "status-mismatch")]
    if opened_on and closed_on and closed_on < opened_on:
        return [_problem("closed_on", "Must not be before opened_on.", "date-order")]
    return []
