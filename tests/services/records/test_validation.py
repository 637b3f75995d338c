"""Record validation against the data dictionary, field by field: what a district's SIS sees when a
value is outside its code set or of the wrong type (the field named, never the value)."""

from __future__ import annotations

from services.records.validation import validate_record

STUDENT = "1000000001"


def _demographics(**fields: object) -> dict[str, object]:
    return {"first_name": "Ada", "last_name": "Lovelace", "birth_date": "2012-03-04", **fields}


def test_country_and_language_codes_are_checked_in_any_case() -> None:
    record, problems = validate_record("student", {
        "state_student_id": STUDENT,
        "demographics": _demographics(birth_country="usa", primary_language="ENG", home_language="spa")})
    assert problems == [] and record is not None
    (demographics,) = [e.data for e in record.elements if e.section == "demographics"]
    assert (demographics["birth_country"], demographics["primary_language"]) == ("usa", "ENG")


def test_a_code_outside_its_standard_is_named_and_not_echoed() -> None:
    record, problems = validate_record("student", {
        "state_student_id": STUDENT, "demographics": _demographics(birth_country="XQZ", home_language="qq9")})
    assert record is None
    assert {p.field for p in problems} == {"demographics.birth_country", "demographics.home_language"}
    assert all("XQZ" not in p.message and "qq9" not in p.message for p in problems)


def test_top_level_fields_are_checked_and_normalised() -> None:
    record, problems = validate_record("student", {
        "state_student_id": STUDENT, "local_student_id": "  L-77 ", "demographics": _demographics()})
    assert problems == [] and record is not None
    assert record.elements[0].section == "identifiers" and record.elements[0].data == {"local_student_id": "L-77"}
    record, problems = validate_record("student", {
        "state_student_id": STUDENT, "local_student_id": 77, "medicaid_id": "", "demographics": _demographics()})
    assert record is None
    assert [(p.field, p.message) for p in problems] == [("local_student_id", "Must be a non-empty string."),
                                                        ("medicaid_id", "Must be a non-empty string.")]


def _enrollment(**fields: object) -> dict[str, object]:
    return {"school_year": "2026-2027", "district_id": "1001", "school_id": "1001-01", "grade_level": "07",
            "entry_date": "2026-08-20", **fields}


def test_list_elements_are_keyed_and_checked_for_order_requirements_and_repeats() -> None:
    record, problems = validate_record("student", {
        "state_student_id": STUDENT, "demographics": _demographics(),
        "enrollment": [_enrollment(), _enrollment(school_id="1001-02", entry_date="2025-08-20")]})
    assert problems == [] and record is not None
    assert [e.key for e in record.elements if e.section == "enrollment"] == ["1001-01|2026-08-20",
                                                                            "1001-02|2025-08-20"]
    record, problems = validate_record("student", {
        "state_student_id": STUDENT, "demographics": _demographics(),
        "enrollment": [_enrollment(), _enrollment(school_id="1001-02", exit_date="2026-08-01"),
                       {**_enrollment(school_id="1001-03"), "grade_level": None}, _enrollment()]})
    assert record is None
    assert [(p.field, p.code) for p in problems] == [("enrollment[1].exit_date", "date-order"),
                                                     ("enrollment[2].grade_level", "required"),
                                                     ("enrollment[3]", "duplicate-key")]
