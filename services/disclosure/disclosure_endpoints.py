"""The record of disclosures over HTTP (rules in `disclosures.py`). Answers carry student IDs or
describe a student's record, so they are `no-store`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response

from services.disclosure import disclosures
from services.disclosure.common import NO_STORE
from services.disclosure.legal_bases import LEGAL_BASES
from services.disclosure.schemas import (
    ChainReportOut,
    DisclosureIn,
    DisclosureList,
    DisclosureOut,
    StudentDisclosureList,
    StudentDisclosureOut,
)
from shared.deps import ClearedPrincipal, CurrentPrincipal, DbSession
from shared.schemas import MAX_INT32

log = APIRouter(prefix="/disclosure/v1", tags=["disclosure log"])

StudentId = Annotated[str, Path(max_length=16)]
AfterSeq = Annotated[int, Query(ge=0, le=MAX_INT32, description="Keyset cursor: entries after this sequence number")]
Limit = Annotated[int, Query(ge=1, le=500)]
_BASES = {b.code: b for b in LEGAL_BASES}


def _page(rows: list, limit: int) -> int | None:
    return rows[-1].seq if len(rows) == limit else None


@log.post("/disclosures", status_code=201, response_model=DisclosureOut,
          summary="Log a disclosure of PII before it is released (releasing services, state data stewards)",
          responses={403: {"description": "Not a logging role, or the party is banned"},
                     422: {"description": "Unknown basis or fields, or not covered by the agreement or consent"}})
async def log_disclosure(body: DisclosureIn, session: DbSession, principal: CurrentPrincipal, response: Response,
                         idempotency_key: Annotated[str | None, Header(
                             description="Makes a retried call safe: the first entry is answered again")] = None,
                         ) -> DisclosureOut:
    """One call per release, with every student and field. A refusal means the release is not
    covered as described and must not happen. `201` with the entry (its `seq` and `hash`); a retry
    with the same `Idempotency-Key` and body answers `200` with the same entry."""
    logged = await disclosures.log_disclosure(session, principal, body, idempotency_key)
    response.headers.update(NO_STORE)
    response.headers["Location"] = f"/disclosure/v1/disclosures/{logged.entry.seq}"
    if logged.replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return DisclosureOut.model_validate(disclosures.entry_view(logged.entry))


@log.get("/disclosures", response_model=DisclosureList, summary="Search the record of disclosures (Level 1)")
async def list_disclosures(session: DbSession, principal: CurrentPrincipal, response: Response,
                           state_student_id: Annotated[str | None, Query(max_length=16)] = None,
                           party_subject: Annotated[str | None, Query(max_length=200)] = None,
                           agreement_id: Annotated[str | None, Query(max_length=36)] = None,
                           after_seq: AfterSeq = 0, limit: Limit = 100) -> DisclosureList:
    rows = list(await disclosures.list_disclosures(session, principal, state_student_id=state_student_id,
                                                   party_subject=party_subject, agreement_id=agreement_id,
                                                   after_seq=after_seq, limit=limit))
    response.headers.update(NO_STORE)
    return DisclosureList(items=[DisclosureOut.model_validate(disclosures.entry_view(e)) for e in rows],
                          next_after_seq=_page(rows, limit))


@log.get("/disclosures/verify", response_model=ChainReportOut,
         summary="Verify the hash chain and the student index of the record of disclosures (Level 1)")
async def verify(session: DbSession, principal: CurrentPrincipal) -> ChainReportOut:
    disclosures.require_level_one(principal)
    report = await disclosures.verify_disclosure_log(session)
    return ChainReportOut(ok=report.ok, entries=report.entries, first_bad_seq=report.first_bad_seq,
                          problem=report.problem, head_hash=report.head_hash)


@log.get("/disclosures/{seq}", response_model=DisclosureOut,
         summary="One disclosure with every student (Level 1)")
async def get_disclosure(seq: Annotated[int, Path(ge=1)], session: DbSession, principal: CurrentPrincipal,
                         response: Response) -> DisclosureOut:
    entry = await disclosures.get_disclosure(session, principal, seq)
    response.headers.update(NO_STORE)
    return DisclosureOut.model_validate(disclosures.entry_view(entry, with_students=True))


@log.get("/students/{state_student_id}/disclosures", response_model=StudentDisclosureList,
         summary="Disclosures of a student's record (the parent or eligible student; state data stewards)",
         responses={404: {"description": "Not a student of yours"}})
async def student_disclosures(state_student_id: StudentId, session: DbSession, principal: ClearedPrincipal,
                              response: Response, after_seq: AfterSeq = 0, limit: Limit = 100) -> StudentDisclosureList:
    """FERPA 34 CFR 99.32(c): the parent or eligible student may inspect the record of disclosures
    of the student's education record: who received which fields, when, on what basis and why."""
    rows = list(await disclosures.student_disclosures(session, principal, state_student_id,
                                                      after_seq=after_seq, limit=limit))
    response.headers.update(NO_STORE)
    items = []
    for entry in rows:
        body = disclosures.payload_of(entry)
        basis = _BASES[body["legal_basis"]]
        items.append(StudentDisclosureOut(seq=entry.seq, disclosed_on=body["disclosed_on"], party=body["party"],
                                          legal_basis=basis.code, legal_basis_citation=basis.citation,
                                          legal_basis_label=basis.label, purpose=body["purpose"],
                                          fields=body["fields"]))
    return StudentDisclosureList(state_student_id=state_student_id, items=items, next_after_seq=_page(rows, limit))
