"""What every service offers operators and integrators: probes, request ids, problem+json."""

from __future__ import annotations

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
