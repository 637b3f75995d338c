"""Recording NDAs and privacy training, one person's standing, the supervisors' due list, and the
clearance claim in the token (issue 9; Utah plan 4 and 4.4)."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest
from jose import jwt
from sqlalchemy import select

from services.identity.models import AccessLogEntry
from shared import audit
from shared.state import Database
from tests.helpers import bearer, password_token

TODAY = date.today()
USERS = "/identity/v1/users"
DUE = "/identity/v1/clearance/due"


def nda(version: str = "2026-1", on: date = TODAY) -> dict[str, str]:
    return {"agreement_version": version, "signed_on": on.isoformat()}


def training(on: date = TODAY, **extra: str) -> dict[str, str]:
    return {"course_version": "2026", "completed_on": on.isoformat(), **extra}


async def _record(client: httpx.AsyncClient, who: dict[str, str], user_id: str, *, trained_on: date = TODAY,
                  sign: bool = True, train: bool = True) -> None:
    if sign:
        assert (await client.post(f"{USERS}/{user_id}/nda-signatures", headers=who, json=nda())).status_code == 201
    if train:
        response = await client.post(f"{USERS}/{user_id}/training-completions", headers=who, json=training(trained_on))
        assert response.status_code == 201, response.text


@pytest.fixture
async def admin(client: httpx.AsyncClient, make_user) -> dict[str, str]:
    await make_user("steward", "state_data_admin")
    return bearer(await password_token(client, "steward"))


async def test_recording_clears_a_person_and_is_logged(client: httpx.AsyncClient, admin, make_user,
                                                       db: Database) -> None:
    teacher = await make_user("t.new", "teacher", district_ids=["1001"], staff_id="S1", cleared=False)
    before = (await client.get(f"{USERS}/{teacher.id}/clearance", headers=admin)).json()
    assert before["requires_clearance"] is True and before["cleared"] is False
    assert before["missing"] == ["nda", "training"] and before["cleared_until"] is None

    signed = await client.post(f"{USERS}/{teacher.id}/nda-signatures", headers=admin, json=nda())
    assert signed.status_code == 201, signed.text
    assert signed.json()["agreement_version"] == "2026-1" and signed.json()["clearance"]["missing"] == ["training"]
    done = await client.post(f"{USERS}/{teacher.id}/training-completions", headers=admin,
                             json=training(TODAY - timedelta(days=10), course="Security and Privacy Fundamentals"))
    assert done.status_code == 201, done.text
    due_on = (TODAY + timedelta(days=355)).isoformat()
    cleared = done.json()["clearance"]
    assert (cleared["cleared"], cleared["missing"], cleared["cleared_until"], cleared["due_on"]) == (
        True, [], due_on, due_on)

    standing = (await client.get(f"{USERS}/{teacher.id}/clearance", headers=admin)).json()
    assert standing["nda_signed_on"] == TODAY.isoformat() and standing["nda_version"] == "2026-1"
    assert [t["completed_on"] for t in standing["training_completions"]] == [(TODAY - timedelta(days=10)).isoformat()]
    assert standing["nda_signatures"][0]["recorded_by"].startswith("user:")

    async with db.sessionmaker() as session:
        actions = list(await session.scalars(select(AccessLogEntry.action).where(AccessLogEntry.seq > 0)))
        assert actions[-2:] == ["clearance.nda", "clearance.training"]
        assert (await audit.verify_chain(session, AccessLogEntry)).ok


async def test_the_token_carries_the_last_cleared_day(client: httpx.AsyncClient, admin, make_user) -> None:
    await make_user("cleared.one", "principal", district_ids=["1001"], school_ids=["1001-01"])
    uncleared = await make_user("new.one", "principal", district_ids=["1001"], school_ids=["1001-01"], cleared=False)
    await make_user("a.parent", "parent", student_ids=["4820175936"], cleared=False)
    claims = jwt.get_unverified_claims(await password_token(client, "cleared.one"))
    assert claims["cleared_until"] == (TODAY + timedelta(days=365)).isoformat()
    assert "cleared_until" not in jwt.get_unverified_claims(await password_token(client, "new.one"))
    assert "cleared_until" not in jwt.get_unverified_claims(await password_token(client, "a.parent"))
    await _record(client, admin, uncleared.id, trained_on=TODAY - timedelta(days=400))  # lapsed long ago
    lapsed = jwt.get_unverified_claims(await password_token(client, "new.one"))
    assert lapsed["cleared_until"] == (TODAY - timedelta(days=35)).isoformat()


async def test_supervisors_record_for_their_own_people_only(client: httpx.AsyncClient, make_user) -> None:
    sup = await make_user("sup", "superintendent", district_ids=["1001"])
    await make_user("head", "principal", district_ids=["1001"], school_ids=["1001-01"])
    own = await make_user("own.t", "teacher", district_ids=["1001"], school_ids=["1001-01"], staff_id="S2", cleared=False)
    other_school = await make_user("o.t", "teacher", district_ids=["1001"], school_ids=["1001-02"], staff_id="S3",
                                   cleared=False)
    foreign = await make_user("f.t", "teacher", district_ids=["1002"], school_ids=["1002-01"], staff_id="S4",
                              cleared=False)
    superintendent = bearer(await password_token(client, "sup"))
    principal = bearer(await password_token(client, "head"))
    teacher = bearer(await password_token(client, "own.t"))

    assert (await client.post(f"{USERS}/{other_school.id}/nda-signatures", headers=superintendent,
                              json=nda())).status_code == 201
    assert (await client.post(f"{USERS}/{own.id}/training-completions", headers=principal,
                              json=training())).status_code == 201
    for who, target in ((superintendent, foreign), (principal, other_school), (principal, foreign)):
        refused = await client.post(f"{USERS}/{target.id}/nda-signatures", headers=who, json=nda())
        assert refused.status_code == 404, refused.text
        assert (await client.get(f"{USERS}/{target.id}/clearance", headers=who)).status_code == 404
    own_record = await client.post(f"{USERS}/{sup.id}/training-completions", headers=superintendent, json=training())
    assert own_record.status_code == 403
    not_a_recorder = await client.post(f"{USERS}/{own.id}/nda-signatures", headers=teacher, json=nda())
    assert not_a_recorder.status_code == 403 and not_a_recorder.json()["type"].endswith("/forbidden")
    # The person reads their own standing; not a colleague's.
    mine = await client.get(f"{USERS}/{own.id}/clearance", headers=teacher)
    assert mine.status_code == 200 and mine.json()["missing"] == ["nda"]
    assert (await client.get(f"{USERS}/{other_school.id}/clearance", headers=teacher)).status_code == 404
    assert (await client.post(f"{USERS}/no-such-user/nda-signatures", headers=superintendent,
                              json=nda())).status_code == 404


@pytest.mark.parametrize(("path", "body", "field"), [
    ("nda-signatures", nda(on=TODAY + timedelta(days=1)), "body.signed_on"),
    ("training-completions", training(TODAY + timedelta(days=1)), "body.completed_on"),
    ("nda-signatures", {"agreement_version": "", "signed_on": TODAY.isoformat()}, "body.agreement_version"),
    ("nda-signatures", {"agreement_version": "1", "signed_on": 0}, "body.signed_on"),
    ("training-completions", {"completed_on": TODAY.isoformat()}, "body.course_version"),
    ("training-completions", {**training(), "score": 98}, "body.score"),
])
async def test_bad_input_is_422_naming_the_field(client: httpx.AsyncClient, admin, make_user, path: str,
                                                 body: dict, field: str) -> None:
    person = await make_user("t.x", "teacher", district_ids=["1001"], staff_id="S5", cleared=False)
    response = await client.post(f"{USERS}/{person.id}/{path}", headers=admin, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == [field]
    standing = (await client.get(f"{USERS}/{person.id}/clearance", headers=admin)).json()
    assert standing["nda_signatures"] == [] and standing["training_completions"] == []


async def test_the_due_list_names_who_is_missing_or_due_within_the_window(client: httpx.AsyncClient, admin,
                                                                          make_user) -> None:
    no_nda = await make_user("a.no.nda", "teacher", district_ids=["1001"], staff_id="S6", cleared=False)
    await make_user("b.nothing", "counselor", district_ids=["1001"], staff_id="S7", cleared=False)
    soon = await make_user("c.soon", "teacher", district_ids=["1001"], staff_id="S8", cleared=False)
    later = await make_user("d.later", "teacher", district_ids=["1001"], staff_id="S9", cleared=False)
    await make_user("e.cleared", "teacher", district_ids=["1001"], staff_id="S10")
    await make_user("f.parent", "parent", student_ids=["4820175936"], cleared=False)
    await make_user("g.public", "public", cleared=False)
    foreign = await make_user("h.foreign", "teacher", district_ids=["1002"], staff_id="S11", cleared=False)
    gone = await make_user("i.gone", "teacher", district_ids=["1001"], staff_id="S12", cleared=False)
    await _record(client, admin, no_nda.id, sign=False)
    await _record(client, admin, soon.id, trained_on=TODAY - timedelta(days=350))  # due in 15 days
    await _record(client, admin, later.id, trained_on=TODAY - timedelta(days=300))  # due in 65 days
    assert (await client.post(f"{USERS}/{gone.id}/disable", headers=admin)).status_code == 200

    listed = await client.get(DUE, headers=admin)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["within_days"] == 30 and body["as_of"] == TODAY.isoformat()
    rows = {r["username"]: r for r in body["items"]}
    assert set(rows) == {"b.nothing", "h.foreign", "a.no.nda", "c.soon"}
    assert rows["b.nothing"]["missing"] == ["nda", "training"] and rows["b.nothing"]["due_on"] is None
    assert rows["a.no.nda"]["missing"] == ["nda"]
    assert rows["c.soon"]["missing"] == [] and rows["c.soon"]["due_on"] == (TODAY + timedelta(days=15)).isoformat()
    assert rows["c.soon"]["role"] == "teacher" and rows["c.soon"]["display_name"] == "c.soon"
    assert [r["username"] for r in body["items"]][-1] == "c.soon"  # missing first, then by due date
    wider = (await client.get(DUE, headers=admin, params={"within_days": 90})).json()
    assert "d.later" in {r["username"] for r in wider["items"]}

    sup = await make_user("sup", "superintendent", district_ids=["1001"])
    assert sup is not None
    district = (await client.get(DUE, headers=bearer(await password_token(client, "sup")))).json()
    assert {r["username"] for r in district["items"]} == {"b.nothing", "a.no.nda", "c.soon"}
    assert foreign.id not in {r["user_id"] for r in district["items"]}
    await make_user("sec", "security_manager")
    assert (await client.get(DUE, headers=bearer(await password_token(client, "sec")))).status_code == 200
    await make_user("teach", "teacher", district_ids=["1001"], staff_id="S13")
    refused = await client.get(DUE, headers=bearer(await password_token(client, "teach")))
    assert refused.status_code == 403
    for bad in ("-1", "367", "soon"):
        invalid = await client.get(DUE, headers=admin, params={"within_days": bad})
        assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"] == "query.within_days"
    assert (await client.get(DUE)).status_code == 401
