"""What records asks identity before it stores a submission: does each state ID exist (a retired ID
answers with its survivor, under which the record is kept), and does the submitting district hold
a local ID for it (it resolved the student, so the student is its own).

Records calls identity's HTTP API with the caller's own token (the district's authority, not a
broader service one), one call per request whatever its size, and keeps positive answers for a
minute: an ID that exists keeps existing, and a merge is followed again once the entry expires.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from shared.errors import Forbidden, ServiceUnavailable

MAX_PER_CALL = 5000


@dataclass(frozen=True, slots=True)
class IdStatus:
    state_id: str
    status: str  # "active" | "retired" | "unknown"
    current_state_id: str | None
    district_holds_local_id: bool | None

    @property
    def known(self) -> bool:
        return self.current_state_id is not None


class IdentityDirectory:
    def __init__(self, client: httpx.AsyncClient, *, ttl: float) -> None:
        self._client = client
        self._ttl = ttl
        self._cache: dict[tuple[str, str, str | None], tuple[float, IdStatus]] = {}

    async def check(self, kind: str, state_ids: list[str], district_id: str | None,
                    authorization: str) -> dict[str, IdStatus]:
        now = time.monotonic()
        found: dict[str, IdStatus] = {}
        missing: list[str] = []
        for state_id in dict.fromkeys(state_ids):
            hit = self._cache.get((kind, state_id, district_id))
            if hit and hit[0] > now:
                found[state_id] = hit[1]
            else:
                missing.append(state_id)
        for start in range(0, len(missing), MAX_PER_CALL):
            chunk = missing[start:start + MAX_PER_CALL]
            body: dict[str, object] = {"kind": kind, "state_ids": chunk}
            if district_id is not None:
                body["district_id"] = district_id
            try:
                response = await self._client.post("/identity/v1/persons/status", json=body,
                                                   headers={"Authorization": authorization})
            except httpx.HTTPError as exc:
                raise ServiceUnavailable("The identity service could not be reached; nothing was stored.") from exc
            if response.status_code in (401, 403):
                raise Forbidden("This caller may not submit records for these state IDs.")
            if response.status_code != 200:
                raise ServiceUnavailable("The identity service did not answer; nothing was stored.")
            for row in response.json()["results"]:
                status = IdStatus(row["state_id"], row["status"], row.get("current_state_id"),
                                  row.get("district_holds_local_id"))
                found[status.state_id] = status
                if status.known and (district_id is None or status.district_holds_local_id):
                    self._cache[(kind, status.state_id, district_id)] = (now + self._ttl, status)
        if len(self._cache) > 200_000:  # bound memory: drop everything, it refills on demand
            self._cache.clear()
        return found
