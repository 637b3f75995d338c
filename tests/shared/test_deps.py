"""One commit per request, at the edge, before the response: a failed commit is a 500 and
nothing of the request is stored."""

from __future__ import annotations

import httpx
from fastapi import APIRouter
from sqlalchemy import func, select

from services.gateway import create_gateway
from services.identity.models import UserAccount
from shared.db import utcnow
from shared.deps import DbSession


async def test_failed_commit_is_a_500_and_stores_nothing(settings, db, make_user) -> None:
    await make_user("taken")
    router = APIRouter()

    @router.post("/records/v1/_probe")
    async def probe(session: DbSession) -> dict[str, bool]:
        session.add(UserAccount(username="fresh.row", display_name="x", password_hash="x",
                                password_changed_at=utcnow(), role="registrar"))
        # Not flushed: the unique violation surfaces only at the edge's commit.
        session.add(UserAccount(username="taken", display_name="x", password_hash="x",
                                password_changed_at=utcnow(), role="registrar"))
        return {"ok": True}

    gateway = create_gateway(settings, database=db)
    gateway.apps["records"].include_router(router)
    async with gateway.running():
        transport = httpx.ASGITransport(app=gateway, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post("/records/v1/_probe")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "Traceback" not in response.text and "taken" not in response.text
    async with db.sessionmaker() as session:
        stored = await session.scalar(select(func.count()).where(UserAccount.username == "fresh.row"))
    assert stored == 0
