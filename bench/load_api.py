"""Load a synthetic state into a running slds through its public APIs, with progress bars.

    slds clients add bench-loader --role service --state ST   # prints client_id and client_secret once
    .venv/bin/python -m bench.load_api --url http://127.0.0.1:8000 \\
        --client-id ID --client-secret SECRET --students 5000 [--seed 1] [--batch-size 1000]

What a state's systems would do, in order, each step through the HTTP API with the client's tokens
(renewed before they expire): the organisation directory (state, districts, schools) with
`PUT /records/v1/organisations/{code}`; every district submission of the year, in date order, as
identity batches (`POST /identity/v1/students/batches`, each polled until done before the next,
since a later row may be the same student); then each resolved student's record, built from the
latest submission it was resolved from (`services.demo_records.build_record`), posted per district
to `/records/v1/students/bulk`. Rows held for review get no state ID, so no record, until a data
steward decides (as in production). The summary at the end is also written as JSON with `--json`.

This is the path for demos and small to mid-size states (it runs at the speed of the API, a few
thousand students a minute here); the benchmarks' 100,000 to 1,000,000-student states are written
straight into PostgreSQL (`bench.identity_load`, `bench.records_load`).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

from bench.synth import SynthConfig, generate_state
from services.demo_records import build_record, directory_entries
from services.identity.schemas import StudentResolveRequest

TOKEN = "/identity/v1/oauth/token"
BATCHES = "/identity/v1/students/batches"
RECORDS_BULK = "/records/v1/students/bulk"
RESOLVE_FIELDS = frozenset(StudentResolveRequest.model_fields)


class Api:
    """An httpx client with a client-credentials token, renewed before it expires or after a 401."""

    def __init__(self, url: str, client_id: str, client_secret: str, timeout: float = 300) -> None:
        self.http = httpx.Client(base_url=url, timeout=timeout)
        self.auth = (client_id, client_secret)
        self.token, self.expires = "", 0.0

    def _bearer(self, renew: bool = False) -> dict[str, str]:
        if renew or time.time() > self.expires:
            response = self.http.post(TOKEN, data={"grant_type": "client_credentials"}, auth=self.auth)
            if response.status_code != 200:
                raise SystemExit(f"the token endpoint refused the client ({response.status_code}): {response.text[:300]}")
            body = response.json()
            self.token, self.expires = body["access_token"], time.time() + 0.8 * body["expires_in"]
        return {"Authorization": f"Bearer {self.token}"}

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, path, headers=self._bearer(), **kwargs)
        if response.status_code == 401:
            response = self.http.request(method, path, headers=self._bearer(renew=True), **kwargs)
        return response

    def close(self) -> None:
        self.http.close()


def _ok(response: httpx.Response, what: str, *codes: int) -> dict[str, Any]:
    if response.status_code not in (codes or (200,)):
        raise SystemExit(f"{what}: HTTP {response.status_code}: {response.text[:500]}")
    return response.json()


def load_directory(api: Api, entries: list[tuple[str, dict[str, Any]]], progress: bool) -> int:
    for code, body in tqdm(entries, desc="directory", unit="org", disable=not progress, file=sys.stderr):
        _ok(api.call("PUT", f"/records/v1/organisations/{code}", json=body), f"organisation {code}", 200, 201)
    return len(entries)


def resolve(api: Api, submissions: list[dict[str, Any]], batch_size: int, progress: bool,
            poll_seconds: float = 0.2) -> tuple[dict[str, dict[str, Any]], Counter[str]]:
    """Every submission through identity batches, in order; state ID -> the latest row resolved to it."""
    latest: dict[str, dict[str, Any]] = {}
    decisions: Counter[str] = Counter()
    with tqdm(total=len(submissions), desc="identity", unit="row", disable=not progress, file=sys.stderr) as bar:
        for start in range(0, len(submissions), batch_size):
            chunk = submissions[start:start + batch_size]
            body = [{**{k: v for k, v in row.items() if k in RESOLVE_FIELDS}, "row_ref": row["row_ref"]}
                    for row in chunk]
            batch = _ok(api.call("POST", BATCHES, json=body), "batch", 202)
            while True:
                status = _ok(api.call("GET", f"{BATCHES}/{batch['id']}"), "batch status")
                if status["status"] == "done":
                    break
                time.sleep(poll_seconds)
            by_ref = {row["row_ref"]: row for row in chunk}
            for result in status["results"]:
                decision = "rejected" if result.get("problem") else result["decision"]
                decisions[decision] += 1
                if result.get("state_student_id") and decision != "rejected":
                    latest[result["state_student_id"]] = by_ref[result["row_ref"]]
            bar.update(len(chunk))
    return latest, decisions


def load_records(api: Api, latest: dict[str, dict[str, Any]], chunk: int, seed: int,
                 progress: bool) -> Counter[str]:
    rng = random.Random(seed)
    by_district: dict[str, list[str]] = defaultdict(list)
    for state_id, row in latest.items():
        by_district[row["district_id"]].append(state_id)
    counts: Counter[str] = Counter()
    with tqdm(total=len(latest), desc="records", unit="student", disable=not progress, file=sys.stderr) as bar:
        for district in sorted(by_district):
            ids = sorted(by_district[district])
            for start in range(0, len(ids), chunk):
                records = [build_record(sid, latest[sid], rng) for sid in ids[start:start + chunk]]
                answer = _ok(api.call("POST", RECORDS_BULK, params={"district_id": district}, json=records),
                             f"records of district {district}")
                counts["accepted"] += answer["accepted"]
                counts["rejected"] += answer["rejected"]
                bar.update(len(records))
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load_api", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the gateway (slds serve), e.g. http://127.0.0.1:8000")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=1000, help="identity batch rows (at most 10,000)")
    parser.add_argument("--records-per-request", type=int, default=1000)
    parser.add_argument("--json", type=Path, help="write the summary here too")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    progress = not args.quiet

    began = time.perf_counter()
    state = generate_state(SynthConfig(students=args.students, seed=args.seed))
    submissions = sorted(state.submissions, key=lambda r: (r.get("submitted_on") or "", r["row_ref"]))
    seconds: dict[str, float] = {"generate": time.perf_counter() - began}
    api = Api(args.url, args.client_id, args.client_secret)
    try:
        t = time.perf_counter()
        organisations = load_directory(api, directory_entries(state.districts, state.schools), progress)
        seconds["directory"] = time.perf_counter() - t
        t = time.perf_counter()
        latest, decisions = resolve(api, submissions, args.batch_size, progress)
        seconds["identity"] = time.perf_counter() - t
        t = time.perf_counter()
        records = load_records(api, latest, args.records_per_request, args.seed, progress)
        seconds["records"] = time.perf_counter() - t
    finally:
        api.close()
    summary = {"students": args.students, "seed": args.seed, "organisations": organisations,
               "submissions": len(submissions), "decisions": dict(decisions), "persons_with_ids": len(latest),
               "records": dict(records), "seconds": {k: round(v, 2) for k, v in seconds.items()}}
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 1 if records.get("rejected") else 0  # a rejected submission row is reported, not fatal: the stream has a few bad rows on purpose


if __name__ == "__main__":
    sys.exit(main())
