"""Releases of PII to parties outside the agency, through the disclosure service.

A researcher or vendor (a role whose reach is `grants`) sees nothing by role: only the students and
fields of an agreement active today. So for such a caller records asks disclosure, on each request
and with the caller's own token, which agreements it holds (`GET /disclosure/v1/grants/mine`), and
reads through the policy library with those grants. Before the data leave, records writes the
release into the FERPA 99.32 disclosure log itself, with its own service token, one entry per
agreement used (its students, the fields that went out, its legal basis and purpose). If the grants
cannot be learnt or the entry cannot be written, nothing is released (fail closed: 503, or 403
when disclosure refuses the entry).

A `directory_only` role (an outside party receiving directory information) sees only directory
fields, and nothing of a student whose parent opted out: records asks disclosure, which keeps the
opt-outs, about the students of each read before anything is counted, logged or sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.records.access_requests import grants_in_force, may_hold_grants
from services.records.service import Withhold
from shared.db import read_only
from shared.deps import BearerCredentials, State, authenticate, require_clearance
from shared.disclosure_client import DisclosureClient, ReleaseGrant, disclosure_client
from shared.policy.access import RowScope
from shared.policy.principal import Principal, StudentFacts
from shared.policy.roles import UnknownRoleError, get_role
from shared.request_context import current_request_id
from shared.state import ServiceState


@dataclass(frozen=True, slots=True)
class Caller:
    """The principal as records reads for it: with its agreements' grants when it holds any."""

    principal: Principal
    agreements: tuple[ReleaseGrant, ...] = ()
    directory_only: bool = False

    @property
    def is_outside_party(self) -> bool:
        return bool(self.agreements)


def reaches_by_grants_only(principal: Principal) -> bool:
    try:
        return get_role(principal.role).row_scope == "grants"
    except UnknownRoleError:
        return False


def sees_directory_only(principal: Principal) -> bool:
    try:
        return get_role(principal.role).directory_only
    except UnknownRoleError:
        return False


def log_entries(caller: Caller, released: Sequence[tuple[str, set[str]]], facts: Mapping[str, StudentFacts],
                day: date) -> list[dict[str, Any]]:
    """One disclosure-log entry per agreement this release used: the students it covers and the
    fields of it that went out. `released` holds each student sent and its field names."""
    entries = []
    for grant in caller.agreements:
        scope = RowScope("grants", grants=(grant.access,))
        students = [sid for sid, _ in released if sid in facts and scope.matches(facts[sid])]
        fields = sorted(set().union(*(f for sid, f in released if sid in students)) & grant.access.fields)
        if students and fields:
            entries.append(grant.log_entry(caller.principal.subject, fields=fields, students=students, day=day,
                                           reference=f"records read {current_request_id() or ''}".strip()))
    return entries


def disclosure_link(state: State) -> DisclosureClient:
    return disclosure_client(state, "records")


async def get_caller(request: Request, credentials: BearerCredentials) -> Caller:
    # One dependency doing the work of get_state, get_principal and get_cleared_principal: each
    # dependency FastAPI resolves costs more CPU than the check it runs, on the busiest routes.
    state: ServiceState = request.app.state.slds
    principal = require_clearance(await authenticate(state, credentials))
    return await caller_for(state, principal, request.headers.get("authorization", ""))


async def caller_for(state: ServiceState, principal: Principal, authorization: str) -> Caller:
    """The caller records reads for, from a cleared principal (`authorization`, its header, goes
    with a researcher's or vendor's question to the disclosure service)."""
    if sees_directory_only(principal):
        await disclosure_link(state).prepare()
        return Caller(principal, directory_only=True)
    if not reaches_by_grants_only(principal):
        # Staff access beyond the role, granted in writing (access_requests.py): one indexed query
        # in a read session of its own, none for the roles that cannot hold such a grant (so a
        # superintendent's read opens no session here).
        granted = ()
        if may_hold_grants(principal):
            async with state.db.sessionmaker() as session:
                await read_only(session)
                granted = await grants_in_force(session, principal)
                await session.rollback()
        return Caller(replace(principal, grants=principal.grants + granted) if granted else principal)
    link = disclosure_link(state)
    agreements = await link.grants(authorization)
    if agreements:
        await link.prepare()
    return Caller(replace(principal, grants=tuple(g.access for g in agreements)), agreements)


async def release(session: AsyncSession, state: State, caller: Caller, released: Sequence[tuple[str, set[str]]],
                  facts: Mapping[str, StudentFacts]) -> None:
    """Log a release to an outside party, then let it go. Records' own transaction (the read and
    its access-log entry) commits first: the disclosure service writes in its own transaction,
    which on SQLite could not start while this one holds the write lock. So a release whose log
    entry is refused leaves an access-log entry of the attempted read and no data sent."""
    if not caller.is_outside_party or not released:
        return
    entries = log_entries(caller, released, facts, datetime.now(UTC).date())
    await session.commit()
    link = disclosure_link(state)
    for entry in entries:
        await link.log(entry)


CurrentCaller = Annotated[Caller, Depends(get_caller)]


def withhold_for(caller: Caller, state: State) -> Withhold | None:
    """What a reader for this caller must leave out: opted-out students, for directory-only roles."""
    if not caller.directory_only:
        return None
    return disclosure_link(state).opted_out
