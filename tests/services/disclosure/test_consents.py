"""Written consent (FERPA 99.30): given by the student's parent or the eligible student, scoped to
fields, a recipient and a purpose, until it expires or its giver revokes it; a `written_consent`
disclosure must cite one in force that covers the student, the fields and the recipient."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from services.disclosure.models import Consent
from tests.helpers import bearer, password_token
from tests.services.disclosure.conftest import FIELDS, S1, S2, TODAY, World, days, fields_named


def consent_body(**over) -> dict:
    return {"fields": FIELDS[:2], "recipient": {"name": "Admissions office", "organisation": "Summit Scholarship Fund"},
            "purpose": "Scholarship application", "expires_on": days(90), **over}


def consent_disclosure(consent_id: str, **over) -> dict:
    return {"party": {"name": "Admissions office", "organisation": "Summit Scholarship Fund"},
            "legal_basis": "written_consent", "purpose": "Scholarship application", "fields": FIELDS[:2],
            "students": [S1], "consent_id": consent_id, **over}


async def test_family_gives_consent_for_own_student_only(world: World, make_user) -> None:
    given = await world.post(f"/students/{S1}/consents", world.parent, consent_body())
    assert given.status_code == 201, given.text
    consent = given.json()
    assert consent["status"] == "active" and consent["signed_on"] == days(0) and consent["giver_role"] == "parent"
    assert given.headers["cache-control"] == "no-store"
    other = await world.post(f"/students/{S2}/consents", world.parent, consent_body())
    assert other.status_code == 404
    assert (await world.post(f"/students/{S1}/consents", world.steward, consent_body())).status_code == 404
    bad = await world.post(f"/students/{S1}/consents", world.parent, consent_body(fields=["ssn"], expires_on=days(-1)))
    assert bad.status_code == 422 and fields_named(bad) == {"body.fields[0]"}
    past = await world.post(f"/students/{S1}/consents", world.parent, consent_body(expires_on=days(-1)))
    assert fields_named(past) == {"expires_on"}

    assert [c["id"] for c in (await world.get(f"/students/{S1}/consents", world.parent)).json()["items"]] == [consent["id"]]
    assert (await world.get(f"/students/{S1}/consents", world.steward)).status_code == 200
    assert (await world.get(f"/students/{S1}/consents", world.researcher)).status_code == 404
    assert (await world.get(f"/consents/{consent['id']}", world.researcher)).status_code == 404
    await make_user("student", "eligible_student", student_ids=[S2])
    student = bearer(await password_token(world.client, "student"))
    assert (await world.post(f"/students/{S2}/consents", student, consent_body())).status_code == 201
    assert (await world.get(f"/consents/{consent['id']}", student)).status_code == 404


async def test_written_consent_disclosure_must_be_covered_and_in_force(world: World, make_user, db) -> None:
    consent_id = (await world.post(f"/students/{S1}/consents", world.parent, consent_body())).json()["id"]
    uncovered = await world.post("/disclosures", world.records, consent_disclosure(
        consent_id, fields=[FIELDS[0], FIELDS[2]], students=[S1, S2],
        party={"name": "Broker", "organisation": "Data Broker LLC"}))
    assert uncovered.status_code == 422
    assert fields_named(uncovered) == {"fields[1]", "students[1]", "party"}
    logged = await world.post("/disclosures", world.records, consent_disclosure(consent_id))
    assert logged.status_code == 201, logged.text
    assert logged.json()["consent_id"] == consent_id

    await make_user("coparent", "parent", student_ids=[S1])
    coparent = bearer(await password_token(world.client, "coparent"))
    not_giver = await world.post(f"/consents/{consent_id}/revoke", coparent)
    assert not_giver.status_code == 403 and not_giver.json()["rule"] == "revoked-by-giver"
    revoked = await world.post(f"/consents/{consent_id}/revoke", world.parent)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert (await world.post(f"/consents/{consent_id}/revoke", world.parent)).status_code == 409
    after = await world.post("/disclosures", world.records, consent_disclosure(consent_id))
    assert after.status_code == 422 and after.json()["errors"][0]["code"] == "not-active"
    # a disclosure made before the revocation can still be recorded
    earlier = await world.post("/disclosures", world.records, consent_disclosure(consent_id, disclosed_on=days(-1)))
    assert earlier.status_code == 422  # ... but not before the consent was signed
    assert [e["code"] for e in earlier.json()["errors"]] == ["not-active"]

    second = (await world.post(f"/students/{S1}/consents", world.parent, consent_body())).json()["id"]
    async with db.sessionmaker() as session:  # it expired yesterday
        await session.execute(update(Consent).where(Consent.id == second).values(
            signed_on=TODAY - timedelta(days=30), expires_on=TODAY - timedelta(days=1)))
        await session.commit()
    assert (await world.get(f"/consents/{second}", world.parent)).json()["status"] == "expired"
    expired = await world.post("/disclosures", world.records, consent_disclosure(second))
    assert expired.json()["errors"][0]["code"] == "not-active"
    within = await world.post("/disclosures", world.records, consent_disclosure(second, disclosed_on=days(-2)))
    assert within.status_code == 201, within.text
