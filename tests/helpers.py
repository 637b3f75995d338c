"""Helpers the tests share: getting real tokens over HTTP."""

from __future__ import annotations

import httpx

TEST_PASSWORD = "correct horse battery staple 7"


async def password_token(client: httpx.AsyncClient, username: str, password: str = TEST_PASSWORD) -> str:
    response = await client.post(
        "/identity/v1/oauth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


async def client_token(client: httpx.AsyncClient, client_id: str, secret: str) -> str:
    response = await client.post(
        "/identity/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
