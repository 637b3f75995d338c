"""What records asks identity before it stores a submission: does each state ID exist (a retired ID
answers with its survivor, under which the record is kept), and does the submitting district hold
a local ID for it (it resolved the student, so the student is its own).

Records calls identity's HTTP API with the caller's own token (the district's authority, not a
broader service one), one call per request whatever its size (up to 5,000 IDs per call). Answers
are not cached: a merge must be followed by the very next write, and the call is small beside the
write it guards.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import orjson

from shared.errors import Forbidden, ServiceUnavailable

MAX_PER_CALL = 5000


@dataclass(frozen=True, slots=True)
class IdStatus:
    state_id: str
    status: str  # "active" | "retired" | "unknown"
    current_state_id: str | None
    district_holds_local_id: bool | None
    merged_ids: tuple[str, ...] = ()  # IDs retired into the current one

    @property
    def known(self) -> bool:
        return self.current_state_id is not None


class IdentityDirectory:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def check(self, kind: str, state_ids: list[str], district_id: str | None,
                    authorization: str) -> dict[str, IdStatus]:
        found: dict[str, IdStatus] = {}
        missing = list(dict.fromkeys(state_ids))
        for start in range(0, len(missing), MAX_PER_CALL):
            chunk = missing[start:start + MAX_PER_CALL]
            body: dict[str, object] = {"kind": kind, "state_ids": chunk}
            if district_id is not None:
                body["district_id"] = district_id
            try:
                response = await self._client.post("/identity/v1/persons/status", content=orjson.dumps(body),
                                                   headers={"Authorization": authorization,
                                                            "Content-Type": "application/json"})
            except httpx.HTTPError as exc:
                raise ServiceUnavailable("The identity service could not be reached; nothing was stored.") from exc
            if response.status_code in (401, 403):
                raise Forbidden("This caller may not submit records for these state IDs.")
            if response.status_code != 200:
                raise ServiceUnavailable("The identity service did not answer; nothing was stored.")
            for row in orjson.loads(response.content)["results"]:
                status = IdStatus(row["state_id"], row["status"], row.get("current_state_id"),
                                  row.get("district_holds_local_id"), tuple(row.get("merged_ids") or ()))
                found[status.state_id] = status
        return found
