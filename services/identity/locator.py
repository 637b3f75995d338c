"""The student locator (level 4): a registrar enrolling a transfer student finds the state ID by
name and birth date across the whole state, and sees only the locator fields. Every search and
every look-up goes into identity's hash-chained access log (who, which IDs; never the criteria
values)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.matcher import get_matcher
from services.identity.models import AccessLogEntry, Alias, Person
from services.identity.person_repository import PersonRepository
from services.identity.resolve import facts_from_person
from shared import audit
from shared.errors import Forbidden, NotFound
from shared.policy.principal import Principal
from shared.request_context import current_request_id
from shared.settings import Settings

# Roles whose reach includes the locator fields of every student in the state (Level 4 and up).
LOCATOR_ROLES = frozenset({"registrar", "state_data_admin", "service"})
MAX_RESULTS = 10
MIN_PROBABILITY = 0.01  # looser than resolve's review threshold: a person reads the list


def can_locate(principal: Principal) -> bool:
    return principal.role in LOCATOR_ROLES


class Locator:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.persons = PersonRepository(session)
        self.matcher = get_matcher(settings)

    async def _last_district(self, state_id: str) -> str | None:
        return await self.session.scalar(select(Alias.district_id).where(Alias.state_id == state_id)
                                         .order_by(Alias.created_at.desc()).limit(1))

    async def card(self, person: Person, score: float | None = None) -> dict[str, Any]:
        card = {
            "state_student_id": person.state_id, "first_name": person.first_name,
            "middle_name": person.middle_name, "last_name": person.last_name, "suffix": person.suffix,
            "birth_date": person.birth_date, "sex": person.sex,
            "last_district_id": await self._last_district(person.state_id),
        }
        if score is not None:
            card["score"] = round(score, 4)
        return card

    async def search(self, principal: Principal, facts: Any, criteria_fields: list[str]) -> list[dict[str, Any]]:
        if not can_locate(principal):
            raise Forbidden("The student locator is for registrars and state data staff.")
        prepared = self.matcher.prepare(facts)
        scored = []
        for person in await self.persons.candidates(self.matcher.lookup_keys(facts), "student"):
            result = self.matcher.compare(prepared, self.matcher.prepare(facts_from_person(person)))
            if result.probability >= MIN_PROBABILITY:
                scored.append((result.probability, person))
        scored.sort(key=lambda pair: (-pair[0], pair[1].state_id))
        cards = [await self.card(person, score) for score, person in scored[:MAX_RESULTS]]
        await audit.append(self.session, AccessLogEntry, actor=principal.subject, action="locator.search",
                           payload={"criteria_fields": sorted(criteria_fields),
                                    "results": [c["state_student_id"] for c in cards]},
                           request_id=current_request_id())
        return cards

    async def view(self, principal: Principal, state_id: str) -> dict[str, Any]:
        # Outside the caller's reach answers exactly like an unknown ID.
        person = await self.persons.current(state_id) if can_locate(principal) else None
        if person is None or person.kind != "student":
            raise NotFound("No such state student ID.")
        await audit.append(self.session, AccessLogEntry, actor=principal.subject, action="locator.view",
                           payload={"requested": state_id, "state_student_id": person.state_id},
                           request_id=current_request_id())
        card = await self.card(person)
        card["requested_state_student_id"] = state_id
        return card
