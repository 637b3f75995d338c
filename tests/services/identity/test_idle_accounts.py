"""Deprovisioning for disuse (issue 8; Illuminate 2022: a former employee's credentials still worked
years later): a person or client unused for `account_idle_days` is disabled at its next login with
the right password, and the stale sweep lists and disables the rest, the services' own clients
excepted."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from services.identity.models import ClientApp, UserAccount
from services.identity.service import AccountService
from shared.db import utcnow
from tests.helpers import TEST_PASSWORD, client_token

TOKEN = "/identity/v1/oauth/token"


async def _age(db, model, key, days: int, **extra) -> None:
    async with db.sessionmaker() as session:
        column = model.id if model is UserAccount else model.client_id
        await session.execute(update(model).where(column == key).values(
            created_at=utcnow() - timedelta(days=days), **extra))
        await session.commit()


async def test_an_idle_person_is_disabled_at_the_next_login_and_refused_everywhere(client, db, make_user) -> None:
    old = await make_user("old.teacher", "state_data_admin")
    await make_user("active.admin", "state_data_admin")
    await _age(db, UserAccount, old.id, 400, last_login_at=utcnow() - timedelta(days=200))
    refused = await client.post(TOKEN, data={"grant_type": "password", "username": "old.teacher",
                                             "password": TEST_PASSWORD})
    assert refused.status_code == 400 and "without use" in refused.json()["detail"]
    again = await client.post(TOKEN, data={"grant_type": "password", "username": "old.teacher",
                                           "password": TEST_PASSWORD})
    assert again.status_code == 400 and "without use" not in again.json()["detail"]  # plain refusal now
    revocations = (await client.get("/identity/v1/oauth/revocations")).json()
    assert old.subject in revocations["disabled_subjects"]
    wrong = await client.post(TOKEN, data={"grant_type": "password", "username": "active.admin", "password": "x" * 12})
    assert wrong.status_code == 400
    ok = await client.post(TOKEN, data={"grant_type": "password", "username": "active.admin",
                                        "password": TEST_PASSWORD})
    assert ok.status_code == 200


async def test_a_wrong_password_does_not_disable_an_idle_account(client, db, make_user) -> None:
    old = await make_user("old.clerk", "state_data_admin")
    await _age(db, UserAccount, old.id, 400)
    wrong = await client.post(TOKEN, data={"grant_type": "password", "username": "old.clerk", "password": "y" * 12})
    assert wrong.status_code == 400 and "without use" not in wrong.json()["detail"]
    async with db.sessionmaker() as session:
        assert (await session.get(UserAccount, old.id)).disabled_at is None  # only the owner's login trips it


async def test_an_idle_client_is_revoked_at_its_next_token_request(client, db, make_client_app) -> None:
    app = await make_client_app("Forgotten SIS", "district_sis")
    await _age(db, ClientApp, app.client.client_id, 365)
    response = await client.post(TOKEN, data={"grant_type": "client_credentials"},
                                 auth=(app.client.client_id, app.secret))
    assert response.status_code == 401
    async with db.sessionmaker() as session:
        assert (await session.get(ClientApp, app.client.client_id)).revoked_at is not None


async def test_the_stale_sweep_lists_and_disables_idle_accounts_but_not_service_clients(
        client, db, settings, make_user, make_client_app) -> None:
    old = await make_user("old.analyst", "state_data_admin")
    await make_user("fresh.analyst", "state_data_admin")
    app = await make_client_app("Old SIS", "district_sis")
    fresh = await make_client_app("Fresh SIS", "district_sis")
    await client_token(client, fresh.client.client_id, fresh.secret)
    from shared.security.service_auth import service_client_secret
    assert (await client.post(TOKEN, data={"grant_type": "client_credentials", "client_id": "svc-records",
                                           "client_secret": service_client_secret(settings, "svc-records")})
            ).status_code == 200
    await _age(db, UserAccount, old.id, 300)
    await _age(db, ClientApp, app.client.client_id, 300)
    await _age(db, ClientApp, "svc-records", 300, last_used_at=utcnow() - timedelta(days=300))
    async with db.sessionmaker() as session:
        listed = await AccountService(session, settings).stale_accounts()
        assert {(r["kind"], r["id"]) for r in listed} == {("user", old.id), ("client", app.client.client_id)}
        await AccountService(session, settings).stale_accounts(disable=True)
        await session.commit()
    async with db.sessionmaker() as session:
        assert (await session.get(UserAccount, old.id)).disabled_at is not None
        assert (await session.get(ClientApp, app.client.client_id)).revoked_at is not None
        assert (await session.get(ClientApp, "svc-records")).revoked_at is None
        assert await AccountService(session, settings).stale_accounts() == []
