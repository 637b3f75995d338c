"""Records' tables. Every student-owned row carries the student key (`state_id` for records,
`state_student_id` for relationships), so the tables can later be distributed by it (Citus).

A record is a set of elements (`RecordItem`: one per single section, one per list element by its
natural key) and every write of an element appends a `RecordItemVersion`. The version's id is the
change version. Concurrent writers may commit their ids out of order, so each holds a change
floor while it writes and the change feed reading "id > n" stops below the lowest floor held
(`RecordsRepository.hold_change_floor`, `change_horizon`): it never skips a late commit.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.audit import ChainedLogMixin
from shared.db import Base, BigKey, TimestampMixin, new_uuid, utcnow

# An element's data is stored as the JSON text written (PostgreSQL `json`, not `jsonb`): nothing
# queries inside it, every read hands it back as text, and `json` is only checked on the way in
# where `jsonb` is parsed into a tree, then printed again on every read (migration e8f9a0b1c2d3).
ElementData = JSON()
Document = JSON().with_variant(JSONB(), "postgresql")
ChangeVersion = BigKey


class RecordSubject(TimestampMixin, Base):
    """One student's or staff member's record; its row is locked by every write to it, and its
    `version` is the record's ETag."""

    __tablename__ = "records_subject"

    entity: Mapped[str] = mapped_column(String(8), primary_key=True)  # "student" | "staff"
    state_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    version: Mapped[int] = mapped_column(default=0)
    change_version: Mapped[int] = mapped_column(ChangeVersion, default=0)
    # Set when identity merged this ID into another: the elements moved there (`merges.py`), and
    # a read of this ID answers with the survivor's record.
    merged_into: Mapped[str | None] = mapped_column(String(16))


class RecordItem(Base):
    """The current value of one element of a record."""

    __tablename__ = "records_item"
    __table_args__ = (
        UniqueConstraint("entity", "state_id", "section", "item_key"),
        # On PostgreSQL triggers check this per statement instead of per row (migration d7e8f9a0b1c2).
        ForeignKeyConstraint(["entity", "state_id"], ["records_subject.entity", "records_subject.state_id"]),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    entity: Mapped[str] = mapped_column(String(8))
    state_id: Mapped[str] = mapped_column(String(16))
    section: Mapped[str] = mapped_column(String(40))
    item_key: Mapped[str] = mapped_column(String(400))
    district_id: Mapped[str | None] = mapped_column(String(16))  # who last wrote it
    data: Mapped[dict[str, Any]] = mapped_column(ElementData)
    version: Mapped[int] = mapped_column(default=1)
    change_version: Mapped[int] = mapped_column(ChangeVersion)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(200))
    submission_id: Mapped[str | None] = mapped_column(String(36))


class RecordItemVersion(Base):
    """Every value an element ever had (and its deletion), newest last; `id` is the change version.
    Expungement is the one thing that removes rows here (the log keeps that it happened)."""

    __tablename__ = "records_item_version"
    __table_args__ = (Index("ix_records_item_version_subject", "entity", "state_id", "recorded_at"),)

    id: Mapped[int] = mapped_column(ChangeVersion, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(String(36))  # found through the subject's index (a merge)
    entity: Mapped[str] = mapped_column(String(8))
    state_id: Mapped[str] = mapped_column(String(16))
    section: Mapped[str] = mapped_column(String(40))
    item_key: Mapped[str] = mapped_column(String(400))
    version: Mapped[int]
    operation: Mapped[str] = mapped_column(String(16))  # create | update | delete
    data: Mapped[dict[str, Any] | None] = mapped_column(ElementData)
    district_id: Mapped[str | None] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(200))
    submission_id: Mapped[str | None] = mapped_column(String(36))


class Submission(Base):
    """One write request (a record, or a bulk file): who sent it, for which district, how it went."""

    __tablename__ = "records_submission"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    entity: Mapped[str] = mapped_column(String(8))
    actor: Mapped[str] = mapped_column(String(200))
    district_id: Mapped[str | None] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    rows: Mapped[int] = mapped_column(default=0)
    accepted: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)


# --- relationships that decide who reaches a student ("currently" = today within the dates) ---


class Enrollment(Base):
    """A school enrollment, kept in step with the record's `enrollment` elements (derived)."""

    __tablename__ = "records_enrollment"
    __table_args__ = (Index("ix_records_enrollment_student", "state_student_id"),)

    id: Mapped[int] = mapped_column(ChangeVersion, primary_key=True, autoincrement=True)
    state_student_id: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[str] = mapped_column(String(36))
    district_id: Mapped[str] = mapped_column(String(16), index=True)
    school_id: Mapped[str] = mapped_column(String(16), index=True)
    entry_date: Mapped[date]
    exit_date: Mapped[date | None]


class StudentPlan(Base):
    """An IEP (special education) or a 504 plan, kept in step with the record (derived)."""

    __tablename__ = "records_student_plan"

    id: Mapped[int] = mapped_column(ChangeVersion, primary_key=True, autoincrement=True)
    state_student_id: Mapped[str] = mapped_column(String(16), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # "iep" | "504"
    begin_date: Mapped[date | None]
    end_date: Mapped[date | None]


class ClassSection(TimestampMixin, Base):
    """A class section a district submits with its teachers and students (dated)."""

    __tablename__ = "records_class_section"
    __table_args__ = (UniqueConstraint("district_id", "section_code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    district_id: Mapped[str] = mapped_column(String(16))
    section_code: Mapped[str] = mapped_column(String(64))
    school_id: Mapped[str] = mapped_column(String(16))
    school_year: Mapped[str] = mapped_column(String(9))
    course_code: Mapped[str | None] = mapped_column(String(16))
    title: Mapped[str | None] = mapped_column(String(200))
    begin_date: Mapped[date]
    end_date: Mapped[date]


class SectionStaff(Base):
    __tablename__ = "records_section_staff"

    id: Mapped[int] = mapped_column(ChangeVersion, primary_key=True, autoincrement=True)
    class_section_id: Mapped[str] = mapped_column(ForeignKey("records_class_section.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[str] = mapped_column(String(16), index=True)
    begin_date: Mapped[date]
    end_date: Mapped[date | None]


class SectionStudent(Base):
    __tablename__ = "records_section_student"

    id: Mapped[int] = mapped_column(ChangeVersion, primary_key=True, autoincrement=True)
    class_section_id: Mapped[str] = mapped_column(ForeignKey("records_class_section.id", ondelete="CASCADE"), index=True)
    state_student_id: Mapped[str] = mapped_column(String(16), index=True)
    begin_date: Mapped[date]
    end_date: Mapped[date | None]


class Caseload(TimestampMixin, Base):
    """A counselor's caseload entry or a service provider's (psychologist, social worker) student."""

    __tablename__ = "records_caseload"
    __table_args__ = (UniqueConstraint("district_id", "staff_id", "state_student_id", "kind", "begin_date"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    district_id: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[str] = mapped_column(String(16), index=True)
    state_student_id: Mapped[str] = mapped_column(String(16), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # "counselor" | "service_provider"
    begin_date: Mapped[date]
    end_date: Mapped[date | None]


# --- logs and request bookkeeping --------------------------------------------------------------


class RecordsAccessLogEntry(ChainedLogMixin, Base):
    """Every read and write of a record: who, role, which record, which fields went out, purpose."""

    __tablename__ = "records_access_log"
    __table_args__ = (Index("ix_records_access_log_actor_at", "actor", "at"),)

    # 64 bits: every read and written record adds an entry, and 32 bits would run out within a
    # few years of a state's traffic (migration f9a0b1c2d3e4).
    seq: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=False)

    # Copied out of the (hashed) payload so auditors can find a student's entries by index; the
    # payload stays the evidence.
    state_id: Mapped[str | None] = mapped_column(String(16), index=True)


class ReadCounter(Base):
    """Records read per caller per clock hour, for the volume alarm."""

    __tablename__ = "records_read_counter"

    actor: Mapped[str] = mapped_column(String(200), primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    reads: Mapped[int] = mapped_column(default=0)
    alerted: Mapped[bool] = mapped_column(default=False)


class IdempotentResponse(Base):
    """The answer to a write sent with an `Idempotency-Key`, replayed if the same request comes again."""

    __tablename__ = "records_idempotency"

    actor: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int]
    body: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
