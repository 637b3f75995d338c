"""The de-identified fact table: WRITTEN BY RECORDS, READ BY REPORTING.

Records publishes this table on purpose for reporting (design brief, "a table another service
publishes on purpose and documents"); `services/records/reporting_feed.py` is its only writer and
replaces a school year's rows wholesale. Reporting only reads it, so reporting never holds a name,
a birth date or a state ID.

One row per student per school year:
- `student_key`: HMAC-SHA256 of the state ID under a key derived from the deployment secret
  (pseudonymous: stable across refreshes so releases of the same population line up in the
  ledger, useless without the secret). Not the state ID, not reversible.
- where: state, district, school of the student's primary (latest) enrollment that year, grade.
- subgroups: sex, federal race/ethnicity rollup, English learner, special education (IEP),
  free/reduced lunch, migrant. No birth date: grade is the only age grouping reporting needs.
- outcomes: state summative proficiency (performance level 4 or 5) in ELA and mathematics (NULL:
  not tested that year), attendance rate and chronic absence (missed 10% or more of the days
  enrolled; NULL: no attendance reported), discipline incidents that year, and for students of the
  graduating cohort whether they graduated with a diploma.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, utcnow


class StudentFact(Base):
    __tablename__ = "reporting_student_fact"
    __table_args__ = (Index("ix_reporting_student_fact_year_school", "school_year", "school_id"),)

    school_year: Mapped[str] = mapped_column(String(9), primary_key=True)  # "2025-2026"
    student_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(2))
    district_id: Mapped[str] = mapped_column(String(16))
    school_id: Mapped[str] = mapped_column(String(16))
    grade_level: Mapped[str | None] = mapped_column(String(2))
    sex: Mapped[str | None] = mapped_column(String(1))
    race_ethnicity: Mapped[str | None] = mapped_column(String(3))
    english_learner: Mapped[bool] = mapped_column(default=False)
    special_education: Mapped[bool] = mapped_column(default=False)
    free_reduced_lunch: Mapped[bool] = mapped_column(default=False)
    migrant: Mapped[bool] = mapped_column(default=False)
    ela_proficient: Mapped[bool | None]
    math_proficient: Mapped[bool | None]
    attendance_rate: Mapped[float | None] = mapped_column(Float)
    chronically_absent: Mapped[bool | None]
    discipline_incidents: Mapped[int] = mapped_column(default=0)
    graduation_cohort: Mapped[bool] = mapped_column(default=False)
    graduated: Mapped[bool | None]
    refreshed_at: Mapped[datetime] = mapped_column(default=utcnow)
