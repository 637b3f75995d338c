"""Releases of PII to parties outside the agency, through the disclosure service.

A researcher or vendor (a role whose reach is `grants`) sees nothing by role: only the students and
fields of an agreement active today. So for such a caller records asks disclosure, on each request
and with the caller's own token, which agreements it holds (`GET /disclosure/v1/grants/mine`), and
reads through the policy library with those grants. Before the data leave, records writes the
release into the FERPA 99.32 disclosure log itself, with its own service token, one entry per
agreement used (its students, the fields that went out, its legal basis and purpose). If the grants
cannot be learnt or the entry cannot be written, nothing is released (fail closed: 503, or 403
when disclosure refuses the entry).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request

from shared.deps import CurrentPrincipal, State
from shared.errors import Forbidden, ServiceUnavailable
from shared.policy.access import RowScope
from shared.policy.principal import AccessGrant, Principal, StudentFacts
from shared.policy.roles import UnknownRoleError, get_role
from shared.request_context import current_request_id
from shared.security.service_auth import ServiceToken

GRANTS_PATH = "/disclosure/v1/grants/mine"
LOG_PATH = "/disclosure/v1/disclosures"


@dataclass(frozen=True, slots=True)
class ReleaseGrant:
    """An agreement the caller holds: what it reaches (`access`) and what the log entry cites."""

    access: AccessGrant
    agreement_id: str
    organisation: str
    party_name: str
    legal_basis: str
    purpose: str


@dataclass(frozen=True, slots=True)
class Caller:
    """The principal as records reads for it: with its agreements' grants when it holds any."""

    principal: Principal
    agreements: tuple[ReleaseGrant, ...] = ()

    @property
    def is_outside_party(self) -> bool:
        return bool(self.agreements)


def reaches_by_grants_only(principal: Principal) -> bool:
    try:
        return get_role(principal.role).row_scope == "grants"
    except UnknownRoleError:
        return False


class DisclosureLink:
    """Records' two calls to disclosure: the caller's grants, and the log entry of a release."""

    def __init__(self, disclosure: httpx.AsyncClient, service_token: ServiceToken) -> None:
        self._disclosure = disclosure
        self._token = service_token

    async def grants(self, authorization: str) -> tuple[ReleaseGrant, ...]:
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

    async def log_release(self, caller: Caller, released: Sequence[tuple[str, set[str]]],
                          facts: Mapping[str, StudentFacts], day: date) -> list[int]:
        """Write one disclosure-log entry per agreement used by this release; answer their
        sequence numbers. `released` holds each student sent and the field names that went out."""
        entries = []
        for grant in caller.agreements:
            scope = RowScope("grants", grants=(grant.access,))
            students = [sid for sid, _ in released if sid in facts and scope.matches(facts[sid])]
            fields = sorted(set().union(*(f for sid, f in released if sid in students)) & grant.access.fields)
            if students and fields:
                entries.append({
                    "party": {"name": grant.party_name, "organisation": grant.organisation,
                              "subject": caller.principal.subject},
                    "legal_basis": grant.legal_basis, "purpose": grant.purpose, "fields": fields,
                    "students": students, "disclosed_on": day.isoformat(), "agreement_id": grant.agreement_id,
                    "reference": f"records read {current_request_id() or ''}".strip()})
        return [await self._post(entry) for entry in entries]

    async def _post(self, entry: dict[str, Any]) -> int:
        for attempt in (1, 2):
            try:
                response = await self._disclosure.post(LOG_PATH, json=entry, headers=await self._token.headers())
            except httpx.HTTPError:
                raise ServiceUnavailable("The disclosure log cannot be reached; nothing was released.") from None
            if response.status_code == 401 and attempt == 1:
                self._token.forget()  # expired early, or the signing key rotated: one fresh token
                continue
            break
        if response.status_code in (200, 201):
            return int(response.json()["seq"])
        if response.status_code in (403, 422):
            raise Forbidden("The disclosure log refused this release (agreement not in force for it, or the "
                            "party is barred); nothing was released.")
        raise ServiceUnavailable("The disclosure log did not record the release; nothing was released.")


def _release_grant(item: Mapping[str, Any]) -> ReleaseGrant:
    access = AccessGrant(grant_id=str(item["grant_id"]), fields=frozenset(item["fields"]),
                         student_ids=frozenset(item["student_ids"]), district_ids=frozenset(item["district_ids"]),
                         starts_on=date.fromisoformat(item["starts_on"]), ends_on=date.fromisoformat(item["ends_on"]))
    return ReleaseGrant(access=access, agreement_id=str(item["agreement_id"]), organisation=str(item["organisation"]),
                        party_name=str(item["party_name"]), legal_basis=str(item["legal_basis"]),
                        purpose=str(item["purpose"]))


def disclosure_link(state: State) -> DisclosureLink:
    link = getattr(state, "records_disclosure_link", None)
    if link is None:
        link = DisclosureLink(state.disclosure, ServiceToken(state.identity, state.settings, "records"))
        state.records_disclosure_link = link  # type: ignore[attr-defined]
    return link


async def get_caller(request: Request, state: State, principal: CurrentPrincipal) -> Caller:
    if not reaches_by_grants_only(principal):
        return Caller(principal)
    agreements = await disclosure_link(state).grants(request.headers.get("authorization", ""))
    return Caller(replace(principal, grants=tuple(g.access for g in agreements)), agreements)


CurrentCaller = Annotated[Caller, Depends(get_caller)]
