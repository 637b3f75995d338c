"""The record of disclosures (FERPA 99.32) over HTTP: a release is logged in one call by the
releasing service, refused with the field named when it is not covered, found by student through
the index, inspected by the student's parent, retried safely, and verified against tampering."""

from __future__ import annotations

import logging

from sqlalchemy import delete, update

from services.disclosure.disclosures import verify_disclosure_log
from services.disclosure.models import DisclosureLogEntry, DisclosureLogStudent
from tests.helpers import bypass_append_only_logs
from tests.services.disclosure.conftest import (
    FIELDS,
    S1,
    S2,
    S3,
    S4,
    TODAY,
    World,
    days,
    fields_named,
)


async def test_release_logged_in_one_call_found_by_student_and_inspected_by_parent(world: World) -> None:
    agreement = await world.active_agreement()
    logged = await world.post("/disclosures", world.records, world.disclosure(
        agreement_id=agreement["id"], students=[S2, S1, S1], reference="records-release-42"))
    assert logged.status_code == 201, logged.text
    entry = logged.json()
    assert entry["student_count"] == 2 and entry["students"] is None  # not echoed back
    assert entry["actor"] == world.records_subject and entry["disclosed_on"] == TODAY.isoformat()
    assert logged.headers["cache-control"] == "no-store"
    assert logged.headers["location"] == f"/disclosure/v1/disclosures/{entry['seq']}"

    found = await world.get("/disclosures", world.steward, params={"state_student_id": S1})
    assert [e["seq"] for e in found.json()["items"]] == [entry["seq"]]
    assert (await world.get("/disclosures", world.steward, params={"state_student_id": S3})).json()["items"] == []
    one = (await world.get(f"/disclosures/{entry['seq']}", world.records)).json()
    assert one["students"] == sorted([S1, S2]) and one["fields"] == sorted(FIELDS[:2])
    assert one["party"]["subject"] == world.researcher_subject and one["agreement_id"] == agreement["id"]

    own = await world.get(f"/students/{S1}/disclosures", world.parent)
    assert own.status_code == 200 and own.headers["cache-control"] == "no-store"
    [item] = own.json()["items"]
    assert item["party"]["organisation"] == "State University" and item["legal_basis"] == "studies"
    assert item["legal_basis_citation"] == "34 CFR 99.31(a)(6)" and item["fields"] == sorted(FIELDS[:2])
    assert S2 not in own.text  # never the other students of the release
    other_child = await world.get(f"/students/{S2}/disclosures", world.parent)
    nobody = await world.get("/students/0000000000/disclosures", world.parent)
    assert other_child.status_code == nobody.status_code == 404
    assert other_child.json()["detail"] == nobody.json()["detail"]
    assert (await world.get(f"/students/{S1}/disclosures", world.steward)).status_code == 200
    assert (await world.get(f"/students/{S1}/disclosures", world.researcher)).status_code == 404


async def test_only_releasing_services_and_stewards_log_and_only_level_one_searches(world: World) -> None:
    body = world.disclosure(legal_basis="judicial_order", purpose="Subpoena 2026-CV-19")
    assert (await world.post("/disclosures", world.researcher, body)).status_code == 403
    assert (await world.post("/disclosures", world.parent, body)).status_code == 403
    assert (await world.post("/disclosures", world.steward, body)).status_code == 201
    assert (await world.get("/disclosures", world.researcher)).status_code == 403
    assert (await world.get("/disclosures", world.records)).status_code == 200
    assert (await world.get("/disclosures/verify", world.parent)).status_code == 403


async def test_refusals_name_every_field_and_never_echo_values(world: World) -> None:
    bad = await world.post("/disclosures", world.records, world.disclosure(
        legal_basis="because_we_can", fields=["demographics.not_a_field", "ssn", FIELDS[0]],
        students=[S1, "1234567890"], disclosed_on=days(0)))
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert {"body.legal_basis", "body.fields[0]", "body.fields[1]", "body.students[1]"} <= fields_named(bad)
    assert "because_we_can" not in bad.text and "not_a_field" not in bad.text and "1234567890" not in bad.text

    missing = await world.post("/disclosures", world.records, world.disclosure(disclosed_on=days(1)))
    assert missing.status_code == 422 and fields_named(missing) == {"agreement_id", "disclosed_on"}
    consent = await world.post("/disclosures", world.records, world.disclosure(legal_basis="written_consent"))
    assert fields_named(consent) == {"consent_id"}
    unknown = await world.post("/disclosures", world.records, world.disclosure(agreement_id="nope"))
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["code"] == "unknown"


async def test_agreement_must_be_active_and_cover_party_fields_and_students(world: World) -> None:
    draft = await world.draft()
    refused = await world.post("/disclosures", world.records, world.disclosure(agreement_id=draft["id"]))
    assert refused.status_code == 422 and refused.json()["errors"][0]["code"] == "not-active"

    agreement = await world.active_agreement(fields=FIELDS[:1], legal_basis="studies")
    outside = await world.post("/disclosures", world.records, world.disclosure(
        agreement_id=agreement["id"], fields=[FIELDS[0], FIELDS[1]], students=[S1, S4],
        party={"name": "Someone", "organisation": "Data Broker LLC"}))
    assert outside.status_code == 422
    assert fields_named(outside) == {"fields[1]", "students[1]", "party"}
    wrong_basis = await world.post("/disclosures", world.records, world.disclosure(
        agreement_id=agreement["id"], legal_basis="audit_evaluation", fields=FIELDS[:1]))
    assert wrong_basis.json()["errors"][0]["code"] == "basis-mismatch"
    before_start = await world.post("/disclosures", world.records, world.disclosure(
        agreement_id=agreement["id"], fields=FIELDS[:1], disclosed_on=days(-31)))
    assert before_start.json()["errors"][0]["code"] == "not-active"
    # the organisation matches whatever its spelling, even without a subject
    ok = await world.post("/disclosures", world.records, world.disclosure(
        agreement_id=agreement["id"], fields=FIELDS[:1], party={"name": "Records office", "organisation": " state  UNIVERSITY"}))
    assert ok.status_code == 201, ok.text

    cohort = await world.active_agreement(student_ids=[], district_ids=["1001"])
    by_district = await world.post("/disclosures", world.records, world.disclosure(
        agreement_id=cohort["id"], students=[S4]))
    assert by_district.status_code == 201  # district membership is the releasing service's check


async def test_idempotency_key_replays_the_entry_and_refuses_a_different_body(world: World) -> None:
    body = world.disclosure(legal_basis="health_safety_emergency", purpose="Outbreak contact tracing")
    key = {"Idempotency-Key": "release-7"}
    first = await world.post("/disclosures", world.records, body, extra_headers=key)
    again = await world.post("/disclosures", world.records, body, extra_headers=key)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["seq"] == first.json()["seq"] and again.headers["idempotent-replayed"] == "true"
    changed = await world.post("/disclosures", world.records, {**body, "students": [S3]}, extra_headers=key)
    assert changed.status_code == 422 and fields_named(changed) == {"Idempotency-Key"}
    listed = await world.get("/disclosures", world.steward)
    assert len(listed.json()["items"]) == 1


async def test_pages_by_sequence(world: World) -> None:
    body = world.disclosure(legal_basis="judicial_order", purpose="Subpoena")
    for _ in range(3):
        assert (await world.post("/disclosures", world.records, body)).status_code == 201
    first = (await world.get("/disclosures", world.steward, params={"limit": 2})).json()
    rest = (await world.get("/disclosures", world.steward,
                            params={"limit": 2, "after_seq": first["next_after_seq"]})).json()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1 and rest["next_after_seq"] is None


async def test_chain_and_student_index_verify_and_tampering_is_found(world: World, db) -> None:
    body = world.disclosure(legal_basis="judicial_order", purpose="Subpoena")
    seqs = [(await world.post("/disclosures", world.records, body)).json()["seq"] for _ in range(2)]
    report = (await world.get("/disclosures/verify", world.steward)).json()
    assert report["ok"] and report["entries"] == 2

    async with db.sessionmaker() as session:  # an index row removed: the student would vanish from searches
        await bypass_append_only_logs(session)
        await session.execute(delete(DisclosureLogStudent).where(DisclosureLogStudent.entry_seq == seqs[1],
                                                                 DisclosureLogStudent.state_student_id == S2))
        await session.commit()
    report = (await world.get("/disclosures/verify", world.steward)).json()
    assert not report["ok"] and report["first_bad_seq"] == seqs[1] and "index" in report["problem"]

    async with db.sessionmaker() as session:  # a payload edited: the chain breaks there
        await bypass_append_only_logs(session)
        await session.execute(update(DisclosureLogEntry).where(DisclosureLogEntry.seq == seqs[0])
                              .values(payload=DisclosureLogEntry.payload + " "))
        await session.commit()
        report = await verify_disclosure_log(session)
    assert not report.ok and report.first_bad_seq == seqs[0] and report.problem == "content changed"


async def test_service_log_lines_carry_counts_never_students_names_or_words(world: World, caplog) -> None:
    caplog.set_level(logging.INFO, logger="slds.disclosure")
    agreement = await world.active_agreement()
    assert (await world.post("/disclosures", world.records, world.disclosure(
        agreement_id=agreement["id"]))).status_code == 201
    assert (await world.post("/disclosures", world.records, world.disclosure(
        agreement_id=agreement["id"], students=[S4]))).status_code == 422
    lines = [r for r in caplog.records if r.name == "slds.disclosure"]
    logged = [r for r in lines if r.getMessage() == "disclosure logged"]
    assert len(logged) == 1 and logged[0].students == 2 and logged[0].legal_basis == "studies"
    assert any(r.getMessage() == "disclosure refused" for r in lines)
    text = " ".join(f"{r.getMessage()} {vars(r)}" for r in lines)
    for secret in (S1, S2, S4, "Rivera", "State University", "Grade progression", FIELDS[1]):
        assert secret not in text
