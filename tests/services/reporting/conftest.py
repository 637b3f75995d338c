"""A small synthetic state in the fact table for the reporting tests: two districts, three
schools, students with chosen subgroups and outcomes. Facts are the documented input records
publishes for reporting (facts_model.py), so the tests write them straight into that table; the
feed itself is tested from real record submissions in test_feed.py."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from services.reporting.facts_model import StudentFact
from shared.state import Database

YEAR = "2025-2026"
_serial = itertools.count()


def fact(school: str, district: str, *, race: str = "WH7", proficient: bool | None = True, **kw: Any) -> dict[str, Any]:
    return {"school_year": YEAR, "student_key": f"k{next(_serial):08d}", "state": "ST",
            "district_id": district, "school_id": school, "grade_level": "06", "sex": "F",
            "race_ethnicity": race, "english_learner": False, "special_education": False,
            "free_reduced_lunch": False, "migrant": False, "ela_proficient": proficient,
            "math_proficient": proficient, "attendance_rate": 0.95, "chronically_absent": False,
            "discipline_incidents": 0, "graduation_cohort": False, "graduated": None} | kw


def group(n: int, school: str, district: str, race: str, proficient: int, **kw: Any) -> list[dict[str, Any]]:
    """n students of one race at one school, the first `proficient` of them proficient."""
    return [fact(school, district, race=race, proficient=i < proficient, **kw) for i in range(n)]


# The default state: school 1001-01 has 3 Asian students (a small cell), 1001-02 is large,
# 1002-01 is its district's only school and has 4 Black students who are all proficient.
STATE: list[tuple[int, str, str, str, int]] = [
    (40, "1001-01", "1001", "WH7", 30), (25, "1001-01", "1001", "HI7", 15), (3, "1001-01", "1001", "AS7", 2),
    (60, "1001-02", "1001", "WH7", 40), (35, "1001-02", "1001", "HI7", 20), (22, "1001-02", "1001", "AS7", 11),
    (70, "1002-01", "1002", "WH7", 35), (30, "1002-01", "1002", "HI7", 12), (4, "1002-01", "1002", "BL7", 4),
]

Seeder = Callable[..., Awaitable[int]]


@pytest.fixture
def seed_facts(db: Database) -> Seeder:
    async def seed(groups: list[tuple[int, str, str, str, int]] | None = None, **kw: Any) -> int:
        rows = [r for g in (groups or STATE) for r in group(*g, **kw)]
        async with db.sessionmaker() as session:
            await session.execute(StudentFact.__table__.insert(), rows)
            await session.commit()
        return len(rows)

    return seed
