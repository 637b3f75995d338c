"""A TOTP second factor for people (issue 8; PowerSchool 2024: a support credential with no second
factor): enrolment with the password, confirmation with the first code, then no token without a
fresh code, each code once, guessing counts toward the lockout; with SLDS_REQUIRE_SECOND_FACTOR,
level 1 and 2 roles must enrol; an administrator resets a lost one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pyotp
import pytest

from services.gateway import create_gateway
from services.identity.models import UserAccount
from tests.helpers import TEST_PASSWORD, bearer, password_token

TOKEN = "/identity/v1/oauth/token"
ENROL = "/identity/v1/second-factor/enrolments"
CONFIRM = "/identity/v1/second-factor/confirmations"


async def _login(client: httpx.AsyncClient, username: str, code: str | None = None) -> httpx.Response:
    data = {"grant_type": "password", "username": username, "password": TEST_PASSWORD}
    if code is not None:
        data["totp_code"] = code
    return await client.post(TOKEN, data=data)


async def _enrol(client: httpx.AsyncClient, username: str) -> pyotp.TOTP:
    started = await client.post(ENROL, json={"username": username, "password": TEST_PASSWORD})
    assert started.status_code == 201 and started.headers["cache-control"] == "no-store"
    assert started.json()["otpauth_uri"].startswith("otpauth://totp/SLDS:")
    totp = pyotp.TOTP(started.json()["secret"])
    # The previous step's code (so that a login with the current one is still a fresh code),
    # sent well inside a step: at a step's edge it would be two steps old, past the drift, by the
    # time the server checks it (a loaded CI machine crossed one).
    if (left := totp.interval - time.time() % totp.interval) < 5:
        await asyncio.sleep(left + 0.1)
    confirmed = await client.post(CONFIRM, json={"username": username, "password": TEST_PASSWORD,
                                                 "code": totp.at(time.time() - totp.interval)})
    assert confirmed.status_code == 204, confirmed.text
    return totp


async def test_once_enrolled_a_token_needs_a_fresh_code_used_once(client: httpx.AsyncClient, make_user, db) -> None:
    user = await make_user("careful", "state_data_admin")
    assert (await client.post(ENROL, json={"username": "careful", "password": "wrong" * 3})).status_code == 400
    totp = await _enrol(client, "careful")

    missing = await _login(client, "careful")
    assert missing.status_code == 400 and "totp_code" in missing.json()["detail"]
    now_code = totp.now()
    assert (await _login(client, "careful", now_code)).status_code == 200
    assert (await _login(client, "careful", now_code)).status_code == 400  # a code works once
    assert (await _login(client, "careful", totp.at(time.time() + 30))).status_code == 200  # next step, drift ok

    async with db.sessionmaker() as session:
        row = await session.get(UserAccount, user.id)
        assert row.totp_secret_sealed and totp.secret not in row.totp_secret_sealed  # sealed at rest
    again = await client.post(ENROL, json={"username": "careful", "password": TEST_PASSWORD})
    assert again.status_code == 409  # a confirmed factor is not replaced by whoever knows the password


async def test_guessing_codes_locks_the_account(client: httpx.AsyncClient, make_user, settings) -> None:
    await make_user("target", "state_data_admin")
    totp = await _enrol(client, "target")
    wrong = f"{(int(totp.now()) + 1) % 1_000_000:06d}"
    for _ in range(settings.login_lockout_threshold):
        assert (await _login(client, "target", wrong)).status_code == 400
    assert (await _login(client, "target", totp.now())).status_code == 400  # locked now, even with the code


async def test_a_bad_first_code_does_not_confirm(client: httpx.AsyncClient, make_user) -> None:
    await make_user("slow", "state_data_admin")
    started = await client.post(ENROL, json={"username": "slow", "password": TEST_PASSWORD})
    totp = pyotp.TOTP(started.json()["secret"])
    bad = await client.post(CONFIRM, json={"username": "slow", "password": TEST_PASSWORD,
                                           "code": f"{(int(totp.now()) + 7) % 1_000_000:06d}"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.code"
    assert totp.secret not in bad.text
    assert (await _login(client, "slow")).status_code == 200  # not in force until confirmed


@pytest.fixture
async def strict(settings, db) -> AsyncIterator[httpx.AsyncClient]:
    gateway = create_gateway(settings.model_copy(update={"require_second_factor": True}), database=db)
    transport = httpx.ASGITransport(app=gateway)
    async with gateway.running(), httpx.AsyncClient(transport=transport, base_url="http://slds.test") as c:
        yield c


async def test_when_required_levels_one_and_two_must_enrol_and_an_admin_can_reset(
        strict: httpx.AsyncClient, make_user) -> None:
    admin = await make_user("root", "state_data_admin")  # level 1
    await make_user("teach", "teacher", district_ids=["1001"], school_ids=["1001-01"], staff_id="S100000011")  # level 3
    refused = await _login(strict, "root")
    assert refused.status_code == 400 and "enrol" in refused.json()["detail"]
    assert (await _login(strict, "teach")).status_code == 200  # level 3: optional

    totp = await _enrol(strict, "root")
    token = (await _login(strict, "root", totp.now())).json()["access_token"]
    await make_user("other.admin", "state_data_admin")
    other_totp = await _enrol(strict, "other.admin")
    other = bearer((await _login(strict, "other.admin", other_totp.now())).json()["access_token"])
    reset = await strict.delete(f"/identity/v1/users/{admin.id}/second-factor", headers=other)
    assert reset.status_code == 200 and reset.json()["second_factor_enrolled"] is False
    assert (await _login(strict, "root")).json()["detail"].startswith("This role needs a second factor")
    assert (await strict.delete(f"/identity/v1/users/{admin.id}/second-factor",
                                headers=bearer(await password_token(strict, "teach")))).status_code == 403
    assert token  # the token issued before the reset stays valid until it expires (15 min at most)
