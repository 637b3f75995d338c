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
