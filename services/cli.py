"""`slds`: run, migrate and administer the system from a shell.

    slds serve [--separate | --service NAME] [--host H] [--port P] [--workers N]
    slds db upgrade [--revision REV]
    slds users add USERNAME --role ROLE [--district ID ...] [--school ID ...] [--state XX]
    slds clients add NAME --role ROLE [--district ID ...]      (prints the secret once)
    slds keys rotate
    slds identity estimate --source reviews|em --out model.toml   (re-estimate the match model)
    slds identity worker                                       (the batch worker; `serve` starts it)
    slds demo                                                  (a small synthetic state)
    slds retention run [--today YYYY-MM-DD] [--dry-run]        (discipline expiry, archive, destroy)
    slds records verify-log                                    (check the records access log chain)
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from shared.settings import SERVICE_NAMES, get_settings

SEPARATE_PORTS = {"identity": 8001, "records": 8002, "disclosure": 8003, "reporting": 8004}


def _run_in_session(work: Callable[[Any], Awaitable[Any]]) -> Any:
    """One unit of work in one transaction, as a request would do it."""
    from shared.state import Database

    async def main() -> Any:
        db = Database.from_settings(get_settings())
        try:
            async with db.sessionmaker() as session, session.begin():
                return await work(session)
        finally:
            await db.engine.dispose()

    return asyncio.run(main())


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from shared.migrate import analyze, upgrade

    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url, args.revision)
    asyncio.run(analyze(settings.effective_database_url))
    print(f"database at revision {args.revision}")
    return 0


def cmd_db_grant_app_role(args: argparse.Namespace) -> int:
    from shared.db import create_engine
    from shared.db_roles import RoleError, grant_app_role

    url = get_settings().effective_database_url
    if not url.startswith("postgresql"):
        print("grant-app-role needs PostgreSQL (SQLite has no roles)", file=sys.stderr)
        return 2

    async def main() -> list[str]:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                return await grant_app_role(connection, args.role)
        finally:
            await engine.dispose()

    try:
        statements = asyncio.run(main())
    except RoleError as error:
        print(str(error), file=sys.stderr)
        return 2
    print("\n".join(statements))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from shared.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    workers = args.workers if args.workers is not None else settings.workers
    if workers > 1 and settings.is_sqlite:
        print("slds serve: --workers (SLDS_WORKERS) above 1 needs PostgreSQL: SQLite takes one writer at a time, "
              "and concurrent writes from several processes fail with 'database is locked'.", file=sys.stderr)
        return 2
    if workers > 1:
        # Every worker must sign and encrypt with the same secret: a development secret is made
        # here, once, before the workers start (each would otherwise race to write its own).
        settings.resolved_secret_key()
        if "memory" in settings.rate_limit_storage:
            logging.getLogger("slds.serve").warning(
                "rate limits count per worker process: with %d workers a caller may make up to %d times "
                "the configured rate; set SLDS_RATE_LIMIT_STORAGE to a Redis URL to count across them",
                workers, workers)
    if args.separate:
        return _serve_separately(args.host, workers)
    batch_workers = _start_batch_workers(settings) if args.service in (None, "identity") else []
    try:
        # By name, so that uvicorn can import it in each worker it spawns (services/serving.py).
        app = f"services.serving:{args.service or 'gateway'}"
        uvicorn.run(app, factory=True, host=args.host, port=args.port, workers=workers, log_config=None)
    finally:
        for worker in batch_workers:
            worker.terminate()
        for worker in batch_workers:
            worker.wait(timeout=30)
    return 0


def _start_batch_workers(settings: Any) -> list[subprocess.Popen[bytes]]:
    """On PostgreSQL the identity batch worker runs in a process of its own (a second core for
    bulk loads; services/identity/worker.py), and this process only serves; with
    `SLDS_BATCH_WORKERS` N over 1, N processes, each with its share of the rows. On SQLite, one
    writer at a time, it stays a task of the identity service."""
    if not settings.batch_worker or settings.is_sqlite:
        return []
    count = settings.batch_workers
    command = [sys.executable, "-m", "services.cli", "identity", "worker", "--with-parent"]
    workers = [subprocess.Popen(command + (["--partition", f"{index}/{count}"] if count > 1 else []),
                                stdin=subprocess.PIPE) for index in range(count)]
    os.environ["SLDS_BATCH_WORKER"] = "false"  # read by the identity app this process creates
    get_settings.cache_clear()
    return workers


def _serve_separately(host: str, workers: int) -> int:
    """Four processes, one per service, on ports 8001-8004; identity's and disclosure's URLs given
    to every one."""
    env = dict(os.environ, SLDS_IDENTITY_URL=f"http://{host}:{SEPARATE_PORTS['identity']}",
               SLDS_DISCLOSURE_URL=f"http://{host}:{SEPARATE_PORTS['disclosure']}",
               SLDS_RECORDS_URL=f"http://{host}:{SEPARATE_PORTS['records']}")
    procs = [
        subprocess.Popen([sys.executable, "-m", "services.cli", "serve", "--service", name,
                          "--host", host, "--port", str(port), "--workers", str(workers)], env=env)
        for name, port in SEPARATE_PORTS.items()
    ]
    try:
        return max(p.wait() for p in procs)
    except KeyboardInterrupt:
        for p in procs:
            p.send_signal(signal.SIGINT)
        return 0


def cmd_accounts_stale(args: argparse.Namespace) -> int:
    from services.identity.service import AccountService

    async def work(session: Any) -> Any:
        return await AccountService(session, get_settings()).stale_accounts(disable=args.disable)

    for row in _run_in_session(work):
        print(json.dumps({**row, "disabled": args.disable}))
    return 0


def cmd_users_add(args: argparse.Namespace) -> int:
    from services.identity.service import AccountService

    password = args.password or os.environ.get("SLDS_NEW_PASSWORD") or getpass.getpass("Password: ")

    async def work(session: Any) -> Any:
        return await AccountService(session, get_settings()).create_user(
            username=args.username, display_name=args.name or args.username, password=password,
            role=args.role, state=args.state, district_ids=args.district, school_ids=args.school,
            staff_id=args.staff_id, student_ids=args.student,
        )

    user = _run_or_report(work)
    if user is None:
        return 2
    print(json.dumps({"id": user.id, "username": user.username, "role": user.role}))
    return 0


def cmd_clients_add(args: argparse.Namespace) -> int:
    from services.identity.service import AccountService

    async def work(session: Any) -> Any:
        return await AccountService(session, get_settings()).create_client(
            name=args.name, role=args.role, state=args.state,
            district_ids=args.district, school_ids=args.school,
        )

    created = _run_or_report(work)
    if created is None:
        return 2
    print(json.dumps({"client_id": created.client.client_id, "client_secret": created.secret,
                      "note": "the secret is shown once; only its hash is kept"}))
    return 0


def cmd_keys_rotate(_args: argparse.Namespace) -> int:
    from services.identity.service import KeyService

    async def work(session: Any) -> str:
        return (await KeyService(session, get_settings()).rotate()).kid

    print(json.dumps({"new_kid": _run_in_session(work),
                      "note": "old keys stop signing now and stay published until their tokens expire"}))
    return 0


def cmd_identity_worker(args: argparse.Namespace) -> int:
    from services.identity.worker import main
    from shared.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    return main(settings, with_parent=args.with_parent, partition=args.partition)


def cmd_identity_estimate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from services.identity.estimation import estimate

    async def work(session: Any) -> tuple[Any, int]:
        return await estimate(session, args.source, sample=args.sample)

    try:
        model, pairs = _run_in_session(work)
    except ValueError as exc:
        print(json.dumps({"error": str(exc)}), file=sys.stderr)
        return 2
    Path(args.out).write_text(model.to_toml())
    print(json.dumps({"source": args.source, "pairs": pairs, "out": args.out,
                      "use_it": f"SLDS_MATCH_MODEL_PATH={args.out}"}))
    return 0


def cmd_demo(_args: argparse.Namespace) -> int:
    from services.demo import load_demo
    from services.demo_records import load_demo_records
    from shared.migrate import analyze

    cmd_db_upgrade(argparse.Namespace(revision="head"))
    text, records_input = _run_in_session(load_demo)
    print(text)
    if records_input is not None:
        summary = asyncio.run(load_demo_records(get_settings(), **records_input))
        print(f"Records: {summary['records']} student records ({summary['rejected']} rejected), "
              f"{summary['sections']} class sections, "
              f"{summary['caseloads']} caseload entries (demo.teacher, demo.counselor, demo.psychologist)")
        print(f"Research agreement {summary['agreement_id']} (signed): demo.researcher reads "
              f"{len(summary['agreement_students'])} students' agreed fields; each read is in the disclosure log")
    asyncio.run(analyze(get_settings().effective_database_url))
    return 0


def cmd_retention_run(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from services.records.retention import RetentionSchedule, run_retention

    today = args.today or datetime.now(UTC).date()

    async def work(session: Any) -> Any:
        settings = get_settings()
        schedule = RetentionSchedule(settings.records_discipline_years, settings.records_archive_after_years,
                                     settings.records_destroy_after_years)
        return await run_retention(session, today, dry_run=args.dry_run, schedule=schedule)

    print(json.dumps(_run_in_session(work).as_dict()))
    return 0


def _chained_log(name: str) -> tuple[Any, Callable[[Any], Awaitable[Any]]]:
    """The log table a `verify-log` / `checkpoint` command is about, and how to verify it."""
    from functools import partial

    from shared.audit import verify_chain

    if name == "disclosure":
        from services.disclosure.disclosures import verify_disclosure_log
        from services.disclosure.models import DisclosureLogEntry

        return DisclosureLogEntry, verify_disclosure_log  # the chain and its per-student index
    if name == "identity":
        from services.identity.models import AccessLogEntry

        return AccessLogEntry, partial(verify_chain, model=AccessLogEntry)
    from services.records.models import RecordsAccessLogEntry

    return RecordsAccessLogEntry, partial(verify_chain, model=RecordsAccessLogEntry)


def cmd_verify_log(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from shared.audit import GENESIS
    from shared.checkpoint import checkpoint_problem

    model, verify = _chained_log(args.log)
    checkpoint = json.loads(Path(args.checkpoint).read_text()) if args.checkpoint else None

    async def work(session: Any) -> Any:
        report = await verify(session)
        if checkpoint is None:
            return report, None
        seq = int(checkpoint.get("seq") or 0)
        hash_at = (await session.scalar(select(model.hash).where(model.seq == seq)) if seq > 0 else GENESIS)
        return report, checkpoint_problem(get_settings(), model.__tablename__, checkpoint, report, hash_at)

    report, against = _run_in_session(work)
    out: dict[str, Any] = {"ok": report.ok and against is None, "entries": report.entries}
    if not report.ok:
        out |= {"first_bad_seq": report.first_bad_seq, "problem": report.problem}
    if checkpoint is not None:
        out["checkpoint"] = {"seq": checkpoint.get("seq"), "ok": against is None} | (
            {"problem": against} if against else {})
    print(json.dumps(out))
    return 0 if out["ok"] else 1


def cmd_checkpoint(args: argparse.Namespace) -> int:
    """Sign a log's head after verifying the chain; keep the file away from the database."""
    from datetime import UTC, datetime

    from shared.checkpoint import make_checkpoint

    model, verify = _chained_log(args.log)
    report = _run_in_session(verify)
    if not report.ok:
        print(json.dumps({"ok": False, "first_bad_seq": report.first_bad_seq, "problem": report.problem}))
        return 1
    checkpoint = make_checkpoint(get_settings(), model.__tablename__, report, datetime.now(UTC))
    text = json.dumps(checkpoint)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


def _run_or_report(work: Callable[[Any], Awaitable[Any]]) -> Any:
    from shared.errors import SLDSError

    try:
        return _run_in_session(work)
    except SLDSError as exc:
        print(json.dumps({"error": exc.title, "detail": exc.detail, **exc.extensions}), file=sys.stderr)
        return None


def positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError("must be a whole number, 1 or more")
    return int(value)


def date_arg(value: str) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a date, YYYY-MM-DD") from None


def _partition_arg(value: str) -> Any:
    from services.identity.batch import Partition

    try:
        return Partition.parse(value)
    except ValueError:
        raise argparse.ArgumentTypeError("must be I/N with 0 <= I < N, e.g. 0/2") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slds", description="State student data system")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the services (default: all four in one process)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=positive_int, default=None,
                       help="worker processes per service (default SLDS_WORKERS, 1); above 1 needs PostgreSQL")
    group = serve.add_mutually_exclusive_group()
    group.add_argument("--separate", action="store_true", help="four processes on ports 8001-8004")
    group.add_argument("--service", choices=SERVICE_NAMES, default=os.environ.get("SLDS_SERVICE") or None)
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    up = db.add_parser("upgrade", help="apply migrations")
    up.add_argument("--revision", default="head")
    up.set_defaults(func=cmd_db_upgrade)
    grant = db.add_parser("grant-app-role", help="grant the services' PostgreSQL role its privileges "
                          "(append-only on the logs); run after each upgrade")
    grant.add_argument("role")
    grant.set_defaults(func=cmd_db_grant_app_role)

    def scope_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--role", required=True)
        p.add_argument("--state")
        p.add_argument("--district", action="append", default=[])
        p.add_argument("--school", action="append", default=[])

    users = sub.add_parser("users").add_subparsers(dest="users_command", required=True)
    add_user = users.add_parser("add", help="create a person's account")
    add_user.add_argument("username")
    add_user.add_argument("--name")
    add_user.add_argument("--password", help="prefer the prompt or SLDS_NEW_PASSWORD")
    add_user.add_argument("--staff-id")
    add_user.add_argument("--student", action="append", default=[])
    scope_args(add_user)
    add_user.set_defaults(func=cmd_users_add)

    clients = sub.add_parser("clients").add_subparsers(dest="clients_command", required=True)
    add_client = clients.add_parser("add", help="create a machine client; prints its secret once")
    add_client.add_argument("name")
    scope_args(add_client)
    add_client.set_defaults(func=cmd_clients_add)

    accounts = sub.add_parser("accounts").add_subparsers(dest="accounts_command", required=True)
    stale = accounts.add_parser("stale", help="people and clients unused for SLDS_ACCOUNT_IDLE_DAYS (JSON lines)")
    stale.add_argument("--disable", action="store_true", help="disable them now (refused at every service)")
    stale.set_defaults(func=cmd_accounts_stale)

    keys = sub.add_parser("keys").add_subparsers(dest="keys_command", required=True)
    keys.add_parser("rotate", help="new signing key; old ones retire").set_defaults(func=cmd_keys_rotate)

    identity = sub.add_parser("identity").add_subparsers(dest="identity_command", required=True)
    est = identity.add_parser("estimate", help="re-estimate the matching model (EM or review decisions)")
    est.add_argument("--source", choices=["reviews", "em"], default="reviews")
    est.add_argument("--sample", type=int, default=5000, help="persons sampled for EM")
    est.add_argument("--out", required=True, help="TOML file to write")
    est.set_defaults(func=cmd_identity_estimate)
    worker = identity.add_parser("worker", help="run a batch worker (`slds serve` starts SLDS_BATCH_WORKERS of them on PostgreSQL)")
    worker.add_argument("--with-parent", action="store_true", help="exit when standard input closes")
    worker.add_argument("--partition", type=_partition_arg, metavar="I/N",
                        help="resolve only share I of N (by birth year; `slds serve` sets it from SLDS_BATCH_WORKERS)")
    worker.set_defaults(func=cmd_identity_worker)

    sub.add_parser("demo", help="migrate and load a small synthetic state").set_defaults(func=cmd_demo)

    retention = sub.add_parser("retention").add_subparsers(dest="retention_command", required=True)
    run = retention.add_parser("run", help="apply the retention schedule (records/retention.py)")
    run.add_argument("--today", type=date_arg, help="the day to judge ages by (default: today, UTC)")
    run.add_argument("--dry-run", action="store_true", help="count what would go; change nothing")
    run.set_defaults(func=cmd_retention_run)

    records = sub.add_parser("records").add_subparsers(dest="records_command", required=True)
    disclosure = sub.add_parser("disclosure").add_subparsers(dest="disclosure_command", required=True)
    for name, group, what in (("records", records, "records access log"),
                              ("disclosure", disclosure, "FERPA 99.32 disclosure log"),
                              ("identity", identity, "identity (locator) access log")):
        verify = group.add_parser("verify-log", help=f"verify the {what}'s hash chain (exit 1 if broken)")
        verify.add_argument("--checkpoint", help="also check against a signed checkpoint (catches a cut tail)")
        verify.set_defaults(func=cmd_verify_log, log=name)
        checkpoint = group.add_parser("checkpoint", help=f"sign the {what}'s head; keep it off the database host")
        checkpoint.add_argument("--out", help="write the checkpoint to this file too")
        checkpoint.set_defaults(func=cmd_checkpoint, log=name)

    # --- reporting (issue 7): records' feed of the de-identified fact table ---
    def cmd_reporting_refresh_facts(args: argparse.Namespace) -> int:
        from services.records.reporting_feed import refresh_facts

        years = set(args.school_year) or None
        counts = _run_in_session(lambda s: refresh_facts(s, get_settings(), state=args.state, school_years=years))
        print(json.dumps({"rows_per_school_year": counts}))
        return 0

    reporting = sub.add_parser("reporting").add_subparsers(dest="reporting_command", required=True)
    refresh = reporting.add_parser("refresh-facts", help="rebuild the de-identified fact table from records")
    refresh.add_argument("--state", default="ST", help="state code written on every fact row")
    refresh.add_argument("--school-year", action="append", default=[], help="only this year (repeatable)")
    refresh.set_defaults(func=cmd_reporting_refresh_facts)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
