"""A real `slds serve` process on its own database, for tests that drive the system from outside
(schemathesis, the Hypothesis state machine): a temporary SQLite file, or `<test db>_<name>`
when the suite runs on PostgreSQL. Accounts are made with the `slds` command, as an operator would."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from tests.helpers import recreate_postgres_database

PASSWORD = "served-test-password-not-secret"
CLI = [sys.executable, "-m", "services.cli"]


@dataclass
class Served:
    base: str
    env: dict[str, str]
    clients: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (id, secret)

    def user_token(self, username: str) -> str:
        response = httpx.post(f"{self.base}/identity/v1/oauth/token", data={
            "grant_type": "password", "username": username, "password": PASSWORD})
        response.raise_for_status()
        return response.json()["access_token"]

    def client_token(self, name: str) -> str:
        client_id, secret = self.clients[name]
        response = httpx.post(f"{self.base}/identity/v1/oauth/token", data={"grant_type": "client_credentials"},
                              auth=(client_id, secret))
        response.raise_for_status()
        return response.json()["access_token"]

    def add_user(self, username: str, *args: str) -> None:
        subprocess.run([*CLI, "users", "add", username, *args], env={**self.env, "SLDS_NEW_PASSWORD": PASSWORD},
                       check=True, capture_output=True)
        # With a signed NDA and today's privacy training, or staff roles see no student PII (issue 9).
        subprocess.run([sys.executable, "-m", "services.identity.clearance", username], env=self.env,
                       check=True, capture_output=True)

    def add_client(self, name: str, *args: str) -> None:
        out = subprocess.run([*CLI, "clients", "add", name, *args], env=self.env, check=True, capture_output=True,
                             text=True).stdout
        created = json.loads(out.strip().splitlines()[-1])
        self.clients[name] = (created["client_id"], created["client_secret"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `slds serve` process that a test may kill (SIGKILL, no shutdown) and start again on the
    same database, as an operator's supervisor would."""

    def __init__(self, env: dict[str, str], var: Path, args: tuple[str, ...] = ()) -> None:
        self.env, self.var, self.args = env, var, args
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.var / "server.log").open("a") as log:
            self.process = subprocess.Popen([*CLI, "serve", "--host", "127.0.0.1", "--port", str(self.port), *self.args],
                                            env=self.env, stdout=log, stderr=log)
        for _ in range(150):
            try:
                if httpx.get(f"{self.base}/identity/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the server did not become ready; see " + str(self.var / "server.log"))

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None


def served_database_url(name: str) -> str | None:
    """`<test db>_<name>`, recreated empty, when the suite runs on PostgreSQL (None on SQLite)."""
    if pg := os.environ.get("SLDS_TEST_DATABASE_URL"):
        url = make_url(pg)
        own = url.set(database=f"{url.database}_{name}").render_as_string(hide_password=False)
        asyncio.run(recreate_postgres_database(own))
        return own
    return None


@contextmanager
def served_process(var: Path, name: str, *, serve_url: str | None = None, serve_args: tuple[str, ...] = (),
                   **settings: str) -> Iterator[tuple[Served, Server]]:
    """`served`, also giving the `Server` to kill and restart. `serve_url` is where the server
    reaches the database (e.g. through a proxy a test can cut) when it differs from where the
    migrations and accounts are made; `serve_args` go to `slds serve`; `settings` are extra
    SLDS_* environment values."""
    env = {**os.environ, "SLDS_VAR_DIR": str(var), "SLDS_SECRET_KEY": f"{name}-run-secret-0123456789abcdef",
           "SLDS_BATCH_WORKER": "false", "SLDS_RATE_LIMIT_PER_MINUTE": "0", "SLDS_TOKEN_REQUESTS_PER_MINUTE": "0",
           "SLDS_RECORDS_READS_PER_HOUR": "1000000000", **settings}
    env.pop("SLDS_DATABASE_URL", None)
    if own := served_database_url(name):
        env["SLDS_DATABASE_URL"] = own
    subprocess.run([*CLI, "db", "upgrade"], env=env, check=True, capture_output=True)
    server = Server({**env, "SLDS_DATABASE_URL": serve_url} if serve_url else env, var, serve_args)
    server.start()
    try:
        yield Served(server.base, env), server
    finally:
        server.stop()


@contextmanager
def served(var: Path, name: str) -> Iterator[Served]:
    with served_process(var, name) as (running, _server):
        yield running
