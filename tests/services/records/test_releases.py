"""Researchers through records, end to end with the disclosure service: an active agreement opens
exactly its students and fields, each release is written to the FERPA 99.32 log by records itself
(the parent sees it), nothing after the end date, a banned party is refused at all four services,
and a release that cannot be logged does not happen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from services.disclosure.models import Agreement
from services.records.models import RecordsAccessLogEntry
from shared.disclosure_client import DisclosureClient
from shared.security.service_auth import ServiceToken, service_client_secret
from tests.helpers import TEST_PASSWORD, DisclosureLogDown, bearer, password_token
from tests.services.records.conftest import STUDENTS, World, basic_record

TODAY = datetime.now(UTC).date()
AGREED_FIELDS = ["state_student_id", "demographics.birth_date", "enrollment.grade_level"]


def days(n: int) -> str:
    return (TODAY + timedelta(days=n)).isoformat()


class Research:
    def __init__(self, world: World, researcher: dict[str, str], subject: str, steward2: dict[str, str],
                 parent: dict[str, str]) -> None:
        self.world, self.researcher, self.subject = world, researcher, subject
        self.steward2, self.parent = steward2, parent

    async def active_agreement(self, students: list[str], fields: list[str] = AGREED_FIELDS) -> str:
        """Drafted by one steward, approved at every stage, signed by a second (four eyes)."""
        client, steward = self.world.client, self.world.steward
        draft = await client.post("/disclosure/v1/agreements", headers=steward, json={
            "title": "Grade progression study", "organisation": "State University", "contact_name": "Dr. Rivera",
            "contact_email": "rivera@university.example", "subjects": [self.subject],
            "purpose": "Study grade progression for the agency", "legal_basis": "studies", "fields": fields,
            "student_ids": students, "starts_on": days(-30), "ends_on": days(180), "destroy_by": days(210)})
        assert draft.status_code == 201, draft.text
        agreement_id = draft.json()["id"]
        for to, who in (("coordinator_review", steward), ("legal_review", steward), ("board_consent", steward),
                        ("superintendent_approval", steward), ("active", self.steward2)):
            moved = await client.post(f"/disclosure/v1/agreements/{agreement_id}/transitions", headers=who,
                                      json={"to": to, "note": "ref"})
            assert moved.status_code == 200, moved.text
        return agreement_id

    async def log_of(self, state_id: str) -> list[dict[str, Any]]:
        response = await self.world.client.get("/disclosure/v1/disclosures", headers=self.world.steward,
                                               params={"state_student_id": state_id})
        assert response.status_code == 200, response.text
        return response.json()["items"]


@pytest.fixture
async def research(world: World, make_user) -> Research:
    researcher = await make_user("researcher", "researcher")
    await make_user("steward2", "state_data_admin")
    await make_user("parent", "parent", student_ids=[world.students[0]])
    for sid in world.students[:2]:
        assert (await world.submit(basic_record(sid))).status_code == 201
    client = world.client
    return Research(world, bearer(await password_token(client, "researcher")), researcher.subject,
                    bearer(await password_token(client, "steward2")), bearer(await password_token(client, "parent")))


async def test_an_active_agreement_opens_exactly_its_students_and_fields_and_each_release_is_logged(
        research: Research, world: World) -> None:
    ana, bram, chen = world.students
    client = world.client
    assert (await client.get(f"{STUDENTS}/{ana}", headers=research.researcher)).status_code == 404  # no agreement yet
    agreement_id = await research.active_agreement([ana, chen])

    read = await client.get(f"{STUDENTS}/{ana}", headers=research.researcher)
    assert read.status_code == 200, read.text
    assert read.json() == {"state_student_id": ana, "demographics": {"birth_date": "2014-03-09"},
                           "enrollment": [{"grade_level": "06"}]}
    assert read.headers["cache-control"] == "no-store"
    assert (await client.get(f"{STUDENTS}/{bram}", headers=research.researcher)).status_code == 404  # not agreed

    [entry] = await research.log_of(ana)
    assert entry["actor"] == "client:svc-records"  # records wrote it, not the researcher
    assert entry["party"] == {"name": "Dr. Rivera", "organisation": "State University", "subject": research.subject}
    assert entry["agreement_id"] == agreement_id and entry["legal_basis"] == "studies"
    assert entry["fields"] == sorted(AGREED_FIELDS) and entry["student_count"] == 1
    assert await research.log_of(bram) == []

    # A page of the list is one more release: only the agreed students that have records (Chen has none).
    page = await client.get(STUDENTS, headers=research.researcher)
    assert page.status_code == 200 and [r["state_student_id"] for r in page.json()["items"]] == [ana]
    assert len(await research.log_of(ana)) == 2
    history = await client.get(f"{STUDENTS}/{ana}/history", headers=research.researcher)
    assert history.status_code == 200 and len(await research.log_of(ana)) == 3
    assert (await client.get("/records/v1/changes", headers=research.researcher)).status_code == 403

    # FERPA 99.32(c): the parent sees who received which fields of the child's record, and why.
    seen = await client.get(f"/disclosure/v1/students/{ana}/disclosures", headers=research.parent)
    assert seen.status_code == 200
    history_fields = ["demographics.birth_date", "enrollment.grade_level"]  # versions do not carry the ID
    assert sorted((d["party"]["organisation"], d["legal_basis"], d["fields"]) for d in seen.json()["items"]) == [
        ("State University", "studies", history_fields)] + [("State University", "studies", sorted(AGREED_FIELDS))] * 2


async def test_school_staff_reads_are_not_disclosures(research: Research, world: World) -> None:
    ana = world.students[0]
    assert (await world.client.get(f"{STUDENTS}/{ana}", headers=world.sis)).status_code == 200
    assert (await world.client.get(f"{STUDENTS}/{ana}", headers=world.steward)).status_code == 200
    assert await research.log_of(ana) == []


async def test_after_the_end_date_the_researcher_reaches_nothing(research: Research, world: World, db) -> None:
    ana = world.students[0]
    agreement_id = await research.active_agreement([ana])
    assert (await world.client.get(f"{STUDENTS}/{ana}", headers=research.researcher)).status_code == 200
    async with db.sessionmaker() as session:  # time passes: the agreement ended yesterday
        await session.execute(update(Agreement).where(Agreement.id == agreement_id).values(
            starts_on=TODAY - timedelta(days=400), ends_on=TODAY - timedelta(days=1)))
        await session.commit()
    assert (await world.client.get(f"{STUDENTS}/{ana}", headers=research.researcher)).status_code == 404
    page = await world.client.get(STUDENTS, headers=research.researcher)
    assert page.status_code == 200 and page.json()["items"] == []
    assert len(await research.log_of(ana)) == 1  # only the read made while it was in force


async def test_a_banned_party_is_refused_at_all_four_services(research: Research, world: World) -> None:
    client = world.client
    await research.active_agreement([world.students[0]])
    assert (await client.get("/records/v1/whoami", headers=research.researcher)).status_code == 200
    ban = await client.post("/disclosure/v1/bans", headers=world.steward, json={
        "organisation": "State University", "subjects": [research.subject],
        "finding": "Shared the extract with a vendor (case 2026-3)", "found_on": days(-1)})
    assert ban.status_code == 201, ban.text
    for service in ("identity", "records", "disclosure", "reporting"):
        refused = await client.get(f"/{service}/v1/whoami", headers=research.researcher)
        assert refused.status_code == 401, service
        assert refused.headers["content-type"] == "application/problem+json"
    assert (await client.get(f"{STUDENTS}/{world.students[0]}", headers=research.researcher)).status_code == 401
    fresh = await client.post("/identity/v1/oauth/token", data={
        "grant_type": "password", "username": "researcher", "password": TEST_PASSWORD})
    assert fresh.status_code == 400 and "access_token" not in fresh.json()
    # Everyone else is untouched.
    assert (await client.get("/records/v1/whoami", headers=world.sis)).status_code == 200




async def test_a_release_that_cannot_be_logged_does_not_happen(research: Research, world: World, gateway, db) -> None:
    ana = world.students[0]
    await research.active_agreement([ana])
    records_state = gateway.apps["records"].state.slds
    link_client = httpx.AsyncClient(base_url="http://slds.internal", transport=DisclosureLogDown(httpx.ASGITransport(gateway)))
    records_state.disclosure_client = DisclosureClient(
        link_client, ServiceToken(records_state.identity, records_state.settings, "records"))
    async with db.sessionmaker() as session:
        reads_before = await session.scalar(select(func.count()).select_from(RecordsAccessLogEntry))
    try:
        refused = await world.client.get(f"{STUDENTS}/{ana}", headers=research.researcher)
        listed = await world.client.get(STUDENTS, headers=research.researcher)
    finally:
        await link_client.aclose()
        records_state.disclosure_client = None
    for response in (refused, listed):
        assert response.status_code == 503
        assert "birth_date" not in response.text and ana not in response.text
    async with db.sessionmaker() as session:  # the access log keeps the attempt: both reads were made
        assert await session.scalar(select(func.count()).select_from(RecordsAccessLogEntry)) == reads_before + 2
    assert await research.log_of(ana) == []


async def test_service_clients_need_the_derived_secret(world: World, settings) -> None:
    token = "/identity/v1/oauth/token"
    wrong = await world.client.post(token, data={"grant_type": "client_credentials", "client_id": "svc-records",
                                                 "client_secret": "guess"})
    assert wrong.status_code == 401
    right = await world.client.post(token, data={
        "grant_type": "client_credentials", "client_id": "svc-records",
        "client_secret": service_client_secret(settings, "svc-records")})
    assert right.status_code == 200
    me = await world.client.get("/records/v1/whoami", headers=bearer(right.json()["access_token"]))
    assert me.json()["role"] == "service"
