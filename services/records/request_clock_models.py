"""Tables of parents' and eligible students' requests to inspect and review a student's education
records (FERPA 34 CFR 99.10), with their 45-day clock.

The due date is stored (received_on + the `records_inspection_response_days` setting, decided at
filing so a later change of the setting does not move a running clock); whether a request is
overdue is computed on read from `due_on` and the day asked about, never stored.

`InspectionRequestScope` keeps the districts and schools the student was enrolled in when the
request was received: the offices that owe the answer, even if the student leaves meanwhile.

The requester's description and the answering office's note are stored here and never written to
the access log, which names ids, roles and dates only.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, TimestampMixin, new_uuid

INSPECTION_STATUSES = ("requested", "answered")  # stored; "open" and "overdue" are computed
SCOPE_KINDS = ("district", "school")


class InspectionRequest(TimestampMixin, Base):
    """A parent's or eligible student's request to inspect and review the education records."""

    __tablename__ = "records_inspection_request"
    __table_args__ = (
        # The overdue list: unanswered requests whose due date has passed.
        Index("ix_records_inspection_request_open", "status", "due_on"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    state_student_id: Mapped[str] = mapped_column(String(16), index=True)
    requested_by: Mapped[str] = mapped_column(String(200), index=True)  # the principal's subject
    requester_role: Mapped[str] = mapped_column(String(40))
    records_requested: Mapped[str | None] = mapped_column(Text)  # the requester's words: never logged
    received_on: Mapped[date]
    due_on: Mapped[date]  # received_on + 45 calendar days (99.10(b))
    status: Mapped[str] = mapped_column(String(16), default="requested")
    answered_on: Mapped[date | None]
    answered_by: Mapped[str | None] = mapped_column(String(200))
    answerer_role: Mapped[str | None] = mapped_column(String(40))
    available_on: Mapped[date | None]  # the day the records were (or are) made available
    copies_provided: Mapped[bool | None]
    note: Mapped[str | None] = mapped_column(Text)  # stored, never logged


class InspectionRequestScope(Base):
    """A district or school the student was enrolled in when the request was received."""

    __tablename__ = "records_inspection_request_scope"
    __table_args__ = (Index("ix_records_inspection_request_scope_org", "kind", "org_id"),)

    request_id: Mapped[str] = mapped_column(
        ForeignKey("records_inspection_request.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # district | school
    org_id: Mapped[str] = mapped_column(String(32), primary_key=True)
