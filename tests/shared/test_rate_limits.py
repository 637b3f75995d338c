"""Request rate limits (issue 8, OWASP API4): a principal over its per-minute allowance gets 429
problem+json with Retry-After at that service while others go on; the token endpoint is limited
per client address."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.gateway import create_gateway
from shared.settings import Settings
from tests.helpers import TEST_PASSWORD, bearer, password_token


@pytest.fixture
async def tight(settings: Settings, db) -> AsyncIterator[httpx.AsyncClient]:
    limited = settings.model_copy(update={"rate_limit_per_minute": 3, "token_requests_per_minute": 4})
    gateway = create_gateway(limited, database=db)
    transport = httpx.ASGITransport(app=gateway)
    async with gateway.running(), httpx.AsyncClient(transport=transport, base_url="http://slds.test") as c:
        yield c


async def test_a_principal_over_its_allowance_gets_429_with_retry_after(tight: httpx.AsyncClient, make_user) -> None:
    await make_user("busy", "state_data_admin")
    await make_user("calm", "state_data_admin")
    busy = bearer(await password_token(tight, "busy"))
    calm = bearer(await password_token(tight, "calm"))
    for _ in range(3):
        assert (await tight.get("/records/v1/whoami", headers=busy)).status_code == 200
    refused = await tight.get("/records/v1/whoami", headers=busy)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert (await tight.get("/records/v1/whoami", headers=calm)).status_code == 200  # others go on
    assert (await tight.get("/disclosure/v1/whoami", headers=busy)).status_code == 200  # counted per service


async def test_the_token_endpoint_is_limited_per_client_address(tight: httpx.AsyncClient, make_user) -> None:
    await make_user("guesser", "state_data_admin")
    answers = [(await tight.post("/identity/v1/oauth/token", data={
        "grant_type": "password", "username": "guesser", "password": TEST_PASSWORD})).status_code for _ in range(6)]
    assert answers[:4] == [200] * 4 and answers[4:] == [429, 429]
