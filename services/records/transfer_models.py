"""Tables of record transfer requests between districts (Missouri RSMo 167.020).

One row per request a receiving district makes of one previous district for one student: the two
statutory clocks as dates (request due two business days after enrolment, answer due five business
days after the request), the answer (which sections were sent, or why there was nothing to send)
and the FERPA 99.32 disclosure-log entry the answer was recorded under. Whether a request is
overdue is computed on read from `answer_due_on` and today, never stored.

The answering district's note and refusal reason are stored here and never written to the access
log, which names ids, districts, sections and dates only.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, TimestampMixin, new_uuid

TRANSFER_STATUSES = ("requested", "answered")  # stored; "overdue" is computed
TRANSFER_OUTCOMES = ("records_sent", "nothing_to_send")


class TransferRequest(TimestampMixin, Base):
    """A receiving district's request for a transfer student's records from a previous district."""

    __tablename__ = "records_transfer_request"
    __table_args__ = (
        # One request per student, receiving district, previous district and enrolment.
        UniqueConstraint("state_student_id", "requesting_district_id", "previous_district_id", "enrolled_on",
                         name="uq_records_transfer_request_enrolment"),
        # The overdue list: open requests whose answer due date has passed.
        Index("ix_records_transfer_request_open", "status", "answer_due_on"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    state_student_id: Mapped[str] = mapped_column(String(16), index=True)
    requesting_district_id: Mapped[str] = mapped_column(String(16), index=True)  # the receiving district
    previous_district_id: Mapped[str] = mapped_column(String(16), index=True)  # asked to answer
    enrolled_on: Mapped[date]
    requested_on: Mapped[date]
    request_due_on: Mapped[date]  # enrolled_on + 2 business days
    answer_due_on: Mapped[date]  # requested_on + 5 business days
    requested_by: Mapped[str] = mapped_column(String(200))  # the principal's subject
    requester_role: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="requested")
    answered_on: Mapped[date | None]
    answered_by: Mapped[str | None] = mapped_column(String(200))
    answerer_role: Mapped[str | None] = mapped_column(String(40))
    outcome: Mapped[str | None] = mapped_column(String(16))
    sections_sent: Mapped[list[str]] = mapped_column(default=list)
    note: Mapped[str | None] = mapped_column(Text)  # stored, never logged
    refusal_reason: Mapped[str | None] = mapped_column(Text)  # stored, never logged
    disclosure_seq: Mapped[int | None]  # the FERPA 99.32 log entry of the release
