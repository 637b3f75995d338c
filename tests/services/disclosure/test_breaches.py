"""Breach response (Utah plan 6): a staff report is routed to the IT security manager (or to the
state data administrators when it involves the manager), the exposure comes from the records access
log and the disclosure log within the window, families' notifications are tracked against it, and
suspending the suspected principals takes effect at every service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.helpers import bearer, client_token, password_token
from tests.services.disclosure.conftest import TODAY, days, fields_named

V1 = "/disclosure/v1"
RESOLVE = "/identity/v1/students/resolve"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Scene:
    client: httpx.AsyncClient
    steward: dict[str, str]
    manager: dict[str, str]  # the IT security manager
    manager_subject: str
    reporter: dict[str, str]  # a superintendent of district 1001 (staff)
    parent: dict[str, str]
    writer: dict[str, str]  # the district SIS that submits the records
    suspect: dict[str, str]  # a second SIS of the district: the compromised client
    suspect_subject: str
    suspect_credentials: tuple[str, str]
    students: list[str]  # A, B, C

    async def report(self, headers: dict[str, str] | None = None, **over: Any) -> httpx.Response:
        body = {"description": "SIS vendor reports its API key was posted in a public repository",
                "discovered_at": now().isoformat(), "suspected_subjects": [self.suspect_subject],
                "window_start": (now() - timedelta(hours=1)).isoformat(), "window_end": now().isoformat(), **over}
        return await self.client.post(f"{V1}/breaches", headers=headers or self.reporter, json=body)

    async def read(self, state_id: str, headers: dict[str, str] | None = None) -> None:
        response = await self.client.get(f"/records/v1/students/{state_id}", headers=headers or self.suspect)
        assert response.status_code == 200, response.text


@pytest.fixture
async def scene(client: httpx.AsyncClient, make_user, make_client_app) -> Scene:
    await make_user("steward", "state_data_admin")
    manager = await make_user("secman", "security_manager")
    await make_user("super", "superintendent", district_ids=["1001"])
    await make_user("parent", "parent", student_ids=[])
    writer = await make_client_app("SIS 1001", "district_sis", district_ids=["1001"])
    suspect = await make_client_app("Vendor SIS 1001", "district_sis", district_ids=["1001"])
    writer_headers = bearer(await client_token(client, writer.client.client_id, writer.secret))
    students = []
    for local, first, last, dob in (("L-1", "Ana", "Lopez", "2014-03-09"), ("L-2", "Bram", "Okafor", "2013-11-21"),
                                    ("L-3", "Chen", "Wu", "2012-05-02")):
        resolved = await client.post(RESOLVE, headers=writer_headers, json={
            "district_id": "1001", "local_student_id": local, "first_name": first, "last_name": last,
            "birth_date": dob})
        assert resolved.status_code == 200, resolved.text
        sid = resolved.json()["state_student_id"]
        written = await client.post("/records/v1/students", headers=writer_headers, json={
            "state_student_id": sid, "local_student_id": local,
            "demographics": {"first_name": first, "last_name": last, "birth_date": dob, "sex": "F"},
            "enrollment": [{"school_year": "2025-2026", "district_id": "1001", "school_id": "1001-01",
                            "grade_level": "06", "entry_date": "2025-08-20", "entry_type": "first_entry_in_state"}]})
        assert written.status_code == 201, written.text
        students.append(sid)
    return Scene(
        client=client, steward=bearer(await password_token(client, "steward")),
        manager=bearer(await password_token(client, "secman")), manager_subject=manager.subject,
        reporter=bearer(await password_token(client, "super")), parent=bearer(await password_token(client, "parent")),
        writer=writer_headers, suspect=bearer(await client_token(client, suspect.client.client_id, suspect.secret)),
        suspect_subject=suspect.client.subject, suspect_credentials=(suspect.client.client_id, suspect.secret),
        students=students)


async def _exposure(scene: Scene, breach_id: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return await scene.client.post(f"{V1}/breaches/{breach_id}/exposure", headers=headers or scene.manager)


async def test_a_breach_query_returns_exactly_the_students_the_client_read_in_the_window(scene: Scene) -> None:
    a, b, c = scene.students
    before_all = now()
    await scene.read(c)  # before the window
    start = now()
    await scene.read(a)
    await scene.read(b)
    await scene.read(a)
    end = now()

    reported = await scene.report(window_start=start.isoformat(), window_end=end.isoformat())
    assert reported.status_code == 201, reported.text
    breach = reported.json()
    assert breach["routed_to"] == "security_manager" and breach["status"] == "open"
    assert reported.headers["cache-control"] == "no-store"

    computed = await _exposure(scene, breach["id"])
    assert computed.status_code == 200, computed.text
    exposure = computed.json()
    assert exposure["affected_students"] == sorted([a, b])
    (by_suspect,) = exposure["subjects"]
    assert by_suspect["subject"] == scene.suspect_subject and by_suspect["student_count"] == 2
    for student in by_suspect["students"]:
        assert {"demographics.first_name", "demographics.birth_date"} <= set(student["fields"])
        assert student["actions"] == ["read"] and student["sources"] == ["records_access_log"]
    assert computed.headers["cache-control"] == "no-store"

    # Stored: the breach now tracks the two families to notify; the writer's writes are not the suspect's.
    stored = (await scene.client.get(f"{V1}/breaches/{breach['id']}", headers=scene.manager)).json()
    assert stored["affected_students"] == 2 and stored["students_to_notify"] == sorted([a, b])
    again = await scene.client.get(f"{V1}/breaches/{breach['id']}/exposure", headers=scene.manager)
    assert again.json()["affected_students"] == sorted([a, b])

    # The same client over a window that also covers the earlier read: C too.
    wider = await scene.report(window_start=before_all.isoformat(), window_end=now().isoformat())
    assert (await _exposure(scene, wider.json()["id"])).json()["affected_students"] == sorted([a, b, c])


async def test_the_security_manager_reads_the_access_log_by_actor_and_time(scene: Scene) -> None:
    a, b, _ = scene.students
    await scene.read(a)
    start = now()
    await scene.read(b)
    end = now()
    window = {"actor": scene.suspect_subject, "at_from": start.isoformat(), "at_to": end.isoformat()}
    log = await scene.client.get("/records/v1/access-log", headers=scene.manager, params=window)
    assert log.status_code == 200 and log.headers["cache-control"] == "no-store"
    assert [(e["action"], e["payload"]["state_id"]) for e in log.json()["entries"]] == [("read", b)]
    assert "Bram" not in log.text and "Okafor" not in log.text  # field names, never values
    naive = {**window, "at_from": start.replace(tzinfo=None).isoformat()}  # no zone: UTC
    assert (await scene.client.get("/records/v1/access-log", headers=scene.manager, params=naive)).json() == log.json()
    everything = await scene.client.get("/records/v1/access-log", headers=scene.manager,
                                        params={"actor": scene.suspect_subject})
    assert [e["payload"]["state_id"] for e in everything.json()["entries"]] == [a, b]
    assert (await scene.client.get("/records/v1/access-log", headers=scene.reporter)).status_code == 403
    bad = await scene.client.get("/records/v1/access-log", headers=scene.manager, params={"at_from": "yesterday"})
    assert bad.status_code == 422 and fields_named(bad) == {"query.at_from"}
    east = await scene.client.get("/records/v1/access-log", headers=scene.manager,
                                  params={"at_to": "0001-01-01T00:00:00+05:00"})
    assert east.status_code == 422 and fields_named(east) == {"query.at_to"}

    # A report's times without a zone are UTC too.
    reported = await scene.report(window_start=start.replace(tzinfo=None).isoformat(),
                                  window_end=end.replace(tzinfo=None).isoformat())
    assert reported.status_code == 201, reported.text
    assert datetime.fromisoformat(reported.json()["window_start"]) == start
    assert (await _exposure(scene, reported.json()["id"])).json()["affected_students"] == [b]


async def test_bad_reports_are_refused_naming_the_field(scene: Scene) -> None:
    future = await scene.report(window_end=(now() + timedelta(hours=2)).isoformat())
    assert future.status_code == 422
    assert future.headers["content-type"].startswith("application/problem+json")
    assert fields_named(future) == {"window_end"}
    assert "public repository" not in future.text  # the report's words are never echoed

    backwards = await scene.report(window_start=now().isoformat(), window_end=(now() - timedelta(hours=1)).isoformat())
    assert backwards.status_code == 422 and fields_named(backwards) == {"window_start"}
    later = await scene.report(discovered_at=(now() + timedelta(days=1)).isoformat())
    assert later.status_code == 422 and fields_named(later) == {"discovered_at"}
    bad_subject = await scene.report(suspected_subjects=["someone"])
    assert bad_subject.status_code == 422 and fields_named(bad_subject) == {"body.suspected_subjects[0]"}
    east = await scene.report(window_start="0001-01-01T00:00:00+05:00")
    assert east.status_code == 422 and fields_named(east) == {"body.window_start"}
    extra = await scene.report(severity="high")
    assert extra.status_code == 422 and fields_named(extra) == {"body.severity"}

    assert (await scene.report(headers=scene.parent)).status_code == 403  # staff report breaches
    assert (await scene.report(headers=scene.suspect)).status_code == 403  # a machine client does not
    assert (await scene.client.get(f"{V1}/breaches", headers=scene.steward)).json()["items"] == []


async def test_a_breach_involving_the_security_manager_goes_to_the_state_administrators(scene: Scene) -> None:
    ordinary = (await scene.report()).json()
    flagged = await scene.report(involves_security_manager=True)
    assert flagged.status_code == 201 and flagged.json()["routed_to"] == "state_data_admin"
    flagged_id = flagged.json()["id"]

    assert (await scene.client.get(f"{V1}/breaches/{flagged_id}", headers=scene.manager)).status_code == 404
    assert (await _exposure(scene, flagged_id)).status_code == 404
    assert (await scene.client.get(f"{V1}/breaches/{flagged_id}", headers=scene.steward)).status_code == 200
    # The reporter and other staff do not follow the investigation; a family or client cannot list.
    assert (await scene.client.get(f"{V1}/breaches/{ordinary['id']}", headers=scene.reporter)).status_code == 404
    assert (await scene.client.get(f"{V1}/breaches", headers=scene.reporter)).status_code == 403
    listed = (await scene.client.get(f"{V1}/breaches", headers=scene.manager)).json()["items"]
    assert [b["id"] for b in listed] == [ordinary["id"]]
    assert len((await scene.client.get(f"{V1}/breaches", headers=scene.steward)).json()["items"]) == 2

    # The manager has now worked a breach: a report suspecting the manager's account is routed away
    # from the manager without anyone saying so.
    assert (await _exposure(scene, ordinary["id"])).status_code == 200
    suspecting = await scene.report(suspected_subjects=[scene.manager_subject])
    assert suspecting.json()["routed_to"] == "state_data_admin"
    assert suspecting.json()["involves_security_manager"] is True
    assert (await scene.client.get(f"{V1}/breaches/{suspecting.json()['id']}",
                                   headers=scene.manager)).status_code == 404


async def test_notifications_are_tracked_and_a_confirmed_breach_closes_once_all_are_told(scene: Scene) -> None:
    a, b, c = scene.students
    start = now()
    await scene.read(a)
    await scene.read(b)
    breach_id = (await scene.report(window_start=start.isoformat(), window_end=now().isoformat())).json()["id"]

    def notice(student: str, **over: Any) -> dict[str, Any]:
        return {"state_student_id": student, "recipient": "parent", "recipient_name": "M. Lopez",
                "method": "mail", "notified_on": TODAY.isoformat(), **over}

    early = await scene.client.post(f"{V1}/breaches/{breach_id}/notifications", headers=scene.manager,
                                    json=notice(a))
    assert early.status_code == 409  # exposure first
    findings = {"breach_confirmed": True, "findings": "Key leaked; vendor read two records",
                "consequences": "Vendor contract suspended"}
    assert (await scene.client.post(f"{V1}/breaches/{breach_id}/findings", headers=scene.manager,
                                    json=findings)).status_code == 409
    assert (await _exposure(scene, breach_id)).status_code == 200

    told = await scene.client.post(f"{V1}/breaches/{breach_id}/notifications", headers=scene.manager, json=notice(a))
    assert told.status_code == 201, told.text
    assert told.json()["recipient"] == "parent" and told.headers["cache-control"] == "no-store"
    outsider = await scene.client.post(f"{V1}/breaches/{breach_id}/notifications", headers=scene.manager,
                                       json=notice(c))
    assert outsider.status_code == 422 and fields_named(outsider) == {"state_student_id"}
    future = await scene.client.post(f"{V1}/breaches/{breach_id}/notifications", headers=scene.manager,
                                     json=notice(b, notified_on=days(1)))
    assert future.status_code == 422 and fields_named(future) == {"notified_on"}
    how = await scene.client.post(f"{V1}/breaches/{breach_id}/notifications", headers=scene.manager,
                                  json=notice(b, method="carrier_pigeon"))
    assert how.status_code == 422 and fields_named(how) == {"body.method"}

    breach = (await scene.client.get(f"{V1}/breaches/{breach_id}", headers=scene.manager)).json()
    assert breach["students_to_notify"] == [b]
    outstanding = await scene.client.post(f"{V1}/breaches/{breach_id}/findings", headers=scene.manager, json=findings)
    assert outstanding.status_code == 409 and outstanding.json()["students_to_notify"] == 1

    await scene.client.post(f"{V1}/breaches/{breach_id}/notifications", headers=scene.manager,
                            json=notice(b, recipient="eligible_student", method="email"))
    closed = await scene.client.post(f"{V1}/breaches/{breach_id}/findings", headers=scene.manager, json=findings)
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert body["status"] == "closed" and body["breach_confirmed"] is True and body["students_to_notify"] == []
    assert body["consequences"] == "Vendor contract suspended" and len(body["notifications"]) == 2
    assert [e["action"] for e in body["history"]] == ["reported", "exposure_computed", "notified", "notified",
                                                      "closed"]
    assert (await scene.client.post(f"{V1}/breaches/{breach_id}/notifications", headers=scene.manager,
                                    json=notice(a))).status_code == 409


async def test_an_unconfirmed_report_closes_without_notifications(scene: Scene) -> None:
    breach_id = (await scene.report()).json()["id"]
    closed = await scene.client.post(f"{V1}/breaches/{breach_id}/findings", headers=scene.steward, json={
        "breach_confirmed": False, "findings": "The key in the repository had already been rotated"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert closed.json()["closed_by"].startswith("user:")


async def test_the_disclosure_log_shows_what_was_released_to_the_suspect(scene: Scene, make_user) -> None:
    researcher = await make_user("researcher", "researcher")
    a, _, c = scene.students
    start = now()
    logged = await scene.client.post(f"{V1}/disclosures", headers=scene.steward, json={
        "party": {"name": "Dr. Rivera", "organisation": "State University", "subject": researcher.subject},
        "legal_basis": "judicial_order", "purpose": "Subpoena 2026-17", "fields": ["demographics.birth_date"],
        "students": [a, c]})
    assert logged.status_code == 201, logged.text
    breach_id = (await scene.report(suspected_subjects=[researcher.subject, scene.suspect_subject],
                                    window_start=start.isoformat(), window_end=now().isoformat())).json()["id"]
    exposure = (await _exposure(scene, breach_id)).json()
    assert exposure["affected_students"] == sorted([a, c])
    by_subject = {s["subject"]: s for s in exposure["subjects"]}
    assert by_subject[scene.suspect_subject]["students"] == []
    assert [(s["state_student_id"], s["fields"], s["sources"], s["actions"])
            for s in by_subject[researcher.subject]["students"]] == [
        (sid, ["demographics.birth_date"], ["disclosure_log"], ["disclosed"]) for sid in sorted([a, c])]


async def test_suspension_refuses_the_suspects_tokens_at_every_service(scene: Scene, make_user) -> None:
    await make_user("insider", "superintendent", district_ids=["1001"])
    insider = bearer(await password_token(scene.client, "insider"))
    insider_subject = (await scene.client.get("/records/v1/whoami", headers=insider)).json()["subject"]
    probes = ["/records/v1/whoami", "/disclosure/v1/whoami", "/reporting/v1/whoami"]
    for path in probes:
        assert (await scene.client.get(path, headers=scene.suspect)).status_code == 200
        assert (await scene.client.get(path, headers=insider)).status_code == 200

    breach_id = (await scene.report(suspected_subjects=[scene.suspect_subject, insider_subject])).json()["id"]
    assert (await scene.client.post(f"{V1}/breaches/{breach_id}/suspensions",
                                    headers=scene.reporter)).status_code == 404
    outside = await scene.client.post(f"{V1}/breaches/{breach_id}/suspensions", headers=scene.manager,
                                      json={"subjects": ["client:someone-else"]})
    assert outside.status_code == 422 and fields_named(outside) == {"subjects[0]"}
    suspended = await scene.client.post(f"{V1}/breaches/{breach_id}/suspensions", headers=scene.manager)
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["all_suspended"] is True
    assert {o["subject"]: o["outcome"] for o in suspended.json()["outcomes"]} == {
        scene.suspect_subject: "suspended", insider_subject: "suspended"}

    for path in probes:
        assert (await scene.client.get(path, headers=scene.suspect)).status_code == 401, path
        assert (await scene.client.get(path, headers=insider)).status_code == 401, path
    # The revoked client gets no new token either, and the writer (not suspected) still works.
    refused = await scene.client.post("/identity/v1/oauth/token", data={"grant_type": "client_credentials"},
                                      auth=scene.suspect_credentials)
    assert refused.status_code in (400, 401)
    assert (await scene.client.get("/records/v1/whoami", headers=scene.writer)).status_code == 200
    breach = (await scene.client.get(f"{V1}/breaches/{breach_id}", headers=scene.manager)).json()
    assert breach["suspended_at"] is not None and breach["history"][-1]["detail"] == {"suspended": 2}
