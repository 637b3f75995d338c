"""Records' feed to reporting: rebuilds the de-identified fact table `reporting_student_fact`
(model and column meanings in `services/reporting/facts_model.py`) from current records.

Records owns the writing, on purpose: it is the one service that holds the identified data, so the
pseudonymisation happens here and reporting never sees a state ID or a name. Run by
`slds reporting refresh-facts`; each run replaces the rows of the school years it rebuilds, in
one transaction, so reporting never reads half a refresh.

Business rules (kept with the column docs in facts_model.py):
- a student counts in a school year when a record has an enrollment with that `school_year`; the
  primary enrollment with the latest entry date gives district, school and grade;
- proficiency: a state summative assessment of that school year at performance level 4 or 5;
- chronic absence: days present below 90% of days enrolled, over that year's attendance rows;
- discipline: incidents dated within the school year (1 July to 30 June);
- graduation cohort: `expected_graduation_year` equal to the year the school year ends;
  graduated: an enrollment of that year exited as `graduated_regular` or `graduated_other`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.records.models import RecordItem, RecordSubject
from services.reporting.facts_model import StudentFact
from shared.db import utcnow
from shared.settings import Settings

SECTIONS = ("demographics", "enrollment", "programs", "assessments", "attendance", "discipline")
PROFICIENT_LEVELS = {"4", "5"}
GRADUATED = {"graduated_regular", "graduated_other"}
CHUNK = 2000


def pseudonym_key(settings: Settings) -> bytes:
    # A key of its own, derived from the deployment secret, so the pseudonym is not a token key.
    return hmac.new(settings.resolved_secret_key(), b"slds/reporting/student-key/v1", hashlib.sha256).digest()


def student_key(key: bytes, state_id: str) -> str:
    return hmac.new(key, state_id.encode(), hashlib.sha256).hexdigest()


def _year_bounds(label: str) -> tuple[date, date]:
    start = int(label[:4])
    return date(start, 7, 1), date(start + 1, 6, 30)


def _in_year(value: Any, label: str) -> bool:
    try:
        day = date.fromisoformat(str(value)[:10])
    except ValueError:
        return False
    first, last = _year_bounds(label)
    return first <= day <= last


def facts_for_student(sections: dict[str, list[dict[str, Any]]], key: str, state: str) -> list[dict[str, Any]]:
    """The fact rows (one per school year enrolled) of one student's current record."""
    demographics = (sections.get("demographics") or [{}])[0]
    programs = (sections.get("programs") or [{}])[0]
    by_year: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in sections.get("enrollment", []):
        if e.get("school_year") and e.get("school_id") and e.get("district_id"):
            by_year[e["school_year"]].append(e)
    rows = []
    for year, enrollments in by_year.items():
        primary = max(enrollments, key=lambda e: (e.get("primary_school", True) is not False,
                                                  str(e.get("entry_date", ""))))
        proficiency: dict[str, bool | None] = {"ela": None, "mathematics": None}
        for a in sections.get("assessments", []):
            if (a.get("assessment_family") == "state_summative" and a.get("school_year") == year
                    and a.get("subject") in proficiency and a.get("performance_level")):
                proficiency[a["subject"]] = str(a["performance_level"]) in PROFICIENT_LEVELS
        enrolled = present = 0.0
        for a in sections.get("attendance", []):
            if a.get("school_year") == year and a.get("days_enrolled"):
                enrolled += float(a["days_enrolled"])
                present += float(a.get("days_present") or 0)
        rate = present / enrolled if enrolled else None
        cohort = any(str(e.get("expected_graduation_year", "")) == year[-4:] for e in enrollments)
        graduated = any(e.get("exit_type") in GRADUATED for e in enrollments)
        rows.append({
            "school_year": year, "student_key": key, "state": state,
            "district_id": primary["district_id"], "school_id": primary["school_id"],
            "grade_level": primary.get("grade_level"), "sex": demographics.get("sex"),
            "race_ethnicity": demographics.get("federal_race_ethnicity"),
            "english_learner": bool(programs.get("english_learner")),
            "special_education": bool(programs.get("special_education")),
            "free_reduced_lunch": programs.get("lunch_status") in ("free", "reduced"),
            "migrant": bool(programs.get("migrant")),
            "ela_proficient": proficiency["ela"], "math_proficient": proficiency["mathematics"],
            "attendance_rate": rate, "chronically_absent": None if rate is None else rate < 0.9,
            "discipline_incidents": sum(1 for d in sections.get("discipline", [])
                                        if _in_year(d.get("incident_date"), year)),
            "graduation_cohort": cohort or graduated,
            "graduated": graduated if (cohort or graduated) else None,
        })
    return rows


async def _current_items(session: AsyncSession) -> AsyncIterator[tuple[str, dict[str, list[dict[str, Any]]]]]:
    """(state ID, {section: [element data]}) for every student record not merged away."""
    query = (
        select(RecordItem.state_id, RecordItem.section, RecordItem.data)
        .join(RecordSubject, (RecordSubject.entity == RecordItem.entity)
              & (RecordSubject.state_id == RecordItem.state_id))
        .where(RecordItem.entity == "student", RecordItem.section.in_(SECTIONS),
               RecordSubject.merged_into.is_(None))
        .order_by(RecordItem.state_id)
    )
    current: str | None = None
    sections: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for state_id, section, data in (await session.execute(query)).all():
        if state_id != current:
            if current is not None:
                yield current, sections
            current, sections = state_id, defaultdict(list)
        sections[section].append(data or {})
    if current is not None:
        yield current, sections


async def refresh_facts(session: AsyncSession, settings: Settings, *, state: str = "ST",
                        school_years: set[str] | None = None) -> dict[str, int]:
    """Rebuild the fact rows (all school years, or only `school_years`); returns rows per year."""
    key = pseudonym_key(settings)
    now = utcnow()
    rows: list[dict[str, Any]] = []
    async for state_id, sections in _current_items(session):
        for row in facts_for_student(sections, student_key(key, state_id), state):
            if school_years is None or row["school_year"] in school_years:
                rows.append(row | {"refreshed_at": now})
    years = school_years if school_years is not None else {r["school_year"] for r in rows}
    stale = delete(StudentFact)
    if school_years is not None:
        stale = stale.where(StudentFact.school_year.in_(sorted(years)))
    await session.execute(stale)
    counts: dict[str, int] = defaultdict(int)
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        await session.execute(StudentFact.__table__.insert(), chunk)
        for r in chunk:
            counts[r["school_year"]] += 1
    return dict(sorted(counts.items()))
