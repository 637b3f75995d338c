"""`bench.load_api` loads a synthetic state into a running `slds serve` through its public APIs:
the directory, identity batches, then the records, and the records it loaded are readable."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from bench.load_api import main
from tests.serving import served_process


def test_a_small_state_loads_through_the_api_and_reads_back(tmp_path: Path) -> None:
    with served_process(tmp_path, "load_api", SLDS_BATCH_WORKER="true") as (served, _server):
        served.add_client("bench-loader", "--role", "service", "--state", "ST")
        client_id, secret = served.clients["bench-loader"]
        out = tmp_path / "summary.json"
        assert main(["--url", served.base, "--client-id", client_id, "--client-secret", secret,
                     "--students", "150", "--seed", "4", "--batch-size", "100", "--json", str(out), "--quiet"]) == 0
        summary = json.loads(out.read_text())
        assert summary["organisations"] > 3
        assert summary["decisions"].get("assigned", 0) > 100
        assert summary["records"]["accepted"] == summary["persons_with_ids"] > 100
        assert summary["records"].get("rejected", 0) == 0

        token = served.client_token("bench-loader")
        page = httpx.get(f"{served.base}/records/v1/students", params={"limit": 100, "purpose": "load check"},
                         headers={"Authorization": f"Bearer {token}"}).json()
        assert len(page["items"]) == 100
        one = page["items"][0]["state_student_id"]
        record = httpx.get(f"{served.base}/records/v1/students/{one}", headers={"Authorization": f"Bearer {token}"})
        assert record.status_code == 200 and record.json()["enrollment"]
