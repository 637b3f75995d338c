"""Platform figures: login timing (existing vs unknown user) and authenticated request throughput
beside a bare FastAPI constant-JSON endpoint measured in the same run.

    .venv/bin/python -m bench.platform [--seconds 5] [--concurrency 16]

Starts `slds serve` (all four services, one uvicorn process) on a fresh database (SQLite in a
temporary folder, or SLDS_DATABASE_URL) and a bare FastAPI app, both on loopback; the load comes
from this process over real HTTP. Prints medians and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench import NO_RATE_LIMITS

ROOT = Path(__file__).resolve().parent.parent
BARE_APP = """
from fastapi import FastAPI
app = FastAPI()
@app.get("/bare")
async def bare() -> dict[str, str]:
    return {"status": "ok", "service": "bare"}
"""


def _start(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server on port {port} did not start")


async def _load(url: str, headers: dict[str, str], seconds: float, concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        async def worker() -> None:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                response = await client.get(url, headers=headers)
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return len(latencies) / elapsed, latencies


def _login_medians(base: str, password: str, rounds: int) -> dict[str, float]:
    cases = {
        "existing user, right password": ("demo.admin", password),
        "existing user, wrong password": ("demo.registrar", "wrong password 123"),
        "unknown user": ("nobody.at.all", "wrong password 123"),
    }
    timings: dict[str, list[float]] = {case: [] for case in cases}
    with httpx.Client(base_url=base, timeout=10) as client:
        for _ in range(rounds):  # interleaved so drift hits every case alike
            for case, (username, pw) in cases.items():
                started = time.perf_counter()
                client.post("/identity/v1/oauth/token",
                            data={"grant_type": "password", "username": username, "password": pw})
                timings[case].append(time.perf_counter() - started)
    return {case: statistics.median(values) * 1000 for case, values in timings.items()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--login-rounds", type=int, default=4)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, **NO_RATE_LIMITS, SLDS_VAR_DIR=tmp, SLDS_LOG_LEVEL="WARNING",
                   SLDS_LOGIN_LOCKOUT_THRESHOLD="1000")
        subprocess.run([sys.executable, "-m", "services.cli", "demo"], cwd=ROOT, env=env,
                       check=True, capture_output=True)
        credentials = json.loads((Path(tmp) / "demo-credentials.json").read_text())
        bare_file = Path(tmp) / "bare_app.py"
        bare_file.write_text(BARE_APP)
        slds = _start([sys.executable, "-m", "services.cli", "serve", "--port", "8791"], env, 8791)
        bare = _start([sys.executable, "-m", "uvicorn", "--app-dir", tmp, "bare_app:app", "--port", "8792",
                       "--log-level", "warning"], env, 8792)
        try:
            base = "http://127.0.0.1:8791"
            password = credentials["users"]["demo.admin"]["password"]
            logins = _login_medians(base, password, args.login_rounds)
            token = httpx.post(f"{base}/identity/v1/oauth/token", data={
                "grant_type": "password", "username": "demo.admin", "password": password}).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            runs = {
                "bare FastAPI constant JSON (baseline)": ("http://127.0.0.1:8792/bare", {}),
                "GET /records/v1/whoami (token verified)": (f"{base}/records/v1/whoami", auth),
                "GET /records/health (no token)": (f"{base}/records/health", {}),
            }
            results = {name: asyncio.run(_load(url, headers, args.seconds, args.concurrency))
                       for name, (url, headers) in runs.items()}
        finally:
            for proc in (slds, bare):
                proc.terminate()
                proc.wait(timeout=10)

    database = "PostgreSQL" if os.environ.get("SLDS_DATABASE_URL", "").startswith("postgres") else "SQLite"
    print(f"# platform bench: {database}, one uvicorn worker each, concurrency {args.concurrency}, "
          f"{args.seconds:.0f} s per run, {os.cpu_count()} cores")
    print("\n| login (password grant) | median ms |\n|---|---|")
    for case, ms in logins.items():
        print(f"| {case} | {ms:.1f} |")
    ratio = logins["unknown user"] / logins["existing user, wrong password"]
    print(f"\nunknown-user / existing-user login time: {ratio:.2f} (1.00 = indistinguishable)")
    baseline_rps = results["bare FastAPI constant JSON (baseline)"][0]
    print("\n| endpoint | requests/s | p50 ms | p95 ms | vs baseline |\n|---|---|---|---|---|")
    for name, (rps, latencies) in results.items():
        q = statistics.quantiles(latencies, n=20)
        print(f"| {name} | {rps:.0f} | {statistics.median(latencies) * 1000:.1f} | {q[18] * 1000:.1f} "
              f"| {rps / baseline_rps:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
