"""What the disclosure modules share: who may do what, today's date, refusals as problem+json, the
checked value types of request bodies, and the service's audit log.

The audit log (`slds.disclosure`) gets one short line per action with ids, roles, statuses and
counts; never field values, student IDs, names or anyone's words.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, Field
from stdnum import damm

from services.disclosure.legal_bases import LEGAL_BASES
from shared.errors import Forbidden, SLDSError, UnprocessableContent
from shared.policy.dictionary import load_data_dictionary
from shared.policy.principal import Principal
from shared.policy.roles import UnknownRoleError, get_role

audit = logging.getLogger("slds.disclosure")

STEWARD_ROLES = frozenset({"state_data_admin"})  # level 1: the state's data stewards
LOGGER_ROLES = frozenset({"state_data_admin", "service"})  # who writes disclosure-log entries
FAMILY_ROLES = frozenset({"parent", "eligible_student"})  # who holds FERPA rights over a record
LEGAL_BASIS_CODES = frozenset(b.code for b in LEGAL_BASES)
NO_STORE = {"Cache-Control": "no-store"}


def today() -> date:
    return datetime.now(UTC).date()


def org_key(name: str) -> str:
    """Organisation names compared the way people write them: case and spacing do not matter."""
    return " ".join(name.casefold().split())


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)


def subtract_business_days(day: date, count: int) -> date:
    """The date `count` business days (Monday to Friday) before `day`."""
    while count > 0:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


def is_level_one(principal: Principal) -> bool:
    try:
        return get_role(principal.role).level == 1
    except UnknownRoleError:
        return False


def is_steward(principal: Principal) -> bool:
    return principal.role in STEWARD_ROLES


def require_steward(principal: Principal, what: str) -> None:
    if not is_steward(principal):
        raise Forbidden(f"Only a state data steward (Level 1) may {what}.")


def is_family_of(principal: Principal, state_student_id: str) -> bool:
    return principal.role in FAMILY_ROLES and state_student_id in principal.student_ids


def problem(field: str, message: str, code: str = "invalid") -> dict[str, str]:
    return {"field": field, "code": code, "message": message}


def invalid(problems: list[dict[str, str]], detail: str | None = None) -> UnprocessableContent:
    return UnprocessableContent(detail or "See 'errors' for every field that needs attention.",
                                errors=problems)


class PartyBanned(SLDSError):
    """The party was found to have redisclosed improperly and is barred (34 CFR 99.33(e))."""

    status, code, title = 403, "party-banned", "The party is barred from student data"


class TransitionNotAllowed(SLDSError):
    status, code, title = 409, "transition-not-allowed", "This step is not allowed from the current status"

    def __init__(self, kind: str, current: str, wanted: str, allowed: list[str], **kw: Any) -> None:
        super().__init__(f"A {kind} in status '{current}' cannot move to '{wanted}'.",
                         current_status=current, allowed=sorted(allowed), **kw)


class SecondStewardRequired(SLDSError):
    """Separation of duties: a step that must be done by someone other than an earlier actor."""

    status, code, title = 409, "second-steward-required", "A different data steward must do this step"


# --- checked value types for request bodies (messages never quote the value) ---------------------


def _student_field(name: str) -> str:
    dictionary = load_data_dictionary()
    if not dictionary.has_field("student", name):
        raise ValueError("is not a field of the student data dictionary")
    if dictionary.field("student", name).never_returned:
        raise ValueError("is never disclosed (never_returned in the data dictionary)")
    return name


def _state_student_id(value: str) -> str:
    if not (len(value) == 10 and value.isdigit() and value[0] != "0" and damm.is_valid(value)):
        raise ValueError("is not a valid state student ID (length or check digit)")
    return value


def _legal_basis(code: str) -> str:
    if code not in LEGAL_BASIS_CODES:
        raise ValueError("is not a known legal basis (see GET /disclosure/v1/legal-bases)")
    return code


StudentField = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_student_field)]
StateStudentId = Annotated[str, Field(min_length=1, max_length=16), AfterValidator(_state_student_id)]
LegalBasisCode = Annotated[str, Field(min_length=1, max_length=40), AfterValidator(_legal_basis)]
Subject = Annotated[str, Field(max_length=200, pattern=r"^(user|client):[A-Za-z0-9_.@-]{1,150}$",
                               description="A principal: `user:<id>` or `client:<client_id>`")]
DistrictId = Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9_-]+$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(min_length=1, max_length=4000)]
Note = Annotated[str | None, Field(max_length=4000, description="Stored with the history, never logged")]
Reference = Annotated[str, Field(min_length=1, max_length=500)]


def unique(values: list[str]) -> list[str]:
    return sorted(set(values))
