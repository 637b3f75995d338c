"""NDA and training gate (issue 9): a person in a staff role without a signed NDA and current
privacy training sees no student PII anywhere (403 clearance-required, not 404), and sees it from
their next token once a supervisor records both. Families and machine clients need no clearance."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import httpx
import pytest

from services.gateway import create_gateway
from shared.policy.access import (
    aggregate_scope,
    lacks_clearance,
    row_scope,
    visible_fields,
    visible_staff_fields,
)
from shared.policy.principal import Principal, StudentFacts
from tests.helpers import bearer, password_token
from tests.services.records.conftest import STUDENTS, World, basic_record
from tests.services.reporting.conftest import YEAR, seed_facts  # noqa: F401 (a fixture)

TODAY = date.today()
CLEARANCE_TYPE = "https://slds.example.gov/problems/clearance-required"


def _refused(response: httpx.Response) -> bool:
    body = response.json()
    return (response.status_code == 403 and response.headers["content-type"].startswith("application/problem+json")
            and body["type"] == CLEARANCE_TYPE and "NDA" in body["title"] and "training" in body["title"])


async def _record_clearance(world: World, user_id: str, *, completed_on: date = TODAY,
                            headers: dict[str, str] | None = None) -> None:
    who = headers or world.steward
    nda = await world.client.post(f"/identity/v1/users/{user_id}/nda-signatures", headers=who,
                                  json={"agreement_version": "2026-1", "signed_on": TODAY.isoformat()})
    assert nda.status_code == 201, nda.text
    training = await world.client.post(f"/identity/v1/users/{user_id}/training-completions", headers=who,
                                       json={"course_version": "2026", "completed_on": completed_on.isoformat()})
    assert training.status_code == 201, training.text


async def test_a_person_without_training_sees_no_pii_until_recorded(world: World, make_user) -> None:
    a = world.students[0]
    assert (await world.submit(basic_record(a))).status_code == 201
    user = await make_user("new.super", "superintendent", district_ids=["1001"], cleared=False)
    token = bearer(await password_token(world.client, "new.super"))

    for path in (f"{STUDENTS}/{a}", STUDENTS, f"{STUDENTS}/{a}/history", "/records/v1/changes?min_change_version=0"):
        response = await world.client.get(path, headers=token)
        assert _refused(response), (path, response.text)
        assert "Lopez" not in response.text
    # An unknown student answers the same: the refusal says nothing about who exists.
    assert _refused(await world.client.get(f"{STUDENTS}/0000000000", headers=token))
    # The district's own SIS (a machine client) is not gated.
    assert (await world.client.get(f"{STUDENTS}/{a}", headers=world.sis)).status_code == 200

    await _record_clearance(world, user.id)
    assert _refused(await world.client.get(f"{STUDENTS}/{a}", headers=token))  # from the next token on
    fresh = bearer(await password_token(world.client, "new.super"))
    record = await world.client.get(f"{STUDENTS}/{a}", headers=fresh)
    assert record.status_code == 200 and record.json()["demographics"]["last_name"] == "Lopez"
    listed = (await world.client.get(STUDENTS, headers=fresh)).json()
    assert [r["state_student_id"] for r in listed["items"]] == [a]


async def test_an_expired_training_or_a_missing_nda_gates_again(world: World, make_user) -> None:
    a = world.students[0]
    assert (await world.submit(basic_record(a))).status_code == 201
    lapsed = await make_user("lapsed", "superintendent", district_ids=["1001"], cleared=False)
    await _record_clearance(world, lapsed.id, completed_on=TODAY - timedelta(days=366))
    assert _refused(await world.client.get(f"{STUDENTS}/{a}", headers=bearer(await password_token(world.client, "lapsed"))))

    trained_only = await make_user("trained.only", "superintendent", district_ids=["1001"], cleared=False)
    done = await world.client.post(f"/identity/v1/users/{trained_only.id}/training-completions", headers=world.steward,
                                   json={"course_version": "2026", "completed_on": TODAY.isoformat()})
    assert done.status_code == 201
    token = bearer(await password_token(world.client, "trained.only"))
    assert _refused(await world.client.get(f"{STUDENTS}/{a}", headers=token))


async def test_families_need_no_clearance(world: World, make_user) -> None:
    a = world.students[0]
    assert (await world.submit(basic_record(a))).status_code == 201
    await make_user("mum", "parent", student_ids=[a], cleared=False)
    parent = bearer(await password_token(world.client, "mum"))
    response = await world.client.get(f"{STUDENTS}/{a}", headers=parent)
    assert response.status_code == 200 and response.json()["demographics"]["first_name"] == "Ana"
    assert (await world.client.get(f"/disclosure/v1/students/{a}/consents", headers=parent)).status_code == 200


async def test_the_locator_reviews_and_per_student_disclosure_listings_refuse_too(world: World, make_user) -> None:
    a = world.students[0]
    await make_user("new.admin", "state_data_admin", cleared=False)
    await make_user("new.registrar", "registrar", cleared=False)
    admin = bearer(await password_token(world.client, "new.admin"))
    registrar = bearer(await password_token(world.client, "new.registrar"))
    search = {"first_name": "Ana", "last_name": "Lopez", "birth_date": "2014-03-09"}
    for who in (admin, registrar):
        assert _refused(await world.client.post("/identity/v1/students/search", headers=who, json=search))
        assert _refused(await world.client.get(f"/identity/v1/students/{a}", headers=who))
    assert _refused(await world.client.get("/identity/v1/reviews", headers=admin))
    for path in (f"/disclosure/v1/students/{a}/consents", f"/disclosure/v1/students/{a}/disclosures",
                 f"/disclosure/v1/students/{a}/directory-opt-out"):
        assert _refused(await world.client.get(path, headers=admin)), path
    # The cleared steward gets the same answers.
    found = await world.client.post("/identity/v1/students/search", headers=world.steward, json=search)
    assert found.status_code == 200 and found.json()["results"][0]["state_student_id"] == a
    assert (await world.client.get(f"/disclosure/v1/students/{a}/consents", headers=world.steward)).status_code == 200
    # Administration is not student data: the uncleared administrator still manages accounts.
    created = await world.client.post("/identity/v1/users", headers=admin, json={
        "username": "t.one", "display_name": "T One", "password": "a long enough passphrase 9", "role": "public"})
    assert created.status_code == 201, created.text


async def test_an_uncleared_person_sees_only_the_open_records_view_of_staff(world: World, make_user) -> None:
    resolved = await world.client.post("/identity/v1/staff/resolve", headers=world.sis, json={
        "district_id": "1001", "local_staff_id": "E-8", "first_name": "Odile", "last_name": "Marchand",
        "birth_date": "1979-04-12", "sex": "F"})
    staff_id = resolved.json()["staff_state_id"]
    created = await world.client.post("/records/v1/staff", headers=world.sis, json={
        "staff_id": staff_id, "local_staff_id": "E-8",
        "demographics": {"first_name": "Odile", "last_name": "Marchand", "birth_date": "1979-04-12", "sex": "F"}})
    assert created.status_code == 201, created.text
    await make_user("new.super", "superintendent", district_ids=["1001"], cleared=False)
    await make_user("old.super", "superintendent", district_ids=["1001"])
    uncleared = (await world.client.get(f"/records/v1/staff/{staff_id}", headers=bearer(
        await password_token(world.client, "new.super")))).json()
    cleared = (await world.client.get(f"/records/v1/staff/{staff_id}", headers=bearer(
        await password_token(world.client, "old.super")))).json()
    assert uncleared["demographics"] == {"first_name": "Odile", "last_name": "Marchand"}
    assert "local_staff_id" not in uncleared
    assert cleared["demographics"]["birth_date"] == "1979-04-12" and cleared["local_staff_id"] == "E-8"


async def test_an_uncleared_person_still_gets_aggregates(client: httpx.AsyncClient, make_user,
                                                         seed_facts) -> None:  # noqa: F811
    await seed_facts()
    await make_user("new.super", "superintendent", district_ids=["1001"], cleared=False)
    token = bearer(await password_token(client, "new.super"))
    response = await client.get("/reporting/v1/aggregates", headers=token, params={
        "measure": "enrollment_count", "level": "school", "dimension": "race_ethnicity", "school_year": YEAR})
    assert response.status_code == 200, response.text
    assert {r["row"] for r in response.json()["table"]["rows"]} == {"district:1001", "school:1001-01", "school:1001-02"}
    assert _refused(await client.get(STUDENTS, headers=token))  # but no student record


@pytest.fixture
async def untracked(settings, db) -> AsyncIterator[httpx.AsyncClient]:
    """A deployment that tracks training elsewhere: require_clearance off."""
    gateway = create_gateway(settings.model_copy(update={"require_clearance": False}), database=db)
    transport = httpx.ASGITransport(app=gateway)
    async with gateway.running(), httpx.AsyncClient(transport=transport, base_url="http://slds.test") as c:
        yield c


async def test_with_the_gate_off_identity_issues_people_as_cleared(world: World, untracked: httpx.AsyncClient,
                                                                   make_user) -> None:
    a = world.students[0]
    assert (await world.submit(basic_record(a))).status_code == 201
    await make_user("new.super", "superintendent", district_ids=["1001"], cleared=False)
    token = bearer(await password_token(untracked, "new.super"))
    assert (await untracked.get(f"{STUDENTS}/{a}", headers=token)).status_code == 200
    # The same person through a deployment that requires it: refused.
    assert _refused(await world.client.get(f"{STUDENTS}/{a}", headers=bearer(
        await password_token(world.client, "new.super"))))


@pytest.fixture
async def versioned(settings, db) -> AsyncIterator[httpx.AsyncClient]:
    gateway = create_gateway(settings.model_copy(update={"nda_required_version": "2027-1"}), database=db)
    transport = httpx.ASGITransport(app=gateway)
    async with gateway.running(), httpx.AsyncClient(transport=transport, base_url="http://slds.test") as c:
        yield c


async def test_a_required_nda_version_makes_older_signatures_not_count(world: World, versioned: httpx.AsyncClient,
                                                                       make_user) -> None:
    a = world.students[0]
    assert (await world.submit(basic_record(a))).status_code == 201
    user = await make_user("new.super", "superintendent", district_ids=["1001"], cleared=False)
    await _record_clearance(world, user.id)  # signs version 2026-1
    steward = bearer(await password_token(versioned, "steward"))
    standing = (await versioned.get(f"/identity/v1/users/{user.id}/clearance", headers=steward)).json()
    assert standing["missing"] == ["nda"] and standing["cleared"] is False
    assert _refused(await versioned.get(f"{STUDENTS}/{a}", headers=bearer(await password_token(versioned, "new.super"))))
    signed = await versioned.post(f"/identity/v1/users/{user.id}/nda-signatures", headers=steward,
                                  json={"agreement_version": "2027-1", "signed_on": TODAY.isoformat()})
    assert signed.status_code == 201 and signed.json()["clearance"]["cleared"] is True
    token = bearer(await password_token(versioned, "new.super"))
    assert (await versioned.get(f"{STUDENTS}/{a}", headers=token)).status_code == 200


# --- the policy library itself --------------------------------------------------------------------

FACTS = StudentFacts(state_student_id="4820175936", district_ids=frozenset({"1001"}),
                     school_ids=frozenset({"1001-01"}), as_of=TODAY)


def _principal(role: str, kind: str = "user", cleared_until: date | None = None, **scope) -> Principal:
    return Principal(subject=f"{kind}:x", kind=kind, role=role, cleared_until=cleared_until,  # type: ignore[arg-type]
                     district_ids=frozenset({"1001"}), school_ids=frozenset({"1001-01"}), **scope)


@pytest.mark.parametrize("role", ["state_data_admin", "superintendent", "principal", "registrar",
                                  "state_reporting_analyst", "special_education_admin"])
@pytest.mark.parametrize("cleared_until", [None, TODAY - timedelta(days=1)])
def test_staff_roles_without_current_clearance_reach_nobody(role: str, cleared_until: date | None) -> None:
    uncleared = _principal(role, cleared_until=cleared_until)
    assert lacks_clearance(uncleared, today=TODAY)
    assert visible_fields(uncleared, FACTS, today=TODAY) == frozenset()
    assert row_scope(uncleared, today=TODAY).kind == "none"
    cleared = _principal(role, cleared_until=TODAY)  # the last cleared day still counts
    assert not lacks_clearance(cleared, today=TODAY)
    assert row_scope(cleared, today=TODAY).kind != "none"
    assert aggregate_scope(uncleared, today=TODAY) == row_scope(cleared, today=TODAY)  # counts: aggregates only
    # Of staff records, the open-records view the public has.
    assert visible_staff_fields(uncleared, today=TODAY) == visible_staff_fields(_principal("public"), today=TODAY)


@pytest.mark.parametrize(("role", "kind"), [("parent", "user"), ("eligible_student", "user"),
                                            ("district_sis", "client"), ("service", "client"),
                                            ("central_office", "user"), ("researcher", "user")])
def test_families_clients_and_roles_without_staff_reach_need_no_clearance(role: str, kind: str) -> None:
    principal = _principal(role, kind, student_ids=frozenset({"4820175936"}))
    assert not lacks_clearance(principal, today=TODAY)
    if role in ("parent", "district_sis"):
        assert visible_fields(principal, FACTS, today=TODAY)


def test_a_malformed_clearance_value_fails_closed() -> None:
    bad = _principal("superintendent", cleared_until="9999-12-31")  # type: ignore[arg-type]
    assert visible_fields(bad, FACTS, today=TODAY) == frozenset()
    assert row_scope(bad, today=TODAY).kind == "none"
