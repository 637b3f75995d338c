"""The record of disclosures (FERPA 34 CFR 99.32): every release of PII from student records to a
party outside the agency, with the party, the legal basis, the legitimate interest or purpose, the
fields, every student, the date, and the agreement or consent it rests on.

A releasing service (records, reporting) or a data steward logs a release *before* the data leave,
in one call for the whole release; a refusal (problem+json) means the release is not lawful as
described and must not happen:
- the legal basis must be one of `legal_bases.py`;
- `studies` and `audit_evaluation` need an agreement, `written_consent` a consent; the agreement or
  consent cited must be in force on the disclosure date, name the party and cover every field
  (and the students: a consent its one student, an agreement its listed students);
- a party under a ban (improper redisclosure) receives nothing.

The log is append-only and hash-chained (`shared.audit`): one `disclosure_log` entry per disclosure
whose hashed payload holds the full student list, plus one `disclosure_log_student` row per
student so a student's disclosures are an indexed query. `verify_disclosure_log` checks the chain
and that those rows match the payloads. A parent or eligible student may inspect the disclosures of
their own record (99.32(c)).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.disclosure import agreements as agreement_rules
from services.disclosure import consents as consent_rules
from services.disclosure.bans import refuse_if_banned
from services.disclosure.common import (
    LOGGER_ROLES,
    audit,
    invalid,
    is_family_of,
    is_level_one,
    is_steward,
    problem,
    today,
    unique,
)
from services.disclosure.models import (
    Agreement,
    Consent,
    DataRequest,
    DisclosureIdempotency,
    DisclosureLogEntry,
    DisclosureLogStudent,
)
from services.disclosure.schemas import DisclosureIn
from shared.audit import ChainReport, append, lock_chain, verify_chain
from shared.errors import Forbidden, NotFound
from shared.policy.principal import Principal
from shared.request_context import current_request_id

BASES_NEEDING_AGREEMENT = frozenset({"studies", "audit_evaluation"})
BASES_NEEDING_CONSENT = frozenset({"written_consent"})
INSERT_CHUNK = 5000
MAX_IDEMPOTENCY_KEY = 200


@dataclass(frozen=True)
class Logged:
    entry: DisclosureLogEntry
    replayed: bool = False


def request_digest(body: DisclosureIn) -> str:
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


async def _check(session: AsyncSession, body: DisclosureIn, day: date) -> None:
    problems: list[dict[str, str]] = []
    if day > today():
        problems.append(problem("disclosed_on", "Must not be in the future."))
    if not body.students and body.deidentified_records is None:
        problems.append(problem("students", "Name every student disclosed (a de-identified release gives "
                                "deidentified_records instead).", "missing"))
    if body.students and body.deidentified_records is not None:
        problems.append(problem("deidentified_records", "Is only for a de-identified release, which names no "
                                "students."))
    if body.legal_basis in BASES_NEEDING_AGREEMENT and body.agreement_id is None:
        problems.append(problem("agreement_id", "Is required for this legal basis.", "missing"))
    if body.legal_basis in BASES_NEEDING_CONSENT and body.consent_id is None:
        problems.append(problem("consent_id", "Is required for this legal basis.", "missing"))
    party = body.party
    agreement = None
    if body.agreement_id is not None:
        agreement = await session.get(Agreement, body.agreement_id)
        if agreement is None:
            problems.append(problem("agreement_id", "Is not a known agreement.", "unknown"))
        else:
            basis = body.legal_basis if body.legal_basis in agreement_rules.AGREEMENT_BASES else None
            problems += agreement_rules.coverage_problems(
                agreement, await agreement_rules.subjects_of(session, agreement.id), day=day, legal_basis=basis,
                fields=body.fields, students=body.students, party_organisation=party.organisation,
                party_subject=party.subject)
    if body.consent_id is not None:
        consent = await session.get(Consent, body.consent_id)
        if consent is None:
            problems.append(problem("consent_id", "Is not a known consent.", "unknown"))
        else:
            problems += consent_rules.coverage_problems(consent, day=day, fields=body.fields, students=body.students,
                                                        party_organisation=party.organisation,
                                                        party_subject=party.subject)
    if body.data_request_id is not None and await session.get(DataRequest, body.data_request_id) is None:
        problems.append(problem("data_request_id", "Is not a known data request.", "unknown"))
    if problems:
        audit.info("disclosure refused", extra={"legal_basis": body.legal_basis, "problems": len(problems)})
        raise invalid(problems, "The disclosure is not covered as described; do not release the data.")
    organisations = [party.organisation] + ([agreement.organisation] if agreement is not None else [])
    await refuse_if_banned(session, day, what="disclosure", organisations=organisations, subjects=[party.subject],
                           field_prefix="party.")


def _payload(body: DisclosureIn, day: date) -> dict[str, Any]:
    return {"party": body.party.model_dump(), "legal_basis": body.legal_basis, "purpose": body.purpose,
            "fields": unique(body.fields), "students": unique(body.students), "disclosed_on": day.isoformat(),
            "agreement_id": body.agreement_id, "consent_id": body.consent_id,
            "data_request_id": body.data_request_id, "reference": body.reference} | (
            {} if body.deidentified_records is None else {"deidentified_records": body.deidentified_records})


def _check_key(key: str | None) -> None:
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
        raise invalid([problem("Idempotency-Key", "Must be 1 to 200 characters.")])


async def log_disclosure(session: AsyncSession, principal: Principal, body: DisclosureIn,
                         idempotency_key: str | None = None) -> Logged:
    if principal.role not in LOGGER_ROLES:
        raise Forbidden("Disclosures are logged by the releasing service or a state data steward.")
    _check_key(idempotency_key)
    digest = request_digest(body)
    if idempotency_key is not None:
        # Under the chain lock, so two concurrent first uses of a key cannot both append.
        await lock_chain(session, DisclosureLogEntry)
        seen = await session.get(DisclosureIdempotency, (principal.subject, idempotency_key))
        if seen is not None:
            if seen.request_hash != digest:
                raise invalid([problem("Idempotency-Key", "Was already used with a different request body.",
                                       "reused")])
            entry = await session.get(DisclosureLogEntry, seen.entry_seq)
            assert entry is not None
            return Logged(entry, replayed=True)
    day = body.disclosed_on or today()
    await _check(session, body, day)
    payload = _payload(body, day)
    entry = await append(session, DisclosureLogEntry, actor=principal.subject, action="disclosure", payload=payload,
                         request_id=current_request_id(),
                         index_columns={"party_subject": body.party.subject, "legal_basis": body.legal_basis,
                                        "disclosed_on": day, "agreement_id": body.agreement_id,
                                        "consent_id": body.consent_id})
    students = payload["students"]
    for start in range(0, len(students), INSERT_CHUNK):
        await session.execute(insert(DisclosureLogStudent), [
            {"entry_seq": entry.seq, "state_student_id": sid} for sid in students[start:start + INSERT_CHUNK]])
    if idempotency_key is not None:
        session.add(DisclosureIdempotency(actor=principal.subject, key=idempotency_key, request_hash=digest,
                                          entry_seq=entry.seq))
        await session.flush()
    audit.info("disclosure logged", extra={"seq": entry.seq, "legal_basis": body.legal_basis,
                                           "students": len(students), "fields": len(payload["fields"]),
                                           "actor": principal.subject})
    return Logged(entry)


# --- reading ------------------------------------------------------------------------------------


def payload_of(entry: DisclosureLogEntry) -> dict[str, Any]:
    return json.loads(entry.payload)


def entry_view(entry: DisclosureLogEntry, *, with_students: bool = False) -> dict[str, Any]:
    body = payload_of(entry)
    return {"seq": entry.seq, "at": entry.at, "actor": entry.actor, "party": body["party"],
            "legal_basis": body["legal_basis"], "purpose": body["purpose"], "fields": body["fields"],
            "student_count": len(body["students"]), "students": body["students"] if with_students else None,
            "disclosed_on": body["disclosed_on"], "agreement_id": body["agreement_id"],
            "consent_id": body["consent_id"], "data_request_id": body["data_request_id"],
            "reference": body["reference"], "deidentified_records": body.get("deidentified_records"),
            "hash": entry.hash}


def require_level_one(principal: Principal) -> None:
    if not is_level_one(principal):
        raise Forbidden("The record of disclosures is for Level 1 (state data stewards and SLDS services).")


async def list_disclosures(session: AsyncSession, principal: Principal, *, state_student_id: str | None,
                           party_subject: str | None, agreement_id: str | None, after_seq: int,
                           limit: int) -> Sequence[DisclosureLogEntry]:
    require_level_one(principal)
    query = select(DisclosureLogEntry).where(DisclosureLogEntry.seq > after_seq)
    if state_student_id is not None:
        query = query.where(DisclosureLogEntry.seq.in_(
            select(DisclosureLogStudent.entry_seq).where(DisclosureLogStudent.state_student_id == state_student_id)))
    if party_subject is not None:
        query = query.where(DisclosureLogEntry.party_subject == party_subject)
    if agreement_id is not None:
        query = query.where(DisclosureLogEntry.agreement_id == agreement_id)
    return (await session.scalars(query.order_by(DisclosureLogEntry.seq).limit(limit))).all()


async def get_disclosure(session: AsyncSession, principal: Principal, seq: int) -> DisclosureLogEntry:
    require_level_one(principal)
    entry = await session.get(DisclosureLogEntry, seq)
    if entry is None:
        raise NotFound("No such disclosure.")
    return entry


async def student_disclosures(session: AsyncSession, principal: Principal, state_student_id: str, *,
                              after_seq: int, limit: int) -> Sequence[DisclosureLogEntry]:
    """The disclosures of one student's record, for the student's parent or the eligible student
    (34 CFR 99.32(c)) and for state data stewards; 404 for anyone else."""
    if not (is_family_of(principal, state_student_id) or is_steward(principal)):
        raise NotFound("No such student.")
    seqs = select(DisclosureLogStudent.entry_seq).where(DisclosureLogStudent.state_student_id == state_student_id,
                                                        DisclosureLogStudent.entry_seq > after_seq)
    rows = (await session.scalars(select(DisclosureLogEntry).where(DisclosureLogEntry.seq.in_(seqs))
                                  .order_by(DisclosureLogEntry.seq).limit(limit))).all()
    audit.info("student disclosures read", extra={"role": principal.role, "entries": len(rows)})
    return rows


async def verify_disclosure_log(session: AsyncSession, batch: int = 1000) -> ChainReport:
    """The chain (no entry edited, removed or inserted) and the student index (each entry's
    `disclosure_log_student` rows are exactly its payload's students)."""
    report = await verify_chain(session, DisclosureLogEntry)
    if not report.ok:
        return report
    after = 0
    while True:
        entries = (await session.scalars(select(DisclosureLogEntry).where(DisclosureLogEntry.seq > after)
                                         .order_by(DisclosureLogEntry.seq).limit(batch))).all()
        if not entries:
            return report
        indexed: dict[int, set[str]] = {e.seq: set() for e in entries}
        rows = await session.execute(select(DisclosureLogStudent.entry_seq, DisclosureLogStudent.state_student_id)
                                     .where(DisclosureLogStudent.entry_seq > after,
                                            DisclosureLogStudent.entry_seq <= entries[-1].seq))
        for seq, sid in rows:
            indexed[seq].add(sid)
        for entry in entries:
            if indexed[entry.seq] != set(payload_of(entry)["students"]):
                return ChainReport(False, report.entries, entry.seq, "student index differs from the entry",
                                   report.head_hash)
        after = entries[-1].seq
