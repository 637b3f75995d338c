"""Account and client administration over HTTP: who may do it, and what bad input gets."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import bearer, client_token, password_token

USERS = "/identity/v1/users"


async def test_admin_creates_a_user_who_can_log_in(client: httpx.AsyncClient, make_user) -> None:
    await make_user("admin")
    token = await password_token(client, "admin")
    response = await client.post(USERS, headers=bearer(token), json={
        "username": "Grace", "display_name": "Grace H", "password": "orange kettle mountain 5",
        "role": "teacher", "district_ids": ["1001"], "school_ids": ["1001-01"], "staff_id": "S77"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["username"] == "grace" and body["role"] == "teacher"
    assert "password" not in body and "password_hash" not in body
    assert await password_token(client, "grace", "orange kettle mountain 5")


async def test_only_state_admin_manages_accounts(client: httpx.AsyncClient, make_user) -> None:
    await make_user("sup", "superintendent", district_ids=["1001"])
    token = await password_token(client, "sup")
    response = await client.post(USERS, headers=bearer(token), json={
        "username": "xavier", "display_name": "x", "password": "orange kettle mountain 5", "role": "teacher",
        "district_ids": ["1001"], "school_ids": ["1001-01"]})
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_bad_user_body_lists_every_problem_without_values(client: httpx.AsyncClient, make_user) -> None:
    await make_user("admin")
    token = await password_token(client, "admin")
    response = await client.post(USERS, headers=bearer(token), json={
        "username": "h!", "password": "secret-value-xyz", "role": "teacher", "ssn": "123-45-6789"})
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"body.username", "body.display_name", "body.ssn"} <= fields
    assert "123-45-6789" not in response.text and "secret-value-xyz" not in response.text


@pytest.mark.parametrize("body,field", [
    ({"role": "teacher", "district_ids": ["1001"]}, "staff_id"),
    ({"role": "principal", "district_ids": ["1001"]}, "school_ids"),
    ({"role": "superintendent"}, "district_ids"),
    ({"role": "wizard"}, "role"),
    ({"role": "state_data_admin", "state": "ST", "password": "password1234"}, "password"),
])
async def test_scope_and_password_rules(client: httpx.AsyncClient, make_user, body: dict, field: str) -> None:
    await make_user("admin")
    token = await password_token(client, "admin")
    payload = {"username": "newbie", "display_name": "N", "password": "orange kettle mountain 5", **body}
    response = await client.post(USERS, headers=bearer(token), json=payload)
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}


async def test_duplicate_username_is_409_and_first_account_unchanged(client: httpx.AsyncClient, make_user) -> None:
    await make_user("admin")
    await make_user("ivy", "registrar")
    token = await password_token(client, "admin")
    response = await client.post(USERS, headers=bearer(token), json={
        "username": "IVY", "display_name": "other", "password": "orange kettle mountain 5",
        "role": "state_data_admin", "state": "ST"})
    assert response.status_code == 409
    assert await password_token(client, "ivy")  # the original still logs in with its password


async def test_client_secret_is_shown_once_and_works(client: httpx.AsyncClient, make_user) -> None:
    await make_user("admin")
    token = await password_token(client, "admin")
    response = await client.post("/identity/v1/clients", headers=bearer(token), json={
        "name": "District 1002 SIS", "role": "district_sis", "district_ids": ["1002"]})
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    sis = await client_token(client, body["client_id"], body["client_secret"])
    response = await client.get("/records/v1/whoami", headers=bearer(sis))
    assert response.status_code == 200, response.text
    whoami = response.json()
    assert whoami["role"] == "district_sis" and whoami["district_ids"] == ["1002"]
