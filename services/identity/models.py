"""Identity's tables: accounts, machine clients, signing keys and revoked tokens.

(Persons, state IDs and match reviews join them in the identity issue.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, TimestampMixin, new_uuid


class OrgScopeColumns:
    """The organisation scope a token carries, stored as on the account or client."""

    role: Mapped[str] = mapped_column(String(64))
    state_code: Mapped[str | None] = mapped_column(String(8))
    district_ids: Mapped[list[str]] = mapped_column(default=list)
    school_ids: Mapped[list[str]] = mapped_column(default=list)


class UserAccount(OrgScopeColumns, TimestampMixin, Base):
    __tablename__ = "identity_user_account"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[datetime]
    staff_id: Mapped[str | None] = mapped_column(String(32))
    student_ids: Mapped[list[str]] = mapped_column(default=list)  # parent / eligible student
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]

    @property
    def subject(self) -> str:
        return f"user:{self.id}"


class ClientApp(OrgScopeColumns, TimestampMixin, Base):
    __tablename__ = "identity_client_app"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(128))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    @property
    def subject(self) -> str:
        return f"client:{self.client_id}"


class SigningKey(TimestampMixin, Base):
    __tablename__ = "identity_signing_key"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    private_pem_encrypted: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]]
    retired_at: Mapped[datetime | None]  # stops signing; still published until tokens expire


class RevokedToken(Base):
    __tablename__ = "identity_revoked_token"

    jti: Mapped[str] = mapped_column(String(100), primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime]
