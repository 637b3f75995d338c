"""The organisation directory over real HTTP with real tokens: public reads without a token,
writes by the state and by a district for its own entries only, ETags, versions with `as_of`,
bad entries refused naming each field (never an SSN, never the value), and the district/school
hierarchy checked on record submissions."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.identity.service import AccountService
from services.records.organisations import district_of
from shared.settings import Settings
from tests.helpers import TEST_PASSWORD, bearer, committed_gateway, password_token
from tests.services.records.conftest import STUDENTS, World, basic_record, enrollment

ORGS = "/records/v1/organisations"
SSN = "123-45-6789"


def state_entry(**over: Any) -> dict[str, Any]:
    return {"kind": "state", "name": "Show-Me State Department of Education", "type": "state_education_agency",
            "address": {"street": "205 Jefferson St", "city": "Jefferson City", "state": "MO", "postal_code": "65101"},
            "website": "https://dese.state.example", **over}


def district_entry(name: str = "Anthonyshire County Schools", **over: Any) -> dict[str, Any]:
    return {"kind": "district", "parent_code": "ST", "name": name, "type": "public_district",
            "lowest_grade": "PK", "highest_grade": "12", "phone": "(573) 555-0100",
            "administrators": [{"title": "Superintendent", "name": "Robin Hale", "staff_id": "S100000033",
                                "email": "rhale@anthonyshire.k12.example", "phone": "573-555-0101"}], **over}


def school_entry(district: str = "1001", name: str = "Love Elementary School", **over: Any) -> dict[str, Any]:
    return {"kind": "school", "parent_code": district, "name": name, "type": "elementary",
            "lowest_grade": "KG", "highest_grade": "05", "status": "open", "opened_on": "1998-08-17",
            "address": {"street": "5767 Frank Rd", "city": "Anthonyshire", "state": "MO", "postal_code": "93951"},
            "administrators": [{"title": "Principal", "name": "Dana Reyes", "staff_id": "S100000011"}],
            "contacts": [{"title": "MOSIS data contact", "name": "Lee Park", "email": "lpark@anthonyshire.k12.example"}],
            **over}


async def put(client: httpx.AsyncClient, code: str, body: dict[str, Any], headers: dict[str, str],
              etag: str | None = None) -> httpx.Response:
    extra = {"If-Match": etag} if etag else {}
    return await client.put(f"{ORGS}/{code}", json=body, headers={**headers, **extra})


async def build(client: httpx.AsyncClient, steward: dict[str, str]) -> None:
    """The state, two districts and a school in each (the codes the records data use)."""
    for code, body in (("ST", state_entry()), ("1001", district_entry()),
                       ("1002", district_entry("Smallberg School District")),
                       ("1001-01", school_entry()), ("1002-01", school_entry("1002", "Sunset Elementary School"))):
        response = await put(client, code, body, steward)
        assert response.status_code == 201, response.text


async def token(client: httpx.AsyncClient, make_user, username: str, role: str, **scope: Any) -> dict[str, str]:
    await make_user(username, role, **scope)
    return bearer(await password_token(client, username))


async def test_the_state_builds_the_directory_and_anyone_reads_it_without_a_token(world: World) -> None:
    client = world.client
    created = await put(client, "ST", state_entry(), world.steward)
    assert created.status_code == 201, created.text
    assert created.headers["ETag"] == 'W/"1"' and created.headers["Location"] == f"{ORGS}/ST"
    await build_rest(client, world.steward)

    school = await client.get(f"{ORGS}/1001-01")  # no Authorization header at all
    assert school.status_code == 200, school.text
    assert school.headers["Cache-Control"] == "public, max-age=60" and school.headers["ETag"] == 'W/"1"'
    body = school.json()
    assert body["code"] == "1001-01" and body["parent_code"] == "1001" and body["kind"] == "school"
    assert (body["lowest_grade"], body["highest_grade"]) == ("KG", "05")
    assert body["administrators"][0] == {"title": "Principal", "name": "Dana Reyes", "staff_id": "S100000011",
                                         "email": None, "phone": None}
    assert body["address"]["postal_code"] == "93951" and body["status"] == "open"

    schools = (await client.get(ORGS, params={"kind": "school"})).json()
    assert [o["code"] for o in schools["items"]] == ["1001-01", "1002-01"]
    in_1002 = (await client.get(ORGS, params={"parent_code": "1002"})).json()["items"]
    assert [o["code"] for o in in_1002] == ["1002-01"]
    by_name = (await client.get(ORGS, params={"name_prefix": "sMALLberg"})).json()["items"]
    assert [o["code"] for o in by_name] == ["1002"]
    assert (await client.get(ORGS, params={"name_prefix": "%"})).json()["items"] == []  # a literal, not a wildcard
    children = await client.get(f"{ORGS}/ST/children")
    assert children.status_code == 200 and [o["code"] for o in children.json()["items"]] == ["1001", "1002"]
    first = (await client.get(ORGS, params={"limit": 2})).json()
    assert [o["code"] for o in first["items"]] == ["1001", "1001-01"] and first["next_offset"] == 2
    rest = (await client.get(ORGS, params={"limit": 2, "offset": 2})).json()
    assert [o["code"] for o in rest["items"]] == ["1002", "1002-01"]
    assert (await client.get(ORGS, params={"limit": 501})).status_code == 422  # capped like every list

    assert (await client.get(f"{ORGS}/9999")).status_code == 404
    assert (await client.get(f"{ORGS}/9999/children")).status_code == 404
    assert (await client.get(f"{ORGS}/9999/history")).status_code == 404

    # Directory reads are not student-record reads: nothing of them in the records access log.
    log = await client.get("/records/v1/access-log", headers=world.steward, params={"limit": 1000})
    assert log.status_code == 200
    assert not [e for e in log.json()["entries"] if "organisation" in e["action"] or "1001-01" in str(e["payload"])]


async def build_rest(client: httpx.AsyncClient, steward: dict[str, str]) -> None:
    for code, body in (("1001", district_entry()), ("1002", district_entry("Smallberg School District")),
                       ("1001-01", school_entry()), ("1002-01", school_entry("1002", "Sunset Elementary School"))):
        response = await put(client, code, body, steward)
        assert response.status_code == 201, response.text


async def test_updates_need_the_current_etag_and_every_change_is_a_version(world: World) -> None:
    client = world.client
    await build(client, world.steward)
    before_rename = datetime.now(UTC)
    await asyncio.sleep(0.01)
    renamed = school_entry(name="Love Elementary")

    missing = await put(client, "1001-01", renamed, world.steward)
    assert missing.status_code == 428 and missing.json()["errors"][0]["field"] == "If-Match"
    assert missing.headers["content-type"] == "application/problem+json"
    stale = await put(client, "1001-01", renamed, world.steward, etag='W/"7"')
    assert stale.status_code == 412 and stale.json()["errors"][0]["field"] == "If-Match"
    assert (await put(client, "1001-01", renamed, world.steward, etag="*")).status_code == 422
    assert (await client.get(f"{ORGS}/1001-01")).json()["name"] == "Love Elementary School"  # nothing stored

    updated = await put(client, "1001-01", renamed, world.sis, etag='W/"1"')  # the district's own SIS
    assert updated.status_code == 200, updated.text
    assert updated.headers["ETag"] == 'W/"2"' and updated.json()["name"] == "Love Elementary"
    again = await put(client, "1001-01", renamed, world.steward, etag='W/"2"')
    assert again.status_code == 200 and again.headers["ETag"] == 'W/"2"'  # identical: no new version
    # A create with If-Match matches nothing.
    assert (await put(client, "1001-09", school_entry(), world.steward, etag='W/"1"')).status_code == 412

    history = await client.get(f"{ORGS}/1001-01/history")
    assert history.status_code == 200 and history.headers["Cache-Control"] == "public, max-age=60"
    versions = history.json()["versions"]
    assert [(v["version"], v["operation"]) for v in versions] == [(2, "update"), (1, "create")]
    assert versions[0]["changed"] == ["name"] and versions[0]["recorded_role"] == "district_sis"
    assert versions[0]["recorded_by"].startswith("client:") and versions[1]["recorded_role"] == "state_data_admin"
    assert versions[1]["entry"]["name"] == "Love Elementary School"
    assert "administrators" in versions[1]["changed"] and "website" not in versions[1]["changed"]

    then = await client.get(f"{ORGS}/1001-01", params={"as_of": before_rename.isoformat()})
    assert then.status_code == 200 and then.json()["name"] == "Love Elementary School" and then.json()["version"] == 1
    today = await client.get(f"{ORGS}/1001-01", params={"as_of": datetime.now(UTC).date().isoformat()})
    assert today.json()["name"] == "Love Elementary"  # a date alone: as the entry stood at that day's end
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    assert (await client.get(f"{ORGS}/1001-01", params={"as_of": yesterday})).status_code == 404
    bad = await client.get(f"{ORGS}/1001-01", params={"as_of": "1700000000"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.as_of"


async def test_a_district_writes_its_own_entry_and_schools_only(world: World, make_user) -> None:
    client = world.client
    await build(client, world.steward)
    superintendent = await token(client, make_user, "super.1001", "superintendent", district_ids=["1001"])
    teacher = await token(client, make_user, "teacher.1001", "teacher", district_ids=["1001"],
                          school_ids=["1001-01"], staff_id="S100000011")

    own = await put(client, "1001", district_entry(phone="573-555-0199"), superintendent, etag='W/"1"')
    assert own.status_code == 200 and own.json()["phone"] == "573-555-0199"
    new_school = await put(client, "1001-04", school_entry(name="Anthonyshire Career Center", type="career_technical",
                                                           lowest_grade="11", highest_grade="12"), superintendent)
    assert new_school.status_code == 201, new_school.text

    refusals = [
        (put(client, "1002", district_entry("Smallberg School District"), superintendent, etag='W/"1"'), "code"),
        (put(client, "1002-01", school_entry("1002", "Sunset"), superintendent, etag='W/"1"'), "parent_code"),
        (put(client, "1002-05", school_entry("1002", "New"), superintendent), "parent_code"),
        (put(client, "1001-01", school_entry("1002"), superintendent, etag='W/"1"'), "parent_code"),  # a move
        (put(client, "1001-04", school_entry("1002"), world.sis, etag='W/"1"'), "parent_code"),
        (put(client, "1003", district_entry("Newtown R-I"), superintendent), "code"),  # the state creates districts
        (put(client, "ST", state_entry(name="Renamed"), superintendent, etag='W/"1"'), "kind"),
        (put(client, "1001-01", school_entry(name="Renamed"), world.other_sis, etag='W/"1"'), "parent_code"),
    ]
    for call, field in refusals:
        response = await call
        assert response.status_code == 403, response.text
        assert response.json()["errors"][0]["field"] == field
    assert (await put(client, "1001-01", school_entry(), teacher, etag='W/"1"')).status_code == 403
    assert (await client.put(f"{ORGS}/1001-01", json=school_entry(), headers={"If-Match": 'W/"1"'})).status_code == 401
    assert (await client.get(f"{ORGS}/1002-05")).status_code == 404
    assert (await client.get(f"{ORGS}/1001-01")).json()["parent_code"] == "1001"

    # The state moves a school between districts; the history says what changed.
    moved = await put(client, "1001-04", school_entry("1002", name="Anthonyshire Career Center", type="career_technical",
                                                      lowest_grade="11", highest_grade="12"), world.steward, etag='W/"1"')
    assert moved.status_code == 200 and moved.json()["parent_code"] == "1002"
    assert (await client.get(f"{ORGS}/1001-04/history")).json()["versions"][0]["changed"] == ["parent_code"]
    assert (await put(client, "1001-04", school_entry("1002"), world.other_sis, etag='W/"2"')).status_code == 200


async def test_bad_entries_are_refused_naming_each_field_and_never_take_an_ssn(world: World) -> None:
    client = world.client
    await build(client, world.steward)

    def fields(response: httpx.Response) -> set[str]:
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert SSN not in response.text and "123456789" not in response.text
        return {e["field"] for e in response.json()["errors"]}

    with_ssn = school_entry(administrators=[{"title": "Principal", "name": "Dana Reyes", "ssn": SSN}])
    assert fields(await put(client, "1001-02", with_ssn, world.steward)) == {"body.administrators[0].ssn"}
    ssn_as_staff_id = school_entry(administrators=[{"title": "Principal", "name": "Dana Reyes", "staff_id": "123456789"}])
    assert fields(await put(client, "1001-02", ssn_as_staff_id, world.steward)) == {"body.administrators[0].staff_id"}
    typo = school_entry(contacts=[{"title": "Data", "name": "Lee Park", "staff_id": "S100000012"}])  # check digit
    assert fields(await put(client, "1001-02", typo, world.steward)) == {"body.contacts[0].staff_id"}
    assert fields(await put(client, "1001-02", school_entry(phone=SSN), world.steward)) == {"body.phone"}
    assert fields(await put(client, "1001-02", {**school_entry(), "ssn": "123456789"}, world.steward)) == {"body.ssn"}
    assert fields(await put(client, "1001-02", school_entry(lowest_grade="13"), world.steward)) == {"body.lowest_grade"}

    everything = school_entry(type="charter_district", lowest_grade="09", highest_grade="05", status="closed")
    assert fields(await put(client, "1001-02", everything, world.steward)) == {"type", "highest_grade", "closed_on"}
    assert fields(await put(client, "1001-02", school_entry("1001-01"), world.steward)) == {"parent_code"}
    assert fields(await put(client, "1001-02", school_entry("4040"), world.steward)) == {"parent_code"}
    assert fields(await put(client, "1001-02", school_entry(parent_code=None), world.steward)) == {"parent_code"}
    assert fields(await put(client, "1001-02", school_entry(highest_grade=None), world.steward)) == {"highest_grade"}
    assert fields(await put(client, "XX", state_entry(parent_code="ST"), world.steward)) == {"parent_code"}
    assert fields(await put(client, "1001-01", district_entry(), world.steward, etag='W/"1"')) == {"kind"}
    assert (await client.put(f"{ORGS}/bad code!", json=school_entry(), headers=world.steward)).status_code == 422
    # Control characters are a 422 naming the field; a NUL byte, never a database error (PostgreSQL text).
    control = school_entry(name="Love\x01Elementary", address={**school_entry()["address"], "city": "A\nB"},
                           contacts=[{"title": "Data", "name": "Lee", "email": "a\x7f@b.example"}])
    assert fields(await put(client, "1001-02", control, world.steward)) == {
        "body.name", "body.address.city", "body.contacts[0].email"}
    assert (await put(client, "1001-02", school_entry(name="Love\x00"), world.steward)).status_code == 422
    assert (await client.get(ORGS, params={"name_prefix": "Love\x00"})).status_code == 422
    assert (await client.get(ORGS, params={"name_prefix": "Love\n"})).status_code == 422
    assert (await client.get(f"{ORGS}/1001-02")).status_code == 404  # nothing stored

    ungraded = await put(client, "1001-02", school_entry(type="alternative", lowest_grade="UG", highest_grade="UG"),
                         world.steward)
    assert ungraded.status_code == 201, ungraded.text


async def test_closing_follows_the_hierarchy(world: World) -> None:
    client = world.client
    await build(client, world.steward)
    closing = district_entry("Smallberg School District", status="closed", closed_on="2026-06-30")
    refused = await put(client, "1002", closing, world.steward, etag='W/"1"')
    assert refused.status_code == 409 and refused.json()["errors"][0]["field"] == "status"

    school = await put(client, "1002-01", school_entry("1002", "Sunset Elementary School", status="closed",
                                                       closed_on="2026-06-30"), world.other_sis, etag='W/"1"')
    assert school.status_code == 200, school.text
    assert (await put(client, "1002", closing, world.steward, etag='W/"1"')).status_code == 200
    open_under_closed = await put(client, "1002-02", school_entry("1002", "Meadowbrook"), world.steward)
    assert open_under_closed.status_code == 422 and open_under_closed.json()["errors"][0]["field"] == "parent_code"
    assert [o["code"] for o in (await client.get(ORGS, params={"status": "closed"})).json()["items"]] == ["1002", "1002-01"]
    reopen_past = await put(client, "1002-01", school_entry("1002", "Sunset", closed_on="2026-01-01"), world.steward,
                            etag='W/"2"')
    assert reopen_past.status_code == 422
    assert {e["field"] for e in reopen_past.json()["errors"]} == {"closed_on", "parent_code"}


async def test_an_enrolment_must_name_the_district_the_directory_puts_its_school_in(world: World, db) -> None:
    client = world.client
    sid, other, third = world.students
    # Before the directory knows the schools, any school is accepted (the directory may lag).
    assert (await world.submit(basic_record(third, enrollment=[enrollment(school="1002-01")]))).status_code == 201
    await build(client, world.steward)

    wrong = await world.submit(basic_record(sid, enrollment=[enrollment(school="1002-01")]))
    assert wrong.status_code == 422, wrong.text
    assert wrong.json()["errors"] == [{"field": "enrollment[0].school_id", "code": "school-not-in-district",
                                       "message": "Is a school of another district in the organisation directory."}]
    assert (await client.get(f"{STUDENTS}/{sid}", headers=world.steward)).status_code == 404  # nothing stored
    not_a_school = await world.submit(basic_record(sid, enrollment=[enrollment(school="1002")]))
    assert not_a_school.status_code == 422 and not_a_school.json()["errors"][0]["code"] == "not-a-school"
    # The state's own writes are held to the same hierarchy.
    by_state = await world.submit(basic_record(sid, enrollment=[enrollment(school="1002-01")]), headers=world.steward)
    assert by_state.status_code == 422

    assert (await world.submit(basic_record(sid))).status_code == 201  # 1001-01 is 1001's
    unknown = await world.submit(basic_record(other, enrollment=[enrollment(school="1001-77")]))
    assert unknown.status_code == 201, unknown.text

    bulk = await client.post(f"{STUDENTS}/bulk", headers=world.sis, json=[
        basic_record(sid, enrollment=[enrollment(), enrollment(school="1002-01", entry="2026-01-05")]),
        basic_record(other, programs={"title_i": True})])
    assert bulk.status_code == 200, bulk.text
    rows = bulk.json()["results"]
    assert rows[0]["status"] == "rejected" and rows[0]["errors"][0]["field"] == "enrollment[1].school_id"
    assert rows[1]["status"] == "updated"

    async with db.sessionmaker() as session:
        assert await district_of(session, "1001-01") == "1001"
        assert await district_of(session, "1001-77") is None
        assert await district_of(session, "1001") is None


async def test_the_demo_directory_matches_the_demo_records(world: World) -> None:
    """`slds demo` loads the directory first, so its records pass the hierarchy check."""
    from bench.synth import SynthConfig, generate_state
    from services.demo import DEMO_SEED, DEMO_STUDENTS
    from services.demo_records import directory_entries

    synthetic = generate_state(SynthConfig(students=DEMO_STUDENTS, seed=DEMO_SEED))
    entries = directory_entries(synthetic.districts, synthetic.schools)
    for code, body in entries:
        response = await put(world.client, code, body, world.steward)
        assert response.status_code == 201, (code, response.text)
    schools = (await world.client.get(ORGS, params={"kind": "school", "limit": 500})).json()["items"]
    assert {s["code"]: s["parent_code"] for s in schools} == {s["school_id"]: s["district_id"] for s in synthetic.schools}
    assert all(s["lowest_grade"] and s["highest_grade"] and s["address"] for s in schools)
    assert date.fromisoformat(schools[0]["opened_on"]) < datetime.now(UTC).date()


PG_URL = os.environ.get("SLDS_TEST_DATABASE_URL", "")


@pytest.mark.skipif(not PG_URL.startswith("postgresql"), reason="concurrency is proven on PostgreSQL (CI runs it)")
async def test_concurrent_writers_of_one_entry_see_one_win(settings: Settings) -> None:
    async with committed_gateway(settings, PG_URL, "orgdir_concurrency") as (gateway, database):
        async with database.sessionmaker() as session:
            await AccountService(session, settings).create_user(
                username="steward", display_name="steward", password=TEST_PASSWORD, role="state_data_admin", state="ST")
            await session.commit()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://t") as client:
            steward = bearer(await password_token(client, "steward"))
            for code, body in (("ST", state_entry()), ("1001", district_entry())):
                assert (await put(client, code, body, steward)).status_code == 201

            created = await asyncio.gather(*(put(client, "1001-01", school_entry(name=f"School {i}"), steward)
                                             for i in range(10)))
            codes = sorted(r.status_code for r in created)
            assert codes.count(201) == 1 and set(codes) <= {201, 412, 428}, [r.text for r in created]

            updated = await asyncio.gather(*(put(client, "1001-01", school_entry(name=f"Renamed {i}"), steward,
                                                 etag='W/"1"') for i in range(10)))
            codes = sorted(r.status_code for r in updated)
            assert codes.count(200) == 1 and codes.count(412) == 9, [r.text for r in updated]
            winner = next(r for r in updated if r.status_code == 200).json()["name"]
            history = (await client.get(f"{ORGS}/1001-01/history")).json()["versions"]
            assert [v["version"] for v in history] == [2, 1] and history[0]["entry"]["name"] == winner
