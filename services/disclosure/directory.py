"""Directory information opt-outs (FERPA 34 CFR 99.37(a)(2)): a parent or eligible student may
refuse the disclosure of the student's directory information (names, school, grade, dates of
attendance: the dictionary's `directory` fields). While an opt-out stands, the records service
gives an outside party with a `directory_only` role nothing of that student; it asks here
(`opted_out`) on every such read. Stewards may record an opt-out received on paper.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.disclosure.common import LOGGER_ROLES, audit, is_family_of, is_steward
from services.disclosure.models import DirectoryOptOut
from shared.db import utcnow
from shared.errors import Forbidden, NotFound
from shared.policy.principal import Principal


def _may_decide(principal: Principal, state_student_id: str) -> None:
    if not (is_family_of(principal, state_student_id) or is_steward(principal)):
        # The same answer as for a student that is not theirs: whether others opted out is private.
        raise NotFound("Not a student of yours.")


async def status(session: AsyncSession, principal: Principal, state_student_id: str) -> DirectoryOptOut | None:
    if principal.role not in LOGGER_ROLES:
        _may_decide(principal, state_student_id)
    return await session.get(DirectoryOptOut, state_student_id)


async def opt_out(session: AsyncSession, principal: Principal, state_student_id: str) -> DirectoryOptOut:
    _may_decide(principal, state_student_id)
    row = await session.get(DirectoryOptOut, state_student_id)
    if row is None:
        row = DirectoryOptOut(state_student_id=state_student_id, opted_out_by=principal.subject)
        session.add(row)
    elif row.withdrawn_at is not None:  # opting out again after a withdrawal
        row.opted_out_at, row.opted_out_by = utcnow(), principal.subject
        row.withdrawn_at = row.withdrawn_by = None
    await session.flush()
    audit.info("directory opt-out recorded", extra={"role": principal.role})
    return row


async def withdraw(session: AsyncSession, principal: Principal, state_student_id: str) -> DirectoryOptOut | None:
    _may_decide(principal, state_student_id)
    row = await session.get(DirectoryOptOut, state_student_id)
    if row is not None and row.withdrawn_at is None:
        row.withdrawn_at, row.withdrawn_by = utcnow(), principal.subject
        await session.flush()
        audit.info("directory opt-out withdrawn", extra={"role": principal.role})
    return row


async def opted_out(session: AsyncSession, principal: Principal, students: Sequence[str]) -> list[str]:
    """Which of `students` are opted out now: for the releasing services and stewards."""
    if principal.role not in LOGGER_ROLES:
        raise Forbidden("Only the releasing services and state data stewards look up opt-outs.")
    rows = await session.scalars(select(DirectoryOptOut.state_student_id).where(
        DirectoryOptOut.state_student_id.in_(sorted(set(students))), DirectoryOptOut.withdrawn_at.is_(None)))
    return sorted(rows)
