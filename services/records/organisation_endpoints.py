"""The directory of education organisations (state, districts, schools) over HTTP: public reads
with no token (directory information: no student in it), dated history, and writes by the state
or by a district for its own entries. The rules live in `organisations.py`."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Path, Query, Response
from pydantic import AfterValidator, BeforeValidator, Field

from services.identity.state_ids import StaffStateId
from services.records.organisations import (
    ALL_TYPES,
    OrganisationDirectory,
    etag,
    grade_codes,
    public_view,
    version_view,
)
from shared.deps import CurrentPrincipal, DbSession, ReadSession
from shared.errors import NotFound, UnprocessableContent
from shared.schemas import RequestModel, ResponseModel, iso_text_only

organisations = APIRouter(prefix="/records/v1", tags=["organisation directory"])

PUBLIC = {"Cache-Control": "public, max-age=60"}  # directory information: short, so changes show soon
NO_STORE = {"Cache-Control": "no-store"}
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{0,15}$"
PHONE_PATTERN = r"^\+?1?[ .-]?\(?[2-9]\d{2}\)?[ .-]?\d{3}[ .-]?\d{4}( ?(x|ext\.?) ?\d{1,6})?$"  # NANP, never 3-2-4

Kind = Literal["state", "district", "school"]
Status = Literal["open", "closed"]
OrgType = Literal[ALL_TYPES]  # type: ignore[valid-type]
GradeCode = Literal[grade_codes()]  # type: ignore[valid-type]
Code = Annotated[str, Field(min_length=1, max_length=16, pattern=CODE_PATTERN)]
CodePath = Annotated[str, Path(max_length=16, pattern=CODE_PATTERN,
                                description="State `ST`, district `1001`, school `1001-01`")]
Phone = Annotated[str, Field(max_length=40, pattern=PHONE_PATTERN, description="A 10-digit phone number")]
Email = Annotated[str, Field(max_length=320, pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")]
Website = Annotated[str, Field(max_length=300, pattern=r"^https?://[^\s/?#.\x00-\x1f\x7f]+(\.[^\s/?#.\x00-\x1f\x7f]+)+([/?#][^\s\x00-\x1f\x7f]*)?$")]
LINE = r"^[^\x00-\x1f\x7f]*$"  # one line of text; PostgreSQL text holds no NUL byte
Text200 = Annotated[str, Field(min_length=1, max_length=200, pattern=LINE)]


def _as_of(value: Any) -> Any:
    """A date alone means the end of that day (UTC); a date-time is taken as given (UTC if naive)."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return datetime.combine(date.fromisoformat(value), time.max, tzinfo=UTC)
        except ValueError:
            raise ValueError("must be an ISO 8601 date (YYYY-MM-DD) or date-time") from None
    return iso_text_only(value)


def _in_utc(value: datetime) -> datetime:
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 has no UTC time
        raise ValueError("is out of range") from None


AsOf = Annotated[datetime, BeforeValidator(_as_of), AfterValidator(_in_utc)]


# --- bodies ---------------------------------------------------------------------------------------


class AddressIn(RequestModel):
    street: Text200
    street2: Annotated[str | None, Field(max_length=200, pattern=LINE)] = None
    city: Annotated[str, Field(min_length=1, max_length=100, pattern=LINE)]
    state: Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="USPS state code")]
    postal_code: Annotated[str, Field(pattern=r"^\d{5}(-\d{4})?$")]


class PersonIn(RequestModel):
    """An administrator or contact. Staff appear by their staff state ID (`S` + 8 digits + check
    digit), never an SSN: there is no field for one, and an unknown field is refused."""

    title: Annotated[str, Field(min_length=1, max_length=100, pattern=LINE, description="e.g. Superintendent, Principal")]
    name: Text200
    staff_id: StaffStateId | None = None
    email: Email | None = None
    phone: Phone | None = None


class OrganisationIn(RequestModel):
    kind: Kind
    parent_code: Annotated[Code | None, Field(description="A school's district; a district's state; none for the state")] = None
    name: Text200
    type: Annotated[OrgType, Field(description="Must fit the kind (e.g. a school is elementary, middle, high...)")]
    lowest_grade: GradeCode | None = None
    highest_grade: GradeCode | None = None
    address: AddressIn | None = None
    phone: Phone | None = None
    email: Email | None = None
    website: Website | None = None
    status: Status = "open"
    opened_on: date | None = None
    closed_on: date | None = None
    administrators: Annotated[list[PersonIn], Field(default_factory=list, max_length=20)]
    contacts: Annotated[list[PersonIn], Field(default_factory=list, max_length=20)]


EXAMPLE = {
    "kind": "school", "parent_code": "1001", "name": "Love Elementary School", "type": "elementary",
    "lowest_grade": "KG", "highest_grade": "05", "status": "open", "opened_on": "1998-08-17",
    "address": {"street": "5767 Frank Rd", "city": "Anthonyshire", "state": "MO", "postal_code": "93951"},
    "phone": "573-555-0142", "website": "https://love.anthonyshire.k12.example",
    "administrators": [{"title": "Principal", "name": "Dana Reyes", "staff_id": "S100000011",
                        "email": "dreyes@anthonyshire.k12.example", "phone": "573-555-0143"}],
    "contacts": [{"title": "MOSIS data contact", "name": "Lee Park", "email": "lpark@anthonyshire.k12.example"}],
}


# --- answers --------------------------------------------------------------------------------------


class OrganisationOut(ResponseModel):
    code: str
    kind: str
    parent_code: str | None = None
    name: str
    type: str
    lowest_grade: str | None = None
    highest_grade: str | None = None
    address: AddressIn | None = None
    phone: str | None = None
    email: str | None = None
    website: str | None = None
    status: str
    opened_on: date | None = None
    closed_on: date | None = None
    administrators: list[PersonIn] = Field(default_factory=list)
    contacts: list[PersonIn] = Field(default_factory=list)
    version: int = Field(description="This version's number; the current one is the ETag")
    updated_at: datetime


class OrganisationList(ResponseModel):
    items: list[OrganisationOut]
    next_offset: int | None = None


class VersionOut(ResponseModel):
    version: int
    operation: str
    recorded_at: datetime
    recorded_by: str = Field(description="The token subject that wrote it")
    recorded_role: str
    changed: list[str] = Field(description="Fields that differ from the version before")
    entry: OrganisationOut


class HistoryOut(ResponseModel):
    code: str
    versions: list[VersionOut]
    next_offset: int | None = None


def _page(rows: list[Any], limit: int, offset: int) -> int | None:
    return offset + limit if len(rows) == limit else None


def _parse_if_match(value: str | None) -> int | None:
    if value is None:
        return None
    raw = value.strip().removeprefix("W/").strip('"')
    if not raw.isdigit() or len(raw) > 9:
        raise UnprocessableContent("If-Match must be an ETag this service gave out.",
                                   errors=[{"field": "If-Match", "code": "invalid",
                                            "message": "Is not an ETag of a directory entry."}])
    return int(raw)


# --- reads (public) -------------------------------------------------------------------------------


@organisations.get("/organisations", response_model=OrganisationList,
                   summary="Search the directory of the state, districts and schools (no token)")
async def list_organisations(session: ReadSession, response: Response,
                             kind: Kind | None = None,
                             parent_code: Annotated[str | None, Query(max_length=16, pattern=CODE_PATTERN)] = None,
                             status: Status | None = None,
                             name_prefix: Annotated[str | None, Query(min_length=1, max_length=200, pattern=LINE,
                                                                      description="Case-insensitive")] = None,
                             limit: Annotated[int, Query(ge=1, le=500)] = 50,
                             offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> OrganisationList:
    rows = await OrganisationDirectory(session).search(kind=kind, parent_code=parent_code, status=status,
                                                       name_prefix=name_prefix, limit=limit, offset=offset)
    response.headers.update(PUBLIC)
    return OrganisationList(items=[OrganisationOut.model_validate(public_view(r)) for r in rows],
                            next_offset=_page(rows, limit, offset))


@organisations.get("/organisations/{code}", response_model=OrganisationOut,
                   summary="One directory entry, now or as it stood at `as_of` (no token)",
                   responses={404: {"description": "No such entry (or none yet at `as_of`)"}})
async def get_organisation(code: CodePath, session: ReadSession, response: Response,
                           as_of: Annotated[AsOf | None, Query(
                               description="A date (its end, UTC) or a date-time: the entry as it stood then")] = None,
                           ) -> OrganisationOut:
    directory = OrganisationDirectory(session)
    if as_of is not None:
        version = await directory.as_of(code, as_of)
        if version is None:
            raise NotFound("The directory had no entry with this code then.")
        response.headers.update(PUBLIC)
        return OrganisationOut.model_validate(version_view(version))
    row = await directory.get(code)
    if row is None:
        raise NotFound("No directory entry with this code.")
    response.headers.update({**PUBLIC, "ETag": etag(row.version)})
    return OrganisationOut.model_validate(public_view(row))


@organisations.get("/organisations/{code}/children", response_model=OrganisationList,
                   summary="The entries under one: a state's districts, a district's schools (no token)")
async def list_children(code: CodePath, session: ReadSession, response: Response,
                        status: Status | None = None,
                        limit: Annotated[int, Query(ge=1, le=500)] = 50,
                        offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> OrganisationList:
    directory = OrganisationDirectory(session)
    if await directory.get(code) is None:
        raise NotFound("No directory entry with this code.")
    rows = await directory.search(parent_code=code, status=status, limit=limit, offset=offset)
    response.headers.update(PUBLIC)
    return OrganisationList(items=[OrganisationOut.model_validate(public_view(r)) for r in rows],
                            next_offset=_page(rows, limit, offset))


@organisations.get("/organisations/{code}/history", response_model=HistoryOut,
                   summary="Every version of an entry, newest first: who changed what, when (no token)")
async def organisation_history(code: CodePath, session: ReadSession, response: Response,
                               limit: Annotated[int, Query(ge=1, le=500)] = 100,
                               offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> HistoryOut:
    directory = OrganisationDirectory(session)
    versions = await directory.history(code, limit=limit, offset=offset)
    if not versions and await directory.get(code) is None:
        raise NotFound("No directory entry with this code.")
    response.headers.update(PUBLIC)
    return HistoryOut(code=code, next_offset=_page(versions, limit, offset), versions=[
        VersionOut(version=v.version, operation=v.operation, recorded_at=v.recorded_at, recorded_by=v.recorded_by,
                   recorded_role=v.recorded_role, changed=list(v.changed),
                   entry=OrganisationOut.model_validate(version_view(v)))
        for v in versions])


# --- writes ---------------------------------------------------------------------------------------


@organisations.put("/organisations/{code}", response_model=OrganisationOut, status_code=200,
                   summary="Create or replace an entry (state data staff; a district its own entry and schools)",
                   responses={201: {"description": "Created"}, 403: {"description": "Not the caller's entry"},
                              409: {"description": "Closing an entry with open entries under it"},
                              412: {"description": "If-Match is stale"},
                              428: {"description": "If-Match is missing on an update"},
                              422: {"description": "Invalid fields"}})
async def put_organisation(code: CodePath, body: Annotated[OrganisationIn, Body(openapi_examples={"school": {"value": EXAMPLE}})],
                           session: DbSession, principal: CurrentPrincipal, response: Response,
                           if_match: Annotated[str | None, Header(
                               description="The entry's ETag (required to change an existing entry)")] = None,
                           ) -> OrganisationOut:
    """The whole entry is sent: what is left out is cleared. An identical entry writes no version."""
    written = await OrganisationDirectory(session).put(principal, code, body.model_dump(mode="json"),
                                                       _parse_if_match(if_match))
    if written.outcome == "created":
        response.status_code = 201
        response.headers["Location"] = f"/records/v1/organisations/{code}"
    response.headers.update({**NO_STORE, "ETag": etag(written.row.version)})
    return OrganisationOut.model_validate(public_view(written.row))
