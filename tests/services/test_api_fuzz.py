"""Fuzzing each service's OpenAPI with schemathesis (issue 8), through a real server process and a
real level-1 token: no 5xx, responses that match the spec, schema-violating input refused, and
authentication never ignored. Examples, coverage, fuzzing and the stateful phase (links between
operations) run with a fixed seed and a bounded number of examples so CI stays reproducible and
short; `make fuzz` runs the long version.

The server gets its own database: a temporary SQLite file, or `<test db>_fuzz` when the suite runs
on PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving import served

SERVICES = ("identity", "records", "disclosure", "reporting")
CHECKS = "not_a_server_error,response_schema_conformance,negative_data_rejection,ignored_auth"
EXAMPLES = int(os.environ.get("SLDS_FUZZ_EXAMPLES", "5"))


@pytest.fixture(scope="module")
def served_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with served(tmp_path_factory.mktemp("fuzz"), "fuzz") as server:
        server.add_user("fuzz.admin", "--role", "state_data_admin", "--state", "ST")
        yield server.base, server.user_token("fuzz.admin")


@pytest.mark.parametrize("service", SERVICES)
def test_the_api_holds_up_to_generated_requests(served_api: tuple[str, str], service: str, tmp_path: Path) -> None:
    base, token = served_api
    workdir = tmp_path
    binary = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [str(binary), "run", f"{base}/{service}/openapi.json", "--url", base,
         "-H", f"Authorization: Bearer {token}", "--checks", CHECKS, "--max-examples", str(EXAMPLES),
         "--phases", "examples,coverage,fuzzing,stateful", "--workers", "1", "--seed", "20261123",
         "--no-color", "--request-timeout", "30"],
        check=False, capture_output=True, text=True, timeout=900, cwd=workdir)  # its cache stays out of the checkout
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
