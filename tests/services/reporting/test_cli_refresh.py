"""`slds reporting refresh-facts` as an operator runs it: a real process on a fresh SQLite
database holding one student's record, rebuilding the fact table and printing rows per year."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from services.records.models import RecordItem, RecordSubject
from services.reporting.facts_model import StudentFact
from shared.db import create_engine, create_sessionmaker

ROOT = Path(__file__).resolve().parents[3]


def _slds(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLDS_")}
    env.update(SLDS_VAR_DIR=str(tmp_path / "var"))
    return subprocess.run([sys.executable, "-m", "services.cli", *args], check=False, cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


async def test_refresh_facts_from_the_command_line(tmp_path: Path) -> None:
    assert _slds(tmp_path, "db", "upgrade").returncode == 0
    engine = create_engine(f"sqlite+aiosqlite:///{(tmp_path / 'var' / 'slds.db').as_posix()}")
    sections = {
        "demographics": ("", {"first_name": "Ana", "last_name": "Lopez", "sex": "F", "federal_race_ethnicity": "AS7"}),
        "enrollment": ("1001-01|2025-08-20", {"school_year": "2025-2026", "district_id": "1001",
                                              "school_id": "1001-01", "grade_level": "03", "entry_date": "2025-08-20"}),
        "programs": ("", {"lunch_status": "reduced", "migrant": True}),
    }
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            session.add(RecordSubject(entity="student", state_id="1234567890"))
            await session.flush()
            for section, (key, data) in sections.items():
                session.add(RecordItem(entity="student", state_id="1234567890", section=section, item_key=key,
                                       data=data, change_version=1, recorded_by="test"))
        result = _slds(tmp_path, "reporting", "refresh-facts", "--state", "ME")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"rows_per_school_year": {"2025-2026": 1}}
        async with create_sessionmaker(engine)() as session:
            fact = (await session.execute(select(StudentFact))).scalar_one()
            assert (fact.state, fact.school_id, fact.grade_level, fact.race_ethnicity) == ("ME", "1001-01", "03", "AS7")
            assert fact.free_reduced_lunch and fact.migrant and fact.ela_proficient is None
            assert fact.student_key != "1234567890" and len(fact.student_key) == 64
        # Run again: the rows are replaced, not added.
        assert _slds(tmp_path, "reporting", "refresh-facts").returncode == 0
        async with create_sessionmaker(engine)() as session:
            assert (await session.execute(select(func.count()).select_from(StudentFact))).scalar_one() == 1
    finally:
        await engine.dispose()
