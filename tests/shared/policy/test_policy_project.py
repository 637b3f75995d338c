"""project(): hidden keys are left out (never nulled), in sections and in lists of sub-records."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.records.service import fields_present
from shared.policy.access import project, project_with_names, visible_fields
from shared.policy.principal import Principal, StudentFacts

RECORD: dict[str, Any] = {
    "state_student_id": "S1",
    "ssn": "123-45-6789",
    "demographics": {"first_name": "Ana", "last_name": "Diaz", "address_street": "1 Elm St"},
    "programs": {"lunch_status": "free", "english_learner": True, "special_education": True},
    "enrollment": [
        {"school_id": "D1-S1", "grade_level": "05", "exit_type": "expelled"},
        {"school_id": "D1-S2", "grade_level": "06"},
    ],
    "special_education": {
        "primary_disability": "SLD",
        "accommodations": ["extended_time", "read_aloud"],
        "services": [
            {"service_type": "speech_language", "minutes_per_week": 60},
            {"service_type": "occupational_therapy", "minutes_per_week": 30},
        ],
    },
    "discipline": [{"incident_type": "defiance", "action_type": "detention"}],
    "assessments": [{"scale_score": 742, "accommodations": ["extended_time"]}],
    "surprise": "not in the dictionary",
}


def test_top_level_and_section_keys_are_absent_not_null() -> None:
    out = project(RECORD, frozenset({"state_student_id", "demographics.first_name"}))
    assert out == {"state_student_id": "S1", "demographics": {"first_name": "Ana"}}


def test_lists_of_sub_records_are_projected_element_by_element() -> None:
    out = project(RECORD, frozenset({"enrollment.school_id", "enrollment.grade_level"}))
    assert out == {
        "enrollment": [
            {"school_id": "D1-S1", "grade_level": "05"},
            {"school_id": "D1-S2", "grade_level": "06"},
        ]
    }


def test_nested_list_inside_a_section() -> None:
    out = project(RECORD, frozenset({"special_education.services.service_type"}))
    assert out == {
        "special_education": {
            "services": [
                {"service_type": "speech_language"},
                {"service_type": "occupational_therapy"},
            ]
        }
    }


def test_a_selected_list_of_codes_is_kept_whole() -> None:
    out = project(RECORD, frozenset({"special_education.accommodations"}))
    assert out == {"special_education": {"accommodations": ["extended_time", "read_aloud"]}}


def test_sections_and_elements_left_empty_are_omitted() -> None:
    fields = {"enrollment.exit_type", "discipline.school_id", "demographics.middle_name"}
    out = project(RECORD, frozenset(fields))
    # Only the first enrollment has an exit_type; discipline and demographics have nothing visible.
    assert out == {"enrollment": [{"exit_type": "expelled"}]}


def test_a_name_selecting_a_section_selects_it_whole() -> None:
    out = project(RECORD, frozenset({"discipline", "discipline.incident_type"}))
    assert out == {"discipline": RECORD["discipline"]}


def test_scalar_where_a_section_is_expected_is_dropped() -> None:
    assert project({"enrollment": "D1-S1"}, frozenset({"enrollment.school_id"})) == {}


def test_nothing_selected_or_not_a_mapping() -> None:
    assert project(RECORD, frozenset()) == {}
    not_a_record = ["state_student_id"]
    assert project(not_a_record, frozenset({"state_student_id"})) == {}  # type: ignore[arg-type]


def test_input_untouched_and_output_independent() -> None:
    before = copy.deepcopy(RECORD)
    out = project(RECORD, frozenset({"special_education.accommodations"}))
    out["special_education"]["accommodations"].append("scribe")
    assert RECORD == before


def test_plain_set_of_fields_is_accepted() -> None:
    fields = {"state_student_id"}
    assert project(RECORD, fields) == {"state_student_id": "S1"}  # type: ignore[arg-type]


def test_teacher_projection_of_a_full_record() -> None:
    today = date(2026, 3, 2)
    teacher = Principal(subject="user:t", kind="user", role="teacher", staff_id="T1")
    facts = StudentFacts(state_student_id="S1", teacher_staff_ids=frozenset({"T1"}), as_of=today)
    out = project(RECORD, visible_fields(teacher, facts, today=today))
    assert out == {
        "state_student_id": "S1",
        "demographics": {"first_name": "Ana", "last_name": "Diaz"},
        "programs": {"english_learner": True, "special_education": True},
        "enrollment": [
            {"school_id": "D1-S1", "grade_level": "05"},
            {"school_id": "D1-S2", "grade_level": "06"},
        ],
        "special_education": {"accommodations": ["extended_time", "read_aloud"]},
        "assessments": [{"scale_score": 742, "accommodations": ["extended_time"]}],
    }


def test_state_admin_projection_still_drops_the_ssn_and_unknown_keys() -> None:
    admin = Principal(subject="user:a", kind="user", role="state_data_admin")
    out = project(RECORD, visible_fields(admin, StudentFacts(state_student_id="S1")))
    assert "ssn" not in out and "surprise" not in out
    assert out["discipline"] == RECORD["discipline"]


# --- project_with_names: the projection and the field names that went out, in one walk ----------

_KEYS = st.sampled_from(["a", "b", "c", "d"])
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=3))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(_KEYS, inner, max_size=4)), max_leaves=12)
_FIELDS = st.frozensets(st.lists(_KEYS, min_size=1, max_size=3).map(".".join), max_size=6)


@settings(max_examples=300, deadline=None)
@given(record=st.dictionaries(_KEYS, _VALUES, max_size=4), fields=_FIELDS)
def test_project_with_names_is_project_then_fields_present(record: dict[str, Any], fields: frozenset[str]) -> None:
    original = copy.deepcopy(record)
    projected, names = project_with_names(record, fields)
    assert projected == project(record, fields)
    assert names == fields_present(projected)
    assert record == original  # the input untouched


def test_project_with_names_of_a_teacher_view() -> None:
    record = {"state_student_id": "4820175936", "demographics": {"first_name": "Ana", "ssn": "123-45-6789"},
              "enrollment": [{"school_id": "1001-01", "entry_date": "2025-08-20"}, {"school_id": "1001-02"}],
              "guardian_names": ["A", "B"]}
    projected, names = project_with_names(record, frozenset({"state_student_id", "demographics.first_name",
                                                             "enrollment.school_id", "guardian_names"}))
    assert names == {"state_student_id", "demographics.first_name", "enrollment.school_id", "guardian_names"}
    assert "ssn" not in str(projected)
