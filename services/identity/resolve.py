"""Resolve: who is this student? The district's own local ID first (deterministic), then the
probabilistic match over blocked candidates; a new ID only when nobody is close, a review item
(and no ID) in between."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.matcher import MatchResult, get_matcher
from services.identity.matching.normalize import spelled_name
from services.identity.matching.record import PersonFacts
from services.identity.models import Alias, Person, ReviewItem
from services.identity.person_repository import PersonRepository
from services.identity.schemas import StudentResolveRequest
from services.identity.ssn import ssn_hash
from services.identity.state_ids import new_state_id
from shared.errors import Forbidden
from shared.policy.principal import Principal
from shared.settings import Settings

# Who may submit persons to be resolved: a district's SIS (its own district), state-level staff
# and the services themselves.
RESOLVER_ROLES = frozenset({"district_sis", "state_data_admin", "service", "registrar"})
STATEWIDE_ROLES = frozenset({"state_data_admin", "service"})
ID_ATTEMPTS = 8


@dataclass
class ResolveOutcome:
    decision: str  # matched | assigned | review
    state_id: str | None = None
    review_id: str | None = None
    explanation: dict[str, Any] | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)


def facts_from_request(body: StudentResolveRequest, settings: Settings) -> PersonFacts:
    return PersonFacts(
        first_name=body.first_name,
        middle_name=body.middle_name,
        last_name=body.last_name,
        suffix=body.suffix,
        birth_date=body.birth_date,
        sex=body.sex,
        hispanic_latino=body.hispanic_latino,
        races=frozenset(body.races),
        guardian_names=tuple(body.guardian_names),
        ssn_hash=ssn_hash(body.ssn.get_secret_value(), settings) if body.ssn else None,
        birthplace=body.birthplace,
        address=body.address,
        postal_code=body.postal_code,
    )


def facts_from_person(person: Person) -> PersonFacts:
    return PersonFacts(
        first_name=person.first_name, middle_name=person.middle_name, last_name=person.last_name,
        suffix=person.suffix, birth_date=person.birth_date, sex=person.sex,
        hispanic_latino=person.hispanic_latino, races=frozenset(person.races),
        guardian_names=tuple(person.guardian_names), ssn_hash=person.ssn_hash,
        birthplace=person.birthplace, address=person.address, postal_code=person.postal_code,
    )


def facts_as_json(facts: PersonFacts) -> dict[str, Any]:
    """A submission as kept on a review item: the SSN only as its keyed hash."""
    return {
        "first_name": facts.first_name, "middle_name": facts.middle_name,
        "last_name": facts.last_name, "suffix": facts.suffix,
        "birth_date": facts.birth_date.isoformat() if facts.birth_date else None,
        "sex": facts.sex, "hispanic_latino": facts.hispanic_latino, "races": sorted(facts.races),
        "guardian_names": list(facts.guardian_names), "ssn_hash": facts.ssn_hash,
        "birthplace": facts.birthplace, "address": facts.address, "postal_code": facts.postal_code,
    }


def facts_from_json(data: dict[str, Any]) -> PersonFacts:
    return PersonFacts(
        first_name=data["first_name"], middle_name=data.get("middle_name"),
        last_name=data["last_name"], suffix=data.get("suffix"),
        birth_date=date.fromisoformat(data["birth_date"]) if data.get("birth_date") else None,
        sex=data.get("sex"), hispanic_latino=data.get("hispanic_latino"),
        races=frozenset(data.get("races") or ()), guardian_names=tuple(data.get("guardian_names") or ()),
        ssn_hash=data.get("ssn_hash"), birthplace=data.get("birthplace"),
        address=data.get("address"), postal_code=data.get("postal_code"),
    )


def authorize_submission(principal: Principal, district_id: str) -> None:
    if principal.role not in RESOLVER_ROLES:
        raise Forbidden("This role does not submit students for resolution.")
    # A registrar's locator reach is statewide, but what anyone but state staff submits is their
    # own district's.
    if principal.role not in STATEWIDE_ROLES and district_id not in principal.district_ids:
        raise Forbidden(
            "A district submits only its own students.",
            errors=[{"field": "body.district_id", "code": "not_your_district",
                     "message": "The token's districts do not include this district"}],
        )


class Resolver:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.settings = settings
        self.persons = PersonRepository(session)
        self.matcher = get_matcher(settings)

    async def resolve(
        self, facts: PersonFacts, district_id: str, local_id: str, submitted_by: str, *, kind: str = "student"
    ) -> ResolveOutcome:
        swapped = _day_month_swapped(facts.birth_date)
        await self.persons.lock([f"alias|{kind}|{district_id}|{local_id}",
                                 f"dob|{kind}|{facts.birth_date}", f"dob|{kind}|{swapped}"])

        alias = await self.persons.alias(district_id, local_id, kind)
        if alias is not None:
            person = await self.persons.current(alias.state_id)
            if person is not None:
                return ResolveOutcome("matched", person.state_id,
                                      explanation={"rule": "district_local_id", "contributions": []})

        pending = await self.persons.open_review_for(district_id, local_id, kind)
        if pending is not None:
            return ResolveOutcome("review", review_id=pending.id, explanation=pending.candidates[0]["explanation"]
                                  if pending.candidates else None, candidates=pending.candidates)

        prepared = self.matcher.prepare(facts)
        keys = self.matcher.blocking_keys(facts)  # stored with the outcome
        scored: list[tuple[MatchResult, Any]] = []
        best: tuple[float, str, Any, Any] | None = None  # the likeliest, for an "assigned" answer
        for person in await self.persons.candidate_facts(self.matcher.lookup_keys(facts), kind):
            result, probability, levels = self.matcher.compare_lazily(
                prepared, self.matcher.prepare_stored(person.facts))
            if result is not None:  # a non-match changes nothing but, maybe, the explanation
                scored.append((result, person))
            if best is None or (-probability, person.state_id) < (-best[0], best[1]):
                best = (probability, person.state_id, result, levels)
        scored = await self._same_district_guard(scored, facts, district_id)
        choice = choose(scored, best=None if best is None else best[2] or self.matcher.explain(best[3]))

        if choice.match is not None:
            result, person = choice.match
            await self.persons.add_alias(Alias(district_id=district_id, local_id=local_id, kind=kind,
                                               state_id=person.state_id))
            await self.persons.add_keys(person.state_id, keys)  # this spelling finds them next time
            return ResolveOutcome("matched", person.state_id, explanation=result.explanation(),
                                  candidates=choice.candidates)
        if choice.review:
            item = ReviewItem(kind=kind, district_id=district_id, local_id=local_id,
                              submission=facts_as_json(facts), candidates=choice.candidates,
                              submitted_by=submitted_by)
            await self.persons.add_review(item)
            return ResolveOutcome("review", review_id=item.id, explanation=choice.candidates[0]["explanation"],
                                  candidates=choice.candidates)
        person = await self.assign(facts, district_id, local_id, kind=kind, keys=keys)
        return ResolveOutcome("assigned", person.state_id, explanation=choice.assigned_explanation())

    async def _same_district_guard(
        self, scored: list[tuple[MatchResult, Person]], facts: PersonFacts, district_id: str
    ) -> list[tuple[MatchResult, Person]]:
        """A district that already has the candidate under another local ID, now sending a new
        local ID with the given name spelled differently, is most often enrolling the twin
        (Haley and Hailey, Eva and Ava, Zoe and Zoë): hold such a pair for review, never merge
        it silently. Spellings are compared with their accents: matching folds them away, so
        a twin named with an accent looks exactly like her sister to the model."""
        matched = [person.state_id for result, person in scored if result.decision == "match"]
        if not matched:
            return scored
        known_here = await self.persons.ids_with_alias_in(district_id, matched)
        return apply_same_district_guard(scored, known_here, facts.first_name)

    async def assign(self, facts: PersonFacts, district_id: str, local_id: str, *, kind: str,
                     keys: frozenset[str] | None = None) -> Person:
        for _ in range(ID_ATTEMPTS):
            state_id = new_state_id(kind)  # type: ignore[arg-type]
            if await self.persons.get(state_id) is None:
                break
        else:  # pragma: no cover - 10^9 IDs; eight collisions in a row means a broken RNG
            raise RuntimeError("could not draw an unused state ID")
        person = Person(
            state_id=state_id, kind=kind, first_name=facts.first_name, middle_name=facts.middle_name,
            last_name=facts.last_name, suffix=facts.suffix, birth_date=facts.birth_date, sex=facts.sex,
            hispanic_latino=facts.hispanic_latino, races=sorted(facts.races),
            guardian_names=list(facts.guardian_names), ssn_hash=facts.ssn_hash,
            birthplace=facts.birthplace, address=facts.address, postal_code=facts.postal_code,
            assigned_by_district=district_id,
        )
        await self.persons.add_person(person)
        await self.persons.add_alias(Alias(district_id=district_id, local_id=local_id, kind=kind,
                                           state_id=state_id))
        await self.persons.add_keys(state_id, keys if keys is not None else self.matcher.blocking_keys(facts))
        return person


def apply_same_district_guard(scored: list[tuple[MatchResult, Any]], known_here: set[str],
                              first_name: str) -> list[tuple[MatchResult, Any]]:
    """The pure half of `Resolver._same_district_guard` (also used by the batch chunk path):
    `known_here`: candidates the submitting district already has an alias for (only the
    matched ones count)."""
    known_here = known_here & {person.state_id for result, person in scored if result.decision == "match"}
    if not known_here:
        return scored
    incoming = spelled_name(first_name)
    return [
        (result.held_for_review("same_district_other_local_id"), person)
        if person.state_id in known_here and spelled_name(person.first_name) != incoming
        else (result, person)
        for result, person in scored
    ]


@dataclass
class Choice:
    """What resolve does with its scored candidates (shared by single resolve and the batch
    chunk path, so both decide the same way): `match` set = matched, `review` = hold for a
    steward, neither = assign a new ID."""

    match: tuple[MatchResult, Any] | None
    review: bool
    candidates: list[dict[str, Any]]
    best: MatchResult | None

    def assigned_explanation(self) -> dict[str, Any]:
        return self.best.explanation() if self.best else {"rule": "probabilistic", "contributions": []}


def choose(scored: list[tuple[MatchResult, Any]], best: MatchResult | None = None, *,
           explain: bool = True) -> Choice:
    """`scored`: (result, candidate) pairs, the candidate anything with a `state_id`; non-matches
    may be left out if `best` (the likeliest candidate's result, for the explanation of a new ID)
    is given. `explain=False` (a batch row, which keeps no explanation): a match comes without
    its candidates' explanations (a review item always has them)."""
    scored = sorted(scored, key=lambda pair: (-pair[0].probability, pair[1].state_id))
    if best is None:
        best = scored[0][0] if scored else None
    matches = [pair for pair in scored if pair[0].decision == "match"]
    if len(matches) == 1 and not any(r.decision == "review" for r, _ in scored):
        candidates = [_candidate_json(r, p) for r, p in scored if r.decision != "non_match"] if explain else []
        return Choice(matches[0], False, candidates, best)
    # A close candidate, or more than one person who looks the same: a steward decides.
    candidates = [_candidate_json(result, person) for result, person in scored if result.decision != "non_match"]
    return Choice(None, bool(matches or candidates), candidates, best)


def _candidate_json(result: MatchResult, person: Any) -> dict[str, Any]:
    return {"state_student_id": person.state_id, "decision": result.decision,
            "explanation": result.explanation()}


def _day_month_swapped(day: date | None) -> date | None:
    if day is None or day.day > 12 or day.day == day.month:
        return day
    return day.replace(month=day.day, day=day.month)
