"""A NUL character anywhere in a request is a 422 naming where it was (it used to be a 500 on
PostgreSQL, whose text type cannot hold one), and the value is never echoed."""

from __future__ import annotations

import httpx

from tests.helpers import bearer, password_token


async def _steward(client: httpx.AsyncClient, make_user) -> dict[str, str]:
    await make_user("steward", "state_data_admin")
    return bearer(await password_token(client, "steward"))


def _refused(response: httpx.Response, where: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"] == [{"field": where, "code": "nul_character",
                                          "message": "NUL characters are not accepted"}]


async def test_nul_in_path_query_or_json_body_is_a_422_naming_where(client, make_user) -> None:
    steward = await _steward(client, make_user)
    _refused(await client.get("/records/v1/students/12%0034", headers=steward), "path")
    _refused(await client.get("/records/v1/access-log", params={"actor": "user:\x00x"}, headers=steward), "query")
    body = {"state_student_id": "1234567890", "local_student_id": "L\u00001",
            "demographics": {"first_name": "Secret", "last_name": "Name"}}
    response = await client.post("/records/v1/students", json=body, headers=steward)
    _refused(response, "body")
    assert "Secret" not in response.text
    ndjson = b'{"first_name": "A"}\n{"first_name": "B\x00"}\n'
    _refused(await client.post("/identity/v1/students/batches", content=ndjson,
                               headers={**steward, "Content-Type": "application/x-ndjson"}), "body")


async def test_nul_in_a_login_form_is_refused_and_clean_requests_still_work(client, make_user) -> None:
    await make_user("steward", "state_data_admin")
    refused = await client.post("/identity/v1/oauth/token",
                                content=b"grant_type=password&username=steward%00&password=x",
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
    _refused(refused, "body")
    token = await password_token(client, "steward")
    assert (await client.get("/records/v1/whoami", headers=bearer(token))).status_code == 200
    # "%00" is ordinary text inside a JSON string: only the escape \\u0000 is a NUL
    ok = await client.get("/records/v1/data-dictionary")
    assert ok.status_code == 200


async def test_an_as_of_past_the_last_utc_instant_is_a_422_naming_it(client, make_user) -> None:
    steward = await _steward(client, make_user)
    response = await client.get("/records/v1/students/1234567890", params={"as_of": "9999-12-31T23:00:00-05:00"},
                                headers=steward)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "query.as_of"
