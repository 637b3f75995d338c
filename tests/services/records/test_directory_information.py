"""Directory information (FERPA 34 CFR 99.37) end to end: an outside party with the
`directory_recipient` role gets only the directory fields of its district's students, and nothing
of a student whose parent opted out in the disclosure service, until the opt-out is withdrawn."""

from __future__ import annotations

import pytest

from tests.helpers import bearer, client_token, password_token
from tests.services.records.conftest import STUDENTS, World, basic_record

DIRECTORY_VIEW = {"demographics": {"first_name": "Ana", "last_name": "Lopez"},
                  "enrollment": [{"school_year": "2025-2026", "district_id": "1001", "school_id": "1001-01",
                                  "grade_level": "06", "entry_date": "2025-08-20"}]}


@pytest.fixture
async def yearbook(world: World, make_client_app) -> dict[str, str]:
    app = await make_client_app("Yearbook vendor", "directory_recipient", district_ids=["1001"])
    ana, bram, _ = world.students
    assert (await world.submit(basic_record(ana))).status_code == 201
    assert (await world.submit(basic_record(bram, demographics={
        "first_name": "Bram", "last_name": "Okafor", "birth_date": "2013-11-21", "sex": "M"}))).status_code == 201
    return bearer(await client_token(world.client, app.client.client_id, app.secret))


def opt_out_path(state_id: str) -> str:
    return f"/disclosure/v1/students/{state_id}/directory-opt-out"


async def test_only_directory_fields_and_never_of_an_opted_out_student(world: World, yearbook: dict[str, str],
                                                                      make_user) -> None:
    ana, bram, _ = world.students
    client = world.client
    await make_user("ana.parent", "parent", student_ids=[ana])
    parent = bearer(await password_token(client, "ana.parent"))

    read = await client.get(f"{STUDENTS}/{ana}", headers=yearbook)
    assert read.status_code == 200 and read.json() == DIRECTORY_VIEW  # no birth date, no state ID, no address

    assert (await client.get(opt_out_path(ana), headers=parent)).json()["opted_out"] is False
    opted = await client.put(opt_out_path(ana), headers=parent)
    assert opted.status_code == 200 and opted.json()["opted_out"] is True
    assert (await client.put(opt_out_path(ana), headers=parent)).json()["opted_out"] is True  # repeatable

    assert (await client.get(f"{STUDENTS}/{ana}", headers=yearbook)).status_code == 404
    assert (await client.get(f"{STUDENTS}/{ana}/history", headers=yearbook)).status_code == 404
    page = (await client.get(STUDENTS, headers=yearbook)).json()["items"]
    assert [r["demographics"]["first_name"] for r in page] == ["Bram"]
    # School staff still see the student: the opt-out binds disclosures to outside parties only.
    assert (await client.get(f"{STUDENTS}/{ana}", headers=world.sis)).status_code == 200

    withdrawn = await client.delete(opt_out_path(ana), headers=parent)
    assert withdrawn.status_code == 200 and withdrawn.json()["opted_out"] is False
    assert withdrawn.json()["withdrawn_at"] is not None
    assert (await client.get(f"{STUDENTS}/{ana}", headers=yearbook)).status_code == 200
    assert (await client.get(f"{STUDENTS}/{bram}", headers=yearbook)).status_code == 200


async def test_only_the_family_or_a_steward_decides_and_only_releasing_services_look_up(
        world: World, yearbook: dict[str, str], make_user) -> None:
    ana, bram, _ = world.students
    client = world.client
    await make_user("bram.parent", "parent", student_ids=[bram])
    other_parent = bearer(await password_token(client, "bram.parent"))
    for call in (client.get, client.put, client.delete):
        assert (await call(opt_out_path(ana), headers=other_parent)).status_code == 404  # not theirs
    assert (await client.put(opt_out_path(ana), headers=world.sis)).status_code == 404
    recorded = await client.put(opt_out_path(ana), headers=world.steward)  # a paper form, entered by the state
    assert recorded.status_code == 200 and recorded.json()["opted_out"] is True

    lookup = "/disclosure/v1/directory-opt-outs/lookup"
    assert (await client.post(lookup, headers=yearbook, json={"students": [ana]})).status_code == 403
    found = await client.post(lookup, headers=world.steward, json={"students": [ana, bram]})
    assert found.status_code == 200 and found.json() == {"opted_out": [ana]}
    bad = await client.post(lookup, headers=world.steward, json={"students": []})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


async def test_a_directory_read_fails_closed_when_opt_outs_cannot_be_checked(
        world: World, yearbook: dict[str, str], gateway) -> None:
    import httpx

    from shared.disclosure_client import DisclosureClient
    from shared.security.service_auth import ServiceToken

    class LookupDown(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("disclosure down", request=request)

    state = gateway.apps["records"].state.slds
    down = httpx.AsyncClient(base_url="http://slds.internal", transport=LookupDown())
    state.disclosure_client = DisclosureClient(down, ServiceToken(state.identity, state.settings, "records"))
    try:
        refused = await world.client.get(f"{STUDENTS}/{world.students[0]}", headers=yearbook)
    finally:
        await down.aclose()
        state.disclosure_client = None
    assert refused.status_code == 503 and "Lopez" not in refused.text
