"""Reporting's routes.

Public (no token): the suppression presets, the report definitions, released tables (JSON or
CSV). Publishing a release: state-level reporting roles. Internal aggregates (unsuppressed):
roles whose row scope is the state, their districts or their schools, within that scope only.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from services.reporting import definitions as defs
from services.reporting import service
from shared.deps import CurrentPrincipal, DbSession
from shared.errors import Forbidden
from shared.policy.access import aggregate_scope
from shared.policy.roles import load_roles

reference = APIRouter(prefix="/reporting/v1", tags=["reference"])
releases = APIRouter(prefix="/reporting/v1", tags=["releases"])
internal = APIRouter(prefix="/reporting/v1", tags=["internal aggregates"])

# Who may publish: state staff responsible for public reporting (MOSIS Level 1 and the state
# reporting staff of 000/001). Publishing needs the whole state's unsuppressed data.
PUBLISHER_ROLES = frozenset({"state_data_admin", "state_reporting_analyst"})
SchoolYear = Annotated[str, Field(pattern=r"^\d{4}-\d{4}$")]
Name = Annotated[str, Query(max_length=64)]
YearQuery = Annotated[str, Query(pattern=r"^\d{4}-\d{4}$")]


def load_suppression_policies() -> dict[str, Any]:
    return defs.load_policies()


@reference.get("/suppression-policies", summary="Small-cell suppression presets (no token)")
async def suppression_policies() -> dict[str, Any]:
    return load_suppression_policies()


@reference.get("/definitions", summary="Measures, levels and subgroup dimensions (no token)")
async def report_definitions() -> dict[str, Any]:
    return defs.public_view()


class ReleaseRequest(BaseModel):
    measure: str = Field(max_length=64, examples=["ela_proficiency_rate"])
    level: str = Field(max_length=16, examples=["school"])
    dimension: str = Field(default="all", max_length=32, examples=["race_ethnicity"])
    school_year: SchoolYear = Field(examples=["2025-2026"])
    policy: str = Field(max_length=40, examples=["maine_n10"])


@releases.post("/releases", status_code=201, summary="Suppress, audit and publish a table")
async def publish_release(body: ReleaseRequest, session: DbSession, principal: CurrentPrincipal) -> dict[str, Any]:
    if principal.role not in PUBLISHER_ROLES:
        raise Forbidden("Only state reporting staff publish releases.")
    release = await service.publish(
        session, measure_code=body.measure, level=body.level, dimension_code=body.dimension,
        school_year=body.school_year, policy_code=body.policy, actor=principal.subject)
    return service.release_json(release)


@releases.get("/releases", summary="Published releases, newest first (no token)")
async def list_releases(
    session: DbSession,
    measure: Name | None = None, level: Name | None = None, dimension: Name | None = None,
    school_year: YearQuery | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    if level is not None and dimension is not None:
        _check_public_level(level, dimension)
    found = await service.list_releases(session, measure=measure, level=level, dimension=dimension,
                                        school_year=school_year, limit=limit, offset=offset)
    return {"releases": [{k: v for k, v in service.release_json(r).items() if k != "table"} for r in found],
            "limit": limit, "offset": offset}


def _check_public_level(level: str, dimension: str) -> None:
    dim = defs.dimension(dimension)
    if defs.finer(defs.level(level), dim["public_finest_level"]):
        raise defs.FinerThanAllowed(
            f"Public tables of this dimension stop at the {dim['public_finest_level']} level.",
            field="level")


@releases.get("/releases/{release_id}", summary="One released, suppressed table (no token)",
              responses={200: {"content": {"text/csv": {}}}})
async def get_release(release_id: Annotated[str, Path(max_length=36)], session: DbSession,
                      format: Literal["json", "csv"] = "json") -> Any:
    found = service.release_json(await service.get_release(session, release_id))
    if format == "csv":
        return Response(service.table_csv(found), media_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="release-{release_id}.csv"'})
    return found


@releases.get("/public/{measure}", summary="The latest released table of a report (no token)",
              responses={200: {"content": {"text/csv": {}}}})
async def latest_public(measure: Annotated[str, Path(max_length=64)], session: DbSession, level: Name,
                        school_year: YearQuery, dimension: Name = "all",
                        format: Literal["json", "csv"] = "json") -> Any:
    defs.measure(measure)
    _check_public_level(level, dimension)
    found = await service.list_releases(session, measure=measure, level=level, dimension=dimension,
                                        school_year=school_year, limit=1, offset=0)
    if not found:
        raise service.NotFound("Nothing of that report has been released.")
    return await get_release(found[0].id, session, format)


@internal.get("/aggregates", summary="Unsuppressed aggregates within the caller's scope")
async def aggregates(session: DbSession, principal: CurrentPrincipal, response: Response, measure: Name,
                     level: Name, school_year: YearQuery, dimension: Name = "all") -> dict[str, Any]:
    response.headers["Cache-Control"] = "no-store"  # unsuppressed small cells
    m, dim, lvl = defs.measure(measure), defs.dimension(dimension), defs.level(level)
    role = load_roles().get(principal.role)
    scope = aggregate_scope(principal)
    if role is None or role.aggregates_only or scope.kind not in ("all", "districts", "schools"):
        raise Forbidden("This role sees published (suppressed) reports only.")
    top = {"all": "state", "districts": "district", "schools": "school"}[scope.kind]
    if defs.finer(top, lvl):
        raise defs.FinerThanAllowed(f"Your scope starts at the {top} level.", field="level")
    await service.data_version(session, school_year)
    rows = await service.aggregate_rows(session, m, lvl, dim, school_year, scope)
    table = service.build_table(m["kind"], lvl, dim, rows, top_level=top)
    return {"measure": measure, "level": lvl, "dimension": dimension, "school_year": school_year,
            "scope": top, "suppressed": False, "definitions_version": defs.load_definitions()["version"],
            "table": service.table_json(table, suppressed=False)}
