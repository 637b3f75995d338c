"""The releasing services' client for the disclosure service (records now; reporting's extracts).

Three calls, each failing closed (503, or 403 when disclosure refuses): the caller's agreements in
force (`grants`, with the caller's own token), directory opt-outs (`opted_out`) and the FERPA
99.32 log entry of a release (`log`), the last two with the service's own token
(`shared.security.service_auth`): the recipient's token must not be what writes the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from shared.errors import Forbidden, ServiceUnavailable
from shared.policy.principal import AccessGrant
from shared.security.service_auth import ServiceToken
from shared.settings import ServiceName
from shared.state import ServiceState

GRANTS_PATH = "/disclosure/v1/grants/mine"
LOG_PATH = "/disclosure/v1/disclosures"
OPT_OUTS_PATH = "/disclosure/v1/directory-opt-outs/lookup"
LOOKUP_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class ReleaseGrant:
    """An agreement the caller holds: what it reaches (`access`) and what a log entry cites."""

    access: AccessGrant
    agreement_id: str
    organisation: str
    party_name: str
    legal_basis: str
    purpose: str

    def log_entry(self, subject: str, *, fields: list[str], students: list[str], day: date,
                  reference: str) -> dict[str, Any]:
        """The body of `POST /disclosure/v1/disclosures` for a release under this agreement."""
        return {"party": {"name": self.party_name, "organisation": self.organisation, "subject": subject},
                "legal_basis": self.legal_basis, "purpose": self.purpose, "fields": fields, "students": students,
                "disclosed_on": day.isoformat(), "agreement_id": self.agreement_id, "reference": reference}


class DisclosureClient:
    def __init__(self, disclosure: httpx.AsyncClient, service_token: ServiceToken) -> None:
        self._disclosure = disclosure
        self._token = service_token

    async def prepare(self) -> None:
        """Hold a fresh service token before the request's transaction starts: on SQLite, getting
        one from identity mid-transaction would queue behind this very transaction's lock."""
        await self._token.headers()

    async def grants(self, authorization: str) -> tuple[ReleaseGrant, ...]:
        """The agreements in force for the holder of `authorization` (its own bearer token)."""
        try:
            response = await self._disclosure.get(GRANTS_PATH, headers={"Authorization": authorization})
        except httpx.HTTPError:
            raise ServiceUnavailable("The disclosure service cannot be reached to check agreements.") from None
        if response.status_code != 200:
            raise ServiceUnavailable("The disclosure service did not answer which agreements apply.")
        try:
            return tuple(_release_grant(item) for item in response.json()["items"])
        except (KeyError, ValueError, TypeError):
            raise ServiceUnavailable("The disclosure service answered agreements in an unknown form.") from None

    async def opted_out(self, students: list[str]) -> set[str]:
        """Which of `students` are opted out of directory information."""
        out: set[str] = set()
        for start in range(0, len(students), LOOKUP_CHUNK):
            response = await self._send(OPT_OUTS_PATH, {"students": students[start:start + LOOKUP_CHUNK]},
                                        "The directory opt-outs cannot be checked; nothing was released.")
            if response.status_code != 200:
                raise ServiceUnavailable("The directory opt-outs cannot be checked; nothing was released.")
            try:
                out.update(response.json()["opted_out"])
            except (KeyError, ValueError, TypeError):
                raise ServiceUnavailable("The disclosure service answered opt-outs in an unknown form.") from None
        return out

    async def log(self, entry: dict[str, Any]) -> int:
        """Write one disclosure-log entry; its sequence number. Raises unless it was written."""
        response = await self._send(LOG_PATH, entry, "The disclosure log cannot be reached; nothing was released.")
        if response.status_code in (200, 201):
            return int(response.json()["seq"])
        if response.status_code in (403, 422):
            raise Forbidden("The disclosure log refused this release (agreement not in force for it, or the "
                            "party is barred); nothing was released.")
        raise ServiceUnavailable("The disclosure log did not record the release; nothing was released.")

    async def _send(self, path: str, body: dict[str, Any], unreachable: str) -> httpx.Response:
        for attempt in (1, 2):
            try:
                response = await self._disclosure.post(path, json=body, headers=await self._token.headers())
            except httpx.HTTPError:
                raise ServiceUnavailable(unreachable) from None
            if response.status_code == 401 and attempt == 1:
                self._token.forget()  # expired early, or the signing key rotated: one fresh token
                continue
            return response
        return response


def _release_grant(item: Mapping[str, Any]) -> ReleaseGrant:
    access = AccessGrant(grant_id=str(item["grant_id"]), fields=frozenset(item["fields"]),
                         student_ids=frozenset(item["student_ids"]), district_ids=frozenset(item["district_ids"]),
                         starts_on=date.fromisoformat(item["starts_on"]), ends_on=date.fromisoformat(item["ends_on"]))
    return ReleaseGrant(access=access, agreement_id=str(item["agreement_id"]), organisation=str(item["organisation"]),
                        party_name=str(item["party_name"]), legal_basis=str(item["legal_basis"]),
                        purpose=str(item["purpose"]))


def disclosure_client(state: ServiceState, service: ServiceName) -> DisclosureClient:
    """One client per running service, kept on its state (the token is reused across requests)."""
    client = getattr(state, "disclosure_client", None)
    if client is None:
        client = DisclosureClient(state.disclosure, ServiceToken(state.identity, state.settings, service))
        state.disclosure_client = client  # type: ignore[attr-defined]
    return client
