"""Check a submitted record against the data dictionary, field by field, and say everything that is
wrong at once, naming the field, never echoing the value (values are PII).

The dictionary is the schema: a key it does not know is an error (not silently dropped), a code
must be in its code set (or match its standard: ISO 3166-1 and ISO 639-3 through pycountry, SCED
and CIP by their published formats), dates are ISO 8601, and date pairs are in order. What comes
out is the record split into its sections, with dates normalised, ready to be versioned.

One rule needs the stored record: a student success plan is kept only for a student enrolled in
grades 6 to 12 (`success_plan_problems`, which the writer runs once it holds the stored enrollments).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import pycountry

from services.records.sections import ID_FIELD, ROOT, SectionSpec, natural_key, sections
from shared.policy.dictionary import Entity, FieldSpec, load_data_dictionary

ENVELOPE = ("district_id",)  # submission metadata, not record fields
PLAN_SECTION = "student_success_plan"
# 003 Connecticut: a student success plan "records students' career and academic choices in grades
# six to twelve, inclusive".
PLAN_GRADES = frozenset({"06", "07", "08", "09", "10", "11", "12"})
MAX_STRING = 500
# Date pairs that must be in order: (section, start, end).
DATE_ORDER: tuple[tuple[str, str, str], ...] = (
    ("enrollment", "entry_date", "exit_date"),
    ("special_education", "iep_begin_date", "iep_end_date"),
    ("section_504", "plan_begin_date", "plan_end_date"),
    ("english_learner", "identification_date", "exit_date"),
    ("early_childhood", "entry_date", "exit_date"),
    ("special_education", "last_evaluation_date", "reevaluation_due_date"),
    ("student_success_plan", "plan_start_date", "last_review_date"),
    ("student_success_plan", "last_review_date", "next_review_date"),
)
EARLIEST = date(1900, 1, 1)


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    message: str
    code: str = "invalid"

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


@dataclass(slots=True)
class Element:
    section: str
    key: str
    data: dict[str, Any]
    path: str  # where it was in the submission, for problems found later (`enrollment[1]`)


@dataclass(frozen=True, slots=True)
class UnparsableRow:
    """An NDJSON line that is not JSON: it fails alone, as any other bad row, with the parser's
    reason and where (never the text there)."""

    line: int  # from 1, counting blank lines
    reason: str
    column: int


# Sections whose elements name a school and its district (a student's enrollment, a staff
# member's assignment): who may write them, and whether the school is the district's, is checked.
PLACEMENT_SECTIONS = frozenset({"enrollment", "assignments"})


@dataclass(slots=True)
class ValidatedRecord:
    entity: Entity
    state_id: str
    district_id: str | None
    elements: list[Element] = field(default_factory=list)
    carried_ssn: bool = False  # accepted on input, never stored here (identity keeps its hash)
    # Elements also in `elements` that later rules read without a pass over the rest: those that
    # place the subject in a school and district (`PLACEMENT_SECTIONS`: who may write them, is
    # the school the district's) and student success plans (the grade rule).
    placements: list[Element] = field(default_factory=list)
    plans: list[Element] = field(default_factory=list)

    def sections(self) -> set[str]:
        return {e.section for e in self.elements}


# --- code sets ------------------------------------------------------------------------------------

@cache
def _alpha_3(database: str) -> frozenset[str]:
    """pycountry's alpha-3 codes, lower-cased as its lookups compare them: one set, where a
    lookup per value was ~4% of validating a bulk write."""
    return frozenset(entry.alpha_3.lower() for entry in getattr(pycountry, database))


_FORMATS: dict[str, Callable[[str], bool]] = {
    "ISO 3166-1 alpha-3": lambda v: v.lower() in _alpha_3("countries"),
    "ISO 639-3": lambda v: v.lower() in _alpha_3("languages"),
    "School Courses for the Exchange of Data (SCED)": lambda v: re.fullmatch(r"\d{5}", v) is not None,
    "Classification of Instructional Programs (CIP 2020)": lambda v: re.fullmatch(r"\d{2}\.\d{4}", v) is not None,
    "IPEDS UnitID": lambda v: re.fullmatch(r"\d{6}", v) is not None,
}


@cache
def _code_check(code_set: str) -> Callable[[str], bool]:
    spec = load_data_dictionary().code_set(code_set)
    if spec.values:
        allowed = frozenset(spec.values)
        return allowed.__contains__
    check = _FORMATS.get(spec.standard or "")
    if check is None:  # a standard we cannot check: fail closed, a reviewer must add it
        raise LookupError(f"no validator for code set standard {spec.standard!r}")
    return check


# --- the field tree -------------------------------------------------------------------------------

Tree = dict[str, "FieldSpec | Tree"]


@cache
def _tree(entity: Entity, section: str) -> Tree:
    tree: Tree = {}
    for spec in load_data_dictionary().fields_for(entity):
        head, _, rest = spec.name.partition(".")
        if section == ROOT:
            if rest:
                continue
            parts = [head]
        elif head == section and rest:
            parts = rest.split(".")
        else:
            continue
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})  # type: ignore[assignment]
        node[parts[-1]] = spec
    return tree


class _Bad:
    """What a compiled check answers for a bad value: the problem's message (never the value)."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


Check = Callable[[Any], Any]  # the normalised value, or a `_Bad`
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NOT_STRING = _Bad("Must be a non-empty string.")
_TOO_LONG = _Bad(f"Must be at most {MAX_STRING} characters.")
_NOT_DATE = _Bad("Must be a date in ISO 8601 form (YYYY-MM-DD).")
_NOT_CALENDAR = _Bad("Must be a real calendar date (YYYY-MM-DD).")
_TOO_EARLY = _Bad("Must not be before 1900.")
_NOT_INTEGER = _Bad("Must be an integer.")
_NOT_NUMBER = _Bad("Must be a number.")
# JSON leaves a number's size open; what is stored and served keeps to a signed 64-bit integer
# (JSON encoders and readers of the feed refuse bigger ones).
_INT64 = 1 << 63
_OUT_OF_RANGE = _Bad("Must fit in a signed 64-bit integer (JSON readers refuse bigger ones).")
_NOT_BOOLEAN = _Bad("Must be true or false.")
_REPEATED = _Bad("Must not repeat a code.")


def _check_string(value: Any) -> Any:
    if not isinstance(value, str):
        return _NOT_STRING
    stripped = value.strip()
    if not stripped:
        return _NOT_STRING
    if len(value) > MAX_STRING:
        return _TOO_LONG
    return stripped


def _check_date(value: Any) -> Any:
    if not isinstance(value, str) or _DATE.fullmatch(value) is None:
        return _NOT_DATE
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return _NOT_CALENDAR
    if day < EARLIEST:
        return _TOO_EARLY
    return value


def _check_integer(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        return _NOT_INTEGER
    if not -_INT64 <= value < _INT64:
        return _OUT_OF_RANGE
    return value


def _check_decimal(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _NOT_NUMBER
    if isinstance(value, int):
        return _check_integer(value)  # (math.isfinite overflows on a huge one)
    return value if math.isfinite(value) else _NOT_NUMBER


def _check_boolean(value: Any) -> Any:
    return value if isinstance(value, bool) else _NOT_BOOLEAN


@cache
def _compiled_check(spec: FieldSpec) -> Check:
    """One field's check, built once per field: no dispatch on the type per value."""
    match spec.type:
        case "string":
            return _check_string
        case "date":
            return _check_date
        case "integer":
            return _check_integer
        case "decimal":
            return _check_decimal
        case "boolean":
            return _check_boolean
        case "code":
            assert spec.code_set is not None
            allowed = _code_check(spec.code_set)
            bad = _Bad(f"Must be a code from the '{spec.code_set}' code set.")
            return lambda value: value if isinstance(value, str) and allowed(value) else bad
        case "code_list":
            assert spec.code_set is not None
            member = _code_check(spec.code_set)
            bad = _Bad(f"Must be a list of codes from the '{spec.code_set}' code set.")

            def check_list(value: Any) -> Any:
                if not isinstance(value, list) or not all(isinstance(v, str) and member(v) for v in value):
                    return bad
                if len(set(value)) != len(value):
                    return _REPEATED
                return value
            return check_list
    unsupported = _Bad("Unsupported field type.")  # pragma: no cover - the dictionary's types are closed
    return lambda value: unsupported  # pragma: no cover


CompiledTree = dict[str, "Check | CompiledTree"]


@cache
def _compiled_tree(entity: Entity, section: str) -> CompiledTree:
    def compile_node(tree: Tree) -> CompiledTree:
        return {key: compile_node(node) if isinstance(node, dict) else _compiled_check(node)
                for key, node in tree.items()}
    return compile_node(_tree(entity, section))


@cache
def nested_fields(entity: Entity, section: str) -> frozenset[str]:
    """A section's fields that hold lists of sub-records (special_education.services): the
    field names such a value carries depend on what is in it, not only on its key."""
    return frozenset(key for key, node in _compiled_tree(entity, section).items() if type(node) is dict)


def _check_mapping(tree: CompiledTree, value: Any, path: str, problems: list[Problem]) -> dict[str, Any] | None:
    if type(value) is not dict and not isinstance(value, Mapping):  # (JSON gives dicts: no ABC check)
        problems.append(Problem(path, "Must be an object."))
        return None
    out: dict[str, Any] = {}
    get = tree.get
    for key, item in value.items():
        node = get(key)  # the tree's keys are strings: any other key finds nothing
        if node is None:
            problems.append(Problem(f"{path}.{key}" if path else str(key), "Unknown field: not in the data dictionary.",
                                    "unknown-field"))
            continue
        if item is None:
            continue  # an explicit null is the same as leaving the field out
        if type(node) is dict:  # a nested list of sub-records (special_education.services)
            sub = f"{path}.{key}" if path else str(key)
            if not isinstance(item, list):
                problems.append(Problem(sub, "Must be a list of objects."))
                continue
            elements = [_check_mapping(node, e, f"{sub}[{i}]", problems) for i, e in enumerate(item)]
            out[key] = [e for e in elements if e]
        else:
            checked = node(item)  # type: ignore[operator]
            if type(checked) is _Bad:
                problems.append(Problem(f"{path}.{key}" if path else str(key), checked.message))
            else:
                out[key] = checked
    return out


@cache
def _date_order(section: str) -> tuple[tuple[str, str], ...]:
    return tuple((start, end) for name, start, end in DATE_ORDER if name == section)


@dataclass(frozen=True, slots=True)
class _SectionChecks:
    """What checking one element of a section needs, looked up once per process."""

    spec: SectionSpec
    tree: CompiledTree
    date_order: tuple[tuple[str, str], ...]


@cache
def _section_checks(entity: Entity) -> dict[str, _SectionChecks]:
    return {name: _SectionChecks(spec, _compiled_tree(entity, name), _date_order(name))
            for name, spec in sections(entity).items() if name != ROOT}


def _element(checks: _SectionChecks, value: Any, path: str, problems: list[Problem]) -> Element | None:
    before = len(problems)
    data = _check_mapping(checks.tree, value, path, problems)
    if data is None:
        return None
    spec = checks.spec
    for name in spec.required:
        if name not in data and not any(p.field == f"{path}.{name}" for p in problems[before:]):
            problems.append(Problem(f"{path}.{name}", "Is required.", "required"))
    for start, end in checks.date_order:
        if data.get(start) and data.get(end) and data[end] < data[start]:
            problems.append(Problem(f"{path}.{end}", f"Must not be before {start}.", "date-order"))
    if len(problems) > before:
        return None
    return Element(spec.name, natural_key(spec, data), data, path)


def validate_record(entity: Entity, body: Any) -> tuple[ValidatedRecord | None, list[Problem]]:
    """Split a submitted record into versionable elements, or list every problem in it."""
    problems: list[Problem] = []
    if type(body) is UnparsableRow:
        return None, [Problem("body", f"Line {body.line} is not valid JSON: {body.reason} (column {body.column}).")]
    if not isinstance(body, Mapping):
        return None, [Problem("body", "Must be a JSON object.")]
    id_field = ID_FIELD[entity]
    specs = _section_checks(entity)
    root_checks = _compiled_tree(entity, ROOT)
    state_id = body.get(id_field)
    if not isinstance(state_id, str) or not state_id.strip():
        problems.append(Problem(id_field, "Is required.", "required"))
    district_id = body.get("district_id")
    if district_id is not None and (not isinstance(district_id, str) or not district_id.strip()):
        problems.append(Problem("district_id", "Must be a non-empty string."))
    record = ValidatedRecord(entity, str(state_id or "").strip(), district_id)
    root: dict[str, Any] = {}
    seen_keys: dict[tuple[str, str], str] = {}
    for key, value in body.items():
        if key in ENVELOPE or key == id_field:
            continue
        if key == "ssn":
            if value is not None and not isinstance(value, str):
                problems.append(Problem("ssn", "Must be a string."))
            record.carried_ssn = value is not None
            continue
        if key in root_checks:
            check = root_checks[key]
            if value is not None and type(check) is not dict:
                checked = check(value)  # type: ignore[operator]
                if type(checked) is _Bad:
                    problems.append(Problem(key, checked.message))
                else:
                    root[key] = checked
            continue
        section = specs.get(key)  # (not the root: its fields are checked above)
        if section is None:
            problems.append(Problem(key, "Unknown field: not in the data dictionary.", "unknown-field"))
            continue
        if value is None:
            continue
        kept = record.placements if key in PLACEMENT_SECTIONS else record.plans if key == PLAN_SECTION else None
        if section.spec.shape == "single":
            element = _element(section, value, key, problems)
            if element is not None and element.data:
                record.elements.append(element)
                if kept is not None:
                    kept.append(element)
            continue
        if not isinstance(value, list):
            problems.append(Problem(key, "Must be a list of objects."))
            continue
        for i, item in enumerate(value):
            path = f"{key}[{i}]"
            element = _element(section, item, path, problems)
            if element is None:
                continue
            where = seen_keys.setdefault((key, element.key), path)
            if where != path:  # an earlier element holds this key
                problems.append(Problem(path, f"Repeats the natural key of {where}.", "duplicate-key"))
                continue
            record.elements.append(element)
            if kept is not None:
                kept.append(element)
    if root:
        record.elements.insert(0, Element(ROOT, "", root, ""))
    if problems:
        return None, problems
    return record, []


# --- rules across sections ------------------------------------------------------------------------

def _grade_now(enrollments: Iterable[Mapping[str, Any]], today: date) -> str | None:
    """The grade of the current enrollment (open today, the primary school first), or of the latest
    one when none is open (a student enrolled for next year, or between schools)."""
    rows = [e for e in enrollments if e.get("entry_date") and e.get("grade_level")]
    day = today.isoformat()
    current = [e for e in rows if e["entry_date"] <= day and (not e.get("exit_date") or e["exit_date"] >= day)]
    if current:
        return max(current, key=lambda e: (e.get("primary_school") is not False, e["entry_date"]))["grade_level"]
    return max(rows, key=lambda e: e["entry_date"])["grade_level"] if rows else None


def success_plan_problems(record: ValidatedRecord, stored: Iterable[Any] = (), *,
                          today: date | None = None) -> list[Problem]:
    """A student success plan is kept only for a student whose current enrollment is in grades 6 to 12
    (003 Connecticut). The grade is read once the submission is applied: the stored enrollment
    elements (`stored`: items with `section`, `item_key` and `data`, e.g. the service's `ItemRow`s),
    with those the submission carries replacing the ones of the same natural key. So a district may
    send the plan alone, or with the enrollment that puts the student in grade 6."""
    plans = record.plans
    if record.entity != "student" or not plans:
        return []
    enrollments = {item.item_key: item.data for item in stored if item.section == "enrollment"}
    enrollments.update({e.key: e.data for e in record.placements if e.section == "enrollment"})
    if _grade_now(enrollments.values(), today or datetime.now(UTC).date()) in PLAN_GRADES:
        return []
    return [Problem(plans[0].path, "Is kept only for a student whose current enrollment is in grades 6 to 12.",
                    "grade-range")]
