"""De-identification of student-level extracts (issue 7 item 6): per-extract pseudonyms,
generalisation of quasi-identifiers, k-anonymity over students.

Input: rows of the fact table (`reporting_student_fact`: a pseudonymous student key, no names,
no birth dates, no state IDs). Output: one row per student per school year with

- `pseudonym`: HMAC-SHA256 of the fact table's student key under a random key made for this one
  extract and then forgotten (never stored, logged or returned). The same student keeps one
  pseudonym across the years of an extract, but two extracts cannot be joined on pseudonyms, and
  nobody (the agency included) can map a pseudonym back to the fact table's key.
- quasi-identifiers (what an outsider could know about a student: where, grade, sex, race,
  program flags), each generalised along its hierarchy (`HIERARCHIES`, most specific level first):
      location        school -> district -> state        (columns `district_id`, `school_id`)
      grade_level     grade -> band (PK-K, 01-05, 06-08, 09-12, other) -> *
      race_ethnicity  seven federal codes -> WH7, HI7, BL7, other -> *
      sex, english_learner, special_education, free_reduced_lunch, migrant    value -> *
- outcomes, as they are, except `attendance_rate` rounded to 0.01 and `discipline_incidents`
  top-coded at 5 ("5 or more").

k-anonymity is over students, not rows: a student's signature is every (school year,
quasi-identifiers) of the student's rows, since the rows of one pseudonym link; every signature
released is shared by at least k students, so every quasi-identifier combination in the output
appears for at least k students too. Generalisation is greedy (Datafly, Sweeney 2002): while more
students sit in classes smaller than k than the suppression allowance (a fraction of the
population, `SLDS_EXTRACT_MAX_SUPPRESSED_FRACTION`), the quasi-identifier with the most distinct
values goes one level up, for everyone (full-domain: one level per column, which is what the
release records). Students still in a class smaller than k are then suppressed: all their rows are
dropped and counted. The level reached per column, rows released and suppressed go in the release.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.reporting.facts_model import StudentFact

ANY = "*"
PSEUDONYM_HEX = 24  # 96 bits: no collisions at any state's size
DISCIPLINE_TOP_CODE = 5

# The fact columns a request may ask for, and the student data dictionary fields each is derived
# from (what the agreement must cover and what the disclosure log lists).
QUASI_IDENTIFIER_COLUMNS: dict[str, tuple[str, ...]] = {
    "district_id": ("enrollment.district_id",),
    "school_id": ("enrollment.school_id",),
    "grade_level": ("enrollment.grade_level",),
    "sex": ("demographics.sex",),
    "race_ethnicity": ("demographics.federal_race_ethnicity",),
    "english_learner": ("programs.english_learner",),
    "special_education": ("programs.special_education",),
    "free_reduced_lunch": ("programs.lunch_status",),
    "migrant": ("programs.migrant",),
}
OUTCOME_COLUMNS: dict[str, tuple[str, ...]] = {
    "ela_proficient": ("assessments.performance_level", "assessments.subject"),
    "math_proficient": ("assessments.performance_level", "assessments.subject"),
    "attendance_rate": ("attendance.days_enrolled", "attendance.days_present"),
    "chronically_absent": ("attendance.days_enrolled", "attendance.days_present"),
    "discipline_incidents": ("discipline.incident_date",),
    "graduation_cohort": ("enrollment.expected_graduation_year",),
    "graduated": ("enrollment.exit_type",),
}
COLUMNS = {**QUASI_IDENTIFIER_COLUMNS, **OUTCOME_COLUMNS}
ALWAYS_FIELDS = ("enrollment.school_year",)  # every row says its school year
# Columns that never leave in an extract: the fact table's own key (re-keyed as `pseudonym`) and
# bookkeeping. Listed so a test can check the output against the table.
NEVER = frozenset({"student_key", "refreshed_at"})


def _grade_band(grade: str | None) -> str | None:
    if grade is None:
        return None
    if grade in ("IT", "PR", "PK", "KG"):
        return "PK-K"
    if grade.isdigit():
        n = int(grade)
        return "01-05" if n <= 5 else "06-08" if n <= 8 else "09-12"
    return "other"


def _race_group(code: str | None) -> str | None:
    return code if code in (None, "WH7", "HI7", "BL7") else "other"


Level = tuple[str, Callable[[Any], Any]]
_KEEP: Level = ("value", lambda v: v)
_HIDE: Level = ("*", lambda v: ANY)

# Per quasi-identifier: its fact columns and its levels, most specific first.
HIERARCHIES: dict[str, tuple[tuple[str, ...], tuple[Level, ...]]] = {
    "location": (("district_id", "school_id"), (
        ("school", lambda v: v),
        ("district", lambda v: (v[0], ANY)),
        ("state", lambda v: (ANY, ANY)))),
    "grade_level": (("grade_level",), (("grade", lambda v: v), ("band", _grade_band), _HIDE)),
    "race_ethnicity": (("race_ethnicity",), (("code", lambda v: v), ("group", _race_group), _HIDE)),
    **{name: ((name,), (_KEEP, _HIDE))
       for name in ("sex", "english_learner", "special_education", "free_reduced_lunch", "migrant")},
}


@dataclass
class Extract:
    rows: list[dict[str, Any]]
    generalisation: dict[str, str]  # quasi-identifier -> level reached
    rows_released: int
    rows_suppressed: int
    students_released: int
    students_suppressed: int
    steps: list[str] = field(default_factory=list)  # the order the levels went up in


def fields_for(columns: Sequence[str]) -> list[str]:
    """The data dictionary fields an extract of these columns discloses (de-identified)."""
    return sorted(set(ALWAYS_FIELDS).union(*(COLUMNS[c] for c in columns)))


def _qi_plan(columns: Sequence[str]) -> dict[str, int]:
    """The quasi-identifiers requested and the level each starts at (district only: the location
    starts at the district level)."""
    plan: dict[str, int] = {}
    wanted = set(columns)
    if wanted & {"district_id", "school_id"}:
        plan["location"] = 0 if "school_id" in wanted else 1
    for name in HIERARCHIES:
        if name != "location" and name in wanted:
            plan[name] = 0
    return plan


def _raw(fact: StudentFact, qi: str) -> Any:
    cols = HIERARCHIES[qi][0]
    return tuple(getattr(fact, c) for c in cols) if len(cols) > 1 else getattr(fact, cols[0])


def _outcome(column: str, value: Any) -> Any:
    if column == "attendance_rate" and value is not None:
        return round(value, 2)
    if column == "discipline_incidents" and value is not None:
        return min(value, DISCIPLINE_TOP_CODE)
    return value


def deidentify(facts: Sequence[StudentFact], columns: Sequence[str], *, k: int,
               max_suppressed_fraction: float) -> Extract:
    """The extract of `facts` (all rows of the population) with `columns`, k-anonymous over
    students. The pseudonym key lives only inside this call."""
    plan = _qi_plan(columns)
    qis = list(plan)
    raw = [(f, {qi: _raw(f, qi) for qi in qis}) for f in facts]
    by_student: dict[str, list[int]] = defaultdict(list)
    for i, (f, _) in enumerate(raw):
        by_student[f.student_key].append(i)
    allowance = math.floor(max_suppressed_fraction * len(by_student))
    levels = dict(plan)
    steps: list[str] = []

    def values(level_of: dict[str, int]) -> list[dict[str, Any]]:
        return [{qi: HIERARCHIES[qi][1][level_of[qi]][1](r[qi]) for qi in qis} for _, r in raw]

    def small_students(vals: list[dict[str, Any]]) -> set[str]:
        signature = {s: tuple(sorted((raw[i][0].school_year, *(repr(vals[i][q]) for q in qis)) for i in idx))
                     for s, idx in by_student.items()}
        sizes = Counter(signature.values())
        return {s for s, sig in signature.items() if sizes[sig] < k}

    vals = values(levels)
    small = small_students(vals)
    while len(small) > allowance:
        movable = [qi for qi in qis if levels[qi] + 1 < len(HIERARCHIES[qi][1])]
        if not movable:
            break
        distinct = {qi: len({repr(v[qi]) for v in vals}) for qi in movable}
        step = max(movable, key=lambda qi: (distinct[qi], -qis.index(qi)))
        levels[step] += 1
        steps.append(f"{step}:{HIERARCHIES[step][1][levels[step]][0]}")
        vals = values(levels)
        small = small_students(vals)

    key = secrets.token_bytes(32)  # this extract's only: forgotten when the call returns
    pseudonyms = {s: hmac.new(key, s.encode(), hashlib.sha256).hexdigest()[:PSEUDONYM_HEX] for s in by_student}
    del key
    out: list[dict[str, Any]] = []
    for (fact, _), v in zip(raw, vals, strict=True):
        if fact.student_key in small:
            continue
        row: dict[str, Any] = {"pseudonym": pseudonyms[fact.student_key], "school_year": fact.school_year,
                               "state": fact.state}
        for qi in qis:
            cols = HIERARCHIES[qi][0]
            parts = v[qi] if len(cols) > 1 else (v[qi],)
            row |= {c: p for c, p in zip(cols, parts, strict=True) if c in columns}
        row |= {c: _outcome(c, getattr(fact, c)) for c in columns if c in OUTCOME_COLUMNS}
        out.append(row)
    out.sort(key=lambda r: (r["pseudonym"], r["school_year"]))  # no trace of the fact table's order
    suppressed_rows = sum(len(by_student[s]) for s in small)
    return Extract(
        rows=out, generalisation={qi: HIERARCHIES[qi][1][levels[qi]][0] for qi in qis},
        rows_released=len(out), rows_suppressed=suppressed_rows,
        students_released=len(by_student) - len(small), students_suppressed=len(small), steps=steps)


def quasi_identifier_columns(columns: Sequence[str]) -> list[str]:
    """The output columns that together form the quasi-identifier (with the school year)."""
    return ["school_year", "state"] + [c for c in columns if c in QUASI_IDENTIFIER_COLUMNS]
