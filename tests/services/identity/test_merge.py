"""Merge and split over HTTP: the retired ID stays reserved and follows its survivor; a split
undoes it; both are level-1 only and audited with who and why."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import bearer, client_token, password_token

RESOLVE = "/identity/v1/students/resolve"


@pytest.fixture
async def tokens(client: httpx.AsyncClient, make_user, make_client_app) -> dict[str, dict[str, str]]:
    await make_user("steward", "state_data_admin")
    await make_user("super", "superintendent", district_ids=["1001"])
    created = await make_client_app("SIS 1001", "district_sis", district_ids=["1001"])
    return {
        "steward": bearer(await password_token(client, "steward")),
        "super": bearer(await password_token(client, "super")),
        "sis": bearer(await client_token(client, created.client.client_id, created.secret)),
    }


async def _new_student(client: httpx.AsyncClient, headers: dict[str, str], local: str, first: str, dob: str) -> str:
    response = await client.post(RESOLVE, headers=headers, json={
        "district_id": "1001", "local_student_id": local, "first_name": first,
        "last_name": "Abernathy", "birth_date": dob, "guardian_names": [f"P {local}"]})
    assert response.status_code == 200 and response.json()["decision"] == "assigned", response.text
    return response.json()["state_student_id"]


async def test_merge_follows_survivor_and_split_restores(client: httpx.AsyncClient, tokens) -> None:
    survivor = await _new_student(client, tokens["sis"], "A1", "Priya", "2011-02-03")
    retired = await _new_student(client, tokens["sis"], "A2", "Quentin", "2009-08-19")
    merged = await client.post("/identity/v1/students/merges", headers=tokens["steward"], json={
        "survivor_id": survivor, "retired_id": retired, "reason": "same child, confirmed by district"})
    assert merged.status_code == 201, merged.text
    status = (await client.get(f"/identity/v1/students/{retired}/status", headers=tokens["sis"])).json()
    assert status == {"state_student_id": retired, "current_state_student_id": survivor, "status": "retired"}
    # The district's local ID of the retired record now resolves to the survivor.
    again = await client.post(RESOLVE, headers=tokens["sis"], json={
        "district_id": "1001", "local_student_id": "A2", "first_name": "Quentin",
        "last_name": "Abernathy", "birth_date": "2009-08-19"})
    assert again.json()["state_student_id"] == survivor
    # A retired ID cannot be merged again, nor handed out again.
    twice = await client.post("/identity/v1/students/merges", headers=tokens["steward"], json={
        "survivor_id": survivor, "retired_id": retired, "reason": "again"})
    assert twice.status_code == 409
    split = await client.post("/identity/v1/students/splits", headers=tokens["steward"], json={
        "retired_id": retired, "reason": "the merge was wrong: two children"})
    assert split.status_code == 201
    status = (await client.get(f"/identity/v1/students/{retired}/status", headers=tokens["sis"])).json()
    assert status["status"] == "active" and status["current_state_student_id"] == retired
    history = (await client.get(f"/identity/v1/students/{retired}/history", headers=tokens["steward"])).json()
    assert [e["action"] for e in history] == ["merge", "split"]
    assert history[1]["reason"] == "the merge was wrong: two children" and history[0]["actor"].startswith("user:")


async def test_only_level_one_merges(client: httpx.AsyncClient, tokens) -> None:
    a = await _new_student(client, tokens["sis"], "B1", "Rosa", "2012-02-03")
    b = await _new_student(client, tokens["sis"], "B2", "Sven", "2010-08-19")
    for who in ("super", "sis"):
        response = await client.post("/identity/v1/students/merges", headers=tokens[who], json={
            "survivor_id": a, "retired_id": b, "reason": "x y z"})
        assert response.status_code == 403


async def test_mistyped_id_fails_its_check_digit(client: httpx.AsyncClient, tokens) -> None:
    good = await _new_student(client, tokens["sis"], "C1", "Tariq", "2013-03-03")
    swapped = good[0] + good[2] + good[1] + good[3:] if good[1] != good[2] else good[:-1] + str((int(good[-1]) + 1) % 10)
    response = await client.get(f"/identity/v1/students/{swapped}/status", headers=tokens["sis"])
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "path.state_student_id"
    unknown = "1000000000"[:9]
    from stdnum import damm
    unknown += damm.calc_check_digit(unknown)
    assert (await client.get(f"/identity/v1/students/{unknown}/status", headers=tokens["sis"])).status_code == 404
