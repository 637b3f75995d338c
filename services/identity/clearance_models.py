"""Tables of signed NDAs and completed privacy training (Utah plan 4 and 4.4): the clearance a
person in a staff role needs before any student PII reaches them. Rows are records of fact and
are never edited: a new signature or a new completion is a new row, and the latest one counts."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, new_uuid, utcnow


class NdaSignature(Base):
    """A person's signed non-disclosure agreement (Utah 4.3: "A signed agreement form is required
    from all ... staff"), of one version of the agreement's text."""

    __tablename__ = "identity_nda_signature"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    user_id: Mapped[str] = mapped_column(ForeignKey("identity_user_account.id"))
    agreement_version: Mapped[str] = mapped_column(String(50))
    signed_on: Mapped[date]
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_identity_nda_signature_user", "user_id", "signed_on"),)


class TrainingCompletion(Base):
    """A completed security and privacy training (Utah 4.4.4(3): annual; Colorado-style policy:
    "Annual mandatory user security awareness training")."""

    __tablename__ = "identity_training_completion"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    user_id: Mapped[str] = mapped_column(ForeignKey("identity_user_account.id"))
    course: Mapped[str] = mapped_column(String(200))
    course_version: Mapped[str] = mapped_column(String(50))
    completed_on: Mapped[date]
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_identity_training_completion_user", "user_id", "completed_on"),)
