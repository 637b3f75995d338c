"""Record transfers between districts (Missouri RSMo 167.020), over HTTP: a student leaves district
1001 for 1002; 1002 requests the records, 1001 answers. The clocks count business days (weekends,
the packaged holidays and SLDS_EXTRA_HOLIDAYS skipped), overdue requests are flagged, an answer
with records is in the FERPA 99.32 log the parent reads, a district not involved sees nothing.

"Today" is set through `transfers.today` (never a sleep). 2026 holidays of the packaged calendar
used here: Veterans Day (Wed 11 November) and Thanksgiving (Thu 26 November).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from services.records import transfers
from services.records.models import RecordsAccessLogEntry
from shared.calendar import BusinessCalendar
from shared.disclosure_client import DisclosureClient
from shared.security.service_auth import ServiceToken
from tests.helpers import DisclosureLogDown, bearer, client_token, password_token
from tests.services.records.conftest import RESOLVE, World, basic_record, enrollment

REQUESTS = "/records/v1/transfer-requests"


class Move:
    """The world after a move: Ana left 1001 and enrolled in 1002 on `entered`; 1003 is not involved."""

    def __init__(self, world: World, third: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
        self.world, self.client, self.third, self.monkeypatch = world, world.client, third, monkeypatch

    def set_today(self, day: str) -> None:
        self.monkeypatch.setattr(transfers, "today", lambda: date.fromisoformat(day))

    async def enrol(self, state_id: str, entered: str, left: str) -> None:
        """1001 records Ana's exit, then 1002 finds her state ID and records its enrolment."""
        world = self.world
        old = enrollment(exit_date=left, exit_type="transfer_in_state_public")
        assert (await world.submit(basic_record(state_id, enrollment=[old]))).status_code in (200, 201)
        found = await self.client.post(RESOLVE, headers=world.other_sis, json={
            "district_id": "1002", "local_student_id": "N-1", "first_name": "Ana", "last_name": "Lopez",
            "birth_date": "2014-03-09", "guardian_names": ["Guardian L-1"]})
        assert found.status_code == 200 and found.json()["state_student_id"] == state_id, found.text
        new = enrollment("1002", "1002-01", entered, entry_type="transfer_in_state_public")
        submitted = await world.submit({"state_student_id": state_id, "enrollment": [new]}, headers=world.other_sis)
        assert submitted.status_code in (200, 201), submitted.text

    async def request(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post(REQUESTS, headers=headers or self.world.other_sis, json=body)

    async def answer(self, request_id: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post(f"{REQUESTS}/{request_id}/answer", headers=headers or self.world.sis, json=body)

    async def listed(self, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
        response = await self.client.get(REQUESTS, headers=headers, params=params)
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        return response.json()["items"]


@pytest.fixture
async def move(world: World, make_client_app, monkeypatch: pytest.MonkeyPatch) -> Move:
    third = await make_client_app("SIS 1003", "district_sis", district_ids=["1003"])
    return Move(world, bearer(await client_token(world.client, third.client.client_id, third.secret)), monkeypatch)


def _problem_fields(response: httpx.Response) -> set[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {e["field"] for e in response.json()["errors"]}


async def test_the_clocks_skip_weekends_and_the_packaged_holidays(move: Move, world: World) -> None:
    ana = world.students[0]
    await move.enrol(ana, entered="2026-11-25", left="2026-11-20")  # enrolled the Wednesday before Thanksgiving
    move.set_today("2026-11-30")
    made = await move.request({"state_student_id": ana})
    assert made.status_code == 201, made.text
    body = made.json()
    assert made.headers["location"] == f"{REQUESTS}/{body['id']}"
    assert (body["requesting_district_id"], body["previous_district_id"]) == ("1002", "1001")  # from the history
    assert body["enrolled_on"] == "2026-11-25"  # the entry date of the current enrolment in 1002
    # Two business days after Wed 25: Thanksgiving and the weekend do not count -> Fri 27, Mon 30.
    assert body["request_due_on"] == "2026-11-30" and body["request_late"] is False
    # Five business days after Mon 30 November: Tue 1 .. Fri 4, Mon 7 December.
    assert body["requested_on"] == "2026-11-30" and body["answer_due_on"] == "2026-12-07"
    assert (body["status"], body["state"], body["business_days_overdue"]) == ("requested", "requested", 0)


async def test_a_configured_holiday_moves_both_clocks(move: Move, world: World, settings,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    ana = world.students[0]
    await move.enrol(ana, entered="2026-11-25", left="2026-11-20")
    # SLDS_EXTRA_HOLIDAYS=2026-11-27,2026-12-01: the Friday after Thanksgiving and a snow day.
    monkeypatch.setattr(settings, "extra_holidays", [date(2026, 11, 27), date(2026, 12, 1)])
    move.set_today("2026-11-30")
    body = (await move.request({"state_student_id": ana})).json()
    assert body["request_due_on"] == "2026-12-02"  # Thu 26, Fri 27 and Tue 1 off: Mon 30, Wed 2
    assert body["request_late"] is False
    assert body["answer_due_on"] == "2026-12-08"  # Tue 1 off: Wed 2, Thu 3, Fri 4, Mon 7, Tue 8


async def test_overdue_requests_are_flagged_in_business_days(move: Move, world: World) -> None:
    ana = world.students[0]
    await move.enrol(ana, entered="2026-10-29", left="2026-10-23")  # a Thursday
    move.set_today("2026-11-04")  # Wednesday: the request was due Mon 2 November
    made = (await move.request({"state_student_id": ana})).json()
    assert (made["request_due_on"], made["request_late"], made["request_business_days_late"]) == (
        "2026-11-02", True, 2)
    assert made["answer_due_on"] == "2026-11-12"  # Thu 5, Fri 6, Mon 9, Tue 10, (Wed 11 Veterans Day) Thu 12
    for day, state, overdue in (("2026-11-12", "requested", 0),   # the due date itself: on time
                                ("2026-11-13", "overdue", 1),
                                ("2026-11-15", "overdue", 1),     # a Sunday adds nothing
                                ("2026-11-17", "overdue", 3)):
        move.set_today(day)
        seen = (await move.client.get(f"{REQUESTS}/{made['id']}", headers=world.other_sis)).json()
        assert (seen["state"], seen["business_days_overdue"]) == (state, overdue), day
        flagged = await move.listed(world.sis, overdue="true")
        assert [r["id"] for r in flagged] == ([made["id"]] if state == "overdue" else []), day
        not_flagged = await move.listed(world.sis, overdue="false")
        assert [r["id"] for r in not_flagged] == ([] if state == "overdue" else [made["id"]]), day

    # The state sees every district's overdue requests; the receiving and sending views split them.
    assert [r["id"] for r in await move.listed(world.steward, overdue="true")] == [made["id"]]
    assert [r["id"] for r in await move.listed(world.sis, role="sending")] == [made["id"]]
    assert await move.listed(world.sis, role="receiving") == []
    assert [r["id"] for r in await move.listed(world.other_sis, role="receiving")] == [made["id"]]
    assert [r["id"] for r in await move.listed(world.steward, district_id="1002", role="sending")] == []

    answered = await move.answer(made["id"], {"outcome": "records_sent", "sections": ["enrollment", "assessments"]})
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert (body["state"], body["answered_on"], body["answered_late"], body["answer_business_days_late"]) == (
        "answered", "2026-11-17", True, 3)
    assert body["business_days_overdue"] == 0
    assert await move.listed(world.sis, overdue="true") == []
    assert [r["id"] for r in await move.listed(world.sis, status="answered")] == [made["id"]]


async def test_an_answer_with_records_is_in_the_disclosure_log_the_parent_reads(
        move: Move, world: World, make_user, db) -> None:
    ana = world.students[0]
    await make_user("ana.parent", "parent", student_ids=[ana])
    await move.enrol(ana, entered="2026-11-02", left="2026-10-30")
    move.set_today("2026-11-03")
    made = (await move.request({"state_student_id": ana})).json()
    move.set_today("2026-11-05")

    # The receiving district reads the request but does not answer it; bad answers name the field.
    assert (await move.answer(made["id"], {"outcome": "records_sent", "sections": ["enrollment"]},
                              headers=world.other_sis)).status_code == 403
    assert _problem_fields(await move.answer(made["id"], {"outcome": "records_sent", "sections": []})) == {"sections"}
    assert _problem_fields(await move.answer(made["id"], {"outcome": "records_sent",
                                                          "sections": ["enrollment", "salary"]})) == {"sections[1]"}
    assert _problem_fields(await move.answer(made["id"], {"outcome": "nothing_to_send"})) == {"refusal_reason"}

    answered = await move.answer(made["id"], {"outcome": "records_sent", "sections": ["enrollment", "discipline"],
                                              "note": "Cumulative folder mailed"})
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert (body["status"], body["outcome"], body["sections_sent"]) == (
        "answered", "records_sent", ["enrollment", "discipline"])
    assert body["answered_late"] is False and body["disclosure_seq"] is not None
    again = await move.answer(made["id"], {"outcome": "records_sent", "sections": ["enrollment"]})
    assert again.status_code == 409

    # FERPA 99.32(c): the parent sees the release to the new district under the transfer exception.
    parent = bearer(await password_token(move.client, "ana.parent"))
    seen = await move.client.get(f"/disclosure/v1/students/{ana}/disclosures", headers=parent)
    assert seen.status_code == 200, seen.text
    [entry] = seen.json()["items"]
    assert entry["legal_basis"] == "school_of_transfer" and entry["disclosed_on"] == "2026-11-05"
    assert entry["party"]["organisation"] == "District 1002"
    assert "enrollment.exit_date" in entry["fields"] and "discipline.incident_type" in entry["fields"]
    assert not any(f.startswith("demographics.") for f in entry["fields"])
    steward_view = await move.client.get(f"/disclosure/v1/students/{ana}/disclosures", headers=world.steward)
    assert [d["legal_basis"] for d in steward_view.json()["items"]] == ["school_of_transfer"]
    logged = (await move.client.get(f"/disclosure/v1/disclosures/{body['disclosure_seq']}",
                                    headers=world.steward)).json()
    assert logged["actor"] == "client:svc-records" and logged["students"] == [ana]

    # Records' own access log has the request and the answer, never the note.
    async with db.sessionmaker() as session:
        entries = (await session.scalars(select(RecordsAccessLogEntry).where(
            RecordsAccessLogEntry.state_id == ana, RecordsAccessLogEntry.action.in_(
                ["transfer_request", "transfer_answer"])).order_by(RecordsAccessLogEntry.seq))).all()
    assert [e.action for e in entries] == ["transfer_request", "transfer_answer"]
    assert "Cumulative folder" not in entries[1].payload and '"disclosure_seq"' in entries[1].payload


async def test_nothing_to_send_is_answered_without_a_disclosure(move: Move, world: World) -> None:
    ana = world.students[0]
    await move.enrol(ana, entered="2026-11-02", left="2026-10-30")
    move.set_today("2026-11-03")
    made = (await move.request({"state_student_id": ana})).json()
    answered = await move.answer(made["id"], {"outcome": "nothing_to_send",
                                              "refusal_reason": "Student attended for one day; no records kept"})
    assert answered.status_code == 200, answered.text
    assert (answered.json()["outcome"], answered.json()["disclosure_seq"]) == ("nothing_to_send", None)
    log = await move.client.get("/disclosure/v1/disclosures", headers=world.steward, params={"state_student_id": ana})
    assert log.json()["items"] == []




async def test_an_answer_that_cannot_be_logged_is_not_stored(move: Move, world: World, gateway) -> None:
    ana = world.students[0]
    await move.enrol(ana, entered="2026-11-02", left="2026-10-30")
    move.set_today("2026-11-03")
    made = (await move.request({"state_student_id": ana})).json()
    records_state = gateway.apps["records"].state.slds
    link = httpx.AsyncClient(base_url="http://slds.internal", transport=DisclosureLogDown(httpx.ASGITransport(gateway)))
    records_state.disclosure_client = DisclosureClient(
        link, ServiceToken(records_state.identity, records_state.settings, "records"))
    try:
        refused = await move.answer(made["id"], {"outcome": "records_sent", "sections": ["enrollment"]})
    finally:
        await link.aclose()
        records_state.disclosure_client = None
    assert refused.status_code == 503 and refused.headers["content-type"] == "application/problem+json"
    still = (await move.client.get(f"{REQUESTS}/{made['id']}", headers=world.sis)).json()
    assert (still["status"], still["disclosure_seq"]) == ("requested", None)
    assert (await move.answer(made["id"], {"outcome": "records_sent", "sections": ["enrollment"]})).status_code == 200


async def test_a_district_not_involved_gets_404(move: Move, world: World, make_user) -> None:
    ana = world.students[0]
    await move.enrol(ana, entered="2026-11-02", left="2026-10-30")
    move.set_today("2026-11-03")
    made = (await move.request({"state_student_id": ana})).json()
    assert (await move.client.get(f"{REQUESTS}/{made['id']}", headers=move.third)).status_code == 404
    assert (await move.answer(made["id"], {"outcome": "records_sent", "sections": ["enrollment"]},
                              headers=move.third)).status_code == 404
    assert await move.listed(move.third) == []
    assert (await move.client.get(f"{REQUESTS}/{made['id']}", headers=world.steward)).status_code == 200
    # Roles a district does not act through see no requests at all.
    await make_user("ana.parent", "parent", student_ids=[ana])
    parent = bearer(await password_token(move.client, "ana.parent"))
    assert (await move.client.get(f"{REQUESTS}/{made['id']}", headers=parent)).status_code == 404
    assert (await move.client.get(REQUESTS, headers=parent)).status_code == 403
    assert (await move.request({"state_student_id": ana}, headers=parent)).status_code == 403


async def test_a_student_not_enrolled_in_the_requesting_district_is_a_422_naming_the_student(
        move: Move, world: World) -> None:
    bram = world.students[1]
    assert (await world.submit(basic_record(bram))).status_code == 201  # enrolled in 1001 only
    move.set_today("2026-11-03")
    for sid in (bram, "9999999999"):
        refused = await move.request({"state_student_id": sid})
        assert _problem_fields(refused) == {"state_student_id"}
        assert sid not in refused.text  # the value is never echoed
    assert _problem_fields(await move.request({"state_student_id": bram, "surprise": 1})) == {"body.surprise"}
    assert (await move.listed(world.other_sis)) == []


async def test_request_defaults_and_rules(move: Move, world: World, make_user) -> None:
    ana = world.students[0]
    await move.enrol(ana, entered="2026-11-02", left="2026-10-30")
    move.set_today("2026-11-03")
    # Same enrolment, same districts: one request only.
    first = await move.request({"state_student_id": ana})
    assert first.status_code == 201
    dup = await move.request({"state_student_id": ana})
    assert dup.status_code == 409 and dup.json()["transfer_request_id"] == first.json()["id"]
    # A request to another previous district (a school attended before 1001), by a registrar of 1002.
    await make_user("registrar", "registrar", district_ids=["1002"])
    registrar = bearer(await password_token(move.client, "registrar"))
    other = await move.request({"state_student_id": ana, "previous_district_id": "1003",
                                "enrolled_on": "2026-11-02"}, headers=registrar)
    assert other.status_code == 201, other.text
    assert (other.json()["previous_district_id"], other.json()["requester_role"]) == ("1003", "registrar")
    # 1003 now takes part and sees only that request.
    assert [r["id"] for r in await move.listed(move.third)] == [other.json()["id"]]
    # Bad fields are named: the own district as previous one, a future enrolment, another district's scope.
    assert _problem_fields(await move.request({"state_student_id": ana, "previous_district_id": "1002",
                                               "enrolled_on": "2026-11-04"})) == {"previous_district_id",
                                                                                   "enrolled_on"}
    assert _problem_fields(await move.request({"state_student_id": ana, "requesting_district_id": "1001"})) == {
        "requesting_district_id"}
    # A superintendent of two districts must say which one requests.
    await make_user("super", "superintendent", district_ids=["1002", "1004"])
    both = bearer(await password_token(move.client, "super"))
    assert _problem_fields(await move.request({"state_student_id": ana, "previous_district_id": "1005"},
                                              headers=both)) == {"requesting_district_id"}
    made = await move.request({"state_student_id": ana, "previous_district_id": "1005",
                               "requesting_district_id": "1002"}, headers=both)
    assert made.status_code == 201, made.text


async def test_no_other_district_in_the_history_needs_previous_district(move: Move, world: World) -> None:
    chen = world.students[2]
    # Chen arrives from out of state: records has no earlier district; 1002 enrols the student.
    found = await move.client.post(RESOLVE, headers=world.other_sis, json={
        "district_id": "1002", "local_student_id": "N-9", "first_name": "Chen", "last_name": "Wu",
        "birth_date": "2012-05-02", "guardian_names": ["Guardian L-3"]})
    assert found.status_code == 200 and found.json()["state_student_id"] == chen, found.text
    enrolled = await world.submit({"state_student_id": chen, "local_student_id": "N-9",
                                   "demographics": {"first_name": "Chen", "last_name": "Wu",
                                                    "birth_date": "2012-05-02", "sex": "M"},
                                   "enrollment": [enrollment("1002", "1002-01", "2026-11-02")]},
                                  headers=world.other_sis)
    assert enrolled.status_code == 201, enrolled.text
    move.set_today("2026-11-03")
    assert _problem_fields(await move.request({"state_student_id": chen})) == {"previous_district_id"}


def test_late_and_overdue_mean_a_business_day_lost() -> None:
    """A request due on a Friday and made on the Saturday lost no business day; on Monday it did."""
    calendar = BusinessCalendar(holidays=[date(2026, 11, 26)])
    assert transfers.business_days_late(calendar, date(2026, 11, 6), date(2026, 11, 7)) == 0
    assert transfers.business_days_late(calendar, date(2026, 11, 6), date(2026, 11, 9)) == 1
    assert transfers.last_business_day_on_or_before(calendar, date(2026, 11, 29)) == date(2026, 11, 27)
    assert transfers.last_business_day_on_or_before(calendar, date(2026, 11, 27)) == date(2026, 11, 27)



async def test_a_nul_byte_is_a_422_not_a_database_error(move: Move, world: World) -> None:
    """PostgreSQL text cannot hold NUL: the request is refused at the door (shared/middleware.py),
    naming where the NUL was, before anything is looked up or stored."""
    ana = world.students[0]
    await move.enrol(ana, entered="2026-11-02", left="2026-10-30")
    move.set_today("2026-11-03")
    made = (await move.request({"state_student_id": ana})).json()
    assert (await move.client.get(f"{REQUESTS}/a%00b", headers=world.sis)).status_code == 422
    listed = await move.client.get(REQUESTS, headers=world.steward, params={"state_student_id": "a\x00b"})
    assert _problem_fields(listed) == {"query"}
    assert _problem_fields(await move.request({"state_student_id": "a\x00b"})) == {"body"}
    assert _problem_fields(await move.request({"state_student_id": ana, "previous_district_id": "a\x00b"})) == {"body"}
    assert _problem_fields(await move.answer(made["id"], {"outcome": "nothing_to_send",
                                                          "refusal_reason": "none\x00"})) == {"body"}
