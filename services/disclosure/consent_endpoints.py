"""Written consents (rules in `consents.py`) and bans (rules in `bans.py`) over HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from services.disclosure import bans as ban_rules
from services.disclosure import consents as consent_rules
from services.disclosure.common import NO_STORE, require_steward, today
from services.disclosure.models import Ban, Consent
from services.disclosure.schemas import (
    BanIn,
    BanList,
    BannedSubjectsOut,
    BanOut,
    ConsentIn,
    ConsentList,
    ConsentOut,
    PartyOut,
)
from shared.deps import ClearedPrincipal, CurrentPrincipal, DbSession, ReadSession
from shared.schemas import IsoDate

consents = APIRouter(prefix="/disclosure/v1", tags=["consents"])
bans = APIRouter(prefix="/disclosure/v1", tags=["bans"])

StudentId = Annotated[str, Path(max_length=16)]
ConsentId = Annotated[str, Path(max_length=36)]


def _consent_out(consent: Consent) -> ConsentOut:
    return ConsentOut(id=consent.id, state_student_id=consent.state_student_id, giver_role=consent.giver_role,
                      fields=consent.fields, purpose=consent.purpose, signed_on=consent.signed_on,
                      expires_on=consent.expires_on, revoked_at=consent.revoked_at,
                      recipient=PartyOut(name=consent.recipient_name, organisation=consent.recipient_organisation,
                                         subject=consent.recipient_subject),
                      status=consent_rules.consent_status(consent))


def _ban_out(ban: Ban) -> BanOut:
    return BanOut(id=ban.id, organisation=ban.organisation, subjects=ban.subjects, finding=ban.finding,
                  found_on=ban.found_on, banned_until=ban.banned_until, active=ban_rules.is_active(ban, today()),
                  recorded_by=ban.recorded_by, recorded_at=ban.recorded_at)


@consents.post("/students/{state_student_id}/consents", status_code=201, response_model=ConsentOut,
               summary="Give written consent to a disclosure (the parent or eligible student)",
               responses={404: {"description": "Not a student of yours"}})
async def give(state_student_id: StudentId, body: ConsentIn, session: DbSession, principal: CurrentPrincipal,
               response: Response) -> ConsentOut:
    """FERPA 34 CFR 99.30: the fields that may be disclosed, to whom, for what purpose, until when.
    Signed by the authenticated parent or eligible student and dated today."""
    consent = await consent_rules.give_consent(session, principal, state_student_id, body)
    response.headers.update(NO_STORE)
    response.headers["Location"] = f"/disclosure/v1/consents/{consent.id}"
    return _consent_out(consent)


@consents.get("/students/{state_student_id}/consents", response_model=ConsentList,
              summary="A student's consents (the parent or eligible student; state data stewards)")
async def list_for_student(state_student_id: StudentId, session: DbSession, principal: ClearedPrincipal,
                           response: Response) -> ConsentList:
    rows = await consent_rules.list_consents(session, principal, state_student_id)
    response.headers.update(NO_STORE)
    return ConsentList(items=[_consent_out(c) for c in rows])


@consents.get("/consents/{consent_id}", response_model=ConsentOut, summary="One consent")
async def get(consent_id: ConsentId, session: DbSession, principal: CurrentPrincipal,
              response: Response) -> ConsentOut:
    consent = await consent_rules.get_consent(session, principal, consent_id)
    response.headers.update(NO_STORE)
    return _consent_out(consent)


@consents.post("/consents/{consent_id}/revoke", response_model=ConsentOut,
               summary="Revoke a consent (the person who gave it)")
async def revoke(consent_id: ConsentId, session: DbSession, principal: CurrentPrincipal,
                 response: Response) -> ConsentOut:
    consent = await consent_rules.revoke_consent(session, principal, consent_id)
    response.headers.update(NO_STORE)
    return _consent_out(consent)


@bans.post("/bans", status_code=201, response_model=BanOut,
           summary="Bar a party found to have redisclosed improperly, for five years (state data steward)")
async def create_ban(body: BanIn, session: DbSession, principal: CurrentPrincipal, response: Response) -> BanOut:
    """34 CFR 99.33(e); seeds 000 and 001: the party has no access to student data for five years
    from the finding. New agreements, signatures, disclosures and releases naming the organisation
    or a subject are refused while the ban runs."""
    require_steward(principal, "record a ban")
    ban = await ban_rules.record_ban(session, principal, body)
    response.headers["Location"] = f"/disclosure/v1/bans/{ban.id}"
    return _ban_out(ban)


@bans.get("/bans", response_model=BanList, summary="Bans (state data steward)")
async def list_bans(session: DbSession, principal: CurrentPrincipal,
                    active_on: Annotated[IsoDate | None, Query(description="Only bans running on this day")] = None,
                    ) -> BanList:
    require_steward(principal, "read the bans")
    return BanList(items=[_ban_out(b) for b in await ban_rules.list_bans(session, active_on)])


@bans.get("/bans/subjects", response_model=BannedSubjectsOut,
          summary="Principal subjects under a ban today (public, like a revocation list; no token)")
async def banned_subjects(session: ReadSession) -> BannedSubjectsOut:
    """What every service's token verifier refuses: the `user:`/`client:` ids of banned parties.
    Opaque ids only (no organisation, no finding), so it needs no token, which also keeps a
    verifier from needing a token to check one."""
    day = today()
    return BannedSubjectsOut(banned_subjects=sorted(await ban_rules.banned_subjects(session, day)), as_of=day)
