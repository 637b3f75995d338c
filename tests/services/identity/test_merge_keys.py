"""A merge moves no blocking keys: a look-up that reaches a retired ID follows merged_into to the
person it now is (single resolve, the locator and the batch chunk path alike), through a chain
of merges; a split gives the retired ID its own look-ups back with nothing to undo."""

from __future__ import annotations

from sqlalchemy import func, select

from services.identity.bulk import ChunkResolver, ChunkRow
from services.identity.matching.blocking import lookup_keys
from services.identity.matching.record import PersonFacts
from services.identity.merge import MergeService
from services.identity.models import BlockingKey
from services.identity.person_repository import PersonRepository
from services.identity.resolve import Resolver, facts_from_request
from services.identity.schemas import StudentResolveRequest
from shared.settings import Settings
from shared.state import Database

SUBMITTER = "client:merge-keys-test"
STEWARD = "user:steward"


def _facts(settings: Settings, local: str, first: str, last: str, birth_date: str) -> PersonFacts:
    body = StudentResolveRequest.model_validate({
        "district_id": "1001", "local_student_id": local, "first_name": first, "last_name": last,
        "birth_date": birth_date, "guardian_names": [f"Guardian {last}"]})
    return facts_from_request(body, settings)


async def test_keys_of_a_retired_id_lead_to_its_survivor_until_a_split(db: Database, settings: Settings) -> None:
    # Three records that share no blocking key (a steward merges what matching could not see).
    people = {"priya": ("A1", "Priya", "Abernathy", "2011-02-03"),
              "quentin": ("A2", "Quentin", "Zabrowski", "2009-08-19"),
              "xavier": ("A3", "Xavier", "Lindqvist", "2012-11-30")}
    async with db.sessionmaker() as session:
        await session.begin()
        resolver, ids, facts = Resolver(session, settings), {}, {}
        for name, (local, first, last, born) in people.items():
            facts[name] = _facts(settings, local, first, last, born)
            outcome = await resolver.resolve(facts[name], "1001", local, SUBMITTER)
            assert outcome.decision == "assigned"
            ids[name] = outcome.state_id
        repository, merges = PersonRepository(session), MergeService(session)
        quentin_keys = lookup_keys(facts["quentin"])
        keys_before = await session.scalar(select(func.count()).select_from(BlockingKey))

        async def found_by_quentins_keys() -> list[str]:
            """What each path finds for Quentin's spelling: the same persons, with their own facts."""
            single = await repository.candidate_facts(quentin_keys, "student")
            orm = await repository.candidates(quentin_keys, "student")
            chunk = ChunkResolver(session, settings)
            stored = await chunk._persons({ids["quentin"]}, "student")
            in_chunk = [stored[sid] for sid in chunk._current_ids([ids["quentin"]])]
            assert [p.state_id for p in orm] == [c.state_id for c in single] == [c.state_id for c in in_chunk]
            assert [c.first_name for c in single] == [p.first_name for p in orm] == [c.first_name for c in in_chunk]
            return [c.first_name for c in single]

        assert await found_by_quentins_keys() == ["Quentin"]
        await merges.merge(ids["priya"], ids["quentin"], actor=STEWARD, reason="one child")
        assert await found_by_quentins_keys() == ["Priya"]
        await merges.merge(ids["xavier"], ids["priya"], actor=STEWARD, reason="one child")
        assert await found_by_quentins_keys() == ["Xavier"]  # a chain is followed to its end
        await merges.split(ids["priya"], actor=STEWARD, reason="two children")
        assert await found_by_quentins_keys() == ["Priya"]
        await merges.split(ids["quentin"], actor=STEWARD, reason="two children")
        assert await found_by_quentins_keys() == ["Quentin"]
        # Nothing was copied, so a split left no key of Quentin's under another ID.
        assert await session.scalar(select(func.count()).select_from(BlockingKey)) == keys_before

        # The batch path decides as single resolve while Quentin is merged into Priya.
        await merges.merge(ids["priya"], ids["quentin"], actor=STEWARD, reason="one child")
        again = _facts(settings, "B9", "Priya", "Abernathy", "2011-02-03")
        chunk_outcome = (await ChunkResolver(session, settings).resolve_chunk(
            [ChunkRow(again, "1002", "B9")], SUBMITTER))[0]
        assert (chunk_outcome.decision, chunk_outcome.state_id) == ("matched", ids["priya"])
        await session.rollback()
