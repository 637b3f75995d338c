"""The token endpoint, the key set, rotation, revocation and disabling, over real HTTP."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from jose import jwt
from sqlalchemy import delete

from services.identity.models import ClientApp, RevokedToken, UserAccount
from services.identity.service import AccountService, KeyService
from services.identity.verification import DbRevocationSource
from shared.state import Database
from shared.db import utcnow
from shared.settings import Settings
from tests.helpers import TEST_PASSWORD, bearer, client_token, password_token

TOKEN = "/identity/v1/oauth/token"
SERVICES = ["identity", "records", "disclosure", "reporting"]


async def test_client_credentials_with_basic_auth(client: httpx.AsyncClient, make_client_app, settings: Settings) -> None:
    created = await make_client_app("SIS of 1001", "district_sis", district_ids=["1001"])
    response = await client.post(TOKEN, data={"grant_type": "client_credentials"},
                                 auth=(created.client.client_id, created.secret))
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == settings.client_token_seconds
    assert response.headers["cache-control"] == "no-store"
    claims = jwt.get_unverified_claims(body["access_token"])
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == settings.token_algorithm and header["kid"]
    assert claims["sub"] == f"client:{created.client.client_id}"
    assert claims["role"] == "district_sis" and claims["org"]["districts"] == ["1001"]
    assert claims["aud"] == settings.token_audience and claims["iss"] == settings.token_issuer
    assert {"iat", "exp", "jti"} <= claims.keys()


async def test_client_credentials_in_form_body(client: httpx.AsyncClient, make_client_app) -> None:
    created = await make_client_app()
    response = await client.post(TOKEN, data={"grant_type": "client_credentials",
                                              "client_id": created.client.client_id,
                                              "client_secret": created.secret})
    assert response.status_code == 200


@pytest.mark.parametrize("which", ["wrong_secret", "unknown_client", "no_credentials"])
async def test_bad_client_credentials_are_401_invalid_client(client: httpx.AsyncClient, make_client_app, which: str) -> None:
    created = await make_client_app()
    auth = {"wrong_secret": (created.client.client_id, "x" * 43),
            "unknown_client": ("c_nobody", created.secret), "no_credentials": None}[which]
    response = await client.post(TOKEN, data={"grant_type": "client_credentials"}, auth=auth)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["error"] == "invalid_client"
    assert created.secret not in response.text


async def test_password_grant_and_identical_answers_for_wrong_password_and_unknown_user(
    client: httpx.AsyncClient, make_user
) -> None:
    await make_user("bob", "superintendent", district_ids=["1001"])
    assert await password_token(client, "bob")
    wrong = await client.post(TOKEN, data={"grant_type": "password", "username": "bob", "password": "nope"})
    unknown = await client.post(TOKEN, data={"grant_type": "password", "username": "nobody", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 400
    strip = lambda body: {k: v for k, v in body.items() if k != "request_id"}  # noqa: E731
    assert strip(wrong.json()) == strip(unknown.json())
    assert wrong.json()["error"] == "invalid_grant"


async def test_repeated_failures_lock_the_account(client: httpx.AsyncClient, make_user, db: Database, settings: Settings) -> None:
    await make_user("carol", "teacher", district_ids=["1001"], school_ids=["1001-01"], staff_id="S1")
    for _ in range(settings.login_lockout_threshold):
        response = await client.post(TOKEN, data={"grant_type": "password", "username": "carol", "password": "bad"})
        assert response.status_code == 400
    locked = await client.post(TOKEN, data={"grant_type": "password", "username": "carol", "password": TEST_PASSWORD})
    assert locked.status_code == 400, "the right password must not work while locked"
    async with db.sessionmaker() as session:
        user = await AccountService(session, settings).accounts.user_by_username("carol")
        assert user is not None and user.locked_until is not None
        user.locked_until = utcnow() - timedelta(seconds=1)  # the lockout period passes
        await session.commit()
    assert await password_token(client, "carol")


@pytest.mark.parametrize("data,error", [
    ({}, "invalid_request"),
    ({"grant_type": "authorization_code"}, "unsupported_grant_type"),
    ({"grant_type": "password", "username": "x"}, "invalid_request"),
])
async def test_malformed_token_requests(client: httpx.AsyncClient, data: dict[str, str], error: str) -> None:
    response = await client.post(TOKEN, data=data)
    assert response.status_code == 400
    assert response.json()["error"] == error


async def test_jwks_publishes_public_keys_only(client: httpx.AsyncClient, make_user) -> None:
    await make_user()
    token = await password_token(client, "alice")
    jwks = (await client.get("/identity/v1/.well-known/jwks.json")).json()
    kids = {k["kid"] for k in jwks["keys"]}
    assert jwt.get_unverified_header(token)["kid"] in kids
    for key in jwks["keys"]:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys()


async def test_key_rotation_keeps_old_tokens_valid_everywhere(
    client: httpx.AsyncClient, make_user, db: Database, settings: Settings
) -> None:
    await make_user()
    old_token = await password_token(client, "alice")
    for service in SERVICES:  # verifiers have cached the key set
        assert (await client.get(f"/{service}/v1/whoami", headers=bearer(old_token))).status_code == 200
    async with db.sessionmaker() as session:
        new_kid = (await KeyService(session, settings).rotate()).kid
        await session.commit()
    new_token = await password_token(client, "alice")
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    assert jwt.get_unverified_header(old_token)["kid"] != new_kid
    for service in SERVICES:
        for token in (old_token, new_token):
            assert (await client.get(f"/{service}/v1/whoami", headers=bearer(token))).status_code == 200


async def test_disabled_account_is_refused_at_every_service(client: httpx.AsyncClient, make_user) -> None:
    await make_user("admin")
    victim = await make_user("dave", "superintendent", district_ids=["1002"])
    admin_token = await password_token(client, "admin")
    dave_token = await password_token(client, "dave")
    for service in SERVICES:
        assert (await client.get(f"/{service}/v1/whoami", headers=bearer(dave_token))).status_code == 200
    response = await client.post(f"/identity/v1/users/{victim.id}/disable", headers=bearer(admin_token))
    assert response.status_code == 200 and response.json()["disabled_at"]
    for service in SERVICES:
        response = await client.get(f"/{service}/v1/whoami", headers=bearer(dave_token))
        assert response.status_code == 401, service
    relogin = await client.post(TOKEN, data={"grant_type": "password", "username": "dave", "password": TEST_PASSWORD})
    assert relogin.status_code == 400


async def test_revoked_client_is_refused_at_every_service(client: httpx.AsyncClient, make_user, make_client_app) -> None:
    await make_user("admin")
    created = await make_client_app()
    sis_token = await client_token(client, created.client.client_id, created.secret)
    admin_token = await password_token(client, "admin")
    response = await client.post(f"/identity/v1/clients/{created.client.client_id}/revoke",
                                 headers=bearer(admin_token))
    assert response.status_code == 200
    for service in SERVICES:
        assert (await client.get(f"/{service}/v1/whoami", headers=bearer(sis_token))).status_code == 401
    again = await client.post(TOKEN, data={"grant_type": "client_credentials"},
                              auth=(created.client.client_id, created.secret))
    assert again.status_code == 401


async def test_revoked_token_is_refused_but_new_token_works(client: httpx.AsyncClient, make_user) -> None:
    await make_user()
    token = await password_token(client, "alice")
    assert (await client.post("/identity/v1/oauth/revoke", data={"token": token})).status_code == 200
    for service in SERVICES:
        assert (await client.get(f"/{service}/v1/whoami", headers=bearer(token))).status_code == 401
    fresh = await password_token(client, "alice")
    assert (await client.get("/records/v1/whoami", headers=bearer(fresh))).status_code == 200


async def test_identity_revocation_check_on_a_database_as_the_services_open_it(settings: Settings) -> None:
    """Identity checks the account and the token on every call in one statement (on PostgreSQL
    outside a transaction): it sees what was committed just before, and refuses unknown subjects."""
    db = Database.from_settings(settings)
    assert (db.autocommit_sessionmaker is None) == (db.engine.dialect.name == "sqlite")
    source = DbRevocationSource(db)
    user_id = client_id = None
    try:
        async with db.sessionmaker() as session:
            accounts = AccountService(session, settings)
            user = await accounts.create_user(username="revocation-probe", display_name="Probe",
                                              password=TEST_PASSWORD, role="state_data_admin", state="ST")
            created = await accounts.create_client(name="revocation probe", role="service", state="ST")
            user_id, client_id = user.id, created.client.client_id
            await session.commit()
        user_subject, client_subject = f"user:{user_id}", f"client:{client_id}"
        assert not await source.is_revoked(user_subject, "jti-live-00001")
        assert not await source.is_revoked(client_subject, "jti-live-00001")
        for unknown in ("user:nobody", "client:nobody", f"robot:{client_id}", client_id):
            assert await source.is_revoked(unknown, "jti-live-00001"), unknown
        async with db.sessionmaker() as session:
            accounts = AccountService(session, settings)
            await accounts.revoke_token(client_subject, "jti-revoked-01", utcnow() + timedelta(hours=1))
            await accounts.disable_user(user_id)
            await session.commit()
        assert await source.is_revoked(client_subject, "jti-revoked-01")
        assert not await source.is_revoked(client_subject, "jti-live-00001")
        assert await source.is_revoked(user_subject, "jti-live-00001")
        async with db.sessionmaker() as session:
            await AccountService(session, settings).revoke_client(client_id)
            await session.commit()
        assert await source.is_revoked(client_subject, "jti-live-00001")
    finally:
        async with db.sessionmaker() as session:
            await session.execute(delete(RevokedToken).where(RevokedToken.jti == "jti-revoked-01"))
            await session.execute(delete(UserAccount).where(UserAccount.id == user_id))
            await session.execute(delete(ClientApp).where(ClientApp.client_id == client_id))
            await session.commit()
        await db.engine.dispose()


async def test_expired_password_must_be_changed_when_policy_requires(
    client: httpx.AsyncClient, make_user, db: Database, settings: Settings
) -> None:
    settings_90 = settings.model_copy(update={"password_max_age_days": 90})
    await make_user("erin", "principal", district_ids=["1001"], school_ids=["1001-01"])
    async with db.sessionmaker() as session:
        service = AccountService(session, settings_90)
        user = await service.accounts.user_by_username("erin")
        assert user is not None
        user.password_changed_at = utcnow() - timedelta(days=91)
        await session.flush()
        assert (await service.authenticate_user("erin", TEST_PASSWORD))[1] == "expired"
        assert await service.change_password("erin", TEST_PASSWORD, "a brand new passphrase 42") == ""
        assert (await service.authenticate_user("erin", "a brand new passphrase 42"))[0] is not None
        await session.rollback()


async def test_password_change_endpoint(client: httpx.AsyncClient, make_user) -> None:
    await make_user("frank", "state_reporting_analyst")
    weak = await client.post("/identity/v1/password-changes", json={
        "username": "frank", "current_password": TEST_PASSWORD, "new_password": "password123"})
    assert weak.status_code == 422
    assert weak.json()["errors"][0]["field"] == "body.new_password"
    assert "password123" not in weak.text
    ok = await client.post("/identity/v1/password-changes", json={
        "username": "frank", "current_password": TEST_PASSWORD, "new_password": "lilac tractor orbit 9"})
    assert ok.status_code == 204
    assert await password_token(client, "frank", "lilac tractor orbit 9")
