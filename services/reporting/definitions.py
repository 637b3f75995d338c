"""Report definitions as data (data/report_definitions.toml): measures, levels, dimensions, and
the SQL each one means over the fact table."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, true

from services.reporting.facts_model import StudentFact
from shared.errors import SLDSError

_DATA = Path(__file__).parent / "data"
LEVELS = ("state", "district", "school")


class UnknownName(SLDSError):
    status, code, title = 422, "unknown-name", "Unknown report element"


class FinerThanAllowed(SLDSError):
    status, code, title = 403, "finer-than-allowed", "Finer than policy allows"


@cache
def load_definitions() -> dict[str, Any]:
    return tomllib.loads((_DATA / "report_definitions.toml").read_text())


@cache
def load_policies() -> dict[str, Any]:
    return tomllib.loads((_DATA / "suppression_policies.toml").read_text())


def measure(code: str) -> dict[str, Any]:
    found = next((m for m in load_definitions()["measures"] if m["code"] == code), None)
    if found is None:
        raise UnknownName("There is no measure of that name.", field="measure")
    return found


def dimension(code: str) -> dict[str, Any]:
    found = next((d for d in load_definitions()["dimensions"] if d["code"] == code), None)
    if found is None:
        raise UnknownName("There is no grouping dimension of that name.", field="dimension")
    return found


def level(code: str) -> str:
    if code not in LEVELS:
        raise UnknownName("There is no level of that name (state, district, school).", field="level")
    return code


def policy(code: str) -> dict[str, Any]:
    found = next((p for p in load_policies()["policies"] if p["code"] == code), None)
    if found is None:
        raise UnknownName("There is no suppression policy of that name.", field="policy")
    return found


def finer(a: str, b: str) -> bool:
    """Whether level `a` is finer than level `b`."""
    return LEVELS.index(a) > LEVELS.index(b)


def _column(name: str) -> Any:
    col = StudentFact.__table__.columns.get(name)
    if col is None or name in ("student_key", "refreshed_at"):
        raise ValueError(f"report definitions name an unknown fact column {name!r}")
    return col


def condition(conds: list[dict[str, Any]]) -> ColumnElement[bool]:
    """The SQL of a list of conditions (all must hold)."""
    clauses = []
    for c in conds:
        col = _column(c["column"])
        if "is" in c:
            clauses.append(col.is_(c["is"]) if c["is"] is None else col == c["is"])
        elif c.get("not_null"):
            clauses.append(col.is_not(None))
        elif "at_least" in c:
            clauses.append(col >= c["at_least"])
        else:
            raise ValueError("a condition needs is, not_null or at_least")
    return and_(*clauses) if clauses else true()


def public_view() -> dict[str, Any]:
    """The definitions as served (and as copied into each release)."""
    d = load_definitions()
    return {"version": d["version"], "measures": d["measures"], "levels": list(LEVELS),
            "dimensions": d["dimensions"]}
