"""The review queue: near matches wait here for a level-1 data steward, who decides "same
person" (the submission joins that ID) or "different persons" (a new ID), with a reason."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import Alias, ReviewItem
from services.identity.person_repository import PersonRepository
from services.identity.resolve import Resolver, facts_from_json
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, NotFound, UnprocessableContent
from shared.policy.principal import Principal
from shared.policy.roles import UnknownRoleError, get_role
from shared.settings import Settings


def require_data_steward(principal: Principal) -> None:
    """Only level 1 (state data administrators) sees both sides of a near match and decides."""
    try:
        level = get_role(principal.role).level
    except UnknownRoleError:
        level = 99
    if level != 1 or principal.kind != "user":
        raise Forbidden("Only a level-1 data steward reviews near matches.")


class ReviewService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.persons = PersonRepository(session)
        self.resolver = Resolver(session, settings)

    async def list(self, status: str | None, limit: int, offset: int) -> Sequence[ReviewItem]:
        return await self.persons.reviews(status, limit, offset)

    async def get(self, review_id: str) -> ReviewItem:
        item = await self.persons.review(review_id)
        if item is None:
            raise NotFound("No such review item.")
        return item

    async def decide(self, review_id: str, *, same_as: str | None, reason: str, decided_by: str) -> ReviewItem:
        item = await self.get(review_id)
        if item.status != "open":
            raise Conflict("This review item has already been decided.")
        await self.persons.lock([f"alias|{item.kind}|{item.district_id}|{item.local_id}"])
        facts = facts_from_json(item.submission)
        if same_as is not None:
            if same_as not in {c["state_student_id"] for c in item.candidates}:
                raise UnprocessableContent(
                    "The chosen ID is not one of this item's candidates.",
                    errors=[{"field": "body.same_as", "code": "not_a_candidate",
                             "message": "Choose one of the candidates' state IDs"}])
            person = await self.persons.current(same_as)
            if person is None:
                raise NotFound("The chosen person no longer exists.")
            await self.persons.add_alias(Alias(district_id=item.district_id, local_id=item.local_id,
                                               kind=item.kind, state_id=person.state_id))
            await self.persons.add_keys(person.state_id, self.resolver.matcher.blocking_keys(facts))
            item.status, item.state_id = "same_person", person.state_id
        else:
            person = await self.resolver.assign(facts, item.district_id, item.local_id, kind=item.kind)
            item.status, item.state_id = "different_persons", person.state_id
        item.decided_by, item.decided_at, item.reason = decided_by, utcnow(), reason
        return item
