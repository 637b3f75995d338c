"""How the bulk write picks each item's last version, under the plans PostgreSQL may choose.

The write path runs the repository's `_ITEMS_LAST_VERSION` (a join of the request's range of
version ids to the array of last-version ids) as a prepared statement. After five runs of a
prepared statement PostgreSQL may keep a generic plan, made without the parameters' values.
This times that statement against the former `v.id + 0 = ANY(:last)` filter, on a temporary
table shaped like `records_item_version` (`--rows` rows, the last `--ids` of them picked), with
the plan left to PostgreSQL (runs 1-5, then 6-10) and forced either way.

    .venv/bin/python -m bench.records_items_plan [--rows 200000] [--ids 9000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time

import asyncpg

from bench.records import DEFAULT_URL
from services.records.repository import _ITEMS_LAST_VERSION

TABLE = "records_item_version"


def _asyncpg(statement: str) -> str:
    """The statement with asyncpg's numbered parameters, reading the temporary table."""
    numbered = statement.replace(":lo", "$1").replace(":hi", "$2").replace(":last", "$3")
    return re.sub(rf"FROM {TABLE}\b", "FROM pg_temp.bench_versions", numbered)


CURRENT = _asyncpg(_ITEMS_LAST_VERSION)
# The form used until 2026-12-05: the same range, the ids as a filter over it.
FORMER = re.sub(r"JOIN unnest\(CAST\(\$3 AS bigint\[\]\)\) AS last\(id\) ON v\.id \+ 0 = last\.id WHERE (.*)$",
                r"WHERE \1 AND v.id + 0 = ANY(CAST($3 AS bigint[]))", CURRENT)


async def _times(connection: asyncpg.Connection, statement: str, ids: list[int], runs: int) -> list[float]:
    # Counted where they are (the write inserts them there): not their trip to this client.
    prepared = await connection.prepare(f"SELECT count(*) FROM ({statement}) AS picked")
    out = []
    for _ in range(runs):
        began = time.perf_counter()
        found = await prepared.fetchval(ids[0], ids[-1], ids)
        out.append((time.perf_counter() - began) * 1000)
        assert found == len(ids), (found, len(ids))
    return out


async def main(url: str, rows: int, picked: int) -> None:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute(
            f"CREATE TEMPORARY TABLE bench_versions (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING INDEXES)")
        await connection.execute(
            "INSERT INTO pg_temp.bench_versions (id, item_id, entity, state_id, section, item_key, version, "
            "operation, data, district_id, recorded_at, recorded_by, submission_id) "
            "SELECT g, gen_random_uuid()::text, 'student', lpad(g::text, 10, '0'), 'assessments', g::text, 1, "
            "'create', json_build_object('test', 'MATH', 'score', g % 500), 'D001', now(), 'bench', NULL "
            "FROM generate_series(1, $1) AS g", rows)
        await connection.execute("ANALYZE pg_temp.bench_versions")
        ids = list(range(rows - picked + 1, rows + 1))
        print(f"# {rows:,} versions, the last {picked:,} picked; median ms per statement")
        print("| statement | left to PostgreSQL, runs 1-5 | runs 6-10 | custom plan | generic plan |")
        print("|---|---|---|---|---|")
        for name, statement in (("join to unnest (now)", CURRENT), ("= ANY filter (before)", FORMER)):
            cells = []
            await connection.execute("SET plan_cache_mode = auto")
            auto = await _times(connection, statement, ids, 10)
            cells += [statistics.median(auto[:5]), statistics.median(auto[5:])]
            for mode in ("force_custom_plan", "force_generic_plan"):
                await connection.execute(f"SET plan_cache_mode = {mode}")
                cells.append(statistics.median(await _times(connection, statement, ids, 5)))
            print(f"| {name} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")
    finally:
        await connection.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--ids", type=int, default=9_000, help="last versions of one request (~1,000 records)")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="any database with the records schema")
    args = parser.parse_args()
    asyncio.run(main(args.database_url, args.rows, args.ids))
