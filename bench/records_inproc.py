"""The records read path's CPU per read in one process, without uvicorn, sockets or a load
generator: the gateway (`services.serving:gateway`, what `slds serve` runs) called as an ASGI app
by concurrent tasks, on the state `python -m bench.records` loaded (run that first; a
`--reads-only` run leaves a superintendent and the state in place).

    .venv/bin/python -m bench.records_inproc [--reads 30000] [--concurrency 16] [--runs 3]

Served figures swing by 10% from run to run on a shared 2-core machine (connections landing
unevenly on the workers, PostgreSQL's caches, the load generator); this one moves by a few
percent, so it can tell a change of the app's own work per read of that size. Alternate runs
from two worktrees to compare code. It prints the process CPU per read (the app, its event loop
and the driver's PostgreSQL client work; not PostgreSQL's) and the reads per second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from typing import Any

import asyncpg
import httpx

from bench import NO_RATE_LIMITS
from bench.records import DEFAULT_URL, PASSWORD, SECRET_KEY, STUDENT_PATH


def _environment(url: str) -> None:
    os.environ.update(NO_RATE_LIMITS, SLDS_DATABASE_URL=url, SLDS_SECRET_KEY=SECRET_KEY, SLDS_LOG_LEVEL="WARNING",
                      SLDS_RECORDS_READS_PER_HOUR="1000000000", SLDS_LOGIN_LOCKOUT_THRESHOLD="1000",
                      SLDS_VAR_DIR=tempfile.mkdtemp(prefix="bench-inproc-"))
    os.environ.pop("SLDS_IDENTITY_URL", None)
    os.environ.pop("SLDS_DISCLOSURE_URL", None)


async def _reader_and_students(url: str) -> tuple[str, list[str]]:
    """The newest bench superintendent and up to 10,000 students of their district."""
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        user = await connection.fetchrow(
            "SELECT username, district_ids->>0 AS district FROM identity_user_account "
            "WHERE username LIKE 'bench.superintendent.%' ORDER BY username DESC LIMIT 1")
        if user is None:
            raise SystemExit("no bench superintendent: run `python -m bench.records --reads-only` first")
        ids = [r[0] for r in await connection.fetch(
            "SELECT DISTINCT state_student_id FROM records_enrollment WHERE district_id = $1 LIMIT 10000",
            user["district"])]
    finally:
        await connection.close()
    return user["username"], ids


async def measure(url: str, reads: int, concurrency: int, runs: int) -> list[tuple[float, float]]:
    from services.serving import gateway  # after the environment is set

    username, ids = await _reader_and_students(url)
    app = gateway()
    results: list[tuple[float, float]] = []
    async with app.running():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            answer = await client.post("/identity/v1/oauth/token", data={
                "grant_type": "password", "username": username, "password": PASSWORD})
            answer.raise_for_status()
            authorization = f"Bearer {answer.json()['access_token']}".encode()
            probe = await client.get(STUDENT_PATH.format(ids[0]), headers={"Authorization": authorization.decode()})
            if probe.status_code != 200:
                raise SystemExit(f"read check failed: {probe.status_code}")
        statuses: dict[int, int] = {}

        async def read(path: str) -> None:
            scope: dict[str, Any] = {
                "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
                "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000), "scheme": "http",
                "method": "GET", "root_path": "", "path": path, "raw_path": path.encode(), "query_string": b"",
                "headers": [(b"host", b"127.0.0.1:8000"), (b"authorization", authorization)], "state": {}}

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    statuses[message["status"]] = statuses.get(message["status"], 0) + 1

            await app(scope, receive, send)

        async def worker(seed: int, count: int) -> None:
            rng = random.Random(seed)
            for _ in range(count):
                await read(STUDENT_PATH.format(rng.choice(ids)))

        each = reads // concurrency
        await asyncio.gather(*(worker(k, 200) for k in range(concurrency)))  # warm-up
        for run in range(runs):
            statuses.clear()
            wall, cpu = time.perf_counter(), time.process_time()
            await asyncio.gather(*(worker(1000 * (run + 1) + k, each) for k in range(concurrency)))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            done = each * concurrency
            if statuses != {200: done}:
                raise SystemExit(f"not every read answered 200: {statuses}")
            results.append((cpu * 1000 / done, done / wall))
            print(f"  run {run + 1}: {results[-1][0]:.4f} ms of CPU per read, {results[-1][1]:,.0f} reads/s", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--reads", type=int, default=30_000, help="per run")
    parser.add_argument("--concurrency", type=int, default=16, help="reads in flight")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    _environment(args.database_url)
    results = asyncio.run(measure(args.database_url, args.reads, args.concurrency, args.runs))
    print(f"median: {statistics.median(r[0] for r in results):.4f} ms of CPU per read, "
          f"{statistics.median(r[1] for r in results):,.0f} reads/s in one process")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
