"""Tables of access requests and the grants they lead to.

Connecticut ("General Access to Database", item 10): a person who wants information outside the
general access of their role applies in writing to the superintendent, stating the precise
information requested and the legitimate educational need; the superintendent decides whether,
and in what form, to grant it and tells the applicant in writing. One row holds the application,
the written decision (with the form granted: fields, students, end date) and any revocation. A
granted row in force today is an `AccessGrant` on the requester's reads (see `access_requests.py`).

The requester's need and the deciders' reasons are stored here and never written to the access
log, which names ids, roles, fields and dates only.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, TimestampMixin, new_uuid

# Stored statuses; "expired" (granted, past its end date) is computed on read, never stored.
ACCESS_REQUEST_STATUSES = ("pending", "granted", "denied", "revoked")


class AccessRequest(TimestampMixin, Base):
    """An application for access beyond a role, its written decision and any revocation."""

    __tablename__ = "records_access_request"
    # The read path's one query: the caller's granted rows whose dates include today.
    __table_args__ = (Index("ix_records_access_request_in_force", "requested_by", "status", "granted_ends_on"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    requested_by: Mapped[str] = mapped_column(String(200))  # the requester's token subject
    requester_role: Mapped[str] = mapped_column(String(40))
    district_id: Mapped[str] = mapped_column(String(16), index=True)  # the district the request concerns
    # The precise information requested: dictionary field names of those students / schools.
    fields: Mapped[list[str]]
    student_ids: Mapped[list[str]]
    school_ids: Mapped[list[str]]
    need: Mapped[str] = mapped_column(Text)  # the legitimate educational need: stored, never logged
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # The written decision. When granted: the form granted (equal to or narrower than the request).
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decider_role: Mapped[str | None] = mapped_column(String(40))
    decided_at: Mapped[datetime | None]
    granted_fields: Mapped[list[str] | None]
    granted_student_ids: Mapped[list[str] | None]
    granted_school_ids: Mapped[list[str] | None]
    granted_ends_on: Mapped[date | None]
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None]
