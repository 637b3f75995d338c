"""The shape of a record: which sections it has, which hold one mapping and which a list, and the
natural key that names an element of a list.

The data dictionary says what each field is and who may see it; this table says how fields group
into the units a district submits and the service versions. A submission carries whole sections
(or whole list elements): an element replaces the stored element with the same natural key, and
elements it does not mention are left alone, so an SIS can send one new assessment without
resending the rest. The root fields (`local_student_id`, `medicaid_id`) form the `identifiers`
section.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

from shared.policy.dictionary import Entity, load_data_dictionary

ROOT = "identifiers"  # the pseudo-section holding the record's root fields


@dataclass(frozen=True, slots=True)
class SectionSpec:
    entity: Entity
    name: str
    shape: Literal["single", "list"]
    key: tuple[str, ...] = ()  # natural key of a list element (fields of the element)
    required: tuple[str, ...] = ()  # fields an element must carry (the key, at least)
    state_only: bool = False  # written by state data staff only, never by a district
    # Retention: "discipline" is expunged after three years; "expungeable" may be removed at an
    # eligible student's request (medical and behavioural records); the rest never may
    # (grades, transcripts, enrollment, assessments: 002 Utah retention schedule).
    retention: Literal["permanent", "discipline", "expungeable"] = "permanent"
    date_field: str | None = None  # the element's date that retention counts from


_STUDENT = (
    SectionSpec("student", ROOT, "single"),
    SectionSpec("student", "demographics", "single"),
    SectionSpec("student", "enrollment", "list", key=("school_id", "entry_date"),
                required=("school_year", "district_id", "school_id", "grade_level", "entry_date")),
    SectionSpec("student", "programs", "single"),
    SectionSpec("student", "special_education", "single", retention="expungeable"),
    SectionSpec("student", "section_504", "single", retention="expungeable"),
    SectionSpec("student", "english_learner", "single"),
    SectionSpec("student", "migrant", "single"),
    SectionSpec("student", "early_childhood", "single"),
    SectionSpec("student", "discipline", "list", key=("incident_date", "incident_type", "action_type"),
                required=("incident_date", "incident_type"), retention="discipline",
                date_field="incident_date"),
    SectionSpec("student", "parent_contacts", "list", key=("last_name", "first_name", "relationship_type"),
                required=("last_name", "first_name", "relationship_type")),
    SectionSpec("student", "assessments", "list",
                key=("assessment_family", "subject", "school_year", "assessment_title"),
                required=("assessment_family", "subject", "school_year")),
    SectionSpec("student", "attendance", "list", key=("school_year", "school_id"),
                required=("school_year", "school_id")),
    SectionSpec("student", "courses", "list", key=("school_year", "term", "course_code"),
                required=("school_year", "term", "course_code")),
    SectionSpec("student", "transcript", "single"),
    SectionSpec("student", "cte", "single"),
    SectionSpec("student", "concurrent_enrollment", "list", key=("school_year", "institution_id", "program_type"),
                required=("school_year", "institution_id", "program_type")),
    SectionSpec("student", "activities", "list", key=("school_year", "activity_type"),
                required=("school_year", "activity_type")),
    SectionSpec("student", "student_success_plan", "single"),
    SectionSpec("student", "record_management", "single", state_only=True),
)

_STAFF = (
    SectionSpec("staff", ROOT, "single"),
    SectionSpec("staff", "demographics", "single"),
    SectionSpec("staff", "employment", "single"),
    SectionSpec("staff", "credentials", "list", key=("credential_type", "teaching_field"),
                required=("credential_type",)),
    SectionSpec("staff", "degrees", "list", key=("degree_level", "institution"),
                required=("degree_level",)),
    SectionSpec("staff", "preparation", "single"),
    SectionSpec("staff", "assignments", "list",
                key=("school_year", "district_id", "school_id", "assignment_role", "subject_area"),
                required=("school_year", "district_id", "school_id", "assignment_role")),
)

ID_FIELD: dict[Entity, str] = {"student": "state_student_id", "staff": "staff_id"}


@cache
def sections(entity: Entity) -> dict[str, SectionSpec]:
    return {spec.name: spec for spec in (_STUDENT if entity == "student" else _STAFF)}


def section_of(entity: Entity, field_name: str) -> str:
    """The section a dictionary field belongs to (`enrollment.entry_date` -> `enrollment`)."""
    head, _, rest = field_name.partition(".")
    return head if rest else ROOT


@cache
def section_fields(entity: Entity, section: str) -> tuple[str, ...]:
    """Dictionary field names inside a section, relative to it (`entry_date`, `services.service_type`)."""
    names = []
    for spec in load_data_dictionary().fields_for(entity):
        if section_of(entity, spec.name) != section:
            continue
        names.append(spec.name if section == ROOT else spec.name.partition(".")[2])
    return tuple(names)


def natural_key(spec: SectionSpec, element: dict[str, object]) -> str:
    """The stable key of an element: its key fields joined ("" for a single section)."""
    if spec.shape == "single":
        return ""
    # (a list, and strings as they are: this runs for every element of a bulk write)
    return "|".join([v if type(v) is str else "" if v is None else str(v) for v in map(element.get, spec.key)])


@cache
def expungeable(entity: Entity) -> frozenset[str]:
    """Sections an eligible student may have expunged (Utah 53A-1-1407): those whose retention is
    "expungeable" (medical and behavioural records) or "discipline"; never the permanent ones
    (grades, transcripts, enrollment, assessments)."""
    return frozenset(spec.name for spec in sections(entity).values()
                     if spec.retention in ("expungeable", "discipline"))
