"""Helpers the tests share: getting real tokens over HTTP."""

from __future__ import annotations

import httpx
from sqlalchemy.engine import make_url

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


async def recreate_postgres_database(url: str) -> None:
    import asyncpg

    parsed = make_url(url)
    admin = await asyncpg.connect(
        host=parsed.host, port=parsed.port or 5432, user=parsed.username,
        password=parsed.password, database="postgres",
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await admin.close()
