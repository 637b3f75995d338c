"""Which students a caller reaches, as SQL: a `RowScope` from the policy library turned into a
filter on `RecordSubject`, over the dated relationship tables. `RecordsRepository.facts_for`
computes the same relationships as `StudentFacts` for single reads; both say "currently" with
`current_on` (the day within [begin, end], an open end counting as ongoing), and the tests hold
the list filter and the per-student check to the same answers.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute

from services.records.models import (
    Caseload,
    ClassSection,
    Enrollment,
    RecordSubject,
    SectionStaff,
    SectionStudent,
    StudentPlan,
)
from shared.policy.access import RowScope
from shared.policy.principal import AccessGrant


def current_on(begin: Any, end: Any, day: date) -> ColumnElement[bool]:
    return and_(or_(begin.is_(None), begin <= day), or_(end.is_(None), end >= day))


def _enrolled(day: date) -> ColumnElement[bool]:
    return current_on(Enrollment.entry_date, Enrollment.exit_date, day)


def taught_now(day: date) -> ColumnElement[bool]:
    """The section, the teacher's assignment to it and the student's place in it, all current."""
    return and_(
        current_on(ClassSection.begin_date, ClassSection.end_date, day),
        current_on(SectionStaff.begin_date, SectionStaff.end_date, day),
        current_on(SectionStudent.begin_date, SectionStudent.end_date, day),
    )


def _taught(day: date) -> ColumnElement[bool]:
    return and_(
        SectionStaff.class_section_id == SectionStudent.class_section_id,
        ClassSection.id == SectionStudent.class_section_id,
        taught_now(day),
    )


def scope_filter(scope: RowScope, day: date) -> ColumnElement[bool]:
    """A WHERE clause on `RecordSubject` (students) selecting exactly the students `scope` matches."""
    student = RecordSubject.state_id
    clauses = [_kind_filter(scope, student, day)]
    clauses += [_grant_filter(grant, student, day) for grant in scope.grants]
    return and_(RecordSubject.entity == "student", or_(*clauses))


def _enrolled_in(student: InstrumentedAttribute[str], day: date, *conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(Enrollment.state_student_id == student, _enrolled(day), *conditions)


def _kind_filter(scope: RowScope, student: InstrumentedAttribute[str], day: date) -> ColumnElement[bool]:
    match scope.kind:
        case "all":
            return true()
        case "districts":
            return _enrolled_in(student, day, Enrollment.district_id.in_(scope.district_ids))
        case "schools":
            return _enrolled_in(student, day, Enrollment.school_id.in_(scope.school_ids))
        case "teacher_of":
            return exists(select(SectionStudent.id).select_from(SectionStudent)
                          .join(ClassSection, ClassSection.id == SectionStudent.class_section_id)
                          .join(SectionStaff, SectionStaff.class_section_id == SectionStudent.class_section_id)
                          .where(SectionStudent.state_student_id == student,
                                 SectionStaff.staff_id == scope.staff_id, _taught(day)))
        case "counselor_of" | "service_provider_of":
            kind = "counselor" if scope.kind == "counselor_of" else "service_provider"
            return exists().where(Caseload.state_student_id == student, Caseload.kind == kind,
                                  Caseload.staff_id == scope.staff_id,
                                  current_on(Caseload.begin_date, Caseload.end_date, day))
        case "special_education_in_districts":
            return and_(
                exists().where(StudentPlan.state_student_id == student,
                               current_on(StudentPlan.begin_date, StudentPlan.end_date, day)),
                _enrolled_in(student, day, Enrollment.district_id.in_(scope.district_ids)),
            )
        case "students":
            return student.in_(scope.student_ids)
        case _:
            return false()


def _grant_filter(grant: AccessGrant, student: InstrumentedAttribute[str], day: date) -> ColumnElement[bool]:
    if not grant.active_on(day):
        return false()
    clauses: list[ColumnElement[bool]] = []
    if grant.student_ids:
        clauses.append(student.in_(grant.student_ids))
    if grant.district_ids:
        clauses.append(_enrolled_in(student, day, Enrollment.district_id.in_(grant.district_ids)))
    if grant.school_ids:
        clauses.append(_enrolled_in(student, day, Enrollment.school_id.in_(grant.school_ids)))
    return or_(*clauses) if clauses else false()
