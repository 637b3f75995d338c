"""Tables of public records requests (Missouri Sunshine Law, RSMo 610.023) kept by the agency's
custodian of records.

One row per request received: who asked and how to reach them, what they asked for, the day it
was received and the statutory due date (the end of the third business day after, stored at
receipt), and how it was acted on: a delay (its explanation, place and earliest date and time the
records will be available), then fulfilment or a denial (its written explanation citing the
exemption). Whether a request is overdue is computed on read, never stored.

These are not student records, but they hold a member of the public's name and contact: they are
answered with a token only, `no-store`, and the service's audit log names ids, statuses and dates,
never the requester, the request or any explanation.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, TimestampMixin, new_uuid

PUBLIC_RECORDS_STATUSES = ("received", "delayed", "fulfilled", "denied")  # "overdue" is computed


class PublicRecordsRequest(TimestampMixin, Base):
    """A request for access to (copies of) public records of the agency or one of its districts."""

    __tablename__ = "disclosure_public_records_request"
    __table_args__ = (
        # The overdue list: requests not yet acted on, by due date.
        Index("ix_disclosure_public_records_request_open", "status", "due_on"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    district_id: Mapped[str | None] = mapped_column(String(16), index=True)  # None: the state agency
    requester_name: Mapped[str] = mapped_column(String(200))
    requester_contact: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text)  # what is asked for
    requested_format: Mapped[str | None] = mapped_column(String(200))
    received_on: Mapped[date]
    due_on: Mapped[date]  # received_on + 3 business days (610.023.3)
    status: Mapped[str] = mapped_column(String(16), default="received")
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorder_role: Mapped[str] = mapped_column(String(40))
    first_acted_on: Mapped[date | None]  # the first delay, fulfilment or denial
    # A delay (610.023.3): the cause, and the place and earliest date and time of availability.
    delay_explanation: Mapped[str | None] = mapped_column(Text)
    available_at: Mapped[datetime | None]
    available_place: Mapped[str | None] = mapped_column(String(500))
    delayed_on: Mapped[date | None]
    delayed_by: Mapped[str | None] = mapped_column(String(200))
    # Fulfilment (a note of what was provided) or denial (the written explanation, 610.023.4).
    explanation: Mapped[str | None] = mapped_column(Text)
    exemption: Mapped[str | None] = mapped_column(String(500))  # the provision of law cited
    closed_on: Mapped[date | None]
    closed_by: Mapped[str | None] = mapped_column(String(200))
    closer_role: Mapped[str | None] = mapped_column(String(40))
