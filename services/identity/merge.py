"""Merge two state IDs found to be one student, and split a wrong merge apart again.

A merge retires one ID: it stays reserved forever (never reassigned) and answers with the
survivor, so a district holding the old ID, and records keyed by it, follow the survivor. A split
restores the retired ID as it was. Both are level-1 actions with a reason, kept in
`identity_id_event`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import IdEvent, Person
from services.identity.person_repository import PersonRepository
from shared.db import utcnow
from shared.errors import Conflict, NotFound


class MergeService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.persons = PersonRepository(session)

    async def _person(self, state_id: str, field: str) -> Person:
        person = await self.persons.get(state_id)
        if person is None:
            raise NotFound("No such state ID.", errors=[{"field": field, "code": "not_found",
                                                         "message": "No person has this ID"}])
        return person

    async def merge(self, survivor_id: str, retired_id: str, *, actor: str, reason: str) -> IdEvent:
        if survivor_id == retired_id:
            raise Conflict("An ID cannot be merged into itself.")
        await self.persons.lock(sorted([f"person|{survivor_id}", f"person|{retired_id}"]))
        survivor = await self._person(survivor_id, "body.survivor_id")
        retired = await self._person(retired_id, "body.retired_id")
        if survivor.status != "active" or retired.status != "active":
            raise Conflict("Both IDs must be active; a retired ID answers with its survivor already.")
        if survivor.kind != retired.kind:
            raise Conflict("A student ID and a staff ID cannot be merged.")
        # The retired ID keeps its blocking keys: a look-up that reaches it follows merged_into,
        # so the survivor is found by both spellings, and a split leaves nothing to undo.
        retired.status, retired.merged_into = "retired", survivor.state_id
        event = IdEvent(action="merge", survivor_id=survivor_id, retired_id=retired_id, actor=actor,
                        reason=reason, at=utcnow())
        self.session.add(event)
        await self.session.flush()
        return event

    async def split(self, retired_id: str, *, actor: str, reason: str) -> IdEvent:
        await self.persons.lock([f"person|{retired_id}"])
        retired = await self._person(retired_id, "body.retired_id")
        if retired.status != "retired" or retired.merged_into is None:
            raise Conflict("This ID is not merged into another.")
        survivor_id = retired.merged_into
        retired.status, retired.merged_into = "active", None
        event = IdEvent(action="split", survivor_id=survivor_id, retired_id=retired_id, actor=actor,
                        reason=reason, at=utcnow())
        self.session.add(event)
        await self.session.flush()
        return event

    async def history(self, state_id: str) -> list[IdEvent]:
        rows = await self.session.scalars(
            select(IdEvent).where((IdEvent.survivor_id == state_id) | (IdEvent.retired_id == state_id))
            .order_by(IdEvent.at, IdEvent.id))
        return list(rows)
