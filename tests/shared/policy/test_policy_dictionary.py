"""The data dictionary: coverage of the seed policies' data elements, and load-time validation."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from shared.policy.dictionary import DATA_DIR, DataDictionary, load_data_dictionary

DD = load_data_dictionary()
DICT_TOML = (DATA_DIR / "data_dictionary.toml").read_text()
CODES_TOML = (DATA_DIR / "code_sets.toml").read_text()

# One field per data element the seed policies name (004 Colorado list, 003 Connecticut, 000/001).
ELEMENTS = [
    ("state assigned student identifier", "student", "state_student_id"),
    ("local student identifier", "student", "local_student_id"),
    ("student SSN (matching only)", "student", "ssn"),
    ("name", "student", "demographics.last_name"),
    ("birthdate", "student", "demographics.birth_date"),
    ("race/ethnicity", "student", "demographics.federal_race_ethnicity"),
    ("gender", "student", "demographics.sex"),
    ("primary language at home", "student", "demographics.home_language"),
    ("enrollment school", "student", "enrollment.school_id"),
    ("enrollment district", "student", "enrollment.district_id"),
    ("grade level", "student", "enrollment.grade_level"),
    ("entry date", "student", "enrollment.entry_date"),
    ("entry type", "student", "enrollment.entry_type"),
    ("exit date", "student", "enrollment.exit_date"),
    ("exit type", "student", "enrollment.exit_type"),
    ("Title I", "student", "programs.title_i"),
    ("special education participation", "student", "programs.special_education"),
    ("gifted", "student", "programs.gifted_talented"),
    ("gifted type", "student", "programs.gifted_areas"),
    ("free/reduced lunch", "student", "programs.lunch_status"),
    ("English learner participation", "student", "programs.english_learner"),
    ("migrant status", "student", "programs.migrant"),
    ("early childhood participation", "student", "programs.early_childhood"),
    ("early childhood enrollment start", "student", "early_childhood.entry_date"),
    ("early childhood enrollment end", "student", "early_childhood.exit_date"),
    ("kindergarten readiness assessment", "student", "early_childhood.readiness_level"),
    ("disability type", "student", "special_education.primary_disability"),
    ("special education services received", "student", "special_education.services.service_type"),
    ("IEP plan information", "student", "special_education.iep_begin_date"),
    ("504 plan", "student", "section_504.plan_begin_date"),
    ("discipline incidents", "student", "discipline.incident_type"),
    ("discipline actions", "student", "discipline.action_type"),
    ("parent contact information", "student", "parent_contacts.phone_number"),
    ("parent education level", "student", "parent_contacts.highest_education_level"),
    ("EL primary language", "student", "demographics.primary_language"),
    ("English language proficiency level", "student", "english_learner.proficiency_level"),
    ("migrant certificate of eligibility", "student", "migrant.certificate_of_eligibility_date"),
    ("migrant services received", "student", "migrant.services_received"),
    ("concurrent enrollment institution", "student", "courses.dual_credit_institution"),
    ("CTE participation", "student", "cte.participant"),
    ("CTE concentration", "student", "cte.concentrator"),
    ("assessment scores", "student", "assessments.scale_score"),
    ("assessment performance level", "student", "assessments.performance_level"),
    ("testing accommodations", "student", "assessments.accommodations"),
    ("student growth percentiles", "student", "assessments.growth_percentile"),
    ("college entrance and alternate exams", "student", "assessments.assessment_family"),
    ("attendance", "student", "attendance.days_absent_unexcused"),
    ("courses completed", "student", "courses.course_code"),
    ("course educator ID", "student", "courses.educator_staff_id"),
    ("transcripts", "student", "transcript.cumulative_gpa"),
    ("participation in school activities", "student", "activities.activity_type"),
    ("student success plan", "student", "student_success_plan.career_interests"),
    ("staff state ID", "staff", "staff_id"),
    ("staff SSN (matching only)", "staff", "ssn"),
    ("teacher certifications", "staff", "credentials.credential_type"),
    ("teacher degrees", "staff", "degrees.degree_level"),
    ("teacher preparation programs", "staff", "preparation.program_name"),
    ("highly qualified", "staff", "assignments.highly_qualified"),
    ("staff assignments", "staff", "assignments.assignment_role"),
    ("class size", "staff", "assignments.class_size"),
    ("substitute teachers in the classroom", "staff", "assignments.substitute_days"),
    ("paraprofessional present", "staff", "assignments.paraprofessional_present"),
    ("teacher retention", "staff", "employment.exit_reason"),
]


@pytest.mark.parametrize(("element", "entity", "name"), ELEMENTS, ids=[e[0] for e in ELEMENTS])
def test_dictionary_covers_seed_data_element(element: str, entity: str, name: str) -> None:
    assert DD.has_field(entity, name), element  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "category",
    [
        "identifiers", "demographics", "enrollment", "programs", "special_education",
        "section_504", "english_learner", "migrant", "early_childhood", "discipline",
        "parent_contacts", "assessments", "attendance", "courses", "transcript", "cte",
    ],
)
def test_every_student_category_has_fields(category: str) -> None:
    assert DD.fields_for("student", category)


@pytest.mark.parametrize(
    "category", ["identifiers", "staff_demographics", "staff_credentials", "staff_assignments"]
)
def test_every_staff_category_has_fields(category: str) -> None:
    assert DD.fields_for("staff", category)


def test_size_is_realistic() -> None:
    assert 80 <= len(DD.fields) <= 200
    assert len(DD.fields_for("student")) > len(DD.fields_for("staff")) > 10


def test_every_code_set_reference_resolves_and_every_code_set_is_used() -> None:
    referenced = {f.code_set for f in DD.fields if f.code_set}
    defined = {c.name for c in DD.code_sets}
    assert referenced == defined


def test_code_types_name_a_code_set_and_others_do_not() -> None:
    for spec in DD.fields:
        assert (spec.type in ("code", "code_list")) == (spec.code_set is not None), spec.name


def test_idea_has_thirteen_disability_categories() -> None:
    assert len(DD.code_set("disability_category").values) == 13


def test_federal_race_ethnicity_has_seven_categories() -> None:
    assert len(DD.code_set("race_ethnicity").values) == 7


def test_grade_levels_span_prek_to_twelve() -> None:
    values = DD.code_set("grade_level").values
    assert {"PK", "KG", "01", "12"} <= values.keys()


def test_only_ssns_are_never_returned() -> None:
    never = {(f.entity, f.name) for f in DD.fields if f.never_returned}
    assert never == {("student", "ssn"), ("staff", "ssn")}
    assert DD.field("student", "ssn").pii == "direct"


def test_state_student_id_is_a_level_4_locator_field() -> None:
    spec = DD.field("student", "state_student_id")
    assert (spec.level, spec.never_returned) == (4, False)


def test_staff_id_is_the_state_id_not_the_ssn() -> None:
    staff_id = DD.field("staff", "staff_id")
    assert staff_id.level == 4 and not staff_id.never_returned
    assert "never the ssn" in staff_id.description.lower()


def test_student_naming_scheme_section_is_category() -> None:
    for spec in DD.fields_for("student"):
        section, dot, _ = spec.name.partition(".")
        assert spec.category == (section if dot else "identifiers"), spec.name


def test_levels_are_used_as_documented() -> None:
    by_level = {n: {f.name for f in DD.fields_for("student") if f.level == n} for n in (1, 2, 3, 4)}
    assert {"ssn", "record_management.identity_match_status"} <= by_level[1]
    assert {"programs.lunch_status", "discipline.incident_type"} <= by_level[2]
    assert {"assessments.scale_score", "local_student_id"} <= by_level[3]
    assert {"state_student_id", "demographics.first_name", "enrollment.grade_level"} <= by_level[4]


def test_version_is_release_plus_content_hash() -> None:
    assert re.fullmatch(r"2026\.1\+sha256\.[0-9a-f]{12}", DD.version)
    assert DD.model_dump(mode="json")["version"] == DD.version
    edited_text = DICT_TOML.replace("Legal first name", "First name")
    edited = DataDictionary.from_toml(edited_text, CODES_TOML)
    assert edited.release == DD.release == "2026.1"
    assert edited.version != DD.version


def test_load_is_cached() -> None:
    assert load_data_dictionary() is DD


def _with_extra_field(body: str) -> str:
    return DICT_TOML + "\n[[fields]]\n" + body


@pytest.mark.parametrize(
    "extra",
    [
        # unknown code set
        'name = "x.y"\nentity = "student"\ncategory = "x"\npii = "none"\nlevel = 3\n'
        'type = "code"\ncode_set = "no_such_set"\ndescription = "d"\n',
        # duplicate name within an entity
        'name = "state_student_id"\nentity = "student"\ncategory = "identifiers"\npii = "none"\n'
        'level = 4\ntype = "string"\ndescription = "d"\n',
        # level out of range
        'name = "x.y"\nentity = "student"\ncategory = "x"\npii = "none"\nlevel = 5\n'
        'type = "string"\ndescription = "d"\n',
        # a code type without a code set
        'name = "x.y"\nentity = "student"\ncategory = "x"\npii = "none"\nlevel = 3\n'
        'type = "code"\ndescription = "d"\n',
        # a field that is also a section of other fields
        'name = "enrollment"\nentity = "student"\ncategory = "enrollment"\npii = "none"\n'
        'level = 3\ntype = "string"\ndescription = "d"\n',
        # unknown pii class
        'name = "x.y"\nentity = "student"\ncategory = "x"\npii = "maybe"\nlevel = 3\n'
        'type = "string"\ndescription = "d"\n',
    ],
    ids=["unknown-code-set", "duplicate", "level-5", "code-without-set", "prefix", "bad-pii"],
)
def test_invalid_dictionary_is_rejected(extra: str) -> None:
    with pytest.raises(ValidationError):
        DataDictionary.from_toml(_with_extra_field(extra), CODES_TOML)


def test_same_name_in_both_entities_is_allowed() -> None:
    assert DD.has_field("student", "ssn") and DD.has_field("staff", "ssn")
    assert DD.has_field("student", "demographics.first_name")
    assert DD.has_field("staff", "demographics.first_name")
