"""The data dictionary is published without a token; the roles need one."""

from __future__ import annotations

import httpx

from tests.helpers import bearer, password_token


async def test_data_dictionary_is_public_and_complete(client: httpx.AsyncClient) -> None:
    response = await client.get("/records/v1/data-dictionary")
    assert response.status_code == 200
    body = response.json()
    assert response.headers["etag"] == f'"{body["version"]}"'
    fields = {(f["entity"], f["name"]): f for f in body["fields"]}
    assert fields[("student", "state_student_id")]["level"] == 4
    ssn = fields[("student", "ssn")]
    assert ssn["never_returned"] is True and ssn["pii"] == "direct"
    categories = {f["category"] for f in body["fields"]}
    assert {"demographics", "enrollment", "special_education", "discipline", "assessments",
            "attendance", "staff_credentials"} <= categories
    code_sets = body["code_sets"]
    code_set_names = {c["name"] for c in code_sets}
    assert all(f["code_set"] in code_set_names for f in body["fields"] if f["code_set"])


async def test_roles_need_a_token_and_list_levels(client: httpx.AsyncClient, make_user) -> None:
    assert (await client.get("/records/v1/roles")).status_code == 401
    await make_user()
    token = await password_token(client, "alice")
    roles = {r["code"]: r for r in (await client.get("/records/v1/roles", headers=bearer(token))).json()["roles"]}
    assert roles["state_data_admin"]["level"] == 1 and roles["registrar"]["level"] == 4
    assert roles["teacher"]["row_scope"] == "class_sections"
    assert all(r["basis"] for r in roles.values())
