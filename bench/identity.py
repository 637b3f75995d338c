"""Identity matching figures: accuracy of `POST /identity/v1/students/resolve` against the
synthetic truth, Splink on the same rows for comparison, resolve latency and batch throughput.

    .venv/bin/python -m bench.identity [--students 20000] [--seed 1] [--quick] [--json OUT]

1. Accuracy. Generates a synthetic state (`bench.synth`), starts `slds serve` (one uvicorn
   process) on a fresh database (SQLite in a temporary folder, or a scratch PostgreSQL database
   named by SLDS_DATABASE_URL, dropped at the end) and resolves every submission in stream order
   over real HTTP (`--concurrency` requests in flight; the rows of one person never overlap and
   keep their order). Every row is scored against the truth: after a person's first ID, the
   right answer is that ID.
2. Splink 5 (DuckDB) dedupes the same rows in the same run (`bench/identity_splink.py`); both are
   scored on pairs of rows (same person / same ID or cluster) and per row (linked to the right
   earlier person).
3. Speed. Client-side resolve latency from the accuracy run, and batch throughput: the same
   stream as batches of `--batch-size` to another fresh database, timed until every batch is done
   (polled every 0.2 s). On PostgreSQL `slds serve` runs the batch worker in a process of its own,
   as a deployment does.

`--quick` (~500 students) is the smoke run the tests use. Figures go to stdout as markdown tables
and, with `--json OUT`, to a file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform as platform_module
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench import NO_RATE_LIMITS

ROOT = Path(__file__).resolve().parent.parent
RESOLVE = "/identity/v1/students/resolve"
BATCHES = "/identity/v1/students/batches"
TOKEN = "/identity/v1/oauth/token"
EXTRA_KEYS = ("row_ref", "school_id", "grade", "submitted_on")  # not resolve fields
TARGETS = {"precision": 0.999, "recall": 0.99, "review_share": 0.02}
UPPER = 0.999  # the resolver's default upper threshold (services/identity/matching/model.py)
QUICK_STUDENTS = 500


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the server ------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _recreate_postgres(url: str, *, drop_only: bool = False) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = await asyncpg.connect(host=parsed.host or "127.0.0.1", port=parsed.port or 5432,
                                  user=parsed.username, password=parsed.password, database="postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        if not drop_only:
            await admin.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await admin.close()


@dataclass
class Server:
    base: str
    client_id: str
    client_secret: str
    database: str
    database_url: str | None = None
    emulate_autoanalyze: bool = False  # PostgreSQL with autovacuum off: we ANALYZE as it would
    analyzes: int = 0


async def _pg_connect(url: str) -> Any:
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return await asyncpg.connect(host=parsed.host or "127.0.0.1", port=parsed.port or 5432,
                                 user=parsed.username, password=parsed.password, database=parsed.database)


async def _autovacuum_off(url: str) -> bool:
    conn = await _pg_connect(url)
    try:
        return (await conn.fetchval("SHOW autovacuum")) == "off"
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def autoanalyze(server: Server) -> Any:
    """Where autovacuum is off, ANALYZE each table when autovacuum would (more than 50 + 10% of
    its rows changed since the last analyze), checked every 5 s. Without statistics PostgreSQL
    keeps the plans it made on empty tables and the resolver slows to a few rows a second."""
    if not (server.emulate_autoanalyze and server.database_url):
        yield
        return
    stop = asyncio.Event()

    async def loop() -> None:
        conn = await _pg_connect(server.database_url or "")
        try:
            while not stop.is_set():
                for row in await conn.fetch("SELECT relname, n_mod_since_analyze, n_live_tup FROM pg_stat_user_tables"):
                    if row["n_mod_since_analyze"] > 50 + 0.1 * row["n_live_tup"]:
                        await conn.execute(f'ANALYZE "{row["relname"]}"')
                        server.analyzes += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 5)
        finally:
            await conn.close()

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        stop.set()
        await task


@contextlib.contextmanager
def serve(database_url: str | None, *, existing: bool = False,
          extra_env: dict[str, str] | None = None) -> Iterator[Server]:
    """`slds serve` with one service client, stopped on exit. On a fresh database (a PostgreSQL
    scratch database is dropped on exit), or with `existing` on a loaded one, left as it was."""
    with tempfile.TemporaryDirectory(prefix="slds-identity-bench-") as tmp:
        env = dict(os.environ, SLDS_VAR_DIR=tmp, SLDS_LOG_LEVEL="WARNING", **NO_RATE_LIMITS, **(extra_env or {}))
        env.pop("SLDS_DATABASE_URL", None)
        if database_url and not existing:
            asyncio.run(_recreate_postgres(database_url))
        if database_url:
            env["SLDS_DATABASE_URL"] = database_url
        proc = None
        try:
            subprocess.run([sys.executable, "-m", "services.cli", "db", "upgrade"], cwd=ROOT, env=env,
                           check=True, capture_output=True)
            created = subprocess.run(
                [sys.executable, "-m", "services.cli", "clients", "add", "identity-bench loader",
                 "--role", "service", "--state", "ST"],
                cwd=ROOT, env=env, check=True, capture_output=True, text=True)
            client = json.loads(created.stdout.strip().splitlines()[-1])
            port = _free_port()
            server_log = open(Path(tmp) / "server.log", "wb")
            proc = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", "--host", "127.0.0.1",
                                     "--port", str(port)], cwd=ROOT, env=env, stdout=server_log,
                                    stderr=subprocess.STDOUT)
            base = f"http://127.0.0.1:{port}"
            deadline = time.time() + 60
            while True:
                try:
                    httpx.get(f"{base}/records/health", timeout=1)
                    break
                except httpx.HTTPError:
                    if proc.poll() is not None or time.time() > deadline:
                        raise RuntimeError("slds serve did not start:\n" +
                                           (Path(tmp) / "server.log").read_text()[-3000:]) from None
                    time.sleep(0.2)
            yield Server(base, client["client_id"], client["client_secret"],
                         "PostgreSQL" if database_url else "SQLite", database_url,
                         bool(database_url) and not existing and asyncio.run(_autovacuum_off(database_url or "")))
        except BaseException:
            log_path = Path(tmp) / "server.log"
            if log_path.exists():
                tail = log_path.read_text(errors="replace")[-3000:]
                if tail.strip():
                    log("server log tail:\n" + tail)
            raise
        finally:
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if database_url and not existing:
                asyncio.run(_recreate_postgres(database_url, drop_only=True))


class Tokens:
    """A client-credentials token, renewed before it expires or after a 401."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.value = ""
        self.expires = 0.0
        self._lock = asyncio.Lock()

    async def get(self, client: httpx.AsyncClient, *, renew: bool = False) -> str:
        async with self._lock:
            if renew or time.time() > self.expires:
                response = await client.post(TOKEN, data={"grant_type": "client_credentials"},
                                             auth=(self.server.client_id, self.server.client_secret))
                response.raise_for_status()
                body = response.json()
                self.value = body["access_token"]
                self.expires = time.time() + 0.8 * body["expires_in"]
            return self.value


# --- 1. the resolve run ----------------------------------------------------------------------

def resolve_body(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in EXTRA_KEYS}


async def _post_with_retry(client: httpx.AsyncClient, tokens: Tokens, path: str, **kwargs: Any) -> httpx.Response:
    renewed = False
    for attempt in range(5):
        token = await tokens.get(client)
        try:
            response = await client.post(path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        except httpx.TransportError:
            if attempt == 4:
                raise
            await asyncio.sleep(0.5 * (attempt + 1))
            continue
        if response.status_code == 401 and not renewed:
            await tokens.get(client, renew=True)
            renewed = True
            continue
        if response.status_code >= 500 and attempt < 4:
            await asyncio.sleep(0.5 * (attempt + 1))
            continue
        return response
    raise RuntimeError("unreachable")


async def resolve_stream(server: Server, submissions: list[dict[str, Any]], persons: list[str],
                         concurrency: int, progress: bool) -> tuple[list[dict[str, Any]], float]:
    """Resolve every row in stream order with up to `concurrency` in flight; a person's next row
    waits for their previous one. Returns one outcome per row and the wall time."""
    results: list[dict[str, Any]] = [{} for _ in submissions]
    semaphore = asyncio.Semaphore(concurrency)
    inflight: dict[str, asyncio.Task[None]] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with autoanalyze(server), httpx.AsyncClient(base_url=server.base, limits=limits, timeout=120) as client:
        tokens = Tokens(server)
        await tokens.get(client)

        async def one(index: int) -> None:
            try:
                body = resolve_body(submissions[index])
                started = time.perf_counter()
                response = await _post_with_retry(client, tokens, RESOLVE, json=body)
                latency = time.perf_counter() - started
                if response.status_code != 200:
                    rejected = 400 <= response.status_code < 500
                    results[index] = {"decision": "rejected" if rejected else "error",
                                      "status": response.status_code,
                                      "problem": response.text[:500], "latency": latency}
                    return
                data = response.json()
                explanation = data.get("explanation") or {}
                results[index] = {"decision": data["decision"], "state_id": data.get("state_student_id"),
                                  "review_id": data.get("review_id"), "rule": explanation.get("rule"),
                                  "probability": explanation.get("probability"), "latency": latency}
            except Exception as exc:  # recorded, counted and shown; the run goes on
                results[index] = {"decision": "error", "status": None, "problem": repr(exc)[:500],
                                  "latency": None}
            finally:
                semaphore.release()

        began = time.perf_counter()
        step = max(1, len(submissions) // 10)
        tasks = []
        for index in range(len(submissions)):
            previous = inflight.get(persons[index])
            if previous is not None and not previous.done():
                await asyncio.wait([previous])
            await semaphore.acquire()
            task = asyncio.create_task(one(index))
            inflight[persons[index]] = task
            tasks.append(task)
            if progress and index and index % step == 0:
                log(f"resolved {index:,} / {len(submissions):,} ({index / (time.perf_counter() - began):.0f} rows/s)")
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - began
    return results, elapsed


async def latency_probe(server: Server, known: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, Any]:
    """One request at a time (no queueing): `known` rows are existing persons sent under a new
    local ID (the probabilistic path, a candidate found), `new` rows are persons nobody has."""
    latencies: dict[str, list[float]] = defaultdict(list)
    decisions: Counter[str] = Counter()
    async with httpx.AsyncClient(base_url=server.base, timeout=120) as client:
        tokens = Tokens(server)
        await tokens.get(client)
        for index in range(max(len(known), len(new))):
            for label, rows in (("existing person, new local ID", known), ("new person", new)):
                if index >= len(rows):
                    continue
                body = {**resolve_body(rows[index]), "local_student_id": f"probe-{label[0]}-{index}"}
                started = time.perf_counter()
                response = await _post_with_retry(client, tokens, RESOLVE, json=body)
                latencies[label].append(time.perf_counter() - started)
                decisions[f"{label}: {response.json().get('decision') if response.status_code == 200 else response.status_code}"] += 1
    every = [v for values in latencies.values() for v in values]
    return {"p50_ms": _ms(every, 0.5), "p95_ms": _ms(every, 0.95), "rows": len(every),
            "by_kind": {k: {"p50_ms": _ms(v, 0.5), "p95_ms": _ms(v, 0.95), "rows": len(v)} for k, v in latencies.items()},
            "decisions": dict(decisions)}


# --- 3b. the batch run -----------------------------------------------------------------------

async def batch_stream(server: Server, submissions: list[dict[str, Any]], batch_size: int,
                       progress: bool) -> dict[str, Any]:
    """Submit the stream as batches, poll until all are done; per-row outcomes and timings."""
    load_before = os.getloadavg()
    async with autoanalyze(server), httpx.AsyncClient(base_url=server.base, timeout=300) as client:
        tokens = Tokens(server)
        await tokens.get(client)
        began = time.perf_counter()
        batch_ids: list[str] = []
        for start in range(0, len(submissions), batch_size):
            chunk = [{**resolve_body(row), "row_ref": row["row_ref"]}
                     for row in submissions[start:start + batch_size]]
            response = await _post_with_retry(client, tokens, BATCHES, json=chunk)
            if response.status_code != 202:
                raise RuntimeError(f"batch refused: {response.status_code} {response.text[:500]}")
            batch_ids.append(response.json()["id"])
        submitted = time.perf_counter() - began
        done: dict[str, dict[str, Any]] = {}
        done_at: dict[str, float] = {}
        last_report = time.perf_counter()
        while len(done) < len(batch_ids):
            for batch_id in batch_ids:
                if batch_id in done:
                    continue
                token = await tokens.get(client)
                response = await client.get(f"{BATCHES}/{batch_id}", headers={"Authorization": f"Bearer {token}"})
                response.raise_for_status()
                body = response.json()
                if body["status"] == "done":
                    done[batch_id] = body
                    done_at[batch_id] = time.perf_counter() - began
                else:
                    break  # batches run in order: the later ones are not done either
            if len(done) < len(batch_ids):
                await asyncio.sleep(0.2)  # a pending batch's poll reads one row: cheap
            if progress and time.perf_counter() - last_report > 30:
                last_report = time.perf_counter()
                log(f"batches done {len(done)} / {len(batch_ids)}")
        elapsed = time.perf_counter() - began
    outcomes: dict[str, dict[str, Any]] = {}
    per_batch: list[float] = []
    previous_finish: datetime | None = None
    for batch_id in batch_ids:
        body = done[batch_id]
        for result in body["results"]:
            outcomes[result["row_ref"]] = {"decision": result["decision"] if not result.get("problem") else "rejected",
                                           "state_id": result.get("state_student_id"),
                                           "review_id": result.get("review_id"), "rule": None,
                                           "problem": result.get("problem")}
        created = datetime.fromisoformat(body["created_at"])
        finished = datetime.fromisoformat(body["finished_at"])
        began_at = max(created, previous_finish) if previous_finish else created
        seconds = (finished - began_at).total_seconds()
        if seconds > 0:
            per_batch.append(body["total"] / seconds)
        previous_finish = finished
    return {"outcomes": [outcomes.get(row["row_ref"], {"decision": "error"}) for row in submissions],
            "elapsed": elapsed, "submit_seconds": submitted, "batches": len(batch_ids),
            "persons_per_second": len(submissions) / elapsed,
            "median_batch_persons_per_second": statistics.median(per_batch) if per_batch else None,
            "batch_done_seconds": sorted(done_at.values()), "load_before": load_before,
            "load_after": os.getloadavg()}


# --- scoring ---------------------------------------------------------------------------------

def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise(labels: list[Any], truth: list[str], local_keys: list[str]) -> dict[str, Any]:
    """Pairs of rows put together (same label) vs pairs of the same person; also over the pairs
    whose rows do not share the district's local ID (the ones a deterministic rule cannot find)."""
    cells = Counter(zip(labels, truth))
    predicted = sum(_pairs(n) for n in Counter(labels).values())
    true = sum(_pairs(n) for n in Counter(truth).values())
    both = sum(_pairs(n) for n in cells.values())
    # Local IDs are never reused, so rows sharing one are one person: those pairs are all true.
    same_local_true = sum(_pairs(n) for n in Counter(local_keys).values())
    same_local_predicted = sum(_pairs(n) for n in Counter(zip(local_keys, labels)).values())
    out = _prf(both, predicted, true)
    hard = _prf(both - same_local_predicted, predicted - same_local_predicted, true - same_local_true)
    out.update({f"hard_{k}": v for k, v in hard.items()})
    return out


def _prf(tp: int, predicted: int, true: int) -> dict[str, Any]:
    precision = tp / predicted if predicted else 1.0
    recall = tp / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_positive_pairs": tp,
            "predicted_pairs": predicted, "true_pairs": true}


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


@dataclass
class Truth:
    person: list[str]
    kind: list[str]
    errors: list[list[str]]
    local: list[str]
    twin_of: dict[str, str]
    family_of: dict[str, str]


def truth_table(state: Any) -> Truth:
    twin_of: dict[str, str] = {}
    for student in state.students:  # twin_key is the other twin's person_key
        if student.get("twin_key"):
            twin_of[student["person_key"]] = student["twin_key"]
            twin_of[student["twin_key"]] = student["person_key"]
    return Truth(
        person=[t["person_key"] for t in state.truth], kind=[t["kind"] for t in state.truth],
        errors=[t["errors"] for t in state.truth],
        local=[f"{s['district_id']}|{s['local_student_id']}" for s in state.submissions],
        twin_of=twin_of, family_of={s["person_key"]: s["family_key"] for s in state.students},
    )


def _reason(outcome: dict[str, Any]) -> str:
    problem = outcome.get("problem")
    try:
        body = problem if isinstance(problem, dict) else json.loads(problem or "{}")
        return "; ".join(f"{e.get('field')}: {e.get('message')}" for e in body.get("errors", [])) or str(body.get("title"))
    except (ValueError, AttributeError):
        return str(problem)[:100]


def score_resolver(outcomes: list[dict[str, Any]], truth: Truth) -> dict[str, Any]:
    """Row-level figures of a resolve run in stream order (see the module docstring)."""
    owner: dict[str, str] = {}  # state ID -> the person whose row it was assigned to
    ids_of: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    aliased: set[str] = set()  # (district|local) keys that got an ID: the deterministic rule's
    c: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    by_error: dict[str, Counter[str]] = defaultdict(Counter)
    labels: list[Any] = []
    optimistic: list[Any] = []  # review rows resolved right by a steward
    row_level = Counter()
    wrong_examples: list[dict[str, Any]] = []
    rejected_reasons: Counter[str] = Counter()
    for index, outcome in enumerate(outcomes):
        person, local = truth.person[index], truth.local[index]
        decision, state_id = outcome.get("decision", "error"), outcome.get("state_id")
        known = bool(ids_of[person])
        earlier = person in seen
        seen.add(person)
        rule = outcome.get("rule") or ("district_local_id" if decision == "matched" and local in aliased
                                       else "probabilistic")
        deterministic = decision == "matched" and rule == "district_local_id"
        c["rows"] += 1
        c[f"decision_{decision}"] += 1
        verdict: str
        if decision == "assigned":
            verdict = "new_id_duplicate" if known else "assigned_new"
            owner[state_id] = person
            ids_of[person].append(state_id)
        elif decision == "matched":
            holder = owner.get(state_id)
            if holder == person:
                verdict = "matched_right"
                if state_id != ids_of[person][0]:
                    c["matched_to_duplicate_id"] += 1
            elif holder is None:
                verdict = "matched_unknown_id"
            else:
                verdict = "wrong_merge"
                if truth.twin_of.get(person) == holder:
                    c["wrong_merge_twin" + ("_deterministic" if deterministic else "")] += 1
                elif truth.family_of.get(person) == truth.family_of.get(holder):
                    c["wrong_merge_sibling" + ("_deterministic" if deterministic else "")] += 1
                if len(wrong_examples) < 20:
                    wrong_examples.append({"row": index, "person": person, "merged_into_person": holder,
                                           "kind": truth.kind[index], "errors": truth.errors[index],
                                           "probability": outcome.get("probability"),
                                           "twin": truth.twin_of.get(person) == holder})
            c["deterministic_" + verdict if deterministic else "probabilistic_" + verdict] += 1
        elif decision == "review":
            verdict = "review_known" if known else "review_new"
        elif decision == "rejected":
            verdict = "rejected"
            rejected_reasons[_reason(outcome)] += 1
        else:
            verdict = "error"
        if decision in ("assigned", "matched"):
            aliased.add(local)
        c[verdict] += 1
        if known:
            c["known_rows"] += 1
            by_kind[truth.kind[index]]["known"] += 1
        by_kind[truth.kind[index]]["rows"] += 1
        by_kind[truth.kind[index]][verdict] += 1
        if known and not deterministic:
            for error in truth.errors[index] or ["(none)"]:
                by_error[error]["rows"] += 1
                by_error[error][verdict] += 1
        # Pairwise labels: the ID (review rows alone); optimistic: reviews resolved right.
        labels.append(state_id if state_id else ("row", index))
        if decision == "review":
            optimistic.append(ids_of[person][0] if known else ("new", person))
        else:
            optimistic.append(state_id if state_id else ("row", index))
        # Row level against "the person has an earlier row" (the same question asked of Splink).
        if decision == "matched":
            row_level["links"] += 1
            row_level["links_right"] += verdict == "matched_right"
            if verdict == "wrong_merge":
                holder = owner.get(state_id)
                row_level["twins"] += truth.twin_of.get(person) == holder
                row_level["siblings"] += (truth.twin_of.get(person) != holder
                                          and truth.family_of.get(person) == truth.family_of.get(holder))
        if earlier:
            row_level["earlier"] += 1
            row_level["earlier_linked_right"] += decision == "matched" and verdict == "matched_right"

    probabilistic = c["probabilistic_matched_right"] + c["probabilistic_wrong_merge"] + c["probabilistic_matched_unknown_id"]
    deterministic_total = c["deterministic_matched_right"] + c["deterministic_wrong_merge"] + c["deterministic_matched_unknown_id"]
    known = c["known_rows"]
    cross = {k: by_kind[k] for k in ("transfer", "reentry")}
    cross_known = sum(v["known"] for v in cross.values())
    cross_found = sum(v["matched_right"] + v["review_known"] for v in cross.values())
    wrong = c["wrong_merge"]
    return {
        "rows": c["rows"],
        "decisions": {d: c[f"decision_{d}"] for d in ("matched", "assigned", "review", "rejected", "error")},
        "precision": _rate(c["probabilistic_matched_right"], probabilistic),
        "probabilistic_matches": probabilistic,
        "probabilistic_matched_right": c["probabilistic_matched_right"],
        "deterministic_matches": deterministic_total,
        "deterministic_matched_right": c["deterministic_matched_right"],
        "known_rows": known,
        "recall_auto_review": _rate(c["matched_right"] + c["review_known"], known),
        "recall_auto": _rate(c["matched_right"], known),
        "recall_auto_review_transfer_reentry": _rate(cross_found, cross_known),
        "transfer_reentry_known_rows": cross_known,
        "review_rows": c["review_known"] + c["review_new"],
        "review_share": _rate(c["review_known"] + c["review_new"], c["rows"]),
        "review_known": c["review_known"], "review_new": c["review_new"],
        "false_new_ids": c["new_id_duplicate"],
        "false_new_id_rate": _rate(c["new_id_duplicate"], known),
        "wrong_merges": wrong,
        "wrong_merges_deterministic": c["deterministic_wrong_merge"],
        "wrong_merges_twins": c["wrong_merge_twin"] + c["wrong_merge_twin_deterministic"],
        "wrong_merges_siblings": c["wrong_merge_sibling"] + c["wrong_merge_sibling_deterministic"],
        "matched_unknown_id": c["matched_unknown_id"],
        "matched_to_duplicate_id": c["matched_to_duplicate_id"],
        "new_persons_assigned": c["assigned_new"],
        "errors": c["error"],
        "rejected": c["rejected"],
        "rejected_reasons": dict(rejected_reasons),
        "persons_with_ids": len([p for p in ids_of if ids_of[p]]),
        "state_ids": len(owner),
        "by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
        "by_error": {k: dict(v) for k, v in sorted(by_error.items())},
        "pairwise": pairwise(labels, truth.person, truth.local),
        "pairwise_review_resolved": pairwise(optimistic, truth.person, truth.local),
        "row_level": {"precision": _rate(row_level["links_right"], row_level["links"]),
                      "recall": _rate(row_level["earlier_linked_right"], row_level["earlier"]),
                      "links": row_level["links"], "wrong_links": row_level["links"] - row_level["links_right"],
                      "wrong_links_twins": row_level["twins"], "wrong_links_siblings": row_level["siblings"],
                      "rows_with_earlier_row": row_level["earlier"]},
        "wrong_merge_examples": wrong_examples,
    }


def score_splink_rows(pairs: list[tuple[int, int, float]], weight_threshold: float,
                      truth: Truth) -> dict[str, Any]:
    """Row level for Splink: a row's best-scoring link to an earlier row at or above the threshold
    is its answer (the resolver's question: which earlier person is this?)."""
    best: dict[int, tuple[float, int]] = {}
    for left, right, weight in pairs:
        if weight < weight_threshold:
            continue
        later, earlier = max(left, right), min(left, right)
        if later not in best or weight > best[later][0]:
            best[later] = (weight, earlier)
    seen: set[str] = set()
    links = right_links = earlier_rows = found = twins = siblings = 0
    for index, person in enumerate(truth.person):
        has_earlier = person in seen
        seen.add(person)
        link = best.get(index)
        if link is not None:
            links += 1
            target = truth.person[link[1]]
            if target == person:
                right_links += 1
            elif truth.twin_of.get(person) == target:
                twins += 1
            elif truth.family_of.get(person) == truth.family_of.get(target):
                siblings += 1
        if has_earlier:
            earlier_rows += 1
            found += link is not None and truth.person[link[1]] == person
    return {"precision": _rate(right_links, links), "recall": _rate(found, earlier_rows), "links": links,
            "wrong_links": links - right_links, "wrong_links_twins": twins, "wrong_links_siblings": siblings,
            "rows_with_earlier_row": earlier_rows, "false_new": earlier_rows - found}


def union_find_labels(n: int, pairs: list[tuple[int, int, float]], weight_threshold: float) -> list[int]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for left, right, weight in pairs:
        if weight >= weight_threshold:
            a, b = find(left), find(right)
            if a != b:
                parent[a] = b
    return [find(i) for i in range(n)]


def run_splink_comparison(submissions: list[dict[str, Any]], truth: Truth, seed: int,
                          quick: bool) -> dict[str, Any]:
    from bench.identity_splink import cluster_ids, probability, run_splink, weight_of

    began = time.perf_counter()
    run, (linker, predictions) = run_splink(submissions, seed=seed, u_pairs=1e6 if quick else 1e7,
                                            cluster_thresholds=(UPPER,))
    # The best F1 over thresholds (connected components, as Splink clusters).
    scan: list[dict[str, Any]] = []
    candidates = [pair for pair in run.pairs if pair[2] >= -10]
    for step in range(-20, 81):
        weight = step / 2
        metrics = pairwise(union_find_labels(len(submissions), candidates, weight), truth.person, truth.local)
        scan.append({"match_weight": weight, "probability": probability(weight), **metrics})
    best = max(scan, key=lambda s: (s["f1"], s["match_weight"]))
    mark = time.perf_counter()
    best_labels = cluster_ids(linker, predictions, probability(best["match_weight"]), len(submissions))
    run.timings["cluster"] += time.perf_counter() - mark
    total = time.perf_counter() - began
    at_upper = pairwise(run.clusters[UPPER], truth.person, truth.local)
    at_best = pairwise(best_labels, truth.person, truth.local)
    true_pairs_blocked = sum(1 for left, right, _ in run.pairs if truth.person[left] == truth.person[right])
    return {
        "seconds": total, "timings": run.timings, "blocked_pairs": run.blocked_pairs,
        "blocking_recall_pairs": _rate(true_pairs_blocked, at_upper["true_pairs"]),
        "estimated_prior": run.prior,
        "at_upper": {"threshold": UPPER, "pairwise": at_upper,
                     "row_level": score_splink_rows(run.pairs, weight_of(UPPER), truth)},
        "at_best_f1": {"threshold": best["probability"], "match_weight": best["match_weight"],
                       "pairwise": at_best,
                       "row_level": score_splink_rows(run.pairs, best["match_weight"], truth)},
        "scan": [{k: s[k] for k in ("match_weight", "probability", "precision", "recall", "f1")} for s in scan],
    }


# --- output ----------------------------------------------------------------------------------

def _pct(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f}%"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return 1000 * ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def latency_figures(outcomes: list[dict[str, Any]], elapsed: float) -> dict[str, Any]:
    latencies = [o["latency"] for o in outcomes if o.get("latency") is not None]
    tail_start = int(len(outcomes) * 0.8)
    tail = [o["latency"] for o in outcomes[tail_start:] if o.get("latency") is not None]
    persons_at_tail = sum(1 for o in outcomes[:tail_start] if o.get("decision") == "assigned")
    persons_end = sum(1 for o in outcomes if o.get("decision") == "assigned")
    by_decision = {}
    for decision in ("matched", "assigned", "review"):
        values = [o["latency"] for o in outcomes if o.get("decision") == decision and o.get("latency") is not None]
        if values:
            by_decision[decision] = {"p50_ms": _ms(values, 0.5), "p95_ms": _ms(values, 0.95), "rows": len(values)}
    return {"p50_ms": _ms(latencies, 0.5), "p95_ms": _ms(latencies, 0.95), "p99_ms": _ms(latencies, 0.99),
            "tail_p50_ms": _ms(tail, 0.5), "tail_p95_ms": _ms(tail, 0.95),
            "tail_from_persons": persons_at_tail, "persons_at_end": persons_end,
            "rows_per_second": len(outcomes) / elapsed if elapsed else None, "seconds": elapsed,
            "by_decision": by_decision}


def print_report(report: dict[str, Any]) -> None:
    meta, acc = report["meta"], report["accuracy"]
    print(f"# identity bench: {meta['students']:,} students (seed {meta['seed']}), {meta['submissions']:,} "
          f"submissions, {meta['database']}, one uvicorn worker, concurrency {meta['concurrency']}, "
          f"{meta['cores']} cores")
    print("\n## Accuracy: resolve API, stream order\n")
    print("| figure | value | target |\n|---|---|---|")
    t = TARGETS
    print(f"| auto-match precision (probabilistic matches) | {_ratio(acc['precision'])} "
          f"({acc['probabilistic_matched_right']:,} / {acc['probabilistic_matches']:,}) | >= {t['precision']} |")
    print(f"| recall, auto + review (rows of already-known persons) | {_ratio(acc['recall_auto_review'])} "
          f"(of {acc['known_rows']:,}) | >= {t['recall']} |")
    print(f"| recall, auto only | {_ratio(acc['recall_auto'])} | |")
    print(f"| recall, auto + review, transfers and re-entries only | "
          f"{_ratio(acc['recall_auto_review_transfer_reentry'])} (of {acc['transfer_reentry_known_rows']:,}) | |")
    print(f"| review share (all submissions) | {_pct(acc['review_share'])} ({acc['review_rows']:,}: "
          f"{acc['review_known']:,} known, {acc['review_new']:,} new persons) | <= {100 * t['review_share']:.0f}% |")
    print(f"| false new IDs (known person given another ID) | {acc['false_new_ids']:,} "
          f"({_pct(acc['false_new_id_rate'])} of known rows) | |")
    print(f"| wrong merges (matched to another person's ID) | {acc['wrong_merges']:,} "
          f"(twins {acc['wrong_merges_twins']:,}, other siblings {acc['wrong_merges_siblings']:,}; "
          f"via local ID {acc['wrong_merges_deterministic']:,}) | |")
    print(f"| deterministic matches (same district + local ID) | {acc['deterministic_matches']:,} "
          f"({acc['deterministic_matched_right']:,} right) | |")
    print(f"| new persons given an ID | {acc['new_persons_assigned']:,} of {meta['students']:,} students | |")
    reasons = ", ".join(f"{n} x {r}" for r, n in acc["rejected_reasons"].items())
    print(f"| rows rejected by validation (4xx) | {acc['rejected']:,}{' (' + reasons + ')' if reasons else ''} | |")
    print(f"| request errors (5xx, transport) | {acc['errors']:,} | 0 |")

    print("\n| kind | rows | known | matched right | review | new ID (duplicate) | wrong merge | assigned (new) |")
    print("|---|---|---|---|---|---|---|---|")
    for kind, v in acc["by_kind"].items():
        print(f"| {kind} | {v.get('rows', 0):,} | {v.get('known', 0):,} | {v.get('matched_right', 0):,} | "
              f"{v.get('review_known', 0) + v.get('review_new', 0):,} | {v.get('new_id_duplicate', 0):,} | "
              f"{v.get('wrong_merge', 0):,} | {v.get('assigned_new', 0):,} |")

    print("\nMisses by injected error (rows of known persons not answered by the local ID; a row "
          "counts under each of its errors):\n")
    print("| error | rows | matched right | review | new ID | wrong merge | miss rate (new ID + wrong) |")
    print("|---|---|---|---|---|---|---|")
    for error, v in sorted(acc["by_error"].items(), key=lambda kv: -(kv[1].get("new_id_duplicate", 0) + kv[1].get("wrong_merge", 0) + kv[1].get("review_known", 0))):
        misses = v.get("new_id_duplicate", 0) + v.get("wrong_merge", 0)
        print(f"| {error} | {v['rows']:,} | {v.get('matched_right', 0):,} | {v.get('review_known', 0):,} | "
              f"{v.get('new_id_duplicate', 0):,} | {v.get('wrong_merge', 0):,} | {_pct(_rate(misses, v['rows']), 1)} |")

    if acc["wrong_merge_examples"]:
        print("\nWrong merges (first ones): " + "; ".join(
            f"row {e['row']} {e['kind']} {e['person']} -> {e['merged_into_person']}"
            f"{' (twin)' if e['twin'] else ''} p={e['probability']} errors={','.join(e['errors']) or '-'}"
            for e in acc["wrong_merge_examples"][:8]))

    splink = report.get("splink")
    print("\n## slds resolver vs Splink, same rows\n")
    columns = ["slds (auto)", "slds (reviews resolved right)"]
    if splink:
        best = splink["at_best_f1"]
        columns += [f"Splink @ p>={UPPER}",
                    f"Splink @ best F1 (weight {best['match_weight']:+.1f}, p>={best['threshold']:.7f})"]
    pw = [acc["pairwise"], acc["pairwise_review_resolved"]]
    rl = [acc["row_level"], None]
    if splink:
        pw += [splink["at_upper"]["pairwise"], splink["at_best_f1"]["pairwise"]]
        rl += [splink["at_upper"]["row_level"], splink["at_best_f1"]["row_level"]]
    print("| figure | " + " | ".join(columns) + " |\n|---|" + "---|" * len(columns))
    for label, key in [("pairwise precision", "precision"), ("pairwise recall", "recall"), ("pairwise F1", "f1"),
                       ("pairwise precision, pairs not sharing a local ID", "hard_precision"),
                       ("pairwise recall, pairs not sharing a local ID", "hard_recall")]:
        print(f"| {label} | " + " | ".join(_ratio(m[key]) for m in pw) + " |")
    print("| wrong pairs (predicted, not same person) | " + " | ".join(
        f"{m['predicted_pairs'] - m['true_positive_pairs']:,}" for m in pw) + " |")
    print("| row level: linked to the right earlier person (precision) | " + " | ".join(
        _ratio(m["precision"]) if m else "" for m in rl) + " |")
    print("| row level: rows with an earlier row linked right (recall) | " + " | ".join(
        _ratio(m["recall"]) if m else "" for m in rl) + " |")
    print("| row level: wrong links (twins / other siblings) | " + " | ".join(
        f"{m['wrong_links']:,} ({m['wrong_links_twins']:,} / {m['wrong_links_siblings']:,})" if m else "" for m in rl) + " |")
    seconds = [f"{report['speed']['resolve']['seconds']:.1f} s resolve (streaming)", ""]
    if splink:
        seconds += [f"{splink['seconds']:.1f} s (batch: train {splink['timings']['train']:.1f}, predict "
                    f"{splink['timings']['predict']:.1f}, cluster {splink['timings']['cluster']:.1f})", ""]
    print("| time | " + " | ".join(seconds) + " |")
    if splink:
        print(f"\nSplink: {splink['blocked_pairs']:,} blocked pairs, blocking keeps "
              f"{_pct(splink['blocking_recall_pairs'])} of true pairs; estimated prior "
              f"{splink['estimated_prior']:.3g}. Splink dedupes the whole year at once; the resolver "
              "answers each row as it comes, from the rows before it.")
    elif report.get("splink_skipped"):
        print(f"\nSplink skipped: {report['splink_skipped']}")

    speed = report["speed"]
    r = speed["resolve"]
    print("\n## Speed\n")
    print("| figure | value |\n|---|---|")
    print(f"| resolve latency p50 / p95 / p99, whole run (0 -> {r['persons_at_end']:,} persons) | "
          f"{r['p50_ms']:.1f} / {r['p95_ms']:.1f} / {r['p99_ms']:.1f} ms |")
    print(f"| resolve latency p50 / p95, last 20% of rows ({r['tail_from_persons']:,} -> "
          f"{r['persons_at_end']:,} existing persons) | {r['tail_p50_ms']:.1f} / {r['tail_p95_ms']:.1f} ms |")
    for decision, v in r["by_decision"].items():
        print(f"| resolve latency p50 / p95, {decision} ({v['rows']:,} rows) | {v['p50_ms']:.1f} / {v['p95_ms']:.1f} ms |")
    print(f"| resolve throughput, concurrency {meta['concurrency']} | {r['rows_per_second']:.0f} rows/s |")
    probe = speed.get("probe")
    if probe:
        print(f"| resolve latency p50 / p95, one request at a time, {probe['existing_persons']:,} existing persons "
              f"({probe['rows']} rows) | {probe['p50_ms']:.1f} / {probe['p95_ms']:.1f} ms |")
        for label, v in probe["by_kind"].items():
            print(f"| - {label} ({v['rows']} rows) | {v['p50_ms']:.1f} / {v['p95_ms']:.1f} ms |")
    b = speed.get("batch")
    if b:
        print(f"| batch: {meta['submissions']:,} rows as {b['batches']} batches of {meta['batch_size']:,}, "
              f"fresh database | {b['elapsed']:.1f} s, {b['persons_per_second']:.0f} persons/s |")
        if b.get("median_batch_persons_per_second"):
            print(f"| batch: median persons/s per batch (server timestamps) | {b['median_batch_persons_per_second']:.0f} |")
        print(f"| batch: submitting all batches (202s) | {b['submit_seconds']:.1f} s |")
        ba = b["accuracy"]
        print(f"| batch path accuracy: precision / recall auto+review / review share | "
              f"{_ratio(ba['precision'])} / {_ratio(ba['recall_auto_review'])} / {_pct(ba['review_share'])} |")
    print(f"\nLatency is client-side over loopback, measured while the database grew from 0 to "
          f"{r['persons_at_end']:,} persons (no preload).")
    if meta.get("emulated_autoanalyze"):
        print(f"\nThis PostgreSQL runs with autovacuum off: the bench ran ANALYZE when autovacuum would have "
              f"({meta.get('analyzes_resolve_run', 0)} times in the resolve run, "
              f"{meta.get('analyzes_batch_run', 0)} in the batch run).")


# --- main ------------------------------------------------------------------------------------

def batch_only(args: argparse.Namespace, report: dict[str, Any], submissions: list[dict[str, Any]],
               truth: Truth, database_url: str | None, progress: bool, began: float) -> int:
    """`--batch-only`: the batch run alone, on a fresh database, with the batch path's accuracy."""
    with serve(database_url) as server:
        log(f"batches of {args.batch_size:,} on a fresh {server.database} database")
        batch = asyncio.run(batch_stream(server, submissions, args.batch_size, progress))
        report["meta"]["analyzes_batch_run"] = server.analyzes
    accuracy = score_resolver(batch.pop("outcomes"), truth)
    batch["accuracy"] = {k: v for k, v in accuracy.items() if k != "by_error"}
    report["speed"] = {"batch": batch}
    meta = report["meta"]
    print(f"# identity bench, batch run only: {meta['students']:,} students (seed {meta['seed']}), "
          f"{meta['submissions']:,} submissions, {meta['database']}, {meta['cores']} cores\n")
    print("| figure | value |\n|---|---|")
    print(f"| batch: {meta['submissions']:,} rows as {batch['batches']} batches of {meta['batch_size']:,}, "
          f"fresh database | {batch['elapsed']:.1f} s, {batch['persons_per_second']:.0f} persons/s |")
    if batch.get("median_batch_persons_per_second"):
        print(f"| batch: median persons/s per batch (server timestamps) | "
              f"{batch['median_batch_persons_per_second']:.0f} |")
    print(f"| batch: submitting all batches (202s) | {batch['submit_seconds']:.1f} s |")
    print(f"| batch: load average before / after (1 min) | {batch['load_before'][0]:.2f} / "
          f"{batch['load_after'][0]:.2f} |")
    ba = batch["accuracy"]
    print(f"| batch path: auto-match precision | {_ratio(ba['precision'])} "
          f"({ba['probabilistic_matched_right']:,} / {ba['probabilistic_matches']:,}) |")
    print(f"| batch path: recall auto + review / auto only | {_ratio(ba['recall_auto_review'])} / "
          f"{_ratio(ba['recall_auto'])} |")
    print(f"| batch path: review share | {_pct(ba['review_share'])} |")
    print(f"| batch path: false new IDs / wrong merges | {ba['false_new_ids']:,} / {ba['wrong_merges']:,} |")
    print(f"| batch path: rows rejected / errors | {ba['rejected']:,} / {ba['errors']:,} |")
    if ba["wrong_merge_examples"]:
        print("\nWrong merges (first ones): " + "; ".join(
            f"row {e['row']} {e['kind']} {e['person']} -> {e['merged_into_person']}"
            f"{' (twin)' if e['twin'] else ''} p={e['probability']} errors={','.join(e['errors']) or '-'}"
            for e in ba["wrong_merge_examples"][:8]))
    report["meta"]["total_seconds"] = time.perf_counter() - began
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.identity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=None, help="students (default 20,000; 500 with --quick)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="~500 students: the smoke run")
    parser.add_argument("--json", type=Path, default=None, help="write every figure here")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--no-batch", action="store_true")
    parser.add_argument("--batch-only", action="store_true",
                        help="only the batch run (throughput and the batch path's accuracy)")
    parser.add_argument("--probe", type=int, default=None,
                        help="rows of the one-at-a-time latency probe after the accuracy run (default 200; 40 with --quick)")
    args = parser.parse_args(argv)
    students = args.students or (QUICK_STUDENTS if args.quick else 20_000)
    database_url = os.environ.get("SLDS_DATABASE_URL") or None
    progress = not args.quick

    from bench.synth import SynthConfig, generate_state

    began = time.perf_counter()
    state = generate_state(SynthConfig(students=students, seed=args.seed))
    submissions = state.submissions
    truth = truth_table(state)
    log(f"generated {students:,} students, {len(submissions):,} submissions")

    report: dict[str, Any] = {"meta": {
        "students": students, "seed": args.seed, "submissions": len(submissions),
        "database": "PostgreSQL" if database_url else "SQLite", "concurrency": args.concurrency,
        "batch_size": args.batch_size, "cores": os.cpu_count(), "quick": args.quick,
        "python": platform_module.python_version(), "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "kinds": dict(Counter(truth.kind)),
    }}

    if args.batch_only:
        return batch_only(args, report, submissions, truth, database_url, progress, began)

    with serve(database_url) as server:
        log(f"resolving on {server.database} at {server.base}")
        outcomes, elapsed = asyncio.run(resolve_stream(server, submissions, truth.person,
                                                          args.concurrency, progress))
        report["meta"]["emulated_autoanalyze"] = server.emulate_autoanalyze
        report["meta"]["analyzes_resolve_run"] = server.analyzes
        probe_rows = args.probe if args.probe is not None else (40 if args.quick else 200)
        probe = None
        if probe_rows:
            firsts = [row for row, kind in zip(submissions, truth.kind) if kind == "first"]
            known = firsts[:: max(1, len(firsts) // (probe_rows // 2))][: probe_rows // 2]
            others = generate_state(SynthConfig(students=max(50, probe_rows), seed=args.seed + 7919))
            new = [row for row, t in zip(others.submissions, others.truth) if t["kind"] == "first"][: probe_rows // 2]
            probe = asyncio.run(latency_probe(server, known, new))
            probe["existing_persons"] = sum(1 for o in outcomes if o.get("decision") == "assigned")
    report["accuracy"] = score_resolver(outcomes, truth)
    report["speed"] = {"resolve": latency_figures(outcomes, elapsed), "probe": probe}
    errors = [o for o in outcomes if o.get("decision") == "error"]
    if errors:
        report["accuracy"]["error_examples"] = errors[:5]
    log(f"resolve run: {elapsed:.1f} s")

    if not args.no_splink:
        try:
            log("Splink")
            report["splink"] = run_splink_comparison(submissions, truth, args.seed, args.quick)
            log(f"Splink: {report['splink']['seconds']:.1f} s")
        except Exception as exc:  # the comparison is reported as missing, not a crash
            report["splink"] = None
            report["splink_skipped"] = f"{type(exc).__name__}: {exc}"[:500]
            log(f"Splink failed: {report['splink_skipped']}")
    else:
        report["splink_skipped"] = "--no-splink"

    if not args.no_batch:
        with serve(database_url) as server:
            log(f"batches of {args.batch_size:,} on a fresh {server.database} database")
            batch = asyncio.run(batch_stream(server, submissions, args.batch_size, progress))
            report["meta"]["analyzes_batch_run"] = server.analyzes
        batch["accuracy"] = {k: v for k, v in score_resolver(batch.pop("outcomes"), truth).items()
                             if k not in ("wrong_merge_examples", "by_error")}
        report["speed"]["batch"] = batch
        log(f"batch run: {batch['elapsed']:.1f} s")

    report["meta"]["total_seconds"] = time.perf_counter() - began
    print_report(report)
    print(f"\nTotal bench time {report['meta']['total_seconds']:.0f} s.")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
