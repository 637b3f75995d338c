"""NDA and annual privacy training: who is cleared for student PII, who records it, who is due.

Seed 002 (Utah plan 4 and 4.4): every employee, contractor and volunteer signs the Employee
Non-Disclosure Agreement and completes the annual Security and Privacy Fundamentals Training;
"Participation in the training as well as a signed copy of the Employee Non-Disclosure Agreement
will be annually monitored by supervisors", who report whoever has not completed them. Seed 004
(Colorado-style policy): "Annual mandatory user security awareness training".

A person is cleared on a day when they have a signed NDA (of `nda_required_version` when that is
set, else of any version) and a training completed no more than `training_valid_days` before that
day: cleared through `completed_on + training_valid_days`, the day it is due again. Only people in
staff roles that reach students need it (`shared.policy.access.role_requires_clearance`); the
token carries the last cleared day (`cleared_until`), so recording takes effect at the person's
next token (user tokens live 15 minutes), and removing access at once is the account disable.
With `require_clearance` off every person's token says cleared (`date.max`).

Recording: the state data administrator for anyone, a superintendent for people of their own
district(s), a principal for people of their own school(s); a supervisor never for themself.
Rows are never edited: a new signature or completion is a new row and the latest one counts.
Each recording is appended to identity's hash-chained access log.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.clearance_models import NdaSignature, TrainingCompletion
from services.identity.models import AccessLogEntry, UserAccount
from shared import audit
from shared.errors import Forbidden, NotFound, UnprocessableContent
from shared.policy.access import role_requires_clearance
from shared.policy.principal import Principal
from shared.policy.roles import UnknownRoleError, get_role
from shared.request_context import current_request_id
from shared.settings import Settings

STATE_ROLES = frozenset({"state_data_admin"})  # record for anyone
DISTRICT_ROLES = frozenset({"superintendent"})  # for people of their own district(s)
SCHOOL_ROLES = frozenset({"principal"})  # for people of their own school(s)
RECORDER_ROLES = STATE_ROLES | DISTRICT_ROLES | SCHOOL_ROLES
# The IT security manager receives the supervisors' report of who is missing (Utah 4.4.4(5)).
READER_ROLES = RECORDER_ROLES | {"security_manager"}
DEFAULT_COURSE = "Security and Privacy Fundamentals"


def today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class Clearance:
    """One person's standing on `as_of`."""

    user: UserAccount
    required: bool
    nda: NdaSignature | None  # the latest signature that counts
    training: TrainingCompletion | None  # the latest completion
    valid_through: date | None  # the last day the training counts (due again after it)
    as_of: date

    @property
    def cleared_until(self) -> date | None:
        """The last day the person is cleared, whatever today is; None without an NDA or training."""
        return self.valid_through if self.nda is not None else None

    @property
    def cleared(self) -> bool:
        return not self.required or (self.cleared_until is not None and self.cleared_until >= self.as_of)

    @property
    def missing(self) -> list[str]:
        gaps = [] if self.nda is not None else ["nda"]
        if self.valid_through is None or self.valid_through < self.as_of:
            gaps.append("training")
        return gaps


def _required_version(settings: Settings) -> str | None:
    return settings.nda_required_version or None


def person_requires_clearance(user: UserAccount) -> bool:
    try:
        return role_requires_clearance(get_role(user.role), "user")
    except UnknownRoleError:
        return False


async def _latest_ndas(session: AsyncSession, settings: Settings, user_ids: Sequence[str]) -> dict[str, NdaSignature]:
    if not user_ids:
        return {}
    query = select(NdaSignature).where(NdaSignature.user_id.in_(user_ids))
    if (version := _required_version(settings)) is not None:
        query = query.where(NdaSignature.agreement_version == version)
    latest: dict[str, NdaSignature] = {}
    for row in await session.scalars(query.order_by(NdaSignature.signed_on, NdaSignature.recorded_at)):
        latest[row.user_id] = row
    return latest


async def _latest_trainings(session: AsyncSession, user_ids: Sequence[str]) -> dict[str, TrainingCompletion]:
    if not user_ids:
        return {}
    query = (select(TrainingCompletion).where(TrainingCompletion.user_id.in_(user_ids))
             .order_by(TrainingCompletion.completed_on, TrainingCompletion.recorded_at))
    latest: dict[str, TrainingCompletion] = {}
    for row in await session.scalars(query):
        latest[row.user_id] = row
    return latest


async def standings(session: AsyncSession, settings: Settings, users: Sequence[UserAccount],
                    as_of: date | None = None) -> list[Clearance]:
    """Each person's clearance, in two queries whatever the number of people."""
    day = as_of or today()
    ids = [u.id for u in users]
    ndas, trainings = await _latest_ndas(session, settings, ids), await _latest_trainings(session, ids)
    out = []
    for user in users:
        training = trainings.get(user.id)
        through = training.completed_on + timedelta(days=settings.training_valid_days) if training else None
        out.append(Clearance(user, person_requires_clearance(user), ndas.get(user.id), training, through, day))
    return out


async def token_clearance(session: AsyncSession, settings: Settings, user: UserAccount) -> date | None:
    """The `cleared_until` claim of a person's next token; None (no claim) when not needed or not
    cleared (an expired training gives a past day, which the policy library refuses alike)."""
    if not settings.require_clearance:
        return date.max
    if not person_requires_clearance(user):
        return None
    (standing,) = await standings(session, settings, [user])
    return standing.cleared_until


# --- who may see and record whose clearance -------------------------------------------------------


def _within(principal: Principal, user: UserAccount) -> bool:
    """Whether `user` is one of the people the supervising principal answers for."""
    if principal.role in STATE_ROLES or principal.role == "security_manager":
        return True
    if principal.role in DISTRICT_ROLES:
        return bool(user.district_ids) and set(user.district_ids) <= principal.district_ids
    if principal.role in SCHOOL_ROLES:
        return bool(user.school_ids) and set(user.school_ids) <= principal.school_ids
    return False


def _is_self(principal: Principal, user: UserAccount) -> bool:
    return principal.kind == "user" and principal.subject == user.subject


async def visible_user(session: AsyncSession, principal: Principal, user_id: str) -> UserAccount:
    """The person, if the caller supervises them or is them; 404 otherwise (as for no such person)."""
    user = await session.get(UserAccount, user_id)
    if user is None or not (_is_self(principal, user) or (principal.kind == "user" and _within(principal, user))):
        raise NotFound("No such account.")
    return user


async def _recordable_user(session: AsyncSession, principal: Principal, user_id: str) -> UserAccount:
    if principal.kind != "user" or principal.role not in RECORDER_ROLES:
        raise Forbidden("NDA signatures and training are recorded by the state data administrator, a "
                        "superintendent (own district) or a principal (own school).")
    user = await session.get(UserAccount, user_id)
    if user is None or not _within(principal, user):
        raise NotFound("No such account.")
    if _is_self(principal, user) and principal.role not in STATE_ROLES:
        raise Forbidden("A supervisor records the NDA and training of the people they supervise, not their own.")
    return user


def _not_in_future(field: str, day: date) -> None:
    if day > today():
        raise UnprocessableContent("See 'errors' for every field that needs attention.", errors=[
            {"field": f"body.{field}", "code": "future_date", "message": "Must not be in the future."}])


async def _log(session: AsyncSession, principal: Principal, action: str, payload: dict[str, object]) -> None:
    await audit.append(session, AccessLogEntry, actor=principal.subject, action=action, payload=payload,
                       request_id=current_request_id())


async def record_nda(session: AsyncSession, principal: Principal, user_id: str, *, agreement_version: str,
                     signed_on: date) -> tuple[UserAccount, NdaSignature]:
    user = await _recordable_user(session, principal, user_id)
    _not_in_future("signed_on", signed_on)
    row = NdaSignature(user_id=user.id, agreement_version=agreement_version, signed_on=signed_on,
                       recorded_by=principal.subject)
    session.add(row)
    await session.flush()
    await _log(session, principal, "clearance.nda", {"user_id": user.id, "agreement_version": agreement_version,
                                                     "signed_on": signed_on.isoformat()})
    return user, row


async def record_training(session: AsyncSession, principal: Principal, user_id: str, *, course: str,
                          course_version: str, completed_on: date) -> tuple[UserAccount, TrainingCompletion]:
    user = await _recordable_user(session, principal, user_id)
    _not_in_future("completed_on", completed_on)
    row = TrainingCompletion(user_id=user.id, course=course, course_version=course_version,
                             completed_on=completed_on, recorded_by=principal.subject)
    session.add(row)
    await session.flush()
    await _log(session, principal, "clearance.training", {"user_id": user.id, "course": course,
                                                          "course_version": course_version,
                                                          "completed_on": completed_on.isoformat()})
    return user, row


async def history(session: AsyncSession, user_id: str) -> tuple[list[NdaSignature], list[TrainingCompletion]]:
    """Every signature and completion recorded for the person, newest first."""
    ndas = await session.scalars(select(NdaSignature).where(NdaSignature.user_id == user_id)
                                 .order_by(NdaSignature.signed_on.desc(), NdaSignature.recorded_at.desc()))
    trainings = await session.scalars(select(TrainingCompletion).where(TrainingCompletion.user_id == user_id)
                                      .order_by(TrainingCompletion.completed_on.desc(),
                                                TrainingCompletion.recorded_at.desc()))
    return list(ndas), list(trainings)


async def due(session: AsyncSession, settings: Settings, principal: Principal, *,
              within_days: int) -> list[Clearance]:
    """The supervisor's list: each enabled person in their scope whose role needs clearance and
    who is missing an NDA or training, or whose training runs out within `within_days`."""
    if principal.kind != "user" or principal.role not in READER_ROLES:
        raise Forbidden("The list of people due for NDA or training is for supervisors (state data "
                        "administrator, superintendent, principal) and the IT security manager.")
    users = (await session.scalars(select(UserAccount).where(UserAccount.disabled_at.is_(None))
                                   .order_by(UserAccount.username))).all()
    people = [u for u in users if person_requires_clearance(u) and _within(principal, u)]
    horizon = today() + timedelta(days=within_days)
    found = [s for s in await standings(session, settings, people)
             if s.missing or (s.valid_through is not None and s.valid_through <= horizon)]
    # Who is missing something first, then by the day the training runs out.
    found.sort(key=lambda s: (not s.missing, s.valid_through or date.min, s.user.username))
    return found


async def record_current(session: AsyncSession, users: Iterable[UserAccount], *, recorded_by: str,
                         settings: Settings, on: date | None = None) -> None:
    """Record a signed NDA (the required version, else "1") and a training completed `on` (today)
    for people who are being set up with them in hand: the demo state, test and bench accounts.
    Not reachable over HTTP: there each recording names its recorder and is logged."""
    day = on or today()
    version = _required_version(settings) or "1"
    for user in users:
        session.add(NdaSignature(user_id=user.id, agreement_version=version, signed_on=day, recorded_by=recorded_by))
        session.add(TrainingCompletion(user_id=user.id, course=DEFAULT_COURSE, course_version="1",
                                       completed_on=day, recorded_by=recorded_by))
    await session.flush()



async def _record_from_shell(usernames: list[str]) -> int:
    """`python -m services.identity.clearance USERNAME...`: record a signed NDA and today's training
    for accounts an operator sets up outside HTTP (the bench's and the served tests' accounts)."""
    from services.identity.repository import AccountRepository
    from shared.settings import get_settings
    from shared.state import Database

    settings = get_settings()
    db = Database.from_settings(settings)
    try:
        async with db.sessionmaker() as session, session.begin():
            repo = AccountRepository(session)
            users = [await repo.user_by_username(name) for name in usernames]
            if not usernames or any(u is None for u in users):
                print("usage: python -m services.identity.clearance USERNAME... (existing accounts)", file=sys.stderr)
                return 2
            await record_current(session, [u for u in users if u is not None], recorded_by="operator",
                                 settings=settings)
    finally:
        await db.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(_record_from_shell(sys.argv[1:])))
