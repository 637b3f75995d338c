"""`slds demo`: a small synthetic state to log in to: three districts, their schools, one account
per role and one SIS client per district. Student data arrives with the synthetic generator
(`bench/`). Credentials are random, kept in var/demo-credentials.json (mode 600) and printed."""

from __future__ import annotations

import json
import secrets
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.service import AccountService
from shared.settings import get_settings

STATE = "ST"
DISTRICTS = {"1001": ["1001-01", "1001-02"], "1002": ["1002-01", "1002-02"], "1003": ["1003-01"]}

# username, role, scope. Staff ids are placeholders until identity assigns staff state IDs.
DEMO_USERS: list[tuple[str, str, dict[str, Any]]] = [
    ("demo.admin", "state_data_admin", {"state": STATE}),
    ("demo.analyst", "state_reporting_analyst", {"state": STATE}),
    ("demo.registrar", "registrar", {"state": STATE, "district_ids": ["1002"]}),
    ("demo.superintendent", "superintendent", {"district_ids": ["1001"]}),
    ("demo.principal", "principal", {"district_ids": ["1001"], "school_ids": ["1001-01"]}),
    ("demo.teacher", "teacher", {"district_ids": ["1001"], "school_ids": ["1001-01"], "staff_id": "S100000001"}),
    ("demo.counselor", "counselor", {"district_ids": ["1001"], "school_ids": ["1001-01"], "staff_id": "S100000002"}),
    ("demo.psychologist", "psychologist", {"district_ids": ["1001"], "staff_id": "S100000003"}),
    ("demo.socialworker", "social_worker", {"district_ids": ["1001"], "staff_id": "S100000004"}),
    ("demo.sped", "special_education_admin", {"district_ids": ["1001"]}),
    ("demo.centraloffice", "central_office", {"district_ids": ["1001"]}),
    ("demo.researcher", "researcher", {}),
    ("demo.parent", "parent", {}),
    ("demo.student", "eligible_student", {}),
]
DEMO_CLIENTS: list[tuple[str, str, dict[str, Any]]] = [
    *[(f"SIS of district {d}", "district_sis", {"district_ids": [d]}) for d in DISTRICTS],
    ("Vendor: assessment platform", "vendor", {}),
]


async def load_demo(session: AsyncSession) -> str:
    settings = get_settings()
    path = settings.var_dir / "demo-credentials.json"
    accounts = AccountService(session, settings)
    if await accounts.accounts.user_by_username("demo.admin") is not None and path.exists():
        return _instructions(json.loads(path.read_text()), again=True)
    credentials: dict[str, Any] = {"users": {}, "clients": {}}
    for username, role, scope in DEMO_USERS:
        password = secrets.token_urlsafe(12)
        await accounts.create_user(username=username, display_name=username, password=password,
                                   role=role, **scope)
        credentials["users"][username] = {"role": role, "password": password}
    for name, role, scope in DEMO_CLIENTS:
        created = await accounts.create_client(name=name, role=role, **scope)
        credentials["clients"][created.client.client_id] = {
            "name": name, "role": role, "client_secret": created.secret}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(credentials, indent=2))
    path.chmod(0o600)
    return _instructions(credentials, again=False)


def _instructions(credentials: dict[str, Any], *, again: bool) -> str:
    lines = ["Demo state " + ("already loaded" if again else "loaded") +
             "; credentials in var/demo-credentials.json", "", "People (password grant):"]
    for username, info in credentials["users"].items():
        lines.append(f"  {username:<22} {info['role']:<26} {info['password']}")
    lines += ["", "Machine clients (client_credentials grant):"]
    for client_id, info in credentials["clients"].items():
        lines.append(f"  {client_id}  {info['client_secret']}  ({info['name']}, {info['role']})")
    admin = credentials["users"]["demo.admin"]["password"]
    lines += ["", "Get a token:",
              "  curl -s -d grant_type=password -d username=demo.admin "
              f"-d password='{admin}' http://127.0.0.1:8000/identity/v1/oauth/token"]
    return "\n".join(lines)
