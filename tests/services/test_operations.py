"""What every service offers operators and integrators: probes, request ids, problem+json."""

from __future__ import annotations

import re

import httpx
import pytest

SERVICES = ["identity", "records", "disclosure", "reporting"]


@pytest.mark.parametrize("service", SERVICES)
async def test_health_and_ready(client: httpx.AsyncClient, service: str) -> None:
    assert (await client.get(f"/{service}/health")).json() == {"status": "ok", "service": service}
    ready = await client.get(f"/{service}/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


@pytest.mark.parametrize("service", SERVICES)
async def test_request_id_is_kept_or_minted(client: httpx.AsyncClient, service: str) -> None:
    kept = await client.get(f"/{service}/health", headers={"X-Request-ID": "trace-abc-12345"})
    assert kept.headers["x-request-id"] == "trace-abc-12345"
    minted = await client.get(f"/{service}/health", headers={"X-Request-ID": "bad id with spaces"})
    assert minted.headers["x-request-id"] != "bad id with spaces" and len(minted.headers["x-request-id"]) == 32
    others = {(await client.get(f"/{service}/health")).headers["x-request-id"] for _ in range(20)}
    assert len(others) == 20 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in others)  # each request its own


@pytest.mark.parametrize("path", ["/identity/v1/nothing", "/records/v1/nothing", "/nowhere", "/"])
async def test_unknown_paths_are_problem_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("service", SERVICES)
async def test_openapi_is_published_under_the_service_prefix(client: httpx.AsyncClient, service: str) -> None:
    spec = (await client.get(f"/{service}/openapi.json")).json()
    assert all(path.startswith(f"/{service}/") for path in spec["paths"])


async def test_reference_data_endpoints(client: httpx.AsyncClient) -> None:
    presets = (await client.get("/reporting/v1/suppression-policies")).json()
    assert {p["code"]: p.get("minimum_n") for p in presets["policies"]}["missouri_n30"] == 30
    assert (await client.get("/disclosure/v1/legal-bases")).status_code == 401


async def test_ready_is_503_when_the_database_is_unreachable(settings) -> None:
    from services.records.app import create_app
    from shared.state import Database

    unreachable = Database.from_settings(
        settings.model_copy(update={"database_url": "postgresql+asyncpg://nobody@127.0.0.1:1/none"}))
    app = create_app(settings, database=unreachable)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            response = await c.get("/records/ready")
    await unreachable.engine.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "nobody" not in response.text  # no connection details leak


async def test_access_log_names_the_route_not_the_path_and_carries_the_request_id(
    client: httpx.AsyncClient, make_user, caplog: pytest.LogCaptureFixture
) -> None:
    import json
    import logging

    from shared.logging import JsonFormatter
    from tests.helpers import bearer, password_token

    await make_user("admin")
    target = await make_user("target.person", "registrar")
    token = await password_token(client, "admin")
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(JsonFormatter().format(record))

    handler = Collect()
    logging.getLogger("slds.access").addHandler(handler)
    try:
        with caplog.at_level(logging.INFO, logger="slds.access"):
            response = await client.post(f"/identity/v1/users/{target.id}/disable",
                                         headers={**bearer(token), "X-Request-ID": "trace-0123456789"})
            assert response.status_code == 200
            await client.get("/records/v1/whoami", headers={**bearer(token), "X-Request-ID": "trace-records-1"})
    finally:
        logging.getLogger("slds.access").removeHandler(handler)
    entries = [json.loads(line) for line in lines]
    disable = next(e for e in entries if e["route"] == "/identity/v1/users/{user_id}/disable")
    assert disable["request_id"] == "trace-0123456789" and disable["status"] == 200
    assert all(target.id not in line for line in lines)
    # records asked identity for the revocation list under the caller's request id
    assert any(e["service"] == "identity" and e["route"] == "/identity/v1/oauth/revocations"
               and e["request_id"] == "trace-records-1" for e in entries)
