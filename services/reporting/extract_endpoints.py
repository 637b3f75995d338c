"""De-identified student-level extracts for high-risk data requests, under an active agreement.

A researcher (a role whose reach is `grants`) asks for an extract under one of its agreements in
force today, which reporting learns from disclosure with the caller's own token (as records does).
The agreement must name the caller, be a district cohort covering the districts asked for, and
cover the data dictionary fields behind every column asked for; otherwise 403. The extract is
de-identified (`extracts.py`), logged to the FERPA 99.32 disclosure log with reporting's own
service token before it leaves (fail closed: 503 when the entry cannot be written, 403 when
disclosure refuses it, and nothing is released or stored), then stored as metadata only.

- POST /reporting/v1/extracts        the extract (JSON, or CSV with `?format=csv` / Accept: text/csv)
- GET  /reporting/v1/extracts/{id}   the release's metadata (the requester, or Level 1), never the data
"""

from __future__ import annotations

import csv
import io
import logging
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import Field
from sqlalchemy import select

from services.reporting import extracts as deid
from services.reporting.extract_models import ExtractRelease
from services.reporting.facts_model import StudentFact
from services.reporting.service import NoData
from shared.db import new_uuid
from shared.deps import ClearedPrincipal, DbSession, State
from shared.disclosure_client import ReleaseGrant, disclosure_client
from shared.errors import Forbidden, NotFound, SLDSError, UnprocessableContent
from shared.policy.principal import Principal
from shared.policy.roles import UnknownRoleError, get_role
from shared.schemas import RequestModel, ResponseModel

extracts = APIRouter(prefix="/reporting/v1", tags=["de-identified extracts"])

audit = logging.getLogger("slds.reporting")
NO_STORE = {"Cache-Control": "no-store"}
READERS = frozenset({"state_data_admin"})  # Level 1 reads any release's metadata
ColumnName = Literal[tuple(deid.COLUMNS)]  # type: ignore[valid-type]
SchoolYear = Annotated[str, Field(pattern=r"^\d{4}-\d{4}$")]
DistrictId = Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9_-]+$")]
RefId = Annotated[str, Field(min_length=1, max_length=36)]


class ExtractRefused(SLDSError):
    status, code, title = 422, "extract-refused", "No student-level data can be released at this k"


class ExtractIn(RequestModel):
    agreement_id: RefId = Field(description="An agreement in force today naming the caller (GET /disclosure/v1/grants/mine)")
    data_request_id: RefId | None = Field(None, description="The high-risk data request it fulfils, cited in the log")
    columns: list[ColumnName] = Field(min_length=1, max_length=len(deid.COLUMNS), description=(
        "Fact columns: quasi-identifiers (generalised to reach k) and outcomes"))
    school_years: list[SchoolYear] = Field(min_length=1, max_length=20)
    district_ids: list[DistrictId] = Field(default_factory=list, max_length=500,
                                           description="Default: every district of the agreement")
    k: int | None = Field(None, ge=1, le=1000, description="Default and minimum: SLDS_EXTRACT_MIN_K")


class ExtractOut(ResponseModel):
    id: str
    agreement_id: str
    data_request_id: str | None
    requested_by: str
    organisation: str
    legal_basis: str
    k: int
    population: dict[str, Any]
    columns: list[str]
    generalisation: dict[str, str] = Field(description="Level reached per quasi-identifier")
    fields_released: list[str]
    rows_released: int
    rows_suppressed: int
    students_released: int
    disclosure_seq: int
    data_as_of: datetime | None
    released_at: datetime


def _grant_holder(principal: Principal) -> bool:
    try:
        return get_role(principal.role).row_scope == "grants"
    except UnknownRoleError:
        return False


def _grant_for(grants: tuple[ReleaseGrant, ...], body: ExtractIn) -> tuple[ReleaseGrant, list[str]]:
    """The agreement asked for, if it is in force for the caller and covers the request; the
    districts of the extract."""
    grant = next((g for g in grants if g.agreement_id == body.agreement_id), None)
    if grant is None:
        raise Forbidden("You hold no agreement in force today with that id.")
    if not grant.access.district_ids:
        raise Forbidden("The agreement lists students, not districts: a de-identified extract needs a district "
                        "cohort agreement.", errors=[{"field": "body.agreement_id", "code": "not-cohort",
                                                      "message": "Is not a district cohort agreement."}])
    problems = [{"field": f"body.district_ids[{i}]", "code": "not-covered", "message": "Is not a district of the agreement."}
                for i, d in enumerate(body.district_ids) if d not in grant.access.district_ids]
    problems += [{"field": f"body.columns[{i}]", "code": "not-covered",
                  "message": "Needs data dictionary fields the agreement does not cover."}
                 for i, c in enumerate(body.columns) if not set(deid.COLUMNS[c]) <= grant.access.fields]
    if not set(deid.ALWAYS_FIELDS) <= grant.access.fields:
        problems.append({"field": "body.agreement_id", "code": "not-covered",
                         "message": "Does not cover the school year (enrollment.school_year)."})
    if problems:
        raise Forbidden("The agreement does not cover this extract.", errors=problems)
    return grant, sorted(set(body.district_ids) or grant.access.district_ids)


async def _facts(session: DbSession, years: list[str], districts: list[str]) -> list[StudentFact]:
    rows = (await session.scalars(select(StudentFact).where(
        StudentFact.school_year.in_(years), StudentFact.district_id.in_(districts)))).all()
    if not rows:
        raise NoData("The fact table has no students of those school years and districts.", field="body.school_years")
    return list(rows)


def _csv(release: ExtractRelease, rows: list[dict[str, Any]], header: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["# extract", release.id, "k", release.k, "agreement", release.agreement_id,
                     "rows_released", release.rows_released, "rows_suppressed", release.rows_suppressed,
                     "generalisation", " ".join(f"{q}={lvl}" for q, lvl in release.generalisation.items())])
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row[c] for c in header])
    return buf.getvalue()


def _wants_csv(request: Request, format: str | None) -> bool:
    if format is not None:
        return format == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


@extracts.post("/extracts", status_code=201, summary="A de-identified, k-anonymous student-level extract",
               responses={201: {"content": {"text/csv": {}}}})
async def create_extract(body: ExtractIn, request: Request, response: Response, session: DbSession, state: State,
                         principal: ClearedPrincipal, format: Literal["json", "csv"] | None = None) -> Any:
    response.headers.update(NO_STORE)
    if not _grant_holder(principal):
        raise Forbidden("Extracts go to researchers and vendors under an agreement in force.")
    settings = state.settings
    k = body.k if body.k is not None else settings.extract_min_k
    if k < settings.extract_min_k:
        raise UnprocessableContent("k is below the configured minimum.", errors=[{
            "field": "body.k", "code": "below-minimum", "message": f"Must be at least {settings.extract_min_k}."}])
    columns = [c for c in deid.COLUMNS if c in set(body.columns)]  # catalogue order, no repeats
    years = sorted(set(body.school_years))
    link = disclosure_client(state, "reporting")
    grant, districts = _grant_for(await link.grants(request.headers.get("authorization", "")), body)
    await link.prepare()

    facts = await _facts(session, years, districts)
    data_as_of = max(f.refreshed_at for f in facts)
    extract = deid.deidentify(facts, columns, k=k, max_suppressed_fraction=settings.extract_max_suppressed_fraction)
    del facts
    if not extract.rows:
        raise ExtractRefused("No group of students reaches k even at the most general level; nothing was released.",
                             field="body.k")
    fields = deid.fields_for(columns)
    extract_id = new_uuid()
    # End the read before disclosure writes its log in its own transaction (on SQLite it could not
    # start while this session holds a lock). Log first: if the entry is not written, nothing leaves.
    await session.commit()
    seq = await link.log(grant.log_entry(principal.subject, fields=fields, students=[],
                                         day=datetime.now(UTC).date(), reference=f"reporting extract {extract_id}")
                         | {"deidentified_records": extract.rows_released, "data_request_id": body.data_request_id})
    release = ExtractRelease(
        id=extract_id, agreement_id=grant.agreement_id, data_request_id=body.data_request_id,
        requested_by=principal.subject, organisation=grant.organisation, legal_basis=grant.legal_basis, k=k,
        population={"school_years": years, "district_ids": districts}, columns=columns,
        generalisation=extract.generalisation, fields_released=fields, rows_released=extract.rows_released,
        rows_suppressed=extract.rows_suppressed, students_released=extract.students_released,
        disclosure_seq=seq, data_as_of=data_as_of)
    session.add(release)
    await session.flush()
    audit.info("extract released", extra={"extract_id": extract_id, "agreement_id": grant.agreement_id,
                                          "actor": principal.subject, "k": k, "rows": extract.rows_released,
                                          "suppressed": extract.rows_suppressed, "disclosure_seq": seq})
    header = ["pseudonym", *deid.quasi_identifier_columns(columns),
              *(c for c in columns if c in deid.OUTCOME_COLUMNS)]
    location = f"/reporting/v1/extracts/{extract_id}"
    if _wants_csv(request, format):
        return Response(_csv(release, extract.rows, header), status_code=201, media_type="text/csv",
                        headers=NO_STORE | {"Location": location,
                                            "Content-Disposition": f'attachment; filename="extract-{extract_id}.csv"'})
    response.headers["Location"] = location
    return ExtractOut.model_validate(release).model_dump(mode="json") | {"header": header, "rows": extract.rows}


@extracts.get("/extracts/{extract_id}", response_model=ExtractOut,
              summary="An extract release's metadata (the requester or Level 1); never the data again")
async def get_extract(extract_id: Annotated[str, Path(max_length=36)], session: DbSession,
                      principal: ClearedPrincipal, response: Response) -> ExtractRelease:
    response.headers.update(NO_STORE)
    release = await session.get(ExtractRelease, extract_id)
    if release is None or not (principal.role in READERS or principal.subject == release.requested_by):
        raise NotFound("No such extract.")
    return release

