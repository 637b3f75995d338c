"""Agreements (MOAs): validated on drafting, moved through enforced approval steps with a history,
signed by a second steward, expired on read, destruction certified and followed up, publications
flagged late, and turned into access grants by `grants_for`."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from services.disclosure.agreements import grants_for
from services.disclosure.models import Agreement
from shared.policy.principal import AccessGrant
from tests.services.disclosure.conftest import FIELDS, S1, S2, S3, TODAY, World, days, fields_named


async def test_draft_is_validated_against_the_dictionary_and_dates(world: World) -> None:
    bad = await world.post("/agreements", world.steward, world.agreement_body(
        fields=["ssn", "demographics.shoe_size", FIELDS[0]], subjects=["root"], legal_basis="whatever"))
    assert bad.status_code == 422
    assert {"body.fields[0]", "body.fields[1]", "body.subjects[0]", "body.legal_basis"} <= fields_named(bad)
    assert "shoe_size" not in bad.text
    dates = await world.post("/agreements", world.steward, world.agreement_body(
        ends_on=days(10), destroy_by=days(5), student_ids=[], district_ids=[], legal_basis="written_consent"))
    assert dates.status_code == 422
    assert fields_named(dates) == {"destroy_by", "student_ids", "legal_basis"}
    backwards = await world.post("/agreements", world.steward, world.agreement_body(starts_on=days(5), ends_on=days(1)))
    assert fields_named(backwards) == {"ends_on"}
    missing = dict(world.agreement_body())
    del missing["destroy_by"]
    assert (await world.post("/agreements", world.steward, missing)).status_code == 422
    assert (await world.post("/agreements", world.researcher, world.agreement_body())).status_code == 403


async def test_lifecycle_is_enforced_recorded_and_signed_by_a_second_steward(world: World) -> None:
    agreement = await world.draft()
    aid = agreement["id"]
    assert agreement["status"] == "draft" and agreement["subjects"] == [world.researcher_subject]
    skip = await world.step(aid, "legal_review")
    assert skip.status_code == 409 and skip.json()["type"].endswith("/transition-not-allowed")
    assert skip.json()["allowed"] == ["coordinator_review"]
    assert (await world.step(aid, "coordinator_review", world.researcher)).status_code == 403  # named, not a steward
    assert (await world.step(aid, "coordinator_review", world.other_researcher)).status_code == 404
    assert (await world.step(aid, "coordinator_review", note=None)).status_code == 200
    assert (await world.step(aid, "legal_review", note=None)).status_code == 200
    no_note = await world.step(aid, "board_consent", note=None)
    assert no_note.status_code == 422 and fields_named(no_note) == {"note"}
    assert (await world.step(aid, "board_consent", note="Legal memo 2026-14")).status_code == 200
    assert (await world.step(aid, "superintendent_approval", note="Board minute 2026-03 item 7")).status_code == 200
    self_signed = await world.step(aid, "active", note="signed")
    assert self_signed.status_code == 409 and self_signed.json()["rule"] == "four-eyes-signing"
    signed = await world.step(aid, "active", world.steward2, note="Signature ref 88")
    assert signed.status_code == 200 and signed.json()["status"] == "active"
    history = signed.json()["history"]
    assert [h["to_status"] for h in history] == ["draft", "coordinator_review", "legal_review", "board_consent",
                                                  "superintendent_approval", "active"]
    assert history[-1]["actor"] == world.steward2_subject and history[-1]["note"] == "Signature ref 88"
    assert history[3]["from_status"] == "legal_review" and history[3]["actor_role"] == "state_data_admin"
    assert (await world.step(aid, "rejected", note="too late")).status_code == 409

    mine = await world.get(f"/agreements/{aid}", world.researcher)
    assert mine.status_code == 200 and mine.headers["cache-control"] == "no-store"
    assert (await world.get(f"/agreements/{aid}", world.other_researcher)).status_code == 404
    assert [a["id"] for a in (await world.get("/agreements", world.researcher)).json()["items"]] == [aid]
    assert (await world.get("/agreements", world.other_researcher)).json()["items"] == []
    active = (await world.get("/agreements", world.steward, params={"status": "active"})).json()["items"]
    assert [a["id"] for a in active] == [aid]


async def test_rejection_needs_a_note_and_ends_the_agreement(world: World) -> None:
    aid = (await world.draft())["id"]
    assert (await world.step(aid, "rejected")).status_code == 409  # a draft is not under review
    await world.step(aid, "coordinator_review")
    assert fields_named(await world.step(aid, "rejected", note=None)) == {"note"}
    rejected = await world.step(aid, "rejected", note="Purpose not educational")
    assert rejected.json()["status"] == "rejected"
    assert (await world.step(aid, "legal_review")).json()["allowed"] == []


async def _age(db, agreement_id: str, *, ends: int, destroy: int) -> None:
    """Time passes: move the agreement's end and destroy-by dates into the past."""
    async with db.sessionmaker() as session:
        await session.execute(update(Agreement).where(Agreement.id == agreement_id).values(
            starts_on=TODAY - timedelta(days=400), ends_on=TODAY + timedelta(days=ends),
            destroy_by=TODAY + timedelta(days=destroy)))
        await session.commit()


async def test_expiry_is_computed_and_overdue_destruction_followed_up_until_certified(world: World, db) -> None:
    aid = (await world.active_agreement())["id"]
    await _age(db, aid, ends=-40, destroy=-10)
    read = (await world.get(f"/agreements/{aid}", world.steward)).json()
    assert read["status"] == "expired"
    assert [a["id"] for a in (await world.get("/agreements", world.steward, params={"status": "expired"})).json()["items"]] == [aid]
    assert (await world.get("/agreements", world.steward, params={"status": "active"})).json()["items"] == []
    assert (await world.step(aid, "rejected", note="x")).status_code == 409
    overdue = await world.get("/agreements/overdue-destruction", world.steward)
    assert [a["id"] for a in overdue.json()["items"]] == [aid]
    assert (await world.get("/agreements/overdue-destruction", world.researcher)).status_code == 403

    future = await world.post(f"/agreements/{aid}/destruction-certificate", world.researcher,
                              {"destroyed_by": "Dr. Rivera", "destroyed_on": days(1), "method": "NIST 800-88 purge"})
    assert future.status_code == 422 and fields_named(future) == {"destroyed_on"}
    certified = await world.post(f"/agreements/{aid}/destruction-certificate", world.researcher,
                                 {"destroyed_by": "Dr. Rivera", "destroyed_on": days(-1), "method": "NIST 800-88 purge"})
    assert certified.status_code == 201, certified.text
    assert certified.json()["recorded_by"] == world.researcher_subject
    read = (await world.get(f"/agreements/{aid}", world.steward)).json()
    assert read["status"] == "destruction_certified" and read["certificate"]["method"] == "NIST 800-88 purge"
    assert read["history"][-1]["to_status"] == "destruction_certified"
    assert (await world.get("/agreements/overdue-destruction", world.steward)).json()["items"] == []
    again = await world.post(f"/agreements/{aid}/destruction-certificate", world.steward,
                             {"destroyed_by": "x", "destroyed_on": days(-1), "method": "x"})
    assert again.status_code == 409


async def test_publications_submitted_under_ten_business_days_ahead_are_late(world: World) -> None:
    draft = await world.draft()
    early = await world.post(f"/agreements/{draft['id']}/publications", world.researcher,
                             {"title": "Draft", "planned_publication_date": days(30), "submitted_on": days(0)})
    assert early.status_code == 409  # not signed yet
    aid = (await world.active_agreement())["id"]
    monday = TODAY + timedelta(days=(7 - TODAY.weekday()) % 7)  # the next Monday (or today)
    on_time = await world.post(f"/agreements/{aid}/publications", world.researcher, {
        "title": "Grade progression in rural districts", "planned_publication_date": monday.isoformat(),
        "submitted_on": (monday - timedelta(days=14)).isoformat()})  # exactly 10 business days before
    assert on_time.status_code == 201, on_time.text
    assert on_time.json()["late"] is False and on_time.json()["due_by"] == (monday - timedelta(days=14)).isoformat()
    late = await world.post(f"/agreements/{aid}/publications", world.steward, {
        "title": "Conference talk", "planned_publication_date": monday.isoformat(),
        "submitted_on": (monday - timedelta(days=13)).isoformat()})
    assert late.json()["late"] is True
    assert (await world.post(f"/agreements/{aid}/publications", world.other_researcher, {
        "title": "x", "planned_publication_date": monday.isoformat(), "submitted_on": days(0)})).status_code == 404
    read = (await world.get(f"/agreements/{aid}", world.researcher)).json()
    assert [p["late"] for p in read["publications"]] == [False, True]


async def test_grants_for_builds_access_grants_from_active_agreements(world: World, db) -> None:
    signed = await world.active_agreement(district_ids=["1001"])
    await world.draft(fields=["demographics.sex"])  # a draft grants nothing
    other = await world.active_agreement(subjects=[world.steward_subject])  # names someone else
    async with db.sessionmaker() as session:
        grants = await grants_for(session, world.researcher_subject, TODAY)
        assert grants == (AccessGrant(grant_id=f"agreement:{signed['id']}", fields=frozenset(FIELDS),
                                      student_ids=frozenset({S1, S2, S3}), district_ids=frozenset({"1001"}),
                                      starts_on=TODAY - timedelta(days=30), ends_on=TODAY + timedelta(days=180)),)
        assert grants[0].active_on(TODAY)
        assert await grants_for(session, world.researcher_subject, TODAY + timedelta(days=181)) == ()
        assert await grants_for(session, world.researcher_subject, TODAY - timedelta(days=31)) == ()
        assert [g.grant_id for g in await grants_for(session, world.steward_subject, TODAY)] == [f"agreement:{other['id']}"]
        assert await grants_for(session, "user:nobody", TODAY) == ()
    assert S2 in signed["student_ids"]
