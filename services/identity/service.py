"""Accounts, clients, signing keys and tokens: the rules; endpoints and the CLI both call these."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity import clearance, second_factor
from services.identity.models import (
    ClientApp,
    IssuedClientToken,
    RevokedToken,
    SigningKey,
    UserAccount,
)
from services.identity.repository import AccountRepository, KeyRepository, RevokedTokenRepository
from shared.db import utcnow
from shared.errors import Conflict, NotFound, UnprocessableContent
from shared.policy.roles import UnknownRoleError, get_role
from shared.security.keys import decrypt_private_pem, generate_signing_key
from shared.security.passwords import (
    hash_password,
    needs_rehash,
    password_problems,
    verify_password_timing_safe,
)
from shared.security.service_auth import SERVICE_CLIENTS, service_client_secret
from shared.security.tokens import MAX_LIFETIME_SECONDS, TokenSubject, issue_token
from shared.settings import Settings

CLIENT_SECRET_BYTES = 32
_DUMMY_SECRET_HASH = hashlib.sha256(b"no such client").hexdigest()


def hash_client_secret(secret: str) -> str:
    # Client secrets are 256 random bits, so a fast hash is enough (argon2 is for low-entropy
    # passwords); compared in constant time.
    return hashlib.sha256(secret.encode()).hexdigest()


# Which part of an account's scope each row-scope rule reads (see shared/policy/data/roles.toml).
_SCOPE_NEEDS = {
    "state": ("state", "a state"),
    "district": ("district_ids", "a district"),
    "special_education": ("district_ids", "a district"),
    "school": ("school_ids", "a school"),
    "class_sections": ("staff_id", "a staff ID"),
    "caseload": ("staff_id", "a staff ID"),
    "service_provider": ("staff_id", "a staff ID"),
}


def scope_problems(
    role: str, state: str | None, districts: list[str], schools: list[str], staff_id: str | None = None
) -> list[dict[str, str]]:
    """An account's organisation scope must fit its role's row scope (a teacher needs a staff ID,
    a principal a school), or the policy library would have nothing to scope it by."""
    try:
        spec = get_role(role)
    except UnknownRoleError:
        return [{"field": "role", "code": "unknown_role", "message": "Unknown role"}]
    values = {"state": state, "district_ids": districts, "school_ids": schools, "staff_id": staff_id}
    need = _SCOPE_NEEDS.get(spec.row_scope)
    if need is not None and not values[need[0]]:
        return [{"field": need[0], "code": "missing", "message": f"This role needs {need[1]}"}]
    return []


def _scope_error(problems: list[dict[str, str]]) -> UnprocessableContent:
    return UnprocessableContent("See 'errors' for every field that needs attention.", errors=problems)


@dataclass(frozen=True)
class NewClient:
    client: ClientApp
    secret: str  # shown once, never stored


class AccountService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.settings = settings
        self.accounts = AccountRepository(session)
        self.revoked = RevokedTokenRepository(session)

    async def create_user(
        self,
        *,
        username: str,
        display_name: str,
        password: str,
        role: str,
        state: str | None = None,
        district_ids: list[str] | None = None,
        school_ids: list[str] | None = None,
        staff_id: str | None = None,
        student_ids: list[str] | None = None,
    ) -> UserAccount:
        districts, schools = list(district_ids or []), list(school_ids or [])
        problems = scope_problems(role, state, districts, schools, staff_id)
        problems += [
            {"field": "password", "code": "weak_password", "message": f"Password {reason}"}
            for reason in password_problems(
                password, min_length=self.settings.password_min_length, username=username
            )
        ]
        if problems:
            raise _scope_error(problems)
        if await self.accounts.user_by_username(username) is not None:
            raise Conflict("An account with this username already exists.")
        user = UserAccount(
            username=username.lower(),
            display_name=display_name,
            password_hash=hash_password(password),
            password_changed_at=utcnow(),
            role=role,
            state_code=state,
            district_ids=districts,
            school_ids=schools,
            staff_id=staff_id,
            student_ids=list(student_ids or []),
        )
        await self.accounts.add(user)
        return user

    async def create_client(
        self,
        *,
        name: str,
        role: str,
        state: str | None = None,
        district_ids: list[str] | None = None,
        school_ids: list[str] | None = None,
    ) -> NewClient:
        districts, schools = list(district_ids or []), list(school_ids or [])
        if problems := scope_problems(role, state, districts, schools):
            raise _scope_error(problems)
        secret = secrets.token_urlsafe(CLIENT_SECRET_BYTES)
        client = ClientApp(
            client_id="c_" + secrets.token_hex(12),
            name=name,
            secret_hash=hash_client_secret(secret),
            role=role,
            state_code=state,
            district_ids=districts,
            school_ids=schools,
        )
        await self.accounts.add(client)
        return NewClient(client, secret)

    async def disable_user(self, user_id: str) -> UserAccount:
        user = await self.accounts.user_by_id(user_id)
        if user is None:
            raise NotFound("No such account.")
        user.disabled_at = user.disabled_at or utcnow()
        return user

    async def revoke_client(self, client_id: str) -> ClientApp:
        client = await self.accounts.client_by_id(client_id)
        if client is None:
            raise NotFound("No such client.")
        client.revoked_at = client.revoked_at or utcnow()
        return client

    async def authenticate_user(self, username: str, password: str, totp_code: str | None = None, *,
                                enrolling: bool = False) -> tuple[UserAccount | None, str]:
        """(account, "") on success, else (None, reason). Every path costs one argon2 verify.
        A person with a confirmed second factor also needs a fresh one-time code; `enrolling`
        (setting one up) needs the password alone while none is confirmed."""
        user = await self.accounts.user_by_username(username)
        now = utcnow()
        ok = verify_password_timing_safe(password, user.password_hash if user else None)
        if user is None:
            return None, "invalid"
        if user.disabled_at is not None:
            return None, "invalid"
        if user.locked_until is not None and user.locked_until > now:
            return None, "invalid"
        if not ok:
            self._failed(user, now)
            return None, "invalid"
        if user.totp_confirmed_at is not None and not enrolling:
            if not totp_code:
                return None, "second_factor"
            step = second_factor.matching_step(second_factor.unseal(self.settings, user.totp_secret_sealed or ""),
                                               totp_code, after_step=user.totp_last_step)
            if step is None:
                self._failed(user, now)  # guessing codes counts toward the lockout like passwords
                return None, "second_factor_invalid"
            user.totp_last_step = step
        elif not enrolling and self.settings.require_second_factor and get_role(user.role).level <= 2:
            return None, "second_factor_enrolment"
        user.failed_logins = 0
        user.locked_until = None
        if self._idle(user.last_login_at, user.created_at, now):
            user.disabled_at = now  # deprovisioned for disuse: an administrator must re-enable it
            return None, "idle"
        max_age = self.settings.password_max_age_days
        if max_age is not None and user.password_changed_at < now - timedelta(days=max_age):
            return None, "expired"
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_login_at = now
        return user, ""

    def _failed(self, user: UserAccount, now: datetime) -> None:
        user.failed_logins += 1
        if user.failed_logins >= self.settings.login_lockout_threshold:
            user.locked_until = now + timedelta(minutes=self.settings.login_lockout_minutes)
            user.failed_logins = 0

    async def begin_second_factor(self, username: str, password: str) -> tuple[str, str] | str:
        """A new TOTP secret for a person without a confirmed one: (secret, otpauth URI), shown
        once; else a reason ("invalid" credentials, "enrolled" already)."""
        user, reason = await self.authenticate_user(username, password, enrolling=True)
        if user is None:
            return reason if reason != "expired" else "invalid"
        if user.totp_confirmed_at is not None:
            return "enrolled"
        secret = second_factor.new_secret()
        user.totp_secret_sealed, user.totp_last_step = second_factor.seal(self.settings, secret), None
        return secret, second_factor.provisioning_uri(secret, user.username)

    async def confirm_second_factor(self, username: str, password: str, code: str) -> str:
        """"" once the first code from the person's authenticator checks; else a reason."""
        user, reason = await self.authenticate_user(username, password, enrolling=True)
        if user is None:
            return reason if reason != "expired" else "invalid"
        if user.totp_confirmed_at is not None:
            return "enrolled"
        if user.totp_secret_sealed is None:
            return "not_started"
        step = second_factor.matching_step(second_factor.unseal(self.settings, user.totp_secret_sealed), code,
                                           after_step=None)
        if step is None:
            return "code"
        user.totp_confirmed_at, user.totp_last_step = utcnow(), step
        return ""

    async def reset_second_factor(self, user_id: str) -> UserAccount:
        """A lost authenticator: the administrator clears it; the person enrols again."""
        user = await self.accounts.user_by_id(user_id)
        if user is None:
            raise NotFound("No such account.")
        user.totp_secret_sealed = user.totp_confirmed_at = user.totp_last_step = None
        return user

    async def change_password(self, username: str, current: str, new: str, totp_code: str | None = None) -> str:
        """Returns "" on success, else a reason: invalid credentials or the new password's flaws."""
        user, reason = await self.authenticate_user(username, current, totp_code)
        if user is None and reason != "expired":
            return "invalid"
        user = user or await self.accounts.user_by_username(username)
        assert user is not None
        if problems := password_problems(new, min_length=self.settings.password_min_length,
                                          username=user.username):
            return "weak: " + "; ".join(problems)
        if verify_password_timing_safe(new, user.password_hash):
            return "weak: must differ from the current password"
        user.password_hash = hash_password(new)
        user.password_changed_at = utcnow()
        return ""

    async def authenticate_client(self, client_id: str, secret: str) -> ClientApp | None:
        if client_id in SERVICE_CLIENTS:
            return await self._authenticate_service(client_id, secret)
        client = await self.accounts.client_by_id(client_id) if len(client_id) <= 64 else None
        expected = client.secret_hash if client else _DUMMY_SECRET_HASH
        ok = hmac.compare_digest(expected, hash_client_secret(secret))
        if client is None or not ok or client.revoked_at is not None:
            return None
        now = utcnow()
        if self._idle(client.last_used_at, client.created_at, now):
            client.revoked_at = now  # deprovisioned for disuse
            return None
        client.last_used_at = now
        return client

    def _idle(self, last_used: datetime | None, created: datetime, now: datetime) -> bool:
        days = self.settings.account_idle_days
        return days is not None and (last_used or created) < now - timedelta(days=days)

    async def stale_accounts(self, *, disable: bool = False) -> list[dict[str, Any]]:
        """People and clients unused for `account_idle_days` that are still enabled (the services'
        own clients excepted: they are used on every release); disabled at once with `disable`."""
        days = self.settings.account_idle_days
        if days is None:
            return []
        now = utcnow()
        cutoff = now - timedelta(days=days)
        found: list[dict[str, Any]] = []
        for user in await self.accounts.enabled_users_idle_since(cutoff):
            found.append({"kind": "user", "id": user.id, "name": user.username, "role": user.role,
                          "last_used_at": (user.last_login_at or user.created_at).isoformat()})
            if disable:
                user.disabled_at = now
        for client in await self.accounts.enabled_clients_idle_since(cutoff):
            if client.client_id in SERVICE_CLIENTS:
                continue
            found.append({"kind": "client", "id": client.client_id, "name": client.name, "role": client.role,
                          "last_used_at": (client.last_used_at or client.created_at).isoformat()})
            if disable:
                client.revoked_at = now
        return found

    async def _authenticate_service(self, client_id: str, secret: str) -> ClientApp | None:
        """A service's own client (`shared.security.service_auth`): the secret is derived from the
        deployment secret; the row is made on first use so it can be revoked like any client."""
        if not hmac.compare_digest(service_client_secret(self.settings, client_id), secret):
            return None
        client = await self.accounts.client_by_id(client_id)
        if client is None:
            client = ClientApp(client_id=client_id, name=f"SLDS service {client_id.removeprefix('svc-')}",
                               secret_hash=hash_client_secret(secret), role="service", state_code=None,
                               district_ids=[], school_ids=[])
            await self.accounts.add(client)
        if client.revoked_at is not None or client.role != "service":
            return None
        client.last_used_at = utcnow()
        return client

    async def revoke_token(self, subject: str, jti: str, expires_at: datetime) -> None:
        await self.revoked.add(
            RevokedToken(jti=jti, subject=subject, expires_at=expires_at, revoked_at=utcnow())
        )

    async def revocation_list(self) -> dict[str, Any]:
        now = utcnow()
        return {
            "disabled_subjects": sorted(await self.accounts.disabled_subjects()),
            "revoked_token_ids": sorted(await self.revoked.unexpired_ids(now)),
            "generated_at": now.isoformat(),
        }


# Decrypted private keys, by kid: decrypting (PBKDF2) on every token would cost ~100 ms.
_private_pem_cache: dict[str, str] = {}


class KeyService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.settings = settings
        self.keys = KeyRepository(session)

    def _publish_window_start(self) -> datetime:
        # A retired key stays published until every token it signed has expired.
        return utcnow() - timedelta(seconds=MAX_LIFETIME_SECONDS + 60)

    async def signing_key(self) -> tuple[SigningKey, str]:
        key = await self.keys.signing_key()
        if key is None:
            key = await self.rotate()
        pem = _private_pem_cache.get(key.kid)
        if pem is None:
            pem = decrypt_private_pem(key.private_pem_encrypted, self.settings.resolved_secret_key())
            _private_pem_cache[key.kid] = pem
        return key, pem

    async def rotate(self) -> SigningKey:
        """New signing key now; the old ones stop signing but stay published until their tokens
        expire, so verifiers that refetch the key set on an unknown kid never see a gap."""
        now = utcnow()
        for old in await self.keys.active():
            old.retired_at = now
        generated = generate_signing_key(self.settings.token_algorithm, self.settings.resolved_secret_key())
        key = SigningKey(
            kid=generated.kid,
            algorithm=generated.algorithm,
            private_pem_encrypted=generated.private_pem_encrypted,
            public_jwk=generated.public_jwk,
            created_at=now,
        )
        await self.keys.add(key)
        return key

    async def jwks(self) -> dict[str, list[dict[str, Any]]]:
        keys = await self.keys.published(self._publish_window_start())
        return {"keys": [k.public_jwk for k in keys if k.algorithm == self.settings.token_algorithm]}


class TokenService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.key_service = KeyService(session, settings)

    async def issue(self, who: UserAccount | ClientApp) -> tuple[str, int]:
        key, pem = await self.key_service.signing_key()
        is_user = isinstance(who, UserAccount)
        lifetime = self.settings.user_token_seconds if is_user else self.settings.client_token_seconds
        subject = TokenSubject(
            subject=who.subject,
            kind="user" if is_user else "client",
            role=who.role,
            state=who.state_code,
            district_ids=tuple(who.district_ids),
            school_ids=tuple(who.school_ids),
            staff_id=who.staff_id if is_user else None,
            student_ids=tuple(who.student_ids) if is_user else (),
            # NDA and training (issue 9): judged at each token, so a recording counts from the next.
            cleared_until=await clearance.token_clearance(self.session, self.settings, who) if is_user else None,
        )
        token, claims = issue_token(
            subject,
            private_pem=pem,
            kid=key.kid,
            algorithm=key.algorithm,
            issuer=self.settings.token_issuer,
            audience=self.settings.token_audience,
            lifetime_seconds=lifetime,
        )
        if not is_user:
            await self._cap_live_tokens(who.subject, claims.jti, expires_at(claims.exp))
        return token, claims.exp - claims.iat

    async def _cap_live_tokens(self, subject: str, jti: str, expires: datetime) -> None:
        """Keep the client's newest `client_live_tokens_max` tokens; revoke the older live ones,
        so a leaked secret cannot mint a stock of tokens unnoticed (the real client's older token
        stops working and shows it)."""
        session = self.session
        now = utcnow()
        await session.execute(delete(IssuedClientToken).where(IssuedClientToken.expires_at < now))
        session.add(IssuedClientToken(jti=jti, subject=subject, issued_at=now, expires_at=expires))  # µs order
        await session.flush()
        live = (await session.scalars(
            select(IssuedClientToken)
            .where(IssuedClientToken.subject == subject, IssuedClientToken.expires_at > now,
                   IssuedClientToken.jti.not_in(select(RevokedToken.jti)))
            .order_by(IssuedClientToken.issued_at.desc(), IssuedClientToken.jti))).all()
        for old in live[self.settings.client_live_tokens_max:]:
            session.add(RevokedToken(jti=old.jti, subject=subject, expires_at=old.expires_at, revoked_at=now))
        await session.flush()


def expires_at(exp: int) -> datetime:
    return datetime.fromtimestamp(exp, UTC)
