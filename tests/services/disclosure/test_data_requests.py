"""Data requests by Utah risk level: high needs an active agreement; the assignee fulfils; a
different steward does QA (or returns it); release needs the complete checklist; every step is in
the history."""

from __future__ import annotations

from tests.services.disclosure.conftest import World, days, fields_named

CHECKLIST = {"reliability": True, "validity": True, "presentation": True}


def ticket(**over) -> dict:
    return {"requester": {"name": "Dr. Rivera", "organisation": "State University"},
            "description": "Graduation rate by LEA, 2020-2025", "purpose": "Policy brief",
            "risk_level": "medium", **over}


async def test_medium_request_needs_a_second_steward_for_qa_and_a_complete_checklist(world: World) -> None:
    filed = await world.post("/data-requests", world.researcher, ticket())
    assert filed.status_code == 201, filed.text
    rid = filed.json()["id"]
    assert filed.json()["status"] == "ticket" and filed.json()["requester_subject"] == world.researcher_subject
    assert (await world.post(f"/data-requests/{rid}/assign", world.researcher, {})).status_code == 403
    assert (await world.post(f"/data-requests/{rid}/fulfil", world.steward,
                             {"dataset_reference": "x"})).status_code == 409  # not assigned yet
    assigned = await world.post(f"/data-requests/{rid}/assign", world.steward2, {"assignee": world.steward_subject})
    assert assigned.json()["assigned_to"] == world.steward_subject
    not_assignee = await world.post(f"/data-requests/{rid}/fulfil", world.steward2, {"dataset_reference": "x"})
    assert not_assignee.status_code == 403 and not_assignee.json()["rule"] == "fulfilled-by-assignee"
    assert (await world.post(f"/data-requests/{rid}/fulfil", world.steward,
                             {"dataset_reference": "secure://dr/1/v1"})).status_code == 200
    early = await world.post(f"/data-requests/{rid}/release", world.steward,
                             {"checklist": CHECKLIST, "dataset_reference": "secure://dr/1/v1"})
    assert early.status_code == 409 and early.json()["allowed"] == ["assigned", "qa_approved"]

    own_qa = await world.post(f"/data-requests/{rid}/qa", world.steward, {"decision": "approve"})
    assert own_qa.status_code == 409
    assert own_qa.json()["type"].endswith("/second-steward-required") and own_qa.json()["rule"] == "second-steward-qa"
    assert fields_named(await world.post(f"/data-requests/{rid}/qa", world.steward2, {"decision": "return"})) == {"note"}
    returned = await world.post(f"/data-requests/{rid}/qa", world.steward2,
                                {"decision": "return", "note": "Suppress cells under 10"})
    assert returned.json()["status"] == "assigned"
    await world.post(f"/data-requests/{rid}/fulfil", world.steward, {"dataset_reference": "secure://dr/1/v2"})
    approved = await world.post(f"/data-requests/{rid}/qa", world.steward2, {"decision": "approve"})
    assert approved.json()["status"] == "qa_approved" and approved.json()["qa_by"] == world.steward2_subject

    incomplete = await world.post(f"/data-requests/{rid}/release", world.steward, {
        "checklist": {**CHECKLIST, "validity": False, "presentation": False}, "dataset_reference": "secure://dr/1/v2"})
    assert incomplete.status_code == 422
    assert fields_named(incomplete) == {"checklist.validity", "checklist.presentation"}
    released = await world.post(f"/data-requests/{rid}/release", world.steward, {
        "checklist": CHECKLIST, "dataset_reference": "secure://dr/1/v2", "released_on": days(0)})
    assert released.status_code == 200, released.text
    body = released.json()
    assert body["released_on"] == days(0) and body["released_dataset_reference"] == "secure://dr/1/v2"
    assert body["checklist_validity"] is True
    closed = await world.post(f"/data-requests/{rid}/close", world.steward, {})
    assert closed.json()["status"] == "closed"
    assert [h["to_status"] for h in closed.json()["history"]] == [
        "ticket", "assigned", "fulfilled", "assigned", "fulfilled", "qa_approved", "released", "closed"]
    assert closed.json()["history"][3]["note"] == "Suppress cells under 10"

    mine = await world.get(f"/data-requests/{rid}", world.researcher)
    assert mine.status_code == 200 and mine.json()["status"] == "closed"
    assert (await world.get(f"/data-requests/{rid}", world.other_researcher)).status_code == 404
    assert [r["id"] for r in (await world.get("/data-requests", world.researcher)).json()["items"]] == [rid]
    assert (await world.get("/data-requests", world.other_researcher)).json()["items"] == []


async def test_high_risk_needs_an_active_agreement_of_the_requester(world: World) -> None:
    missing = await world.post("/data-requests", world.researcher, ticket(risk_level="high"))
    assert missing.status_code == 422 and fields_named(missing) == {"agreement_id"}
    draft = await world.draft()
    inactive = await world.post("/data-requests", world.researcher, ticket(risk_level="high", agreement_id=draft["id"]))
    assert inactive.json()["errors"][0]["code"] == "not-active"
    agreement = await world.active_agreement()
    not_theirs = await world.post("/data-requests", world.other_researcher, ticket(
        risk_level="high", agreement_id=agreement["id"], requester={"name": "Someone", "organisation": "Other Org"}))
    assert fields_named(not_theirs) == {"requester"}
    ok = await world.post("/data-requests", world.researcher, ticket(risk_level="high", agreement_id=agreement["id"]))
    assert ok.status_code == 201 and ok.json()["agreement_id"] == agreement["id"]
    on_behalf = await world.post("/data-requests", world.steward, ticket(
        risk_level="high", agreement_id=agreement["id"], requester_subject=world.researcher_subject))
    assert on_behalf.status_code == 201 and on_behalf.json()["created_by"] == world.steward_subject
    assert (await world.post("/data-requests", world.researcher, ticket(
        requester_subject=world.steward_subject))).status_code == 422
    assert (await world.post("/data-requests", world.parent, ticket())).status_code == 403
    assert (await world.post("/data-requests", world.records, ticket())).status_code == 403


async def test_low_risk_may_be_released_without_qa_and_tickets_close_with_a_reason(world: World) -> None:
    rid = (await world.post("/data-requests", world.steward, ticket(risk_level="low"))).json()["id"]
    await world.post(f"/data-requests/{rid}/assign", world.steward, {})
    await world.post(f"/data-requests/{rid}/fulfil", world.steward, {"dataset_reference": "secure://dr/2"})
    released = await world.post(f"/data-requests/{rid}/release", world.steward,
                                {"checklist": CHECKLIST, "dataset_reference": "secure://dr/2"})
    assert released.status_code == 200 and released.json()["qa_by"] is None

    declined = (await world.post("/data-requests", world.researcher, ticket())).json()["id"]
    assert fields_named(await world.post(f"/data-requests/{declined}/close", world.steward, {})) == {"note"}
    closed = await world.post(f"/data-requests/{declined}/close", world.steward, {"note": "Data not collected"})
    assert closed.json()["status"] == "closed"
    assert (await world.post(f"/data-requests/{declined}/assign", world.steward, {})).status_code == 409
