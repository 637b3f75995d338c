"""Set-based resolve for the batch worker: a chunk of rows decided with a few queries instead of a
dozen per row.

`ChunkResolver.resolve_chunk` gives every row the answer `Resolver.resolve` would give if the rows
were resolved one after the other, in order, in one transaction:

1. the same advisory locks as single resolve (alias and birth-date names of every row, all taken
   up front in the same sorted order, so a chunk and a single resolve serialise as two single
   resolves do and cannot deadlock each other);
2. prefetch for the whole chunk: the rows' aliases and open review items, the persons behind
   every blocking key of every row, and (after scoring) the districts already holding an alias
   for the candidates that score a match (the same-district twin rule);
3. decide in Python, row by row in order, with an in-memory overlay of what the earlier rows of
   the chunk did (aliases, review items, new persons and the blocking keys they and matched
   persons gained): a student twice in one chunk gets one ID, exactly as one at a time;
4. write persons, aliases, blocking keys and review items in a few bulk statements.

The decision itself is `resolve.choose` and `resolve.apply_same_district_guard`, shared with
single resolve. Candidates that score "non_match" are ruled out without building their
explanation (`Matcher.compare_if_close`), so an "assigned" outcome here carries no best-candidate
explanation (a batch row keeps none). When a row's keys reach more than `MAX_CANDIDATES` persons,
single resolve scores whichever the database returns first and this path the lowest IDs (both
are arbitrary; at 1,000,000 persons it happens to well under 1 row in 1,000).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.matcher import MatchResult, get_matcher
from services.identity.matching import prepare
from services.identity.matching.blocking import stored_and_lookup_keys
from services.identity.matching.features import PreparedPerson, compare, complete, prepare_core
from services.identity.matching.record import PersonFacts
from services.identity.models import Alias, BlockingKey, Person, ReviewItem
from services.identity.person_repository import (
    FACT_COLUMNS,
    MAX_CANDIDATES,
    STATUS_COLUMNS,
    Candidate,
    PersonRepository,
    candidates_from_rows,
    split_retired,
)
from services.identity.resolve import (
    ResolveOutcome,
    _day_month_swapped,
    apply_same_district_guard,
    choose,
    facts_as_json,
)
from services.identity.state_ids import new_state_id
from shared.db import json_dumps, new_uuid, one_of, utcnow
from shared.settings import Settings

_SQLITE_IN = 5000  # bound parameters per IN list on SQLite
_NONE: frozenset[str] = frozenset()
# Core columns: rows without the ORM's per-row bookkeeping (a chunk reads tens of thousands).
_KEYS, _PERSONS, _ALIASES = BlockingKey.__table__, Person.__table__, Alias.__table__
_FACTS = [_PERSONS.c[column.key] for column in FACT_COLUMNS]
_STATUS = [_PERSONS.c[column.key] for column in STATUS_COLUMNS]


@dataclass(frozen=True, slots=True)
class ChunkRow:
    facts: PersonFacts
    district_id: str
    local_id: str


@lru_cache(maxsize=8192)  # two chunks and more
def _key_sets(facts: PersonFacts) -> tuple[frozenset[str], frozenset[str]]:
    """The keys stored for the row's person, and those looked up for the row."""
    return stored_and_lookup_keys(facts)


def _keys(facts: PersonFacts) -> frozenset[str]:
    return _key_sets(facts)[0]


def _lookup(facts: PersonFacts) -> frozenset[str]:
    return _key_sets(facts)[1]


def prepare_ahead(row: ChunkRow) -> None:
    """Normalise a row and make its blocking keys before its chunk's turn (both cached by the
    facts): the batch worker does it while the chunk before waits on the database."""
    _key_sets(row.facts)
    prepare(row.facts)


class ChunkResolver:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.persons = PersonRepository(session)
        self.matcher = get_matcher(settings)
        self.postgres = session.bind.dialect.name == "postgresql"
        self.retired_into: dict[str, str] = {}  # retired ID -> the ID it was merged into

    async def resolve_chunk(self, rows: Sequence[ChunkRow], submitted_by: str, *,
                            kind: str = "student", explain: bool = True) -> list[ResolveOutcome]:
        """`explain=False`: matched and assigned outcomes without an explanation (the batch
        worker keeps none; review items keep their candidates' explanations either way)."""
        if not rows:
            return []
        names: set[str] = set()
        for row in rows:
            day = row.facts.birth_date
            names.update((f"alias|{kind}|{row.district_id}|{row.local_id}", f"dob|{kind}|{day}",
                          f"dob|{kind}|{_day_month_swapped(day)}"))
        await self.persons.lock(names)

        pairs = list({(row.district_id, row.local_id) for row in rows})
        aliases, current_ids = await self._aliases(pairs, kind)
        reviews = await self._open_reviews(pairs, kind)
        keys_of = [_lookup(row.facts) for row in rows]  # looked up (stored: `_keys`)
        holders = await self._key_holders({k for keys in keys_of for k in keys})
        # Persons found in the database for each row (before the chunk adds anything).
        found: list[set[str] | None] = []
        for index, row in enumerate(rows):
            if (row.district_id, row.local_id) in aliases or (row.district_id, row.local_id) in reviews:
                found.append(None)  # answered without matching (fetched later if not after all)
                continue
            ids: set[str] = set()
            for key in keys_of[index]:
                ids |= holders.get(key, _NONE)
            found.append(ids)
        people = await self._persons({sid for ids in found if ids for sid in ids}, kind)

        # Score the database candidates now, so the twin rule's aliases come in one query.
        scores: dict[tuple[int, str], MatchResult | None] = {}
        prepared_rows = [self.matcher.prepare(row.facts) for row in rows]
        matched_ids: set[str] = set()
        for index, ids in enumerate(found):
            for sid in self._current_ids(_capped(ids or set())):
                candidate = people.get(sid)
                if candidate is not None:
                    result = self._compare(prepared_rows[index], candidate)
                    scores[(index, sid)] = result
                    if result is not None and result.decision == "match":
                        matched_ids.add(sid)
        districts_of = await self._alias_districts(matched_ids)

        now = utcnow()
        chunk_holders: dict[str, set[str]] = defaultdict(set)  # keys gained in this chunk
        new_persons: list[dict[str, Any]] = []
        new_aliases: list[dict[str, Any]] = []
        new_keys: set[tuple[str, str]] = set()
        new_reviews: list[dict[str, Any]] = []
        fresh_ids = await self._unused_ids(len(rows), kind)
        outcomes: list[ResolveOutcome] = []
        for index, row in enumerate(rows):
            here = (row.district_id, row.local_id)
            if here in aliases:
                current = await self._current(aliases[here], people, current_ids)
                if current is not None:
                    outcomes.append(ResolveOutcome("matched", current, explanation={
                        "rule": "district_local_id", "contributions": []}))
                    continue
            if here in reviews:
                review_id, candidates = reviews[here]
                outcomes.append(ResolveOutcome(
                    "review", review_id=review_id, candidates=candidates,
                    explanation=candidates[0]["explanation"] if candidates else None))
                continue

            keys = keys_of[index]
            if found[index] is None:  # a dangling alias: match after all, as single resolve does
                db_holders = await self._key_holders(set(keys))
                found[index] = {sid for key in keys for sid in db_holders.get(key, ())}
                people.update(await self._persons(found[index] - people.keys(), kind))  # type: ignore[operator]
            ids = set(found[index] or ())
            for key in keys:
                ids |= chunk_holders.get(key, _NONE)
            scored: list[tuple[MatchResult, Candidate]] = []
            for sid in self._current_ids(_capped(ids)):
                candidate = people.get(sid)
                if candidate is None:
                    continue  # another kind, retired, or gone
                result = (scores[(index, sid)] if (index, sid) in scores
                          else self._compare(prepared_rows[index], candidate))
                if result is not None:
                    scored.append((result, candidate))
            matched = {c.state_id for result, c in scored if result.decision == "match"}
            unknown = {sid for sid in matched if sid not in districts_of}  # (a set minus a dict's
            if unknown:  # keys walks the whole dict) not prefetched: cannot happen, but stay exact
                districts_of.update(await self._alias_districts(unknown))
            known_here = {sid for sid in matched if row.district_id in districts_of.get(sid, ())}
            choice = choose(apply_same_district_guard(scored, known_here, row.facts.first_name), explain=explain)

            if choice.match is not None:
                result, candidate = choice.match
                sid = candidate.state_id
                outcomes.append(ResolveOutcome("matched", sid, explanation=result.explanation() if explain else None,
                                               candidates=choice.candidates))
            elif choice.review:
                review_id = new_uuid()
                reviews[here] = (review_id, choice.candidates)
                new_reviews.append({
                    "id": review_id, "kind": kind, "status": "open", "district_id": row.district_id,
                    "local_id": row.local_id, "submission": facts_as_json(row.facts),
                    "candidates": choice.candidates, "submitted_by": submitted_by,
                    "created_at": now, "updated_at": now})
                outcomes.append(ResolveOutcome("review", review_id=review_id, candidates=choice.candidates,
                                               explanation=choice.candidates[0]["explanation"]))
                continue
            else:
                sid = fresh_ids.pop()
                new_persons.append(_person_row(sid, kind, row, now))
                people[sid] = Candidate(sid, row.facts.first_name, row.facts, prepared_rows[index])
                districts_of[sid] = set()
                outcomes.append(ResolveOutcome("assigned", sid,
                                               explanation=choice.assigned_explanation() if explain else None))
            # Matched or assigned: the alias, and this spelling's keys for the next rows.
            aliases[here] = sid
            districts_of.setdefault(sid, set()).add(row.district_id)
            new_aliases.append({"district_id": row.district_id, "local_id": row.local_id, "kind": kind,
                                "state_id": sid, "created_at": now, "updated_at": now})
            for key in _keys(row.facts):
                chunk_holders[key].add(sid)
                new_keys.add((key, sid))

        await self._write(new_persons, new_aliases, new_keys, new_reviews)
        return outcomes

    # --- scoring ---------------------------------------------------------------------------

    def _compare(self, incoming: PreparedPerson, candidate: Candidate) -> MatchResult | None:
        """The result, None for a non-match: those change nothing a batch keeps (they are not
        candidates of a review item, and a batch row keeps no explanation)."""
        if candidate.prepared is None:
            # Most candidates are ruled out on names and dates: their guardians and address
            # (unique per person, so never in a cache at scale) are then not normalised.
            if candidate.core is None:
                candidate.core = prepare_core(candidate.facts)
            levels = compare(incoming, candidate.core)
            if self.matcher.rule_out(levels):
                return None
            candidate.prepared = self.matcher.prepare_stored(candidate.facts)
            return self.matcher.levels_if_close(complete(levels, incoming, candidate.prepared))
        return self.matcher.compare_if_close(incoming, candidate.prepared)

    # --- reads -----------------------------------------------------------------------------

    async def _pairs_query(self, columns: str, table: str, where: str, pairs: list[tuple[str, str]],
                           params: dict[str, Any]) -> list[Any]:
        """Rows of `table` (aliased x) whose (district_id, local_id) is one of `pairs`: on
        PostgreSQL a join with two arrays (one statement, one plan), on SQLite row values."""
        if self.postgres:
            query = text(f"SELECT {columns} FROM {table} JOIN unnest(CAST(:d AS varchar[]), "
                         f"CAST(:l AS varchar[])) AS t(d, l) ON x.district_id = t.d AND x.local_id = t.l "
                         f"WHERE {where}")
            result = await self.session.execute(query, {**params, "d": [d for d, _ in pairs],
                                                        "l": [local for _, local in pairs]})
            return list(result)
        found: list[Any] = []
        for part in _slices(pairs, _SQLITE_IN // 2):
            marks = ", ".join(f"(:d{i}, :l{i})" for i in range(len(part)))
            values = {f"{k}{i}": v for i, pair in enumerate(part) for k, v in zip("dl", pair, strict=True)}
            result = await self.session.execute(
                text(f"SELECT {columns} FROM {table} WHERE {where} AND (x.district_id, x.local_id) IN ({marks})"),
                {**params, **values})
            found += list(result)
        return found

    async def _aliases(self, pairs: list[tuple[str, str]], kind: str) -> tuple[dict[tuple[str, str], str], set[str]]:
        """The rows' aliases, and which of their IDs are current (not merged into another)."""
        found: dict[tuple[str, str], str] = {}
        current: set[str] = set()
        rows = await self._pairs_query(
            "x.district_id, x.local_id, x.state_id, p.merged_into",
            "identity_alias x JOIN identity_person p ON p.state_id = x.state_id", "x.kind = :kind", pairs,
            {"kind": kind})
        for d, local, sid, merged_into in rows:
            found[(d, local)] = sid
            if merged_into is None:
                current.add(sid)
        return found, current

    async def _open_reviews(self, pairs: list[tuple[str, str]], kind: str
                            ) -> dict[tuple[str, str], tuple[str, list[dict[str, Any]]]]:
        found: dict[tuple[str, str], tuple[str, list[dict[str, Any]]]] = {}
        rows = await self._pairs_query(
            "x.district_id, x.local_id, x.id, x.candidates, x.created_at", "identity_review_item x",
            "x.kind = :kind AND x.status = 'open'", pairs, {"kind": kind})
        for d, local, review_id, candidates, _ in sorted(rows, key=lambda r: str(r[4])):
            found.setdefault((d, local), (review_id, _json(candidates)))
        return found

    async def _key_holders(self, keys: set[str]) -> dict[str, set[str]]:
        holders: dict[str, set[str]] = defaultdict(set)
        for part in _slices(sorted(keys), 50_000 if self.postgres else _SQLITE_IN):
            result = await self.session.execute(
                select(_KEYS.c.key, _KEYS.c.state_id).where(self._in(_KEYS.c.key, part)))
            for key, sid in result:
                holders[key].add(sid)
        return holders

    def _in(self, column: Any, values: list[str]) -> Any:
        return one_of(self.session.bind.dialect.name, column, values)

    async def _persons(self, ids: set[str], kind: str) -> dict[str, Candidate]:
        """The active persons among `ids`; a retired one's survivor is fetched too and noted in
        `retired_into` (its keys find its survivor: a merge moves none)."""
        people: dict[str, Candidate] = {}
        seen: set[str] = set()
        wanted = sorted(ids)
        while wanted:
            follow: dict[str, str] = {}
            for part in _slices(wanted, 50_000 if self.postgres else _SQLITE_IN):
                result = await self.session.execute(select(*_FACTS, *_STATUS).where(
                    self._in(_PERSONS.c.state_id, part), _PERSONS.c.kind == kind))
                active, retired_into = split_retired(result.all(), seen)
                follow.update(retired_into)
                for candidate in candidates_from_rows(active):
                    people[candidate.state_id] = candidate
            self.retired_into.update(follow)
            wanted = sorted(set(follow.values()) - seen)
        return people

    def _current_ids(self, ids: Iterable[str]) -> list[str]:
        """`ids` with each retired ID replaced by its survivor (followed to the end), once each."""
        current: dict[str, None] = {}
        for sid in ids:
            hops = 0
            while sid in self.retired_into and hops < 100:  # (a cycle cannot be made: stay bounded)
                sid, hops = self.retired_into[sid], hops + 1
            current[sid] = None
        return list(current)

    async def _alias_districts(self, ids: set[str]) -> dict[str, set[str]]:
        districts: dict[str, set[str]] = {sid: set() for sid in ids}
        for part in _slices(sorted(ids), 50_000 if self.postgres else _SQLITE_IN):
            result = await self.session.execute(
                select(_ALIASES.c.state_id, _ALIASES.c.district_id).where(self._in(_ALIASES.c.state_id, part)))
            for sid, district in result:
                districts[sid].add(district)
        return districts

    async def _current(self, state_id: str, people: dict[str, Candidate], current_ids: set[str]) -> str | None:
        """The ID an alias stands for now (a retired, merged ID answers with its survivor)."""
        if state_id in current_ids or state_id in people:  # not merged, or loaded or new in this chunk
            return state_id
        person = await self.persons.current(state_id)
        return person.state_id if person is not None else None

    async def _unused_ids(self, count: int, kind: str) -> list[str]:
        drawn: set[str] = set()
        while len(drawn) < count:
            draw = {new_state_id(kind) for _ in range(count - len(drawn))} - drawn  # type: ignore[arg-type]
            taken = set(await self.session.scalars(select(_PERSONS.c.state_id).where(
                self._in(_PERSONS.c.state_id, sorted(draw)))))
            drawn |= draw - taken
        return sorted(drawn, reverse=True)

    # --- writes ----------------------------------------------------------------------------

    async def _write(self, persons: list[dict[str, Any]], aliases: list[dict[str, Any]],
                     keys: set[tuple[str, str]], reviews: list[dict[str, Any]]) -> None:
        new_ids = {person["state_id"] for person in persons}
        fresh_keys = sorted(k for k in keys if k[1] in new_ids)  # a new person's keys are new
        more_keys = sorted(k for k in keys if k[1] not in new_ids)  # may exist: ON CONFLICT
        if self.postgres:
            # COPY: a tenth of the time of INSERTs for thousands of rows. Nothing copied can
            # exist already: the IDs are unused and the aliases were looked up under the lock.
            await copy_rows(self.session, Person.__table__, persons)
            await copy_rows(self.session, Alias.__table__, aliases)
            await copy_records(self.session, BlockingKey.__table__.name, ["key", "state_id"], fresh_keys)
        else:
            if persons:
                await self.session.execute(Person.__table__.insert(), persons)
            if aliases:
                await self.session.execute(Alias.__table__.insert(), aliases)
            more_keys = fresh_keys + more_keys
        if more_keys and self.postgres:
            # One statement with two arrays, in one order (no deadlock between chunks), not one
            # execution per key: a matched person's keys are mostly there already.
            ordered = sorted(more_keys)
            await self.session.execute(text(
                "INSERT INTO identity_blocking_key (key, state_id) SELECT * FROM unnest(CAST(:k AS varchar[]), "
                "CAST(:s AS varchar[])) ON CONFLICT DO NOTHING"),
                {"k": [k for k, _ in ordered], "s": [sid for _, sid in ordered]})
        elif more_keys:
            rows = [{"key": k, "state_id": sid} for k, sid in sorted(more_keys)]
            await self.session.execute(sqlite_insert(BlockingKey.__table__).on_conflict_do_nothing(), rows)
        if reviews:
            await self.session.execute(ReviewItem.__table__.insert(), reviews)



async def copy_rows(session: AsyncSession, table: Any, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL COPY of rows given as dicts with the same keys; JSON columns as their text
    (None as JSON null, as an INSERT through the ORM's JSON type stores it)."""
    if not rows:
        return
    columns = list(rows[0])
    json_at = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]
    values = itemgetter(*columns)
    records = []
    for row in rows:
        record = list(values(row))
        for i in json_at:
            record[i] = json_dumps(record[i])
        records.append(tuple(record))
    await copy_records(session, table.name, columns, records)


async def copy_records(session: AsyncSession, table: str, columns: list[str], records: list[tuple[Any, ...]]) -> None:
    if not records:
        return
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(table, records=records, columns=columns)


def _json(value: Any) -> Any:
    """A JSON column read through text(): PostgreSQL's driver gives the text, SQLite's too."""
    return json.loads(value) if isinstance(value, str) else value


def _capped(ids: set[str]) -> Iterable[str]:
    return ids if len(ids) <= MAX_CANDIDATES else sorted(ids)[:MAX_CANDIDATES]


def _slices(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _person_row(state_id: str, kind: str, row: ChunkRow, now: Any) -> dict[str, Any]:
    f = row.facts
    return {"state_id": state_id, "kind": kind, "first_name": f.first_name, "middle_name": f.middle_name,
            "last_name": f.last_name, "suffix": f.suffix, "birth_date": f.birth_date, "sex": f.sex,
            "hispanic_latino": f.hispanic_latino, "races": sorted(f.races),
            "guardian_names": list(f.guardian_names), "ssn_hash": f.ssn_hash, "birthplace": f.birthplace,
            "address": f.address, "postal_code": f.postal_code, "status": "active", "merged_into": None,
            "assigned_by_district": row.district_id, "created_at": now, "updated_at": now}
