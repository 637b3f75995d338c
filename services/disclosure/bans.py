"""Bans for improper redisclosure: a third party found to have redisclosed PII in violation of its
agreement gets no access to student data for five years (34 CFR 99.33(e); seed 000 MOSIS and 001
Maine: "the parties will not have access to any ... student data for five years").

A ban names the party's organisation and its principal subjects and runs from `found_on` until
`found_on` + 5 years (the ban lifts on that day). While it runs, no agreement naming the
organisation or a subject is created or signed, no disclosure to it is logged, its agreements
grant nothing (`agreements.grants_for`) and `banned_subjects` lists its subjects for the token
verifiers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.disclosure.common import (
    PartyBanned,
    add_years,
    audit,
    invalid,
    org_key,
    problem,
    today,
)
from services.disclosure.models import Ban
from services.disclosure.schemas import BanIn
from shared.policy.principal import Principal

BAN_YEARS = 5


@dataclass(frozen=True)
class ActiveBans:
    subjects: frozenset[str]
    organisation_keys: frozenset[str]

    def hits(self, *, organisations: Iterable[str] = (), subjects: Iterable[str | None] = ()) -> list[str]:
        """Which of the given names are banned: "organisation" and/or "subjects"."""
        found = []
        if any(org_key(o) in self.organisation_keys for o in organisations):
            found.append("organisation")
        if any(s is not None and s in self.subjects for s in subjects):
            found.append("subjects")
        return found


def is_active(ban: Ban, day: date) -> bool:
    return ban.found_on <= day < ban.banned_until


async def active_bans(session: AsyncSession, day: date) -> ActiveBans:
    rows = (await session.scalars(select(Ban).where(Ban.banned_until > day, Ban.found_on <= day))).all()
    return ActiveBans(frozenset(s for ban in rows for s in ban.subjects),
                      frozenset(ban.organisation_key for ban in rows))


async def banned_subjects(session: AsyncSession, today: date) -> frozenset[str]:
    """Every principal subject under a ban on `today`: a token verifier refuses them."""
    return (await active_bans(session, today)).subjects


async def refuse_if_banned(session: AsyncSession, day: date, *, what: str, organisations: Iterable[str] = (),
                           subjects: Iterable[str | None] = (), field_prefix: str = "") -> None:
    hits = (await active_bans(session, day)).hits(organisations=organisations, subjects=subjects)
    if hits:
        audit.info("refused: party banned", extra={"what": what, "banned": hits})
        raise PartyBanned(
            f"The {what} names a party barred from student data for improper redisclosure.",
            errors=[problem(field_prefix + h, "Names a party under a ban.", "banned") for h in hits])


async def record_ban(session: AsyncSession, principal: Principal, body: BanIn) -> Ban:
    if body.found_on > today():
        raise invalid([problem("found_on", "Must not be in the future.")])
    ban = Ban(organisation=body.organisation, organisation_key=org_key(body.organisation),
              subjects=sorted(set(body.subjects)), finding=body.finding, found_on=body.found_on,
              banned_until=add_years(body.found_on, BAN_YEARS), recorded_by=principal.subject)
    session.add(ban)
    await session.flush()
    audit.info("ban recorded", extra={"ban_id": ban.id, "subjects": len(ban.subjects), "actor": principal.subject})
    return ban


async def list_bans(session: AsyncSession, active_on: date | None) -> Sequence[Ban]:
    query = select(Ban).order_by(Ban.found_on.desc(), Ban.id)
    if active_on is not None:
        query = query.where(Ban.found_on <= active_on, Ban.banned_until > active_on)
    return (await session.scalars(query)).all()
