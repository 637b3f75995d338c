"""Tables of the organisation directory (MOSIS Directory): the state, its districts and their
schools, one current row each, and every version an entry ever had.

The current row keeps the columns lists filter on (kind, parent, name, status) beside the whole
entry as the caller wrote it (`entry`); a version keeps the whole entry too, so `as_of` reads and
the history need nothing else. Directory information is public and names no student; staff
appear by their staff state ID, never an SSN (the request schema has no field for one).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.records.models import ChangeVersion, Document
from shared.db import Base, TimestampMixin, utcnow

KINDS = ("state", "district", "school")
STATUSES = ("open", "closed")


class Organisation(TimestampMixin, Base):
    """One entry as it stands now; `version` is its ETag. A school's parent is its district, a
    district's the state (the hierarchy row scope and the submission check use)."""

    __tablename__ = "records_organisation"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)  # "ST", "1001", "1001-01"
    kind: Mapped[str] = mapped_column(String(8))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("records_organisation.code"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    org_type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(8))
    entry: Mapped[dict[str, Any]] = mapped_column(Document)
    version: Mapped[int] = mapped_column(default=1)
    updated_by: Mapped[str] = mapped_column(String(200))


class OrganisationVersion(Base):
    """Every value an entry had, oldest first: who wrote it, when, which fields changed."""

    __tablename__ = "records_organisation_version"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(ChangeVersion, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(16))
    version: Mapped[int]
    operation: Mapped[str] = mapped_column(String(8))  # create | update
    entry: Mapped[dict[str, Any]] = mapped_column(Document)
    changed: Mapped[list[str]]  # top-level fields that differ from the previous version
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_role: Mapped[str] = mapped_column(String(40))
