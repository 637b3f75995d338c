"""Public records requests under the Missouri Sunshine Law (RSMo 610.023), over real HTTP with real
tokens: acted on by the end of the third business day after receipt (weekends, the packaged
holidays and configured ones skipped), the overdue list, a denial refused without its written
explanation, a delay refused without its explanation and date, and each district's custodian
seeing only its own requests. Explicit dates throughout: no test waits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.gateway import create_gateway
from tests.helpers import bearer, password_token
from tests.services.disclosure.conftest import V1, World, fields_named

PATH = f"{V1}/public-records-requests"
NAME, CONTACT = "Pat Reporter (ZQX-name)", "pat@newspaper.example (ZQX-contact)"


def _today() -> date:
    return datetime.now(UTC).date()


def body(**over: Any) -> dict[str, Any]:
    return {"requester_name": NAME, "requester_contact": CONTACT,
            "description": "Enrollment counts by building for 2025-2026", "requested_format": "CSV", **over}


async def _record(client: httpx.AsyncClient, headers: dict[str, str], **over: Any) -> dict[str, Any]:
    response = await client.post(PATH, headers=headers, json=body(**over))
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()


async def _ids(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[str]:
    response = await client.get(PATH, headers=headers, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return [item["id"] for item in response.json()["items"]]


async def test_the_third_business_day_skips_weekends_and_holidays(world: World) -> None:
    friday = await _record(world.client, world.steward, received_on="2026-11-20")
    assert friday["due_on"] == "2026-11-25"  # Mon 23, Tue 24, Wed 25
    assert friday["district_id"] is None and friday["status"] == "received" and friday["recorder_role"] == "state_data_admin"
    thanksgiving_eve = await _record(world.client, world.steward, received_on="2026-11-25")
    assert thanksgiving_eve["due_on"] == "2026-12-01"  # Thu 26 is Thanksgiving: Fri 27, Mon 30, Tue 1
    saturday = await _record(world.client, world.steward, received_on="2026-11-14")
    assert saturday["due_on"] == "2026-11-18"  # counted from Sunday: Mon 16, Tue 17, Wed 18
    today = await _record(world.client, world.steward)
    assert today["received_on"] == _today().isoformat()


@pytest.fixture
async def snow_day(settings, db) -> AsyncIterator[httpx.AsyncClient]:
    """The services with a deployment's own holiday (SLDS_EXTRA_HOLIDAYS=2026-11-24)."""
    gateway = create_gateway(settings.model_copy(update={"extra_holidays": [date(2026, 11, 24)]}), database=db)
    async with gateway.running(), httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway),
                                                    base_url="http://slds.test") as c:
        yield c


async def test_a_configured_holiday_moves_the_due_date(make_user, snow_day: httpx.AsyncClient) -> None:
    await make_user("custodian", "state_data_admin")
    custodian = bearer(await password_token(snow_day, "custodian"))
    request = await _record(snow_day, custodian, received_on="2026-11-20")
    assert request["due_on"] == "2026-11-27"  # Mon 23, (Tue 24 closed), Wed 25, (Thu 26), Fri 27


async def test_the_overdue_list_and_acting_on_a_request(world: World) -> None:
    request = await _record(world.client, world.steward, received_on="2026-11-20")
    rid = request["id"]
    assert await _ids(world.client, world.steward, overdue="true", as_of="2026-11-25") == []
    assert await _ids(world.client, world.steward, state="open", as_of="2026-11-25") == [rid]
    late = await world.client.get(PATH, headers=world.steward, params={"overdue": "true", "as_of": "2026-11-27"})
    (item,) = late.json()["items"]
    assert item["id"] == rid and item["state"] == "overdue" and item["days_overdue"] == 2
    assert item["requester_name"] == NAME and item["requester_contact"] == CONTACT
    assert rid in await _ids(world.client, world.steward, overdue="true")  # today is past 25 November

    act = f"{PATH}/{rid}/actions"
    # A denial is explained in writing, citing the provision of law; both named when missing.
    bare = await world.client.post(act, headers=world.steward, json={"action": "denied"})
    assert bare.status_code == 422 and bare.headers["content-type"] == "application/problem+json"
    assert fields_named(bare) == {"explanation", "exemption"}
    no_words = await world.client.post(act, headers=world.steward, json={
        "action": "denied", "exemption": "RSMo 610.021(14); FERPA, 20 U.S.C. 1232g"})
    assert no_words.status_code == 422 and fields_named(no_words) == {"explanation"}
    # A delay gives its cause, the place and the earliest date and time.
    half = await world.client.post(act, headers=world.steward, json={"action": "delayed", "explanation": "Compiling"})
    assert half.status_code == 422 and fields_named(half) == {"available_at", "place"}
    naive = await world.client.post(act, headers=world.steward, json={
        "action": "delayed", "explanation": "Compiling", "place": "DESE, Jefferson City",
        "available_at": "2026-12-20T09:00:00"})
    assert naive.status_code == 422 and fields_named(naive) == {"available_at"}
    promised = (_today() + timedelta(days=7)).isoformat()
    delayed = await world.client.post(act, headers=world.steward, json={
        "action": "delayed", "explanation": "The counts are compiled from 512 buildings' reports.",
        "place": "DESE, 205 Jefferson Street, Jefferson City", "available_at": f"{promised}T09:00:00-06:00",
        "acted_on": "2026-11-24"})
    assert delayed.status_code == 200, delayed.text
    out = delayed.json()
    assert out["status"] == "delayed" and out["state"] == "delayed" and out["acted_on_time"] is True
    assert out["state_due_on"] == promised and out["due_on"] == "2026-11-25"
    assert rid not in await _ids(world.client, world.steward, overdue="true")
    after = (_today() + timedelta(days=8)).isoformat()
    assert rid in await _ids(world.client, world.steward, overdue="true", as_of=after)  # the promise lapsed

    fulfilled = await world.client.post(act, headers=world.steward, json={
        "action": "fulfilled", "explanation": "CSV sent by email; student counts under 10 suppressed.",
        "exemption": "FERPA, 20 U.S.C. 1232g"})
    assert fulfilled.status_code == 200 and fulfilled.json()["state"] == "fulfilled"
    assert fulfilled.json()["closed_on"] == _today().isoformat() and fulfilled.json()["first_acted_on"] == "2026-11-24"
    again = await world.client.post(act, headers=world.steward, json={"action": "denied", "explanation": "x",
                                                                      "exemption": "y"})
    assert again.status_code == 409
    assert rid not in await _ids(world.client, world.steward, overdue="true", as_of=after)
    assert await _ids(world.client, world.steward, state="fulfilled") == [rid]


async def test_a_late_denial_is_recorded_as_late(world: World) -> None:
    rid = (await _record(world.client, world.steward, received_on="2026-11-20"))["id"]
    denied = await world.client.post(f"{PATH}/{rid}/actions", headers=world.steward, json={
        "action": "denied", "explanation": "The records asked for are education records of named students.",
        "exemption": "RSMo 610.021(14); FERPA, 20 U.S.C. 1232g", "acted_on": "2026-11-30"})
    assert denied.status_code == 200, denied.text
    assert denied.json()["state"] == "denied" and denied.json()["acted_on_time"] is False
    one = await world.client.get(f"{PATH}/{rid}", headers=world.steward)
    assert one.status_code == 200 and one.headers["cache-control"] == "no-store"
    assert one.json()["explanation"].startswith("The records asked for")


async def test_a_district_custodian_sees_only_its_own_requests(world: World, make_user) -> None:
    await make_user("super.1001", "superintendent", district_ids=["1001"])
    await make_user("super.1002", "superintendent", district_ids=["1002"])
    await make_user("teach", "teacher", district_ids=["1001"], school_ids=["1001-01"], staff_id="S100000011")
    mine = bearer(await password_token(world.client, "super.1001"))
    theirs = bearer(await password_token(world.client, "super.1002"))
    teacher = bearer(await password_token(world.client, "teach"))

    rid = (await _record(world.client, mine, received_on="2026-11-20"))["id"]
    state_rid = (await _record(world.client, world.steward, received_on="2026-11-20"))["id"]
    assert await _ids(world.client, mine) == [rid]
    assert await _ids(world.client, theirs) == []
    assert sorted(await _ids(world.client, world.steward)) == sorted([rid, state_rid])
    assert await _ids(world.client, world.steward, district_id="1001") == [rid]
    assert (await world.client.get(f"{PATH}/{rid}", headers=theirs)).status_code == 404
    assert (await world.client.get(f"{PATH}/{state_rid}", headers=mine)).status_code == 404
    assert (await world.client.post(f"{PATH}/{rid}/actions", headers=theirs,
                                    json={"action": "fulfilled"})).status_code == 404
    elsewhere = await world.client.post(PATH, headers=mine, json=body(district_id="1002"))
    assert elsewhere.status_code == 422 and fields_named(elsewhere) == {"district_id"}

    for headers in (teacher, world.parent, world.researcher):
        assert (await world.client.post(PATH, headers=headers, json=body())).status_code == 403
        assert (await world.client.get(PATH, headers=headers)).status_code == 403
        assert (await world.client.get(f"{PATH}/{rid}", headers=headers)).status_code == 404
    assert (await world.client.get(PATH)).status_code == 401
    assert (await world.client.get(f"{PATH}/{rid}")).status_code == 401


async def test_bad_input_names_the_field(world: World) -> None:
    future = await world.client.post(PATH, headers=world.steward,
                                     json=body(received_on=(_today() + timedelta(days=1)).isoformat()))
    assert future.status_code == 422 and fields_named(future) == {"received_on"}
    unknown = await world.client.post(PATH, headers=world.steward, json=body(due_on="2026-12-31"))
    assert unknown.status_code == 422 and fields_named(unknown) == {"body.due_on"}
    missing = await world.client.post(PATH, headers=world.steward, json={"requester_name": NAME})
    assert missing.status_code == 422
    assert fields_named(missing) == {"body.requester_contact", "body.description"}
    assert NAME not in missing.text
    epoch = await world.client.post(PATH, headers=world.steward, json=body(received_on=0))
    assert epoch.status_code == 422 and fields_named(epoch) == {"body.received_on"}
    rid = (await _record(world.client, world.steward, received_on="2026-11-20"))["id"]
    before = await world.client.post(f"{PATH}/{rid}/actions", headers=world.steward,
                                     json={"action": "fulfilled", "acted_on": "2026-11-19"})
    assert before.status_code == 422 and fields_named(before) == {"acted_on"}
    stray = await world.client.post(f"{PATH}/{rid}/actions", headers=world.steward,
                                    json={"action": "fulfilled", "place": "Jefferson City"})
    assert stray.status_code == 422 and fields_named(stray) == {"place"}
    far = await world.client.get(PATH, headers=world.steward, params={"as_of": "0001-01-01"})
    assert far.status_code == 422 and fields_named(far) == {"as_of"}
    assert (await world.client.get(f"{PATH}/no-such-request", headers=world.steward)).status_code == 404
