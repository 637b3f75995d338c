"""Bans for improper redisclosure: five years from the finding, the party's subjects and
organisation get no new agreement, no signature, no disclosure, no grant; `banned_subjects` lists
the subjects for the token verifiers."""

from __future__ import annotations

from datetime import date, timedelta

from services.disclosure.agreements import grants_for
from services.disclosure.bans import banned_subjects
from tests.services.disclosure.conftest import TODAY, World, days, fields_named


async def _ban(world: World, **over) -> dict:
    response = await world.post("/bans", world.steward, {
        "organisation": "State University", "subjects": [world.researcher_subject],
        "finding": "Shared the extract with a vendor (case 2026-3)", "found_on": days(-2), **over})
    assert response.status_code == 201, response.text
    return response.json()


async def test_ban_runs_five_years_and_is_listed_for_token_verifiers(world: World, db) -> None:
    ban = await _ban(world, found_on="2024-02-29")
    assert ban["banned_until"] == "2029-02-28" and ban["active"] is True
    async with db.sessionmaker() as session:
        assert await banned_subjects(session, TODAY) == frozenset({world.researcher_subject})
        assert await banned_subjects(session, date(2029, 2, 27)) == frozenset({world.researcher_subject})
        assert await banned_subjects(session, date(2029, 2, 28)) == frozenset()  # lifted on that day
        assert await banned_subjects(session, date(2024, 2, 28)) == frozenset()
    listed = (await world.get("/bans", world.steward, params={"active_on": "2030-01-01"})).json()["items"]
    assert listed == []
    assert len((await world.get("/bans", world.steward)).json()["items"]) == 1
    assert (await world.get("/bans", world.other_researcher)).status_code == 403
    assert (await world.get("/bans", world.researcher)).status_code == 401  # banned: token refused outright
    assert (await world.post("/bans", world.records, {"organisation": "x", "finding": "x",
                                                      "found_on": days(0)})).status_code == 403
    future = await world.post("/bans", world.steward, {"organisation": "x", "finding": "x", "found_on": days(1)})
    assert future.status_code == 422 and fields_named(future) == {"found_on"}


async def test_banned_party_gets_no_agreement_signature_disclosure_or_grant(world: World, db) -> None:
    signed = await world.active_agreement()
    pending = await world.draft(subjects=[world.steward_subject], organisation="Other Institute")
    for to in ("coordinator_review", "legal_review", "board_consent", "superintendent_approval"):
        await world.step(pending["id"], to)
    await _ban(world, organisation="Other  institute", subjects=[world.researcher_subject])

    by_subject = await world.post("/agreements", world.steward, world.agreement_body(organisation="Fresh Name Inc"))
    assert by_subject.status_code == 403 and by_subject.json()["type"].endswith("/party-banned")
    assert fields_named(by_subject) == {"subjects"}
    by_org = await world.post("/agreements", world.steward, world.agreement_body(
        organisation="OTHER INSTITUTE", subjects=[]))
    assert by_org.status_code == 403 and fields_named(by_org) == {"organisation"}
    sign = await world.step(pending["id"], "active", world.steward2)
    assert sign.status_code == 403 and sign.json()["type"].endswith("/party-banned")

    refused = await world.post("/disclosures", world.records, world.disclosure(agreement_id=signed["id"]))
    assert refused.status_code == 403 and fields_named(refused) == {"party.subjects"}
    to_org = await world.post("/disclosures", world.records, world.disclosure(
        legal_basis="judicial_order", party={"name": "Clerk", "organisation": "other institute"}))
    assert to_org.status_code == 403 and fields_named(to_org) == {"party.organisation"}
    assert (await world.get("/disclosures", world.steward)).json()["items"] == []

    high = await world.post("/data-requests", world.researcher, {
        "requester": {"name": "Dr. Rivera", "organisation": "State University"}, "description": "x",
        "purpose": "x", "risk_level": "low"})
    assert high.status_code == 401  # the banned researcher's token is refused before any rule runs
    async with db.sessionmaker() as session:
        assert await grants_for(session, world.researcher_subject, TODAY) == ()
        assert await grants_for(session, world.researcher_subject, TODAY + timedelta(days=5 * 366)) == ()
