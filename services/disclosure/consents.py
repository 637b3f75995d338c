"""Written consent (34 CFR 99.30): a parent or an eligible student consents to the disclosure of
named fields of the student's record to a named recipient for a stated purpose. It is signed and
dated (by the family member's own authenticated request; `signed_on` is the day it was given),
runs until `expires_on`, and may be revoked by the person who gave it; a revocation does not undo
disclosures made before it.

Who reaches a student's consents: the student's parents and the eligible student (their token's
`student_ids`) and the state data stewards; anyone else gets 404, as for a student with none.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.disclosure.common import (
    audit,
    invalid,
    is_family_of,
    is_steward,
    org_key,
    problem,
    today,
    unique,
)
from services.disclosure.models import Consent
from services.disclosure.schemas import ConsentIn
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, NotFound
from shared.policy.principal import Principal


def consent_status(consent: Consent, day: date | None = None) -> str:
    day = day or today()
    if consent.revoked_at is not None and consent.revoked_at.date() <= day:
        return "revoked"
    if day > consent.expires_on:
        return "expired"
    return "active"


def _reach(principal: Principal, state_student_id: str) -> None:
    if not (is_family_of(principal, state_student_id) or is_steward(principal)):
        raise NotFound("No such student.")


async def give_consent(session: AsyncSession, principal: Principal, state_student_id: str,
                       body: ConsentIn) -> Consent:
    if not is_family_of(principal, state_student_id):
        raise NotFound("No such student.")  # only the student's own family consents; others learn nothing
    signed_on = today()
    if body.expires_on < signed_on:
        raise invalid([problem("expires_on", "Must not be before today.")])
    consent = Consent(state_student_id=state_student_id, given_by=principal.subject, giver_role=principal.role,
                      fields=unique(body.fields), recipient_name=body.recipient.name,
                      recipient_organisation=body.recipient.organisation,
                      recipient_organisation_key=org_key(body.recipient.organisation),
                      recipient_subject=body.recipient.subject, purpose=body.purpose, signed_on=signed_on,
                      expires_on=body.expires_on)
    session.add(consent)
    await session.flush()
    audit.info("consent given", extra={"consent_id": consent.id, "role": principal.role,
                                       "fields": len(consent.fields)})
    return consent


async def list_consents(session: AsyncSession, principal: Principal, state_student_id: str) -> Sequence[Consent]:
    _reach(principal, state_student_id)
    return (await session.scalars(select(Consent).where(Consent.state_student_id == state_student_id)
                                  .order_by(Consent.created_at.desc(), Consent.id))).all()


async def get_consent(session: AsyncSession, principal: Principal, consent_id: str, *,
                      for_update: bool = False) -> Consent:
    query = select(Consent).where(Consent.id == consent_id)
    consent = await session.scalar(query.with_for_update() if for_update else query)
    if consent is None:
        raise NotFound("No such consent.")
    _reach(principal, consent.state_student_id)
    return consent


async def revoke_consent(session: AsyncSession, principal: Principal, consent_id: str) -> Consent:
    consent = await get_consent(session, principal, consent_id, for_update=True)
    if principal.subject != consent.given_by:
        raise Forbidden("Only the person who gave a consent may revoke it.", rule="revoked-by-giver")
    if consent.revoked_at is not None:
        raise Conflict("This consent was already revoked.")
    consent.revoked_at, consent.revoked_by = utcnow(), principal.subject
    await session.flush()
    audit.info("consent revoked", extra={"consent_id": consent.id, "role": principal.role})
    return consent


def coverage_problems(consent: Consent, *, day: date, fields: Sequence[str], students: Sequence[str],
                      party_organisation: str, party_subject: str | None) -> list[dict[str, str]]:
    """Why `consent` does not cover a disclosure (empty: it does): in force on `day` (signed, not
    expired, not revoked), for this student only, every field within its scope, to its recipient."""
    problems = []
    if not (consent.signed_on <= day and consent_status(consent, day) == "active"):
        problems.append(problem("consent_id", "Is not in force on the disclosure date (expired, revoked or "
                                "not yet given).", "not-active"))
    problems += [problem(f"students[{i}]", "Is not the student the consent is for.", "not-covered")
                 for i, sid in enumerate(students) if sid != consent.state_student_id][:50]
    allowed = set(consent.fields)
    problems += [problem(f"fields[{i}]", "Is not within the consent's scope.", "not-covered")
                 for i, name in enumerate(fields) if name not in allowed]
    same_recipient = (party_subject == consent.recipient_subject if consent.recipient_subject
                      else org_key(party_organisation) == consent.recipient_organisation_key)
    if not same_recipient:
        problems.append(problem("party", "Is not the recipient the consent names.", "not-party"))
    return problems
