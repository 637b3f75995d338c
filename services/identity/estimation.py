"""Re-estimate the matching model from this state's own data (`slds identity estimate`).

Two sources: the review queue's decisions (labelled pairs: a steward said same person or not), and
unsupervised EM over the blocked candidate pairs of a sample of known persons. Either way the
result is a TOML model file; point SLDS_MATCH_MODEL_PATH at it to use it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity import matching
from services.identity.models import Person, ReviewItem
from services.identity.person_repository import PersonRepository
from services.identity.resolve import facts_from_json, facts_from_person

Source = Literal["reviews", "em"]


async def labelled_pairs(session: AsyncSession) -> list[tuple[matching.Comparison, bool]]:
    """Each decided review item gives one pair per candidate: the chosen one is "same", others not."""
    persons = PersonRepository(session)
    pairs: list[tuple[matching.Comparison, bool]] = []
    decided = await session.scalars(select(ReviewItem).where(ReviewItem.status != "open"))
    for item in decided:
        submitted = matching.prepare(facts_from_json(item.submission))
        for candidate in item.candidates:
            person = await persons.get(candidate["state_student_id"])
            if person is None:
                continue
            same = item.status == "same_person" and person.state_id == item.state_id
            pairs.append((matching.compare(submitted, matching.prepare(facts_from_person(person))), same))
    return pairs


async def candidate_pairs(session: AsyncSession, sample: int) -> list[matching.Comparison]:
    """Comparison vectors of each sampled person with the others its blocking keys reach."""
    persons = PersonRepository(session)
    sampled = await session.scalars(select(Person).where(Person.status == "active", Person.kind == "student")
                                    .order_by(func.random()).limit(sample))
    vectors: list[matching.Comparison] = []
    for person in sampled:
        facts = facts_from_person(person)
        prepared = matching.prepare(facts)
        for other in await persons.candidates(matching.lookup_keys(facts), "student"):
            if other.state_id != person.state_id:
                vectors.append(matching.compare(prepared, matching.prepare(facts_from_person(other))))
    return vectors


async def estimate(session: AsyncSession, source: Source, *, sample: int = 5000,
                   start: matching.MatchModel | None = None) -> tuple[matching.MatchModel, int]:
    start = start or matching.MatchModel.load_default()
    if source == "reviews":
        pairs = await labelled_pairs(session)
        if not any(same for _, same in pairs) or all(same for _, same in pairs):
            raise ValueError("the review queue needs decisions of both kinds to estimate from")
        return matching.estimate_from_labels(pairs, prior=start.prior), len(pairs)
    vectors: Iterable[matching.Comparison] = await candidate_pairs(session, sample)
    vectors = list(vectors)
    if not vectors:
        raise ValueError("no candidate pairs: load persons first")
    return matching.estimate_em(vectors, start), len(vectors)
