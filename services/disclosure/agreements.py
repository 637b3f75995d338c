"""Agreements (MOAs) with researchers, agencies and vendors, and the access they grant.

Seeds 000 (MOSIS) and 001 (Maine): researchers ask in writing, sign a Memorandum of Agreement, the
release "is considered a loan of data" and the data are destroyed when the research is completed;
the state receives a copy of any analysis or report. Seed 002 (Utah 5.3.2.3, 5.4): an approved
request becomes an MOA that goes to legal, onto the board consent calendar and to the
superintendent before the data steward fulfils it; researchers supply any publication 10 business
days before it appears.

Lifecycle (stored `status`; `expired` is computed on read, never stored):

    draft -> coordinator_review -> legal_review -> board_consent -> superintendent_approval
          -> active (signed) -> [expired once today > ends_on] -> destruction_certified
    any review stage -> rejected

Every step is taken by a state data steward (Level 1), who records the decision of the office it
stands for; the steps that record another body's decision (legal, board, superintendent) and a
rejection need a note (the memo, the minute, the signature reference), and the signing step must be
taken by a steward other than the one who drafted the agreement (four eyes). Each step is written to
`disclosure_agreement_event`. The destruction certificate is recorded by a steward or by a principal
the agreement names, once the agreement was signed.

`grants_for` turns the active agreements naming a principal into `AccessGrant`s for its token.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.disclosure.bans import active_bans, refuse_if_banned
from services.disclosure.common import (
    LEGAL_BASIS_CODES,
    STEWARD_ROLES,
    SecondStewardRequired,
    TransitionNotAllowed,
    audit,
    invalid,
    is_steward,
    org_key,
    problem,
    subtract_business_days,
    today,
    unique,
)
from services.disclosure.models import (
    Agreement,
    AgreementEvent,
    AgreementSubject,
    DestructionCertificate,
    Publication,
)
from services.disclosure.schemas import AgreementIn, CertificateIn, PublicationIn
from shared.errors import Conflict, Forbidden, NotFound
from shared.policy.principal import AccessGrant, Principal

# An agreement is the basis of a disclosure without consent; consent, the family's own access and
# directory information need none.
AGREEMENT_BASES = LEGAL_BASIS_CODES - {"written_consent", "parent_or_eligible_student", "directory_information"}
PUBLICATION_NOTICE_BUSINESS_DAYS = 10  # Utah 5.4(3)
REVIEW_STAGES = ("coordinator_review", "legal_review", "board_consent", "superintendent_approval")
MAX_LISTED_PROBLEMS = 50


@dataclass(frozen=True)
class Step:
    what: str
    roles: frozenset[str] = STEWARD_ROLES
    note_required: bool = False
    not_by_drafter: bool = False


STEPS: dict[tuple[str, str], Step] = {
    ("draft", "coordinator_review"): Step("submitted to the Coordinator of Data and Statistics"),
    ("coordinator_review", "legal_review"): Step("approved by the coordinator and sent to legal review"),
    ("legal_review", "board_consent"): Step("cleared by legal and placed on the board consent calendar",
                                            note_required=True),
    ("board_consent", "superintendent_approval"): Step("consented by the board, sent to the superintendent",
                                                       note_required=True),
    ("superintendent_approval", "active"): Step("approved by the superintendent and signed",
                                                note_required=True, not_by_drafter=True),
    **{(stage, "rejected"): Step("rejected", note_required=True) for stage in REVIEW_STAGES},
}


def effective_status(agreement: Agreement, day: date | None = None) -> str:
    if agreement.status == "active" and (day or today()) > agreement.ends_on:
        return "expired"
    return agreement.status


def _status_filter(query: Select, status: str, day: date) -> Select:
    if status == "expired":
        return query.where(Agreement.status == "active", Agreement.ends_on < day)
    if status == "active":
        return query.where(Agreement.status == "active", Agreement.ends_on >= day)
    return query.where(Agreement.status == status)


async def subjects_of(session: AsyncSession, agreement_id: str) -> list[str]:
    rows = await session.scalars(select(AgreementSubject.subject)
                                 .where(AgreementSubject.agreement_id == agreement_id).order_by(AgreementSubject.subject))
    return list(rows)


async def _event(session: AsyncSession, agreement: Agreement, principal: Principal, to: str,
                 note: str | None, from_status: str | None) -> None:
    session.add(AgreementEvent(agreement_id=agreement.id, from_status=from_status, to_status=to,
                               actor=principal.subject, actor_role=principal.role, note=note))
    await session.flush()


# --- create and read ----------------------------------------------------------------------------


async def create_agreement(session: AsyncSession, principal: Principal, body: AgreementIn) -> Agreement:
    if not is_steward(principal):
        raise Forbidden("Only a state data steward (Level 1) drafts agreements.")
    problems = []
    if body.legal_basis not in AGREEMENT_BASES:
        problems.append(problem("legal_basis", "Is not a basis an agreement can rest on (consent, the "
                                "family's own access and directory information need no agreement).",
                                "not-agreement-basis"))
    if body.ends_on < body.starts_on:
        problems.append(problem("ends_on", "Must not be before starts_on."))
    if body.destroy_by < body.ends_on:
        problems.append(problem("destroy_by", "Must be on or after ends_on."))
    if not body.student_ids and not body.district_ids:
        problems.append(problem("student_ids", "Name the students covered, or the districts (cohort).", "missing"))
    if problems:
        raise invalid(problems)
    await refuse_if_banned(session, today(), what="agreement", organisations=[body.organisation],
                           subjects=body.subjects)
    agreement = Agreement(
        title=body.title, organisation=body.organisation, organisation_key=org_key(body.organisation),
        contact_name=body.contact_name, contact_email=body.contact_email, purpose=body.purpose,
        legal_basis=body.legal_basis, fields=unique(body.fields), student_ids=unique(body.student_ids),
        district_ids=unique(body.district_ids), starts_on=body.starts_on, ends_on=body.ends_on,
        destroy_by=body.destroy_by, status="draft", created_by=principal.subject)
    session.add(agreement)
    await session.flush()
    session.add_all([AgreementSubject(agreement_id=agreement.id, subject=s) for s in unique(body.subjects)])
    await _event(session, agreement, principal, "draft", None, None)
    audit.info("agreement drafted", extra={"agreement_id": agreement.id, "actor": principal.subject,
                                           "fields": len(agreement.fields), "students": len(agreement.student_ids),
                                           "districts": len(agreement.district_ids)})
    return agreement


async def get_visible(session: AsyncSession, principal: Principal, agreement_id: str, *,
                      for_update: bool = False) -> Agreement:
    """A steward sees every agreement; a principal the agreement names sees it; anyone else gets
    404, as for an agreement that does not exist."""
    query = select(Agreement).where(Agreement.id == agreement_id)
    agreement = await session.scalar(query.with_for_update() if for_update else query)
    if agreement is None:
        raise NotFound("No such agreement.")
    if not is_steward(principal) and principal.subject not in await subjects_of(session, agreement_id):
        raise NotFound("No such agreement.")
    return agreement


async def details(session: AsyncSession, agreement: Agreement) -> dict[str, Any]:
    history = (await session.scalars(select(AgreementEvent).where(AgreementEvent.agreement_id == agreement.id)
                                     .order_by(AgreementEvent.id))).all()
    publications = (await session.scalars(select(Publication).where(Publication.agreement_id == agreement.id)
                                          .order_by(Publication.recorded_at, Publication.id))).all()
    return {"subjects": await subjects_of(session, agreement.id), "history": history,
            "certificate": await session.get(DestructionCertificate, agreement.id), "publications": publications}


async def list_agreements(session: AsyncSession, principal: Principal, *, status: str | None,
                          subject: str | None, organisation: str | None, limit: int,
                          offset: int) -> Sequence[Agreement]:
    query = select(Agreement)
    if not is_steward(principal):  # the others see the agreements naming them
        subject = principal.subject
    if subject is not None:
        query = query.join(AgreementSubject, and_(AgreementSubject.agreement_id == Agreement.id,
                                                  AgreementSubject.subject == subject))
    if status is not None:
        query = _status_filter(query, status, today())
    if organisation is not None:
        query = query.where(Agreement.organisation_key == org_key(organisation))
    query = query.order_by(Agreement.created_at.desc(), Agreement.id).offset(offset).limit(limit)
    return (await session.scalars(query)).all()


async def overdue_destruction(session: AsyncSession, principal: Principal) -> Sequence[Agreement]:
    """Signed agreements past their destroy-by date without a destruction certificate."""
    if not is_steward(principal):
        raise Forbidden("Only a state data steward (Level 1) follows up destruction.")
    return (await session.scalars(select(Agreement).where(Agreement.status == "active",
                                                          Agreement.destroy_by < today())
                                  .order_by(Agreement.destroy_by, Agreement.id))).all()


# --- lifecycle ----------------------------------------------------------------------------------


async def transition(session: AsyncSession, principal: Principal, agreement_id: str, to: str,
                     note: str | None) -> Agreement:
    agreement = await get_visible(session, principal, agreement_id, for_update=True)
    current = effective_status(agreement)
    step = STEPS.get((agreement.status, to))
    if step is None or current == "expired":
        allowed = [] if current == "expired" else [t for (f, t) in STEPS if f == agreement.status]
        raise TransitionNotAllowed("agreement", current, to, allowed)
    if principal.role not in step.roles:
        raise Forbidden("Only a state data steward (Level 1) moves an agreement through its approvals.")
    if step.note_required and not note:
        raise invalid([problem("note", "Is required for this step: reference the decision it records.", "missing")])
    if step.not_by_drafter and principal.subject == agreement.created_by:
        raise SecondStewardRequired("The agreement must be signed off by a steward other than the one who drafted it.",
                                    rule="four-eyes-signing")
    if to == "active":
        if agreement.ends_on < today():
            raise invalid([problem("ends_on", "Has passed: an agreement that already ended cannot be signed.")])
        await refuse_if_banned(session, today(), what="agreement", organisations=[agreement.organisation],
                               subjects=await subjects_of(session, agreement.id))
    from_status, agreement.status = agreement.status, to
    await _event(session, agreement, principal, to, note, from_status)
    audit.info("agreement step", extra={"agreement_id": agreement.id, "from_status": from_status,
                                        "to_status": to, "actor": principal.subject})
    return agreement


async def certify_destruction(session: AsyncSession, principal: Principal, agreement_id: str,
                              body: CertificateIn) -> DestructionCertificate:
    agreement = await get_visible(session, principal, agreement_id, for_update=True)
    current = effective_status(agreement)
    if agreement.status != "active":
        raise TransitionNotAllowed("agreement", current, "destruction_certified", [])
    problems = []
    if body.destroyed_on > today():
        problems.append(problem("destroyed_on", "Must not be in the future."))
    if body.destroyed_on < agreement.starts_on:
        problems.append(problem("destroyed_on", "Must not be before the agreement started."))
    if problems:
        raise invalid(problems)
    certificate = DestructionCertificate(agreement_id=agreement.id, destroyed_by=body.destroyed_by,
                                         destroyed_on=body.destroyed_on, method=body.method,
                                         recorded_by=principal.subject)
    session.add(certificate)
    from_status, agreement.status = agreement.status, "destruction_certified"
    await _event(session, agreement, principal, "destruction_certified", None, from_status)
    audit.info("destruction certified", extra={"agreement_id": agreement.id, "actor": principal.subject,
                                               "late": body.destroyed_on > agreement.destroy_by})
    return certificate


async def add_publication(session: AsyncSession, principal: Principal, agreement_id: str,
                          body: PublicationIn) -> Publication:
    agreement = await get_visible(session, principal, agreement_id)
    if agreement.status not in ("active", "destruction_certified"):
        raise Conflict("Publications are recorded for signed agreements only.",
                       current_status=effective_status(agreement))
    if body.submitted_on > today():
        raise invalid([problem("submitted_on", "Must not be in the future.")])
    due_by = subtract_business_days(body.planned_publication_date, PUBLICATION_NOTICE_BUSINESS_DAYS)
    publication = Publication(agreement_id=agreement.id, title=body.title,
                              planned_publication_date=body.planned_publication_date,
                              submitted_on=body.submitted_on, due_by=due_by, late=body.submitted_on > due_by,
                              recorded_by=principal.subject)
    session.add(publication)
    await session.flush()
    audit.info("publication recorded", extra={"agreement_id": agreement.id, "late": publication.late,
                                              "actor": principal.subject})
    return publication


# --- what an agreement allows -------------------------------------------------------------------


def coverage_problems(agreement: Agreement, subjects: Iterable[str], *, day: date, legal_basis: str | None = None,
                      fields: Sequence[str] = (), students: Sequence[str] = (), party_organisation: str | None = None,
                      party_subject: str | None = None, field: str = "agreement_id") -> list[dict[str, str]]:
    """Why `agreement` does not cover a disclosure (empty: it does): it must be active on `day`,
    rest on the same legal basis, name the party, and cover every field and (when it lists its
    students rather than districts) every student. District cohorts are checked by the releasing
    service, which knows enrolments."""
    problems = []
    if agreement.status != "active" or not agreement.starts_on <= day <= agreement.ends_on:
        problems.append(problem(field, "Is not an active agreement on the disclosure date.", "not-active"))
    if legal_basis is not None and agreement.legal_basis != legal_basis:
        problems.append(problem(field, "Rests on a different legal basis.", "basis-mismatch"))
    if party_organisation is not None and not (
            org_key(party_organisation) == agreement.organisation_key or party_subject in set(subjects)):
        problems.append(problem("party", "Is not a party to the agreement.", "not-party"))
    allowed = set(agreement.fields)
    problems += [problem(f"fields[{i}]", "Is not a data element of the agreement.", "not-covered")
                 for i, name in enumerate(fields) if name not in allowed]
    if not agreement.district_ids:
        covered = set(agreement.student_ids)
        outside = [i for i, sid in enumerate(students) if sid not in covered]
        problems += [problem(f"students[{i}]", "Is not a student the agreement covers.", "not-covered")
                     for i in outside[:MAX_LISTED_PROBLEMS]]
        if len(outside) > MAX_LISTED_PROBLEMS:
            problems.append(problem("students", f"{len(outside) - MAX_LISTED_PROBLEMS} more students are not "
                                    "covered by the agreement.", "not-covered"))
    return problems


async def agreements_granting(session: AsyncSession, subject: str, today: date) -> list[Agreement]:
    """The signed agreements naming `subject` whose dates include `today`; none while the subject
    or the agreement's organisation is banned."""
    bans = await active_bans(session, today)
    if subject in bans.subjects:
        return []
    rows = (await session.scalars(
        select(Agreement).join(AgreementSubject, AgreementSubject.agreement_id == Agreement.id)
        .where(AgreementSubject.subject == subject, Agreement.status == "active",
               Agreement.starts_on <= today, Agreement.ends_on >= today)
        .order_by(Agreement.id))).all()
    return [a for a in rows if a.organisation_key not in bans.organisation_keys]


def grant_of(agreement: Agreement) -> AccessGrant:
    return AccessGrant(grant_id=f"agreement:{agreement.id}", fields=frozenset(agreement.fields),
                       student_ids=frozenset(agreement.student_ids), district_ids=frozenset(agreement.district_ids),
                       starts_on=agreement.starts_on, ends_on=agreement.ends_on)


async def grants_for(session: AsyncSession, subject: str, today: date) -> tuple[AccessGrant, ...]:
    """The access a principal holds through agreements: one `AccessGrant` per agreement of
    `agreements_granting`."""
    return tuple(grant_of(a) for a in await agreements_granting(session, subject, today))
