"""The batch worker's set-based chunk path (services/identity/bulk.py) decides exactly as single
resolve one row at a time: same decisions, same grouping of rows into persons, same aliases,
blocking keys and review items, on a synthetic stream with transfers, typos, twins and siblings,
with chunk boundaries anywhere and rows of one person inside one chunk."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from bench.synth import SynthConfig, generate_state
from services.identity.bulk import ChunkResolver, ChunkRow
from services.identity.models import Alias, BlockingKey, Person, ReviewItem
from services.identity.resolve import ResolveOutcome, Resolver, facts_from_request
from services.identity.schemas import StudentResolveRequest
from shared.settings import Settings
from shared.state import Database

SUBMITTER = "client:chunk-test"
EXTRA = ("row_ref", "school_id", "grade", "submitted_on")


def synthetic_rows(settings: Settings, students: int, seed: int) -> list[ChunkRow]:
    rows = []
    for submission in generate_state(SynthConfig(students=students, seed=seed)).submissions:
        try:
            body = StudentResolveRequest.model_validate({k: v for k, v in submission.items() if k not in EXTRA})
        except ValidationError:
            continue  # a row the API would refuse
        rows.append(ChunkRow(facts_from_request(body, settings), body.district_id, body.local_student_id))
    return rows


class Labels:
    """State IDs and review IDs are random: name them by first appearance."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def __call__(self, value: str | None) -> str | None:
        if value is None:
            return None
        return self.names.setdefault(value, f"#{len(self.names)}")


async def _snapshot(session: Any, outcomes: Sequence[ResolveOutcome]) -> dict[str, Any]:
    label = Labels()
    answers = [(o.decision, label(o.state_id), label(o.review_id)) for o in outcomes]
    persons = {label(p.state_id): (p.first_name, p.last_name, p.birth_date, p.assigned_by_district)
               for p in await session.scalars(select(Person))}
    aliases = {(a.district_id, a.local_id, label(a.state_id)) for a in await session.scalars(select(Alias))}
    keys = {(k.key, label(k.state_id)) for k in await session.scalars(select(BlockingKey))}
    reviews = {(r.district_id, r.local_id, label(r.id), r.status, r.submitted_by,
                tuple(sorted((label(c["state_student_id"]), c["decision"], c["explanation"]["probability"])
                             for c in r.candidates)))
               for r in await session.scalars(select(ReviewItem))}
    return {"answers": answers, "persons": persons, "aliases": aliases, "keys": keys, "reviews": reviews}


async def _run(db: Database, settings: Settings, setup: list[ChunkRow], rows: list[ChunkRow],
               chunk: int | None, *, explain: bool = True) -> dict[str, Any]:
    """Resolve `setup` one at a time, then `rows` one at a time (chunk None) or in chunks (with
    or without explanations, as the batch worker runs them); the snapshot of what was decided,
    then everything is rolled back."""
    async with db.sessionmaker() as session:
        await session.begin()
        resolver = Resolver(session, settings)
        outcomes = [await resolver.resolve(r.facts, r.district_id, r.local_id, SUBMITTER) for r in setup]
        if chunk is None:
            for r in rows:
                outcomes.append(await resolver.resolve(r.facts, r.district_id, r.local_id, SUBMITTER))
        else:
            bulk = ChunkResolver(session, settings)
            for start in range(0, len(rows), chunk):
                outcomes += await bulk.resolve_chunk(rows[start:start + chunk], SUBMITTER, explain=explain)
        snapshot = await _snapshot(session, outcomes)
        await session.rollback()
    return snapshot


def _same(one: dict[str, Any], other: dict[str, Any]) -> None:
    assert [a[0] for a in one["answers"]] == [a[0] for a in other["answers"]]
    for key in ("answers", "persons", "aliases", "keys", "reviews"):
        assert one[key] == other[key], key


async def test_chunks_decide_as_one_at_a_time(db: Database, settings: Settings) -> None:
    rows = synthetic_rows(settings, 400, seed=11)
    setup, stream = rows[:150], rows[150:]
    one_at_a_time = await _run(db, settings, setup, stream, None)
    decisions = {a[0] for a in one_at_a_time["answers"]}
    assert decisions == {"assigned", "matched", "review"}, decisions  # the sample covers every path
    for chunk in (len(stream), 97):  # the whole stream in one chunk; boundaries in odd places
        _same(one_at_a_time, await _run(db, settings, setup, stream, chunk))
    # The batch worker's way: no explanations kept for its rows, the same decisions, persons,
    # keys, and review items with their candidates' explanations.
    _same(one_at_a_time, await _run(db, settings, setup, stream, 97, explain=False))


async def test_one_person_twice_in_a_chunk_gets_one_id_twins_stay_apart(db: Database, settings: Settings) -> None:
    def row(district: str, local: str, first: str, **more: Any) -> ChunkRow:
        body = StudentResolveRequest.model_validate({
            "district_id": district, "local_student_id": local, "first_name": first, "last_name": "Okafor",
            "birth_date": "2014-03-07", "sex": "F", "guardian_names": ["Ngozi Okafor"],
            "address": "12 Elm St", "postal_code": "04101", **more})
        return ChunkRow(facts_from_request(body, settings), district, local)

    rows = [row("1001", "a", "Adaeze", middle_name="Chioma"),
            row("1002", "b", "Adaeze", middle_name="Chioma"),   # moved: the same girl
            row("1001", "a", "Adaeze", middle_name="Chioma"),   # sent again: her local ID
            row("1001", "c", "Amara", middle_name="Ifeoma")]    # her twin sister
    async with db.sessionmaker() as session:
        await session.begin()
        outcomes = await ChunkResolver(session, settings).resolve_chunk(rows, SUBMITTER)
        assert [o.decision for o in outcomes] == ["assigned", "matched", "matched", "assigned"]
        assert outcomes[0].state_id == outcomes[1].state_id == outcomes[2].state_id != outcomes[3].state_id
        assert len((await session.scalars(select(Person))).all()) == 2
        assert len((await session.scalars(select(Alias))).all()) == 3
        await session.rollback()


async def test_twins_named_with_and_without_an_accent_stay_apart_in_a_chunk(db: Database, settings: Settings) -> None:
    """Matching folds accents, so Zoë and Zoe of one family look like one girl; the district
    sending both under two local IDs is what tells them apart (held for review, no merge)."""
    def row(local: str, first: str) -> ChunkRow:
        body = StudentResolveRequest.model_validate({
            "district_id": "1001", "local_student_id": local, "first_name": first, "last_name": "Gordon",
            "birth_date": "2009-03-10", "sex": "F", "races": ["WH"], "address": "6690 Forest St",
            "guardian_names": ["María Fernanda Gordon", "Marcus Gordon"], "postal_code": "93686"})
        return ChunkRow(facts_from_request(body, settings), "1001", local)

    async with db.sessionmaker() as session:
        await session.begin()
        outcomes = await ChunkResolver(session, settings).resolve_chunk([row("z1", "Zoë"), row("z2", "Zoe")],
                                                                        SUBMITTER)
        assert [o.decision for o in outcomes] == ["assigned", "review"]
        assert len((await session.scalars(select(Person))).all()) == 1
        assert len((await session.scalars(select(Alias))).all()) == 1
        await session.rollback()
