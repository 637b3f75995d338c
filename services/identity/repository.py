"""Queries on identity's tables. Repositories flush when asked, never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Exists, Select, bindparam, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import ClientApp, RevokedToken, SigningKey, UserAccount


def _refused(active: Exists) -> Select[tuple[bool]]:
    return select(~active | exists().where(RevokedToken.jti == bindparam("token_id")))


# Token verification asks on every call: built once, since building the expression (and its cache
# key) took longer than the database took to answer it. On PostgreSQL verification.py compiles
# them once more, for the driver itself.
REFUSED = {
    "user": _refused(exists().where(UserAccount.id == bindparam("key"), UserAccount.disabled_at.is_(None))),
    "client": _refused(exists().where(ClientApp.client_id == bindparam("key"), ClientApp.revoked_at.is_(None))),
}


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def user_by_username(self, username: str) -> UserAccount | None:
        return await self.session.scalar(
            select(UserAccount).where(UserAccount.username == username.lower())
        )

    async def user_by_id(self, user_id: str) -> UserAccount | None:
        return await self.session.get(UserAccount, user_id)

    async def client_by_id(self, client_id: str) -> ClientApp | None:
        return await self.session.get(ClientApp, client_id)

    async def add(self, entity: UserAccount | ClientApp) -> None:
        self.session.add(entity)
        await self.session.flush()

    async def disabled_subjects(self) -> list[str]:
        users = await self.session.scalars(
            select(UserAccount.id).where(UserAccount.disabled_at.is_not(None))
        )
        clients = await self.session.scalars(
            select(ClientApp.client_id).where(ClientApp.revoked_at.is_not(None))
        )
        return [f"user:{u}" for u in users] + [f"client:{c}" for c in clients]

    async def enabled_users_idle_since(self, cutoff: datetime) -> Sequence[UserAccount]:
        return (await self.session.scalars(select(UserAccount).where(
            UserAccount.disabled_at.is_(None),
            func.coalesce(UserAccount.last_login_at, UserAccount.created_at) < cutoff,
        ).order_by(UserAccount.username))).all()

    async def enabled_clients_idle_since(self, cutoff: datetime) -> Sequence[ClientApp]:
        return (await self.session.scalars(select(ClientApp).where(
            ClientApp.revoked_at.is_(None),
            func.coalesce(ClientApp.last_used_at, ClientApp.created_at) < cutoff,
        ).order_by(ClientApp.client_id))).all()

    async def refused(self, subject: str, token_id: str) -> bool:
        """The account or client is unknown or disabled, or this token was revoked: one statement
        (one round trip, no rows loaded)."""
        kind, _, key = subject.partition(":")
        query = REFUSED.get(kind)
        if query is None:
            return True
        return bool(await self.session.scalar(query, {"key": key, "token_id": token_id}))


class KeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def signing_key(self) -> SigningKey | None:
        return await self.session.scalar(
            select(SigningKey)
            .where(SigningKey.retired_at.is_(None))
            .order_by(SigningKey.created_at.desc())
            .limit(1)
        )

    async def published(self, retired_after: datetime) -> Sequence[SigningKey]:
        rows = await self.session.scalars(
            select(SigningKey)
            .where(or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > retired_after))
            .order_by(SigningKey.created_at)
        )
        return rows.all()

    async def active(self) -> Sequence[SigningKey]:
        rows = await self.session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None)))
        return rows.all()

    async def add(self, key: SigningKey) -> None:
        self.session.add(key)
        await self.session.flush()


class RevokedTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, token: RevokedToken) -> None:
        if await self.session.get(RevokedToken, token.jti) is None:
            self.session.add(token)
            await self.session.flush()

    async def unexpired_ids(self, now: datetime) -> list[str]:
        rows = await self.session.scalars(
            select(RevokedToken.jti).where(RevokedToken.expires_at > now)
        )
        return list(rows)
