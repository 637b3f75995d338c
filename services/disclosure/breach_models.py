"""Tables of breach reports, their exposure, notifications and findings (Utah plan section 6).

A breach row is the report (who, when, what, the suspected principals and the time window) with
its routing and outcome; the affected students are what the exposure query found in the logs; the
notifications record who was told, when and how; the events are the breach's history. The reports
and findings may name people: they are stored here, never written to the service log.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.disclosure.models import EventId
from shared.db import Base, TimestampMixin, new_uuid, utcnow

BREACH_STATUSES = ("open", "closed")


class Breach(TimestampMixin, Base):
    """A suspected breach: reported by a staff member, routed to the IT security manager (or, when
    it involves the security manager, to the state data administrators), investigated from the
    logs, and closed with findings and consequences."""

    __tablename__ = "disclosure_breach"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    reported_by: Mapped[str] = mapped_column(String(200))
    reporter_role: Mapped[str] = mapped_column(String(64))
    discovered_at: Mapped[datetime]
    description: Mapped[str] = mapped_column(Text)
    suspected_subjects: Mapped[list[str]]
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    involves_security_manager: Mapped[bool]
    routed_to: Mapped[str] = mapped_column(String(64), index=True)  # a role code
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    exposure_computed_at: Mapped[datetime | None]
    suspended_at: Mapped[datetime | None]
    breach_confirmed: Mapped[bool | None]
    findings: Mapped[str | None] = mapped_column(Text)
    consequences: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(200))


class BreachExposure(Base):
    """A student whose record one suspected principal touched in the window: which fields, how
    (read, write, disclosed...) and found where (the records access log, the disclosure log).
    Replaced each time the exposure is computed again; the affected students are its distinct
    students."""

    __tablename__ = "disclosure_breach_exposure"

    breach_id: Mapped[str] = mapped_column(ForeignKey("disclosure_breach.id"), primary_key=True)
    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    state_student_id: Mapped[str] = mapped_column(String(16), primary_key=True, index=True)
    fields: Mapped[list[str]]
    actions: Mapped[list[str]]
    sources: Mapped[list[str]]
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]


class BreachNotification(Base):
    """The notice given about one affected student: to whom (the parent or guardian, or the
    eligible student), when and how."""

    __tablename__ = "disclosure_breach_notification"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    breach_id: Mapped[str] = mapped_column(ForeignKey("disclosure_breach.id"), index=True)
    state_student_id: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(32))  # parent | guardian | eligible_student
    recipient_name: Mapped[str | None] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(32))
    notified_on: Mapped[date]
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class BreachEvent(Base):
    """Every step taken on a breach: reported, exposure computed, suspended, notified, closed."""

    __tablename__ = "disclosure_breach_event"

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    breach_id: Mapped[str] = mapped_column(ForeignKey("disclosure_breach.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200), index=True)
    actor_role: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    detail: Mapped[str | None] = mapped_column(Text)  # counts and outcomes, as JSON text
