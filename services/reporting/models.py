"""Reporting's own tables: the releases it published and the ledger of what each made public.

The fact table it aggregates is not here: it belongs to the records feed (facts_model.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, new_uuid, utcnow

Document = JSON().with_variant(JSONB(), "postgresql")


class ReportRelease(Base):
    """One published table: what was asked, under which definitions and suppression policy (with
    their versions), over data as of when, and the suppressed table exactly as served. Never
    updated; a refused release is never stored."""

    __tablename__ = "reporting_release"
    __table_args__ = (Index("ix_reporting_release_lookup", "measure", "level", "dimension", "school_year"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    measure: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))
    dimension: Mapped[str] = mapped_column(String(32))
    school_year: Mapped[str] = mapped_column(String(9))
    population_key: Mapped[str] = mapped_column(String(200), index=True)
    policy_code: Mapped[str] = mapped_column(String(40))
    policy_version: Mapped[str] = mapped_column(String(20))
    definitions_version: Mapped[str] = mapped_column(String(20))
    definitions: Mapped[dict[str, Any]] = mapped_column(Document)
    data_as_of: Mapped[datetime]
    released_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_by: Mapped[str] = mapped_column(String(200))
    audit: Mapped[dict[str, Any]] = mapped_column(Document)
    table: Mapped[dict[str, Any]] = mapped_column(Document)


class ReleaseLedger(Base):
    """What one release made public about each of its cells (bounds on its count, numerator and
    rate), as one document keyed by cell id: the audit of every later release of the same
    population starts from these. One row per release, not one per cell: a statewide table has
    17,608 cells, and writing them as rows (two indexes, a foreign key check each) took longer
    than the rest of storing the release."""

    __tablename__ = "reporting_release_ledger"

    release_id: Mapped[str] = mapped_column(ForeignKey("reporting_release.id"), primary_key=True)
    population_key: Mapped[str] = mapped_column(String(200), index=True)
    measure: Mapped[str] = mapped_column(String(64))
    cells: Mapped[dict[str, Any]] = mapped_column(Document)
