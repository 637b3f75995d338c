"""`slds demo`: a small synthetic state to log in to: one account per role, one SIS client per
district, and 300 synthetic students (bench/synth, seeded) resolved through identity exactly as
the districts' submissions would be, transfers and typos included, so the locator and the review
queue have something in them. Credentials are random, kept in var/demo-credentials.json (mode 600)
and printed. Then each district's SIS posts its students' records, class sections and caseloads
to the records service, and two stewards sign a research agreement for demo.researcher
(`services/demo_records.py`)."""

from __future__ import annotations

import json
import secrets
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.clearance import record_current
from services.identity.resolve import Resolver, facts_from_request
from services.identity.schemas import StudentResolveRequest
from services.identity.service import AccountService
from shared.settings import get_settings

DEMO_STUDENTS = 300
DEMO_SEED = 2026

STATE = "ST"
DISTRICTS = {"1001": ["1001-01", "1001-02", "1001-03"], "1002": ["1002-01", "1002-02", "1002-03"]}

# username, role, scope. Staff IDs carry a valid check digit (they are the staff namespace's).
DEMO_USERS: list[tuple[str, str, dict[str, Any]]] = [
    ("demo.admin", "state_data_admin", {"state": STATE}),
    ("demo.admin2", "state_data_admin", {"state": STATE}),  # the second steward who signs agreements
    ("demo.analyst", "state_reporting_analyst", {"state": STATE}),
    ("demo.registrar", "registrar", {"state": STATE, "district_ids": ["1002"]}),
    ("demo.superintendent", "superintendent", {"district_ids": ["1001"]}),
    ("demo.principal", "principal", {"district_ids": ["1001"], "school_ids": ["1001-01"]}),
    ("demo.teacher", "teacher", {"district_ids": ["1001"], "school_ids": ["1001-01"], "staff_id": "S100000011"}),
    ("demo.counselor", "counselor", {"district_ids": ["1001"], "school_ids": ["1001-01"], "staff_id": "S100000022"}),
    ("demo.psychologist", "psychologist", {"district_ids": ["1001"], "staff_id": "S100000033"}),
    ("demo.socialworker", "social_worker", {"district_ids": ["1001"], "staff_id": "S100000040"}),
    ("demo.sped", "special_education_admin", {"district_ids": ["1001"]}),
    ("demo.centraloffice", "central_office", {"district_ids": ["1001"]}),
    ("demo.researcher", "researcher", {}),
    ("demo.parent", "parent", {}),
    ("demo.student", "eligible_student", {}),
]
DEMO_CLIENTS: list[tuple[str, str, dict[str, Any]]] = [
    *[(f"SIS of district {d}", "district_sis", {"district_ids": [d]}) for d in DISTRICTS],
    ("Vendor: assessment platform", "vendor", {}),
    ("Yearbook vendor (directory information)", "directory_recipient", {"district_ids": ["1001"]}),
]


async def load_demo(session: AsyncSession) -> tuple[str, dict[str, Any] | None]:
    """The printed instructions, and what `load_demo_records` needs (None when already loaded)."""
    settings = get_settings()
    path = settings.var_dir / "demo-credentials.json"
    accounts = AccountService(session, settings)
    if await accounts.accounts.user_by_username("demo.admin") is not None and path.exists():
        return _instructions(json.loads(path.read_text()), again=True), None
    credentials: dict[str, Any] = {"users": {}, "clients": {}}
    resolved = await _resolve_students(session)
    latest = resolved.pop("latest")
    directory = resolved.pop("directory")
    credentials["students"] = resolved
    own = {"demo.parent": resolved["sample_ids"][:1], "demo.student": resolved["sample_ids"][1:2]}
    for username, role, scope in DEMO_USERS:
        if username in own:
            scope = {**scope, "student_ids": own[username]}
        password = secrets.token_urlsafe(12)
        user = await accounts.create_user(username=username, display_name=username, password=password,
                                          role=role, **scope)
        credentials["users"][username] = {"role": role, "password": password, "subject": user.subject}
        # The demo staff have signed the NDA and done this year's privacy training (issue 9).
        await record_current(session, [user], recorded_by="demo", settings=settings)
    for name, role, scope in DEMO_CLIENTS:
        created = await accounts.create_client(name=name, role=role, **scope)
        credentials["clients"][created.client.client_id] = {
            "name": name, "role": role, "client_secret": created.secret}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(credentials, indent=2))
    path.chmod(0o600)
    staff = {role: scope["staff_id"] for _, role, scope in DEMO_USERS if "staff_id" in scope}
    return _instructions(credentials, again=False), {"clients": credentials["clients"], "latest": latest,
                                                      "staff": staff, "users": credentials["users"],
                                                      "directory": directory}


async def _resolve_students(session: AsyncSession) -> dict[str, Any]:
    from bench.synth import SynthConfig, generate_state

    state = generate_state(SynthConfig(students=DEMO_STUDENTS, seed=DEMO_SEED))
    fields = set(StudentResolveRequest.model_fields)
    resolver = Resolver(session, get_settings())
    decisions: dict[str, int] = {}
    sample_ids: list[str] = []
    latest: dict[str, dict[str, Any]] = {}  # state ID -> the last submission it was resolved from
    for row in sorted(state.submissions, key=lambda r: (r.get("submitted_on") or "", r["row_ref"])):
        body = StudentResolveRequest.model_validate({k: v for k, v in row.items() if k in fields})
        outcome = await resolver.resolve(facts_from_request(body, resolver.settings), body.district_id,
                                         body.local_student_id, "demo:synthetic-districts")
        decisions[outcome.decision] = decisions.get(outcome.decision, 0) + 1
        if outcome.state_id:
            latest[outcome.state_id] = row
        if outcome.state_id and len(sample_ids) < 3 and outcome.state_id not in sample_ids:
            sample_ids.append(outcome.state_id)
    from services.demo_records import directory_entries

    return {"submissions": len(state.submissions), "decisions": decisions, "sample_ids": sample_ids,
            "latest": latest, "directory": directory_entries(state.districts, state.schools)}


def _instructions(credentials: dict[str, Any], *, again: bool) -> str:
    lines = ["Demo state " + ("already loaded" if again else "loaded") +
             "; credentials in var/demo-credentials.json", "", "People (password grant):"]
    for username, info in credentials["users"].items():
        lines.append(f"  {username:<22} {info['role']:<26} {info['password']}")
    lines += ["", "Machine clients (client_credentials grant):"]
    for client_id, info in credentials["clients"].items():
        lines.append(f"  {client_id}  {info['client_secret']}  ({info['name']}, {info['role']})")
    students = credentials.get("students")
    if students:
        lines += ["", f"Students: {students['submissions']} district submissions resolved: {students['decisions']}",
                  f"  e.g. state IDs {', '.join(students['sample_ids'])} (demo.parent sees the first)"]
    admin = credentials["users"]["demo.admin"]["password"]
    lines += ["", "Get a token:",
              ("  curl -s -d grant_type=password -d username=demo.admin "
               f"-d password='{admin}' http://127.0.0.1:8000/identity/v1/oauth/token")]
    return "\n".join(lines)
