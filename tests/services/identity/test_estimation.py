"""The model can be re-estimated from this state's data: the review queue's decisions, or EM."""

from __future__ import annotations

import httpx

from services.identity import matching
from services.identity.estimation import estimate
from shared.state import Database
from tests.helpers import bearer, client_token, password_token
from tests.services.identity.test_review_queue import NEAR, ORIGINAL


async def test_estimates_from_review_decisions_and_em(client: httpx.AsyncClient, make_user, make_client_app,
                                                       db: Database) -> None:
    await make_user("steward", "state_data_admin")
    steward = bearer(await password_token(client, "steward"))
    sis = {}
    for district in ("1001", "1002"):
        created = await make_client_app(f"SIS {district}", "district_sis", district_ids=[district])
        sis[district] = bearer(await client_token(client, created.client.client_id, created.secret))
    # Two unrelated families, each with a near match held for review.
    families = {"same_person": ("Okafor", "2012-04-07", "2012-04-08"),
                "different_persons": ("Adeyemi", "2009-10-21", "2009-10-22")}
    for decision, (suffix, born, typo) in families.items():
        original = (await client.post("/identity/v1/students/resolve", headers=sis["1001"], json={
            **ORIGINAL, "local_student_id": f"O{suffix}", "last_name": f"{suffix}-Cruz", "ssn": None,
            "birth_date": born, "guardian_names": [f"Grace {suffix}"], "address": f"{len(suffix)} {suffix} Rd"})).json()
        held = (await client.post("/identity/v1/students/resolve", headers=sis["1002"], json={
            **NEAR, "local_student_id": f"N{suffix}", "last_name": f"{suffix}-Cruz", "birth_date": typo})).json()
        assert held["decision"] == "review", held
        body = {"decision": decision, "reason": "checked with the district"}
        if decision == "same_person":
            body["same_as"] = original["state_student_id"]
        response = await client.post(f"/identity/v1/reviews/{held['review_id']}/decision", headers=steward, json=body)
        assert response.status_code == 200, response.text

    async with db.sessionmaker() as session:
        labelled, pairs = await estimate(session, "reviews")
        assert pairs == 2
        em, vectors = await estimate(session, "em", sample=50)
        assert vectors >= 2
    default = matching.MatchModel.load_default()
    for model in (labelled, em):
        reloaded = matching.MatchModel.from_toml(model.to_toml())
        assert reloaded.to_toml() == model.to_toml()
        assert model.to_toml() != default.to_toml()  # the data moved the parameters


async def test_estimating_from_nothing_is_a_clear_error(db: Database) -> None:
    async with db.sessionmaker() as session:
        for source in ("reviews", "em"):
            try:
                await estimate(session, source)  # type: ignore[arg-type]
            except ValueError as exc:
                assert "review" in str(exc) or "persons" in str(exc)
            else:
                raise AssertionError(f"{source}: expected an error on an empty database")
