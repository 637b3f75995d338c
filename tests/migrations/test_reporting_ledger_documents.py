"""Migration c9c8d7e0a009 moves the reporting ledger from one row per cell to one document per
release: a deployment's earlier releases must keep constraining later audits, so their ledgers are
carried over (and back on downgrade), not dropped."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from shared.migrate import downgrade, upgrade
from tests.helpers import run_statements
from tests.migrations.test_migrations import _scratch_url

BEFORE, AFTER = "c8b7e6f9a008", "c9c8d7e0a009"
CELLS = {"state:ST/all": {"d_lo": 40, "d_hi": 40, "x_lo": 0, "x_hi": 0, "r_lo": None, "r_hi": None},
         "school:s1/B": {"d_lo": 1, "d_hi": 9, "x_lo": 0, "x_hi": 0, "r_lo": None, "r_hi": None}}


def _doc(value: object) -> object:
    return json.loads(value) if isinstance(value, str) else value


def test_earlier_ledgers_survive_the_move_to_one_document_and_back(tmp_path: Path) -> None:
    url = _scratch_url(tmp_path)
    upgrade(url, BEFORE)
    release = ("INSERT INTO reporting_release (id, measure, level, dimension, school_year, population_key, "
               "policy_code, policy_version, definitions_version, definitions, data_as_of, released_at, "
               "released_by, audit, \"table\") VALUES ('r1', 'enrollment_count', 'school', 'race_ethnicity', "
               "'2025-2026', 'pop', 'maine_n10', '1', '1', '{}', '2026-01-01', '2026-01-01', 'me', '{}', '{}')")
    cell = ("INSERT INTO reporting_ledger_cell (release_id, cell_id, population_key, measure, known) "
            "VALUES ('r1', :cell, 'pop', 'enrollment_count', :known)")
    asyncio.run(run_statements(url, [(release, {})] + [(cell, {"cell": c, "known": json.dumps(k)}) for c, k in CELLS.items()]))

    upgrade(url, AFTER)
    [(release_id, population_key, measure, cells)] = asyncio.run(run_statements(
        url, [("SELECT release_id, population_key, measure, cells FROM reporting_release_ledger", {})]))
    assert (release_id, population_key, measure, _doc(cells)) == ("r1", "pop", "enrollment_count", CELLS)

    downgrade(url, BEFORE)
    rows = asyncio.run(run_statements(url, [("SELECT cell_id, population_key, known FROM reporting_ledger_cell", {})]))
    assert {c: (p, _doc(k)) for c, p, k in rows} == {c: ("pop", k) for c, k in CELLS.items()}
    upgrade(url)
