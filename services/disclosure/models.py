"""Disclosure's tables: the FERPA 99.32 record of disclosures (hash-chained, with one indexed row
per student disclosed), agreements (MOAs) with their history, destruction certificates and
researchers' publications, data requests with their history, written consents, bans, and
directory-information opt-outs.

Student-keyed rows carry the student key (`state_student_id`). Free text people write (purposes,
notes, findings) is stored here and never written to the service log.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.audit import ChainedLogMixin
from shared.db import Base, BigKey, TimestampMixin, new_uuid, utcnow

EventId = BigKey

AGREEMENT_STATUSES = ("draft", "coordinator_review", "legal_review", "board_consent",
                      "superintendent_approval", "active", "rejected", "destruction_certified")
# "expired" is never stored: an active agreement reads as expired once today is past its end.
DATA_REQUEST_STATUSES = ("ticket", "assigned", "fulfilled", "qa_approved", "released", "closed")


# --- the record of disclosures (34 CFR 99.32) -----------------------------------------------------


class DisclosureLogEntry(ChainedLogMixin, Base):
    """One disclosure of PII: the payload (hashed) holds the party, basis, purpose, fields, every
    student and the agreement or consent it rests on. The columns below copy parts of it for
    indexed search; the payload stays the evidence."""

    __tablename__ = "disclosure_log"

    party_subject: Mapped[str | None] = mapped_column(String(200), index=True)
    legal_basis: Mapped[str] = mapped_column(String(40))
    disclosed_on: Mapped[date] = mapped_column(index=True)
    agreement_id: Mapped[str | None] = mapped_column(String(36), index=True)
    consent_id: Mapped[str | None] = mapped_column(String(36), index=True)


class DisclosureLogStudent(Base):
    """One row per student of a disclosure, so "the disclosures of student X" is an indexed query.
    `verify_disclosure_log` checks these rows against the hashed payloads."""

    __tablename__ = "disclosure_log_student"
    __table_args__ = (Index("ix_disclosure_log_student_student", "state_student_id", "entry_seq"),)

    entry_seq: Mapped[int] = mapped_column(ForeignKey("disclosure_log.seq"), primary_key=True)
    state_student_id: Mapped[str] = mapped_column(String(16), primary_key=True)


class DisclosureIdempotency(Base):
    """A logged disclosure's `Idempotency-Key`: a retried call answers with the same entry."""

    __tablename__ = "disclosure_idempotency"

    actor: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    entry_seq: Mapped[int] = mapped_column(ForeignKey("disclosure_log.seq"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- agreements (MOAs) ------------------------------------------------------------------------------


class Agreement(TimestampMixin, Base):
    """A Memorandum of Agreement with a researcher, agency or vendor: who, why, which fields of
    which students, for how long, and when the data must be destroyed."""

    __tablename__ = "disclosure_agreement"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    title: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200))
    organisation_key: Mapped[str] = mapped_column(String(200), index=True)  # normalised, for bans
    contact_name: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str] = mapped_column(String(320))
    purpose: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(String(40))
    fields: Mapped[list[str]]
    student_ids: Mapped[list[str]]
    district_ids: Mapped[list[str]]
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    destroy_by: Mapped[date]
    status: Mapped[str] = mapped_column(String(32), default="draft", index=True)
    created_by: Mapped[str] = mapped_column(String(200))


class AgreementSubject(Base):
    """A principal (`user:<id>` / `client:<id>`) an agreement authorises."""

    __tablename__ = "disclosure_agreement_subject"

    agreement_id: Mapped[str] = mapped_column(ForeignKey("disclosure_agreement.id"), primary_key=True)
    subject: Mapped[str] = mapped_column(String(200), primary_key=True, index=True)


class AgreementEvent(Base):
    """Every step of an agreement's lifecycle: who, when, from and to which status, and a note."""

    __tablename__ = "disclosure_agreement_event"

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    agreement_id: Mapped[str] = mapped_column(ForeignKey("disclosure_agreement.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)


class DestructionCertificate(Base):
    """The recipient's certificate that the data of an agreement were destroyed."""

    __tablename__ = "disclosure_destruction_certificate"

    agreement_id: Mapped[str] = mapped_column(ForeignKey("disclosure_agreement.id"), primary_key=True)
    destroyed_by: Mapped[str] = mapped_column(String(200))  # the person who destroyed (and certifies)
    destroyed_on: Mapped[date]
    method: Mapped[str] = mapped_column(String(500))
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Publication(Base):
    """A publication or presentation using the agreement's data, submitted before it appears
    (Utah 5.4: a copy 10 business days before)."""

    __tablename__ = "disclosure_publication"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    agreement_id: Mapped[str] = mapped_column(ForeignKey("disclosure_agreement.id"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    planned_publication_date: Mapped[date]
    submitted_on: Mapped[date]
    due_by: Mapped[date]
    late: Mapped[bool]
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- data requests (Utah 5.3.2 risk levels) --------------------------------------------------------


class DataRequest(TimestampMixin, Base):
    __tablename__ = "disclosure_data_request"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    requester_name: Mapped[str] = mapped_column(String(200))
    requester_organisation: Mapped[str] = mapped_column(String(200))
    requester_subject: Mapped[str | None] = mapped_column(String(200), index=True)
    description: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(Text)
    risk_level: Mapped[str] = mapped_column(String(8))  # low | medium | high
    agreement_id: Mapped[str | None] = mapped_column(ForeignKey("disclosure_agreement.id"))
    status: Mapped[str] = mapped_column(String(16), default="ticket", index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    assigned_to: Mapped[str | None] = mapped_column(String(200))
    fulfilled_by: Mapped[str | None] = mapped_column(String(200))
    fulfilled_dataset_reference: Mapped[str | None] = mapped_column(String(500))
    qa_by: Mapped[str | None] = mapped_column(String(200))
    released_by: Mapped[str | None] = mapped_column(String(200))
    released_dataset_reference: Mapped[str | None] = mapped_column(String(500))
    released_on: Mapped[date | None]
    checklist_reliability: Mapped[bool | None]
    checklist_validity: Mapped[bool | None]
    checklist_presentation: Mapped[bool | None]


class DataRequestEvent(Base):
    __tablename__ = "disclosure_data_request_event"

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    data_request_id: Mapped[str] = mapped_column(ForeignKey("disclosure_data_request.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)


# --- written consent (34 CFR 99.30) -----------------------------------------------------------------


class Consent(TimestampMixin, Base):
    """A parent's or eligible student's signed and dated consent to disclose fields of a student's
    record to a named recipient for a purpose, until it expires or is revoked."""

    __tablename__ = "disclosure_consent"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    state_student_id: Mapped[str] = mapped_column(String(16), index=True)
    given_by: Mapped[str] = mapped_column(String(200))
    giver_role: Mapped[str] = mapped_column(String(40))
    fields: Mapped[list[str]]
    recipient_name: Mapped[str] = mapped_column(String(200))
    recipient_organisation: Mapped[str] = mapped_column(String(200))
    recipient_organisation_key: Mapped[str] = mapped_column(String(200))
    recipient_subject: Mapped[str | None] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text)
    signed_on: Mapped[date]
    expires_on: Mapped[date]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(200))


# --- bans (improper redisclosure: 34 CFR 99.33(e); MOSIS and Maine: five years) ---------------------


class Ban(Base):
    __tablename__ = "disclosure_ban"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    organisation: Mapped[str] = mapped_column(String(200))
    organisation_key: Mapped[str] = mapped_column(String(200), index=True)
    subjects: Mapped[list[str]]
    finding: Mapped[str] = mapped_column(Text)  # stored, never logged
    found_on: Mapped[date]
    banned_until: Mapped[date] = mapped_column(index=True)  # found_on + 5 years (exclusive)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- directory information opt-outs (34 CFR 99.37(a)(2)) ------------------------------------------


class DirectoryOptOut(Base):
    """A parent's or eligible student's refusal of directory information for a student: while
    `withdrawn_at` is empty, no outside party receives the student's directory information. One
    row per student; withdrawing keeps the row (who opted out, when, and who withdrew it)."""

    __tablename__ = "disclosure_directory_opt_out"

    state_student_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    opted_out_at: Mapped[datetime] = mapped_column(default=utcnow)
    opted_out_by: Mapped[str] = mapped_column(String(200))
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by: Mapped[str | None] = mapped_column(String(200))
