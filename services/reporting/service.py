"""Reporting's work: aggregate the fact table, suppress, audit against the ledger, publish."""

from __future__ import annotations

import csv
import hashlib
import io
import time
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting import definitions as defs
from services.reporting.audit import AuditRefused, Known, protect, published_knowledge
from services.reporting.facts_model import StudentFact
from services.reporting.models import ReleaseLedger, ReportRelease
from services.reporting.suppression import ALL, Cell, Row, Table, suppress
from shared.errors import NotFound, SLDSError
from shared.policy.access import RowScope

UNREPORTED = "unreported"


class ReleaseRefused(SLDSError):
    status, code, title = 422, "release-refused", "The release fails the disclosure audit"


class NoData(SLDSError):
    status, code, title = 404, "no-data", "No data for that school year"


def _value(v: Any) -> str:
    if v is None:
        return UNREPORTED
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _grouping(level: str, dimension: dict[str, Any]) -> list[Any]:
    """The GROUP BY columns: state, then district and school down to `level`, then the dimension."""
    keys = [StudentFact.state]
    if level in ("district", "school"):
        keys.append(StudentFact.district_id)
    if level == "school":
        keys.append(StudentFact.school_id)
    return keys + ([getattr(StudentFact, dimension["column"])] if "column" in dimension else [])


def _keyed(row: Any, level: str, dimension: dict[str, Any], d: int,
           x: int) -> tuple[str, str | None, str | None, str, int, int]:
    depth = defs.LEVELS.index(level) + 1
    return (row[0], row[1] if depth > 1 else None, row[2] if depth > 2 else None,
            _value(row[depth]) if "column" in dimension else ALL, d, x)


async def aggregate_rows(session: AsyncSession, measure: dict[str, Any], level: str,
                         dimension: dict[str, Any], school_year: str,
                         scope: RowScope | None = None) -> list[tuple[str, str | None, str | None, str, int, int]]:
    """(state, district, school, column, d, x) from one GROUP BY at the requested level."""
    group = _grouping(level, dimension)
    numerator = defs.condition(measure.get("numerator", []))
    query = (select(*group, func.count(), func.sum(case((numerator, 1), else_=0)))
             .where(StudentFact.school_year == school_year, defs.condition(measure["population"]))
             .group_by(*group))
    if scope is not None and scope.kind == "districts":
        query = query.where(StudentFact.district_id.in_(sorted(scope.district_ids)))
    elif scope is not None and scope.kind == "schools":
        query = query.where(StudentFact.school_id.in_(sorted(scope.school_ids)))
    return [_keyed(row, level, dimension, int(row[-2]), int(row[-1] or 0))
            for row in (await session.execute(query)).all()]


def build_table(kind: str, level: str, dimension: dict[str, Any],
                rows: list[tuple[str, str | None, str | None, str, int, int]],
                *, top_level: str = "state") -> Table:
    """The hierarchical table (state, districts, schools down to `level`), every row with its
    `all` cell and one cell per subgroup value; totals are the sums of the fine cells."""
    defined = [_value(v) for v in dimension.get("values", [])]
    seen = {r[3] for r in rows}
    subgroups = [] if "column" not in dimension else defined + sorted(seen - set(defined) - {ALL})
    cols = [ALL] + subgroups
    table_rows: dict[str, Row] = {}
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for state, district, school, col, d, x in rows:
        chain = [("state", state)]
        if district is not None:
            chain.append(("district", district))
        if school is not None:
            chain.append(("school", school))
        chain = chain[defs.LEVELS.index(top_level):]
        parent = None
        for lvl, unit in chain:
            rid = f"{lvl}:{unit}"
            table_rows.setdefault(rid, Row(rid, lvl, unit, parent))
            parent = rid
            for c in {col, ALL}:
                cell = sums[(rid, c)]
                cell[0] += d
                cell[1] += x
    cells = {}
    for rid in table_rows:
        for c in cols:
            d, x = sums.get((rid, c), (0, 0))
            cells[(rid, c)] = Cell(rid, c, d, x if kind == "rate" else None)
    return Table(kind, table_rows, cols, cells)


def table_json(table: Table, *, suppressed: bool) -> dict[str, Any]:
    rows = []
    for r in table.rows.values():
        cells = []
        for c in table.cols:
            cell = table.cells[(r.id, c)]
            if suppressed:
                entry: dict[str, Any] = {"column": c, "display": cell.display, "value": cell.value,
                                         "n": cell.n, "reason": cell.reason}
                if cell.protects:
                    entry["protects"] = cell.protects
            else:
                entry = {"column": c, "count": cell.d}
                if table.kind == "rate":
                    entry |= {"numerator": cell.x,
                              "rate": None if not cell.d else round(100 * (cell.x or 0) / cell.d, 1)}
            cells.append(entry)
        rows.append({"row": r.id, "level": r.level, "unit": r.unit,
                     "parent": r.parent, "cells": cells})
    return {"kind": table.kind, "columns": table.cols, "rows": rows}


def table_csv(release: dict[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["# release", release["id"], "measure", release["measure"], "school_year",
                     release["school_year"], "policy", f'{release["policy"]["code"]}@{release["policy"]["version"]}',
                     "data_as_of", release["data_as_of"], "released_at", release["released_at"]])
    writer.writerow(["level", "unit", "parent", "column", "display", "value", "n", "reason", "protects"])
    for row in release["table"]["rows"]:
        for cell in row["cells"]:
            writer.writerow([row["level"], row["unit"], row["parent"] or "", cell["column"],
                             cell["display"], "" if cell["value"] is None else cell["value"],
                             "" if cell["n"] is None else cell["n"], cell["reason"],
                             " ".join(cell.get("protects", []))])
    return buf.getvalue()


async def data_version(session: AsyncSession, school_year: str) -> tuple[datetime, int]:
    as_of, rows = (await session.execute(
        select(func.max(StudentFact.refreshed_at), func.count())
        .where(StudentFact.school_year == school_year))).one()
    if not rows:
        raise NoData("The fact table has no rows for that school year.", field="school_year")
    return as_of, rows


async def aggregate_with_version(session: AsyncSession, measure: dict[str, Any], level: str,
                                 dimension: dict[str, Any], school_year: str
                                 ) -> tuple[list[tuple[str, str | None, str | None, str, int, int]], datetime, int]:
    """`aggregate_rows` and `data_version` from one scan of the year's facts (a publish at a
    million students spent a second scan on the version alone): every group of the year is
    counted, its population and numerator by CASE, and the groups with no one of the population
    dropped, as the WHERE of `aggregate_rows` would."""
    group = _grouping(level, dimension)
    population = defs.condition(measure["population"])
    numerator = and_(population, defs.condition(measure.get("numerator", [])))
    query = (select(*group, func.sum(case((population, 1), else_=0)), func.sum(case((numerator, 1), else_=0)),
                    func.max(StudentFact.refreshed_at), func.count())
             .where(StudentFact.school_year == school_year)
             .group_by(*group))
    if session.bind.dialect.name == "postgresql":
        # JIT-compiling this plan costs more (~80 ms at a million rows) than it saves.
        await session.execute(text("SET LOCAL jit = off"))
    out, as_of, nrows = [], None, 0
    for row in (await session.execute(query)).all():
        nrows += int(row[-1])
        as_of = row[-2] if as_of is None or row[-2] > as_of else as_of
        d = int(row[-4] or 0)
        if not d:
            continue
        out.append(_keyed(row, level, dimension, d, int(row[-3] or 0)))
    if not nrows:
        raise NoData("The fact table has no rows for that school year.", field="school_year")
    return out, as_of, nrows


def population_key(measure: dict[str, Any], school_year: str, as_of: datetime, rows: int) -> str:
    """Releases over the same students (same population rule, year and data) share a ledger."""
    key = repr((sorted(map(repr, measure["population"])), school_year, as_of.isoformat(), rows))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


async def earlier_knowledge(session: AsyncSession, pop_key: str, measure_code: str) -> dict[str, Known]:
    """What earlier releases of the population made public, per cell. A release of another
    measure over the same population shares its counts (denominators), not its numerators."""
    out: dict[str, Known] = {}
    rows = await session.execute(select(ReleaseLedger.measure, ReleaseLedger.cells)
                                 .where(ReleaseLedger.population_key == pop_key))
    for measure, cells in rows:
        for cell_id, known in cells.items():
            k = Known.from_dict(known)
            if measure != measure_code:
                k = Known(k.d_lo, k.d_hi)
            out[cell_id] = out[cell_id].merge(k) if cell_id in out else k
    return out


def release_json(r: ReportRelease) -> dict[str, Any]:
    return {
        "id": r.id, "measure": r.measure, "level": r.level, "dimension": r.dimension,
        "school_year": r.school_year, "released_at": r.released_at.isoformat(),
        "data_as_of": r.data_as_of.isoformat(),
        "policy": {"code": r.policy_code, "version": r.policy_version},
        "definitions": r.definitions, "audit": r.audit, "table": r.table,
    }


async def publish(session: AsyncSession, *, measure_code: str, level: str, dimension_code: str,
                  school_year: str, policy_code: str, actor: str) -> ReportRelease:
    measure, dimension = defs.measure(measure_code), defs.dimension(dimension_code)
    policy = defs.policy(policy_code)
    defs.level(level)
    if defs.finer(level, dimension["public_finest_level"]):
        raise defs.FinerThanAllowed(
            "A public release of this dimension may not go below the "
            f"{dimension['public_finest_level']} level.", field="level")
    rows, as_of, nrows = await aggregate_with_version(session, measure, level, dimension, school_year)
    table = build_table(measure["kind"], level, dimension, rows)
    pop_key = population_key(measure, school_year, as_of, nrows)
    earlier = await earlier_knowledge(session, pop_key, measure_code)
    suppress(table, policy)
    started = time.perf_counter()
    try:
        result = protect(table, policy, earlier)
    except AuditRefused as refused:
        raise ReleaseRefused("Some hidden cells could still be narrowed down; nothing was published.",
                             failures=refused.failures) from None
    all_defs = defs.load_definitions()
    release = ReportRelease(
        measure=measure_code, level=level, dimension=dimension_code, school_year=school_year,
        population_key=pop_key, policy_code=policy_code, policy_version=defs.load_policies()["version"],
        definitions_version=all_defs["version"],
        definitions={"version": all_defs["version"], "measure": measure,
                     "dimension": {k: v for k, v in dimension.items() if k != "public_finest_level"},
                     "policy": policy},
        data_as_of=as_of, released_by=actor,
        audit={"hidden_cells": len(result.intervals) + len(result.exempt),
               "previously_published": result.exempt, "rounds": result.rounds, "lp_calls": result.lps,
               "rule": policy["audit"], "seconds": round(time.perf_counter() - started, 4),
               "narrowest": _narrowest(result)},
        table=table_json(table, suppressed=True),
    )
    knowledge = published_knowledge(table, policy)
    session.add(release)
    await session.flush()  # the release row first: the ledger's foreign key (no relationship orders them)
    session.add(ReleaseLedger(release_id=release.id, population_key=pop_key, measure=measure_code,
                              cells={cid: k.as_dict() for cid, k in knowledge.items()}))
    await session.flush()
    return release


def _narrowest(result: Any) -> dict[str, Any] | None:
    if not result.intervals:
        return None
    iv = min(result.intervals.values(), key=lambda i: i.width)
    return {"kind": iv.kind, "width": iv.width if iv.kind == "count" else round(iv.width * 100, 2)}


async def get_release(session: AsyncSession, release_id: str) -> ReportRelease:
    found = await session.get(ReportRelease, release_id)
    if found is None:
        raise NotFound("No release with that id.")
    return found


async def list_releases(session: AsyncSession, *, measure: str | None, level: str | None,
                        dimension: str | None, school_year: str | None, limit: int, offset: int) -> list[ReportRelease]:
    query = select(ReportRelease).order_by(ReportRelease.released_at.desc(), ReportRelease.id)
    for col, value in ((ReportRelease.measure, measure), (ReportRelease.level, level),
                       (ReportRelease.dimension, dimension), (ReportRelease.school_year, school_year)):
        if value is not None:
            query = query.where(col == value)
    return list((await session.execute(query.limit(limit).offset(offset))).scalars())
