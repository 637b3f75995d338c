"""Relationships that decide who reaches a student, submitted by districts and dated: class
sections with their teachers and students (teachers), and caseloads (counselors; psychologists and
social workers as service providers). Building and district reach come from the record's own
enrollment elements; special-education reach from its IEP and 504 sections.

A section is written whole (`PUT`): its roster replaces the stored one, so an SIS sends what is
true now, with dates; a student who left keeps their row with an end date if the SIS sends it.
Every change is written to the access log.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import Field, model_validator
from sqlalchemy import delete, select

from services.records.models import (
    Caseload,
    ClassSection,
    RecordsAccessLogEntry,
    SectionStaff,
    SectionStudent,
)
from services.records.repository import RecordsRepository
from services.records.service import STATE_WRITERS, WRITER_ROLES
from shared.audit import append_many
from shared.deps import CurrentPrincipal, DbSession
from shared.errors import Forbidden, UnprocessableContent
from shared.policy.principal import Principal
from shared.request_context import current_request_id
from shared.schemas import RequestModel, ResponseModel

relationships = APIRouter(prefix="/records/v1", tags=["relationships"])

Id = Annotated[str, Field(min_length=1, max_length=16)]


class Dated(RequestModel):
    begin_date: date
    end_date: date | None = None

    @model_validator(mode="after")
    def _in_order(self) -> Dated:
        if self.end_date is not None and self.end_date < self.begin_date:
            raise ValueError("end_date must not be before begin_date")
        return self


class RosterTeacher(Dated):
    staff_id: Id


class RosterStudent(Dated):
    state_student_id: Id


class ClassSectionIn(RequestModel):
    school_id: Id
    school_year: Annotated[str, Field(pattern=r"^\d{4}-\d{4}$")]
    course_code: Annotated[str | None, Field(max_length=16)] = None
    title: Annotated[str | None, Field(max_length=200)] = None
    begin_date: date
    end_date: date
    teachers: Annotated[list[RosterTeacher], Field(default_factory=list, max_length=20)]
    students: Annotated[list[RosterStudent], Field(default_factory=list, max_length=500)]

    @model_validator(mode="after")
    def _in_order(self) -> ClassSectionIn:
        if self.end_date < self.begin_date:
            raise ValueError("end_date must not be before begin_date")
        return self


class ClassSectionOut(ResponseModel):
    district_id: str
    section_code: str
    school_id: str
    school_year: str
    teachers: int
    students: int


class CaseloadIn(RequestModel):
    district_id: Id
    staff_id: Id
    state_student_id: Id
    kind: Literal["counselor", "service_provider"]
    begin_date: date
    end_date: date | None = None

    @model_validator(mode="after")
    def _in_order(self) -> CaseloadIn:
        if self.end_date is not None and self.end_date < self.begin_date:
            raise ValueError("end_date must not be before begin_date")
        return self


class CaseloadOut(ResponseModel):
    id: str
    district_id: str
    staff_id: str
    state_student_id: str
    kind: str
    begin_date: date
    end_date: date | None


async def _require_own_students(session: DbSession, district_id: str, student_ids: list[str],
                                field: str) -> None:
    """A district may tie only its own students (enrolled there, now or before) to its staff;
    otherwise a roster would be a way to reach any student in the state."""
    own = await RecordsRepository(session).ever_enrolled_in(district_id, student_ids)
    problems = [{"field": field.format(i=i), "code": "not-own-student",
                 "message": "Is not a student enrolled in this district."}
                for i, sid in enumerate(student_ids) if sid not in own]
    if problems:
        raise UnprocessableContent("Every student must be enrolled in the district.", errors=problems)


def _authorize(principal: Principal, district_id: str) -> None:
    if principal.role not in WRITER_ROLES:
        raise Forbidden("This role does not submit relationships.")
    if principal.role not in STATE_WRITERS and district_id not in principal.district_ids:
        raise Forbidden("A district submits relationships for its own district only.",
                        errors=[{"field": "district_id", "code": "other-district",
                                 "message": "Is not a district of this client."}])


@relationships.put("/class-sections/{district_id}/{section_code}", response_model=ClassSectionOut,
                   summary="Create or replace a class section with its teachers and students")
async def put_class_section(district_id: Annotated[str, Path(max_length=16)],
                            section_code: Annotated[str, Path(max_length=64)], body: ClassSectionIn,
                            session: DbSession, principal: CurrentPrincipal) -> ClassSectionOut:
    _authorize(principal, district_id)
    await _require_own_students(session, district_id, [s.state_student_id for s in body.students],
                                "students[{i}].state_student_id")
    section = await session.scalar(select(ClassSection).where(
        ClassSection.district_id == district_id, ClassSection.section_code == section_code).with_for_update())
    if section is None:
        section = ClassSection(district_id=district_id, section_code=section_code, school_id=body.school_id,
                               school_year=body.school_year, begin_date=body.begin_date, end_date=body.end_date)
        session.add(section)
        await session.flush()
    section.school_id, section.school_year = body.school_id, body.school_year
    section.course_code, section.title = body.course_code, body.title
    section.begin_date, section.end_date = body.begin_date, body.end_date
    await session.execute(delete(SectionStaff).where(SectionStaff.class_section_id == section.id))
    await session.execute(delete(SectionStudent).where(SectionStudent.class_section_id == section.id))
    session.add_all([SectionStaff(class_section_id=section.id, staff_id=t.staff_id, begin_date=t.begin_date,
                                  end_date=t.end_date) for t in body.teachers])
    session.add_all([SectionStudent(class_section_id=section.id, state_student_id=s.state_student_id,
                                    begin_date=s.begin_date, end_date=s.end_date) for s in body.students])
    await append_many(session, RecordsAccessLogEntry, [{
        "action": "write_class_section",
        "payload": {"district_id": district_id, "section_code": section_code, "role": principal.role,
                    "teachers": sorted(t.staff_id for t in body.teachers),
                    "students": sorted(s.state_student_id for s in body.students)}}],
        actor=principal.subject, request_id=current_request_id())
    return ClassSectionOut(district_id=district_id, section_code=section_code, school_id=body.school_id,
                           school_year=body.school_year, teachers=len(body.teachers), students=len(body.students))


@relationships.post("/caseloads", response_model=CaseloadOut, status_code=201,
                    summary="Put a student on a counselor's or service provider's caseload (dated)")
async def add_caseload(body: CaseloadIn, session: DbSession, principal: CurrentPrincipal) -> Caseload:
    _authorize(principal, body.district_id)
    await _require_own_students(session, body.district_id, [body.state_student_id], "state_student_id")
    entry = await session.scalar(select(Caseload).where(
        Caseload.district_id == body.district_id, Caseload.staff_id == body.staff_id,
        Caseload.state_student_id == body.state_student_id, Caseload.kind == body.kind,
        Caseload.begin_date == body.begin_date))
    if entry is None:
        entry = Caseload(**body.model_dump())
        session.add(entry)
    else:
        entry.end_date = body.end_date
    await session.flush()
    await append_many(session, RecordsAccessLogEntry, [{
        "action": "write_caseload", "index_columns": {"state_id": body.state_student_id},
        "payload": {**body.model_dump(mode="json"), "role": principal.role}}],
        actor=principal.subject, request_id=current_request_id())
    return entry
