"""The application's own PostgreSQL role: it reads and writes business tables, but may only append
to the chained logs (issue 8, tamper evidence).

The migrations run as the owner; the services connect as a role granted by `slds db grant-app-role
ROLE`: all privileges a service needs on business tables, and on the log tables only SELECT, INSERT
and UPDATE of the chain columns (the chainer folds staged read entries into the chain). No DELETE,
no TRUNCATE, no DDL. The append-only trigger of the migrations refuses the rest even to the owner.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

LOG_TABLES = ("identity_access_log", "records_access_log", "disclosure_log", "disclosure_log_student")
CHAIN_COLUMNS = ("seq", "prev_hash", "hash")
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class RoleError(ValueError):
    pass


def grant_statements(role: str) -> list[str]:
    if not _ROLE_NAME.fullmatch(role):
        raise RoleError("role must be a lower-case PostgreSQL identifier")
    statements = [
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {role}",
    ]
    for table in LOG_TABLES:
        statements.append(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {role}")
        if table != "disclosure_log_student":
            statements.append(f"GRANT UPDATE ({', '.join(CHAIN_COLUMNS)}) ON {table} TO {role}")
    return statements


async def grant_app_role(connection: AsyncConnection, role: str) -> list[str]:
    """Grant `role` what the services need; the role must exist (created by the DBA with its
    password: `CREATE ROLE slds_app LOGIN PASSWORD '...'`). Run after every `slds db upgrade`,
    since grants on ALL TABLES cover only the tables that exist."""
    statements = grant_statements(role)
    exists = await connection.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
    if not exists:
        raise RoleError(f"role {role} does not exist: create it first (CREATE ROLE {role} LOGIN PASSWORD ...)")
    for statement in statements:
        await connection.execute(text(statement))
    return statements
