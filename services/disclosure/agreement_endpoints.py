"""Agreements (MOAs) over HTTP (rules in `agreements.py`): draft, move through the approvals,
certify destruction, record publications, follow up overdue destruction."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from services.disclosure import agreements
from services.disclosure.common import NO_STORE, today
from services.disclosure.models import Agreement, DestructionCertificate, Publication
from services.disclosure.schemas import (
    AgreementIn,
    AgreementList,
    AgreementOut,
    AgreementSummary,
    AgreementTransitionIn,
    CertificateIn,
    CertificateOut,
    GrantList,
    GrantOut,
    PublicationIn,
    PublicationOut,
)
from shared.deps import CurrentPrincipal, DbSession, ReadSession

moas = APIRouter(prefix="/disclosure/v1", tags=["agreements"])

AgreementId = Annotated[str, Path(max_length=36)]
Status = Literal["draft", "coordinator_review", "legal_review", "board_consent", "superintendent_approval",
                 "active", "expired", "rejected", "destruction_certified"]


def _summary(agreement: Agreement) -> AgreementSummary:
    out = AgreementSummary.model_validate(agreement)
    out.status = agreements.effective_status(agreement)
    return out


async def _full(session: DbSession, agreement: Agreement) -> AgreementOut:
    extra = await agreements.details(session, agreement)
    columns = {c.key: getattr(agreement, c.key) for c in Agreement.__table__.columns}
    return AgreementOut.model_validate({**columns, **extra, "status": agreements.effective_status(agreement)})


@moas.post("/agreements", status_code=201, response_model=AgreementOut,
           summary="Draft an agreement (state data steward)",
           responses={403: {"description": "Not a steward, or a banned party"}, 422: {"description": "Invalid"}})
async def create(body: AgreementIn, session: DbSession, principal: CurrentPrincipal, response: Response) -> AgreementOut:
    agreement = await agreements.create_agreement(session, principal, body)
    response.headers.update(NO_STORE)
    response.headers["Location"] = f"/disclosure/v1/agreements/{agreement.id}"
    return await _full(session, agreement)


@moas.get("/agreements", response_model=AgreementList,
          summary="List agreements (stewards: all; others: those naming them)")
async def list_agreements(session: DbSession, principal: CurrentPrincipal,
                          status: Status | None = None,
                          subject: Annotated[str | None, Query(max_length=200)] = None,
                          organisation: Annotated[str | None, Query(max_length=200)] = None,
                          limit: Annotated[int, Query(ge=1, le=200)] = 50,
                          offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> AgreementList:
    rows = await agreements.list_agreements(session, principal, status=status, subject=subject,
                                            organisation=organisation, limit=limit, offset=offset)
    return AgreementList(items=[_summary(a) for a in rows], next_offset=offset + limit if len(rows) == limit else None)


@moas.get("/agreements/overdue-destruction", response_model=AgreementList,
          summary="Signed agreements past their destroy-by date without a destruction certificate (steward)")
async def overdue(session: DbSession, principal: CurrentPrincipal) -> AgreementList:
    return AgreementList(items=[_summary(a) for a in await agreements.overdue_destruction(session, principal)])


@moas.get("/agreements/{agreement_id}", response_model=AgreementOut,
          summary="An agreement with its history, certificate and publications (stewards; the parties it names)")
async def get(agreement_id: AgreementId, session: DbSession, principal: CurrentPrincipal,
              response: Response) -> AgreementOut:
    agreement = await agreements.get_visible(session, principal, agreement_id)
    response.headers.update(NO_STORE)
    return await _full(session, agreement)


@moas.post("/agreements/{agreement_id}/transitions", response_model=AgreementOut,
           summary="Move an agreement to its next approval stage, sign it, or reject it (steward)",
           responses={409: {"description": "Not allowed from the current status, or the drafter signing"}})
async def transition(agreement_id: AgreementId, body: AgreementTransitionIn, session: DbSession,
                     principal: CurrentPrincipal, response: Response) -> AgreementOut:
    """draft → coordinator_review → legal_review → board_consent → superintendent_approval →
    active (signed); any review stage → rejected. The legal, board and superintendent steps and a
    rejection need a `note` referencing the decision; signing (`active`) must be done by a steward
    other than the drafter. `expired` is computed, and `destruction_certified` is reached through
    `POST .../destruction-certificate`."""
    agreement = await agreements.transition(session, principal, agreement_id, body.to, body.note)
    response.headers.update(NO_STORE)
    return await _full(session, agreement)


@moas.post("/agreements/{agreement_id}/destruction-certificate", status_code=201, response_model=CertificateOut,
           summary="Record the certificate that the agreement's data were destroyed (steward; a party it names)")
async def certify(agreement_id: AgreementId, body: CertificateIn, session: DbSession,
                  principal: CurrentPrincipal) -> DestructionCertificate:
    return await agreements.certify_destruction(session, principal, agreement_id, body)


@moas.post("/agreements/{agreement_id}/publications", status_code=201, response_model=PublicationOut,
           summary="Record a publication using the data, flagged late if submitted under 10 business days ahead")
async def publication(agreement_id: AgreementId, body: PublicationIn, session: DbSession,
                      principal: CurrentPrincipal) -> Publication:
    return await agreements.add_publication(session, principal, agreement_id, body)


@moas.get("/grants/mine", response_model=GrantList,
          summary="The caller's access through agreements active today (researchers, vendors; read by records)")
async def my_grants(session: ReadSession, principal: CurrentPrincipal, response: Response) -> GrantList:
    """One grant per signed agreement naming the caller's token subject whose dates include today:
    the fields and students (or districts) it covers. Empty after the end date, and while the
    party is banned. The records service asks this on each read by a grant-holding role."""
    day = today()
    rows = await agreements.agreements_granting(session, principal.subject, day)
    response.headers.update(NO_STORE)  # names students
    return GrantList(as_of=day, items=[
        GrantOut(grant_id=f"agreement:{a.id}", agreement_id=a.id, organisation=a.organisation,
                 party_name=a.contact_name, legal_basis=a.legal_basis, purpose=a.purpose, fields=list(a.fields),
                 student_ids=list(a.student_ids), district_ids=list(a.district_ids), starts_on=a.starts_on,
                 ends_on=a.ends_on)
        for a in rows])
