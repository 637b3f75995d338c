"""At most a few live tokens per machine client (issue 8): past `client_live_tokens_max`, the
client's oldest live tokens are revoked at every service; other clients are untouched."""

from __future__ import annotations

from tests.helpers import bearer, client_token


async def test_a_client_keeps_only_its_newest_tokens(client, make_client_app, settings) -> None:
    app = await make_client_app("Chatty SIS", "district_sis")
    other = await make_client_app("Quiet SIS", "district_sis")
    quiet = await client_token(client, other.client.client_id, other.secret)
    cap = settings.client_live_tokens_max
    tokens = [await client_token(client, app.client.client_id, app.secret) for _ in range(cap + 2)]
    answers = [(await client.get("/records/v1/whoami", headers=bearer(t))).status_code for t in tokens]
    assert answers == [401, 401] + [200] * cap
    revoked = (await client.get("/identity/v1/oauth/revocations")).json()["revoked_token_ids"]
    assert len(revoked) == 2
    assert (await client.get("/disclosure/v1/whoami", headers=bearer(quiet))).status_code == 200
