"""Queries on persons, aliases, blocking keys and review items. Flushes, never commits."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.matching.features import PreparedPerson
from services.identity.matching.record import PersonFacts
from services.identity.models import Alias, BlockingKey, Person, ReviewItem
from shared.db import one_of

MAX_CANDIDATES = 400  # a blocking key set that reaches more than this is too loose to score


# What matching reads of a stored person (no ORM objects: resolve scores up to hundreds).
FACT_COLUMNS = (Person.state_id, Person.first_name, Person.middle_name, Person.last_name, Person.suffix,
                Person.birth_date, Person.sex, Person.hispanic_latino, Person.races, Person.guardian_names,
                Person.ssn_hash, Person.birthplace, Person.address, Person.postal_code)


@dataclass(slots=True)
class Candidate:
    """A stored person as matching sees it: `choose` reads `state_id`, the twin rule `first_name`."""

    state_id: str
    first_name: str
    facts: PersonFacts
    prepared: PreparedPerson | None = None
    core: PreparedPerson | None = None  # `prepare_core`: enough to rule most candidates out


# A retired ID's blocking keys stay under it (a merge moves none): a look-up that reaches a
# retired person follows `merged_into` to the person it now is. A split then needs no clean-up.
STATUS_COLUMNS = (Person.status, Person.merged_into)


def candidates_from_rows(rows: Iterable[Any]) -> list[Candidate]:
    found = []
    for (sid, first, middle, last, suffix, birth, sex, hispanic, races, guardians, ssn,
         birthplace, address, postal) in rows:
        facts = PersonFacts(
            first_name=first, middle_name=middle, last_name=last, suffix=suffix, birth_date=birth,
            sex=sex, hispanic_latino=hispanic, races=frozenset(races or ()),
            guardian_names=tuple(guardians or ()), ssn_hash=ssn, birthplace=birthplace,
            address=address, postal_code=postal)
        found.append(Candidate(sid, first, facts))
    return found


def split_retired(rows: Sequence[Any], seen: set[str]) -> tuple[list[Any], dict[str, str]]:
    """Rows of `FACT_COLUMNS` + `STATUS_COLUMNS`: (the active persons' `FACT_COLUMNS`, each
    retired ID -> the ID it was merged into); every row's ID is added to `seen`."""
    active, retired_into = [], {}
    for row in rows:
        seen.add(row[0])
        if row[-2] == "active":
            active.append(row[:-2])
        elif row[-1]:
            retired_into[row[0]] = row[-1]
    return active, retired_into


class PersonRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def dialect(self) -> str:
        return self.session.bind.dialect.name

    async def lock(self, names: Iterable[str]) -> None:
        """Serialise resolves that could create the same person, until the request commits:
        PostgreSQL advisory transaction locks per name (sorted, so no deadlock); on SQLite,
        the database write lock, taken now instead of at the first insert."""
        if self.dialect == "postgresql":
            keys = [int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
                    for name in sorted(set(names))]
            # One round trip: unnest yields the keys in array order, so they are still taken in
            # the names' sorted order (a batch chunk takes hundreds at once).
            await self.session.execute(
                text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS t(k)"),
                {"keys": keys})
        else:
            await self.session.execute(delete(BlockingKey).where(text("0 = 1")))

    async def get(self, state_id: str) -> Person | None:
        return await self.session.get(Person, state_id)

    async def current(self, state_id: str) -> Person | None:
        """The person an ID stands for now: a retired (merged) ID answers with its survivor."""
        person = await self.get(state_id)
        seen = set()
        while person is not None and person.merged_into and person.state_id not in seen:
            seen.add(person.state_id)
            person = await self.get(person.merged_into)
        return person

    async def alias(self, district_id: str, local_id: str, kind: str) -> Alias | None:
        return await self.session.get(Alias, (district_id, local_id, kind))

    async def ids_with_alias_in(self, district_id: str, state_ids: Iterable[str]) -> set[str]:
        rows = await self.session.scalars(select(Alias.state_id).where(
            Alias.district_id == district_id, one_of(self.dialect, Alias.state_id, sorted(set(state_ids)))))
        return set(rows)

    async def add_person(self, person: Person) -> None:
        self.session.add(person)
        await self.session.flush()

    async def add_alias(self, alias: Alias) -> None:
        self.session.add(alias)
        await self.session.flush()

    async def add_keys(self, state_id: str, keys: Iterable[str]) -> None:
        rows = [{"key": k, "state_id": state_id} for k in keys]
        if not rows:
            return
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        await self.session.execute(insert(BlockingKey).values(rows).on_conflict_do_nothing())

    @staticmethod
    def _key_holders(keys: Iterable[str]) -> Any:
        return (select(BlockingKey.state_id).where(BlockingKey.key.in_(list(keys))).distinct()
                .limit(MAX_CANDIDATES).scalar_subquery())

    async def candidates(self, keys: Iterable[str], kind: str) -> list[Person]:
        """The active persons holding any of the keys, a retired one replaced by its survivor."""
        found: dict[str, Person] = {}
        wanted: Any = self._key_holders(keys)
        seen: set[str] = set()
        while True:
            follow = set()
            for person in await self.session.scalars(
                    select(Person).where(Person.state_id.in_(wanted), Person.kind == kind)):
                seen.add(person.state_id)
                if person.status == "active":
                    found[person.state_id] = person
                elif person.merged_into:
                    follow.add(person.merged_into)
            wanted = sorted(follow - seen)
            if not wanted:
                return list(found.values())

    async def candidate_facts(self, keys: Iterable[str], kind: str) -> list[Candidate]:
        """`candidates`, as plain facts (the same persons: same queries, same limit)."""
        found: dict[str, Candidate] = {}
        wanted: Any = self._key_holders(keys)
        seen: set[str] = set()
        while True:
            rows = (await self.session.execute(select(*FACT_COLUMNS, *STATUS_COLUMNS).where(
                Person.state_id.in_(wanted), Person.kind == kind))).all()
            active, retired_into = split_retired(rows, seen)
            found.update((c.state_id, c) for c in candidates_from_rows(active))
            wanted = sorted(set(retired_into.values()) - seen)
            if not wanted:
                return list(found.values())

    async def open_review_for(self, district_id: str, local_id: str, kind: str) -> ReviewItem | None:
        return await self.session.scalar(
            select(ReviewItem).where(
                ReviewItem.district_id == district_id, ReviewItem.local_id == local_id,
                ReviewItem.kind == kind, ReviewItem.status == "open",
            )
        )

    async def add_review(self, item: ReviewItem) -> None:
        self.session.add(item)
        await self.session.flush()

    async def review(self, review_id: str) -> ReviewItem | None:
        return await self.session.get(ReviewItem, review_id)

    async def reviews(self, status: str | None, limit: int, offset: int) -> Sequence[ReviewItem]:
        query = select(ReviewItem).order_by(ReviewItem.created_at, ReviewItem.id).limit(limit).offset(offset)
        if status:
            query = query.where(ReviewItem.status == status)
        return (await self.session.scalars(query)).all()
