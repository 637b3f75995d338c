"""JSON columns read back through `shared.db.create_engine`: orjson decodes them, and a value
orjson refuses (an integer past 64 bits) still reads, through the stdlib."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, Table, select, text

from shared.db import create_engine, json_dumps, json_loads

BIG = 2**70  # past orjson's 64-bit integers


def test_json_loads_reads_what_orjson_refuses() -> None:
    assert json_loads('{"n": 1, "names": ["Zoë"]}') == {"n": 1, "names": ["Zoë"]}
    assert json_loads(f"[{BIG}]") == [BIG]
    with pytest.raises(ValueError):
        json_loads("[1,")


def test_json_dumps_writes_what_orjson_refuses() -> None:
    """What the batch COPY writes into JSON columns reads back as it was."""
    for value in (["Ngozi Okafor", "José García-López"], {"count": BIG, "nested": [None, True, 1.5]}, []):
        assert json_loads(json_dumps(value)) == value
    assert json_dumps(["Zoë"]) == '["Zoë"]'  # UTF-8 text, as PostgreSQL stores it


@pytest.fixture
async def engine(tmp_path: Path):
    url = os.environ.get("SLDS_TEST_DATABASE_URL", "")
    engine = create_engine(url if url.startswith("postgresql") else f"sqlite+aiosqlite:///{tmp_path / 'json.db'}")
    yield engine
    await engine.dispose()


async def test_json_columns_round_trip_through_the_engine(engine) -> None:
    table = Table("test_json_roundtrip", MetaData(), Column("id", Integer, primary_key=True), Column("value", JSON))
    values = {1: ["Ngozi Okafor", "José García-López"], 2: {"count": BIG, "nested": [None, True, 1.5]}, 3: []}
    async with engine.begin() as connection:
        await connection.run_sync(table.create)
        try:
            await connection.execute(table.insert(), [{"id": k, "value": v} for k, v in values.items()])
            # written as text by someone else (a migration, psql): read the same way
            await connection.execute(text("INSERT INTO test_json_roundtrip (id, value) VALUES (4, :v)"),
                                     {"v": f'{{"big": {BIG}}}'})
            rows = dict((await connection.execute(select(table.c.id, table.c.value))).all())
        finally:
            await connection.run_sync(table.drop)
    assert rows == {**values, 4: {"big": BIG}}
