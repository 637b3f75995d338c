"""Migration e8f9a0b1c2d3 stores records' element data as JSON text (`json`) instead of `jsonb` on
PostgreSQL: every element already stored, current or historical, must read back the same after the
upgrade and after a downgrade (on SQLite the migration changes nothing, and the same holds)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from shared.migrate import downgrade, upgrade
from tests.helpers import run_statements
from tests.migrations.test_migrations import _scratch_url

BEFORE, AFTER = "d7e8f9a0b1c2", "e8f9a0b1c2d3"
DEMOGRAPHICS = {"first_name": "Zoë", "last_name": "Nguyễn-O'Brien", "races": ["AS", "WH"], "birth_date": "2014-03-13",
                "hispanic_latino_ethnicity": False, "address_street": "7424 \"Tran\" Rd\\2"}
ASSESSMENT = {"subject": "ela", "scale_score": 339, "percentile": 41.5, "accommodations": None,
              "parts": [{"name": "reading", "score": 9007199254740993}]}
VERSIONS = [(1, "item-1", DEMOGRAPHICS), (2, "item-2", ASSESSMENT), (3, "item-2", None)]  # 3: a deletion


def _doc(value: object) -> object:
    return json.loads(value) if isinstance(value, str) else value


def _stored(url: str) -> tuple[dict[str, object], dict[int, object]]:
    rows = asyncio.run(run_statements(url, [
        ("SELECT 'items', id, data FROM records_item ORDER BY id", {}),
        ("SELECT 'versions', id, data FROM records_item_version ORDER BY id", {})]))
    return ({i: _doc(d) for kind, i, d in rows if kind == "items"},
            {i: _doc(d) for kind, i, d in rows if kind == "versions"})


def _data_types(url: str) -> set[str]:
    if not url.startswith("postgresql"):
        return set()
    types = ("SELECT data_type FROM information_schema.columns WHERE column_name = 'data' "
             "AND table_name IN ('records_item', 'records_item_version')")
    rows = asyncio.run(run_statements(url, [(types, {})]))
    return {t for (t,) in rows}


def test_stored_elements_read_back_the_same_as_json_text_and_back(tmp_path: Path) -> None:
    url = _scratch_url(tmp_path)
    upgrade(url, BEFORE)
    subject = ("INSERT INTO records_subject (entity, state_id, version, change_version, created_at, updated_at) "
               "VALUES ('student', '1000000001', 2, 3, '2026-01-01', '2026-01-01')")
    item = ("INSERT INTO records_item (id, entity, state_id, section, item_key, district_id, data, version, "
            "change_version, recorded_at, recorded_by) VALUES (:id, 'student', '1000000001', :section, :key, '1001', "
            ":data, 1, :change, '2026-01-01', 'district:1001')")
    version = ("INSERT INTO records_item_version (id, item_id, entity, state_id, section, item_key, version, operation, "
               "data, district_id, recorded_at, recorded_by) VALUES (:id, :item, 'student', '1000000001', 'x', 'k', "
               "1, :operation, :data, '1001', '2026-01-01', 'district:1001')")
    asyncio.run(run_statements(url, [
        (subject, {}),
        (item, {"id": "item-1", "section": "demographics", "key": "", "data": json.dumps(DEMOGRAPHICS), "change": 1}),
        *[(version, {"id": i, "item": item_id, "operation": "delete" if data is None else "create",
                     "data": None if data is None else json.dumps(data)}) for i, item_id, data in VERSIONS]]))
    expected = ({"item-1": DEMOGRAPHICS}, {i: data for i, _, data in VERSIONS})
    assert _stored(url) == expected
    before = _data_types(url)

    upgrade(url, AFTER)
    assert _stored(url) == expected
    if url.startswith("postgresql"):
        assert before == {"jsonb"} and _data_types(url) == {"json"}

    downgrade(url, BEFORE)
    assert _stored(url) == expected
    assert _data_types(url) == before
    upgrade(url)
