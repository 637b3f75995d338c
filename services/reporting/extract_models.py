"""Tables of de-identified extract releases.

One row per extract released to a researcher: what was asked, under which agreement, how far each
quasi-identifier had to be generalised to reach k, how many rows went out and how many were
suppressed, and the disclosure-log entry it rests on. Never the rows themselves, and never the
per-extract pseudonym key (it exists only while the request runs, so no two extracts can be
joined on their pseudonyms, not even by the agency).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, new_uuid, utcnow

Document = JSON().with_variant(JSONB(), "postgresql")


class ExtractRelease(Base):
    """A de-identified student-level extract as released (metadata only). Never updated."""

    __tablename__ = "reporting_extract_release"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    agreement_id: Mapped[str] = mapped_column(String(36), index=True)
    data_request_id: Mapped[str | None] = mapped_column(String(36))
    requested_by: Mapped[str] = mapped_column(String(200), index=True)
    organisation: Mapped[str] = mapped_column(String(200))
    legal_basis: Mapped[str] = mapped_column(String(40))
    k: Mapped[int]
    population: Mapped[dict[str, Any]] = mapped_column(Document)  # school years, districts
    columns: Mapped[list[str]] = mapped_column(Document)
    generalisation: Mapped[dict[str, Any]] = mapped_column(Document)  # column -> level reached
    fields_released: Mapped[list[str]] = mapped_column(Document)  # dictionary fields behind the columns
    rows_released: Mapped[int]
    rows_suppressed: Mapped[int]
    students_released: Mapped[int]
    disclosure_seq: Mapped[int] = mapped_column(BigInteger)
    data_as_of: Mapped[datetime | None]
    released_at: Mapped[datetime] = mapped_column(default=utcnow)
