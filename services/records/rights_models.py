"""Tables for the rights a parent or eligible student exercises over a record (FERPA 34 CFR
99.20-99.22: amendment, hearing, statement of disagreement; Utah 53A-1-1407: expungement) and for
the retention schedule (archive, then destroy).

The requester's own words (`AmendmentRequest.explanation`, `StatementOfDisagreement.text`) and the
deciders' reasons are stored here and never written to the access log: the log says who did what
to which record and fields, never what anyone wrote.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, TimestampMixin, new_uuid, utcnow

AMENDMENT_STATUSES = ("requested", "amended", "denied", "hearing_requested", "upheld_after_hearing",
                      "amended_after_hearing")
EXPUNGEMENT_STATUSES = ("requested", "expunged", "denied")


class AmendmentRequest(TimestampMixin, Base):
    """A parent's or eligible student's request to amend fields of a student record (99.20)."""

    __tablename__ = "records_amendment_request"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    state_student_id: Mapped[str] = mapped_column(String(16), index=True)
    requested_by: Mapped[str] = mapped_column(String(200))  # the principal's subject
    requester_role: Mapped[str] = mapped_column(String(40))
    fields: Mapped[list[str]]  # dictionary field names contested
    explanation: Mapped[str] = mapped_column(Text)  # the requester's words: stored, never logged
    status: Mapped[str] = mapped_column(String(24), default="requested")
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    hearing_requested_at: Mapped[datetime | None]
    # The hearing's written decision (99.22(f)), kept apart from the first decision.
    hearing_reason: Mapped[str | None] = mapped_column(Text)
    hearing_decided_by: Mapped[str | None] = mapped_column(String(200))
    hearing_decided_at: Mapped[datetime | None]


class StatementOfDisagreement(Base):
    """The parent's statement placed in the record after an amendment was refused (99.21(b)(2)):
    kept with the contested part of the record as long as that part is kept, and disclosed
    whenever that part is disclosed (99.21(c))."""

    __tablename__ = "records_statement_of_disagreement"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    amendment_request_id: Mapped[str] = mapped_column(
        ForeignKey("records_amendment_request.id", ondelete="CASCADE"), unique=True)
    state_student_id: Mapped[str] = mapped_column(String(16), index=True)
    fields: Mapped[list[str]]  # the contested fields (those of the request)
    text: Mapped[str] = mapped_column(Text)  # the parent's words: stored, never logged
    filed_by: Mapped[str] = mapped_column(String(200))
    filed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExpungementRequest(TimestampMixin, Base):
    """An eligible student's (23 or older) request to expunge expungeable sections (Utah
    53A-1-1407: medical and behavioural records; never grades, transcripts, enrollment or
    assessments)."""

    __tablename__ = "records_expungement_request"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    state_student_id: Mapped[str] = mapped_column(String(16), index=True)
    requested_by: Mapped[str] = mapped_column(String(200))
    sections: Mapped[list[str]]
    status: Mapped[str] = mapped_column(String(16), default="requested")
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]


class ArchiveState(Base):
    """Where a student's record stands in the retention schedule (see `retention.py`): archived
    (no longer active) and, later, destroyed (the non-permanent sections removed)."""

    __tablename__ = "records_archive_state"

    state_student_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    archived_at: Mapped[datetime | None]
    destroyed_at: Mapped[datetime | None]
