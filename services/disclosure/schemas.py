"""Request and response bodies of the disclosure service. Requests forbid unknown fields; every
value type that can be checked alone (dictionary field names, state student IDs, legal-basis codes,
principal subjects) is checked here, so one 422 lists all such problems at once. Rules that need
the database or several fields together live in the service modules."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field

from services.disclosure.common import (
    DistrictId,
    LegalBasisCode,
    Name,
    Note,
    Reference,
    StateStudentId,
    StudentField,
    Subject,
    Text,
)
from shared.schemas import RequestModel, ResponseModel

RefId = Annotated[str, Field(min_length=1, max_length=36)]
Fields = Annotated[list[StudentField], Field(min_length=1, max_length=300,
                                             description="Student data dictionary field names")]
MAX_STUDENTS = 100_000


class PartyIn(RequestModel):
    """Who receives the data: a person or office, their organisation and, if it has an account
    here, its principal subject."""

    name: Name
    organisation: Name
    subject: Subject | None = None


class PartyOut(ResponseModel):
    name: str
    organisation: str
    subject: str | None = None


# --- the record of disclosures --------------------------------------------------------------------


class DisclosureIn(RequestModel):
    """One release of PII, logged before the data leave: every student and field of it in one call."""

    party: PartyIn
    legal_basis: LegalBasisCode
    purpose: Annotated[Text, Field(description="The legitimate interest or purpose (34 CFR 99.32(a)(3))")]
    fields: Fields
    students: Annotated[list[StateStudentId], Field(max_length=MAX_STUDENTS, description=(
        "State student IDs disclosed; empty only for a de-identified release (`deidentified_records`)"))]
    disclosed_on: date | None = Field(None, description="Defaults to today (UTC); never in the future")
    agreement_id: RefId | None = Field(None, description="Required for `studies` and `audit_evaluation`")
    consent_id: RefId | None = Field(None, description="Required for `written_consent`")
    data_request_id: RefId | None = None
    reference: Annotated[str | None, Field(max_length=500, description="The releasing system's own reference")] = None
    deidentified_records: int | None = Field(None, ge=1, le=100_000_000, description=(
        "A de-identified student-level release (reporting's extracts): how many records went out. "
        "Its source holds no state IDs, so it names no students"))


class DisclosureOut(ResponseModel):
    seq: int
    at: datetime
    actor: str
    party: PartyOut
    legal_basis: str
    purpose: str
    fields: list[str]
    student_count: int
    students: list[str] | None = Field(None, description="Only when one entry is read by itself")
    disclosed_on: date
    agreement_id: str | None = None
    consent_id: str | None = None
    data_request_id: str | None = None
    reference: str | None = None
    deidentified_records: int | None = None
    hash: str


class DisclosureList(ResponseModel):
    items: list[DisclosureOut]
    next_after_seq: int | None = Field(None, description="Pass as `after_seq` for the next page")


class StudentDisclosureOut(ResponseModel):
    """What a parent or eligible student sees of a disclosure of their record (34 CFR 99.32(c)):
    who received which fields, when, on what basis and why; never other students."""

    seq: int
    disclosed_on: date
    party: PartyOut
    legal_basis: str
    legal_basis_citation: str
    legal_basis_label: str
    purpose: str
    fields: list[str]


class StudentDisclosureList(ResponseModel):
    state_student_id: str
    items: list[StudentDisclosureOut]
    next_after_seq: int | None = None


class ChainReportOut(ResponseModel):
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str | None = None
    head_hash: str


# --- agreements -------------------------------------------------------------------------------------


class AgreementIn(RequestModel):
    title: Name
    organisation: Name
    contact_name: Name
    contact_email: Annotated[str, Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    subjects: Annotated[list[Subject], Field(default_factory=list, max_length=50,
                                             description="Principals the agreement authorises")]
    purpose: Text
    legal_basis: LegalBasisCode
    fields: Fields
    student_ids: Annotated[list[StateStudentId], Field(default_factory=list, max_length=MAX_STUDENTS)]
    district_ids: Annotated[list[DistrictId], Field(default_factory=list, max_length=500)]
    starts_on: date
    ends_on: date
    destroy_by: date = Field(description="When the recipient must have destroyed the data (on/after ends_on)")


class AgreementEventOut(ResponseModel):
    from_status: str | None
    to_status: str
    actor: str
    actor_role: str
    at: datetime
    note: str | None = None


class CertificateIn(RequestModel):
    destroyed_by: Annotated[Name, Field(description="The person who destroyed the data and certifies it")]
    destroyed_on: date
    method: Annotated[str, Field(min_length=1, max_length=500)]


class CertificateOut(ResponseModel):
    agreement_id: str
    destroyed_by: str
    destroyed_on: date
    method: str
    recorded_by: str
    recorded_at: datetime


class PublicationIn(RequestModel):
    title: Annotated[str, Field(min_length=1, max_length=500)]
    planned_publication_date: date
    submitted_on: date


class PublicationOut(ResponseModel):
    id: str
    agreement_id: str
    title: str
    planned_publication_date: date
    submitted_on: date
    due_by: date = Field(description="10 business days before the planned publication")
    late: bool
    recorded_by: str
    recorded_at: datetime


class AgreementSummary(ResponseModel):
    id: str
    title: str
    organisation: str
    legal_basis: str
    status: str = Field(description="`expired` is computed: an active agreement past its end date")
    starts_on: date
    ends_on: date
    destroy_by: date
    created_at: datetime


class AgreementOut(AgreementSummary):
    contact_name: str
    contact_email: str
    subjects: list[str]
    purpose: str
    fields: list[str]
    student_ids: list[str]
    district_ids: list[str]
    created_by: str
    history: list[AgreementEventOut] = Field(default_factory=list)
    certificate: CertificateOut | None = None
    publications: list[PublicationOut] = Field(default_factory=list)


class AgreementList(ResponseModel):
    items: list[AgreementSummary]
    next_offset: int | None = None


AgreementTarget = Literal["coordinator_review", "legal_review", "board_consent", "superintendent_approval",
                          "active", "rejected"]


class GrantOut(ResponseModel):
    """What an active agreement lets its party reach today, and what a releasing service writes
    into the disclosure log when it releases data under it."""

    grant_id: str
    agreement_id: str
    organisation: str
    party_name: str
    legal_basis: str
    purpose: str
    fields: list[str]
    student_ids: list[str]
    district_ids: list[str]
    starts_on: date
    ends_on: date


class GrantList(ResponseModel):
    items: list[GrantOut]
    as_of: date


class AgreementTransitionIn(RequestModel):
    to: AgreementTarget
    note: Note = None


# --- data requests ----------------------------------------------------------------------------------


class RequesterIn(RequestModel):
    name: Name
    organisation: Name


class DataRequestIn(RequestModel):
    requester: RequesterIn
    requester_subject: Subject | None = Field(None, description="Stewards filing for someone; others file as themselves")
    description: Text
    purpose: Text
    risk_level: Literal["low", "medium", "high"]
    agreement_id: RefId | None = Field(None, description="Required for high risk: an active agreement")


class AssignIn(RequestModel):
    assignee: Subject | None = Field(None, description="The data steward (`user:<id>`); default: the caller")
    note: Note = None


class FulfilIn(RequestModel):
    dataset_reference: Reference
    note: Note = None


class QaIn(RequestModel):
    decision: Literal["approve", "return"]
    note: Note = None


class ChecklistIn(RequestModel):
    """The Utah release checklist (Appendix C): every area must be completed."""

    reliability: bool
    validity: bool
    presentation: bool


class ReleaseIn(RequestModel):
    checklist: ChecklistIn
    dataset_reference: Reference
    released_on: date | None = Field(None, description="The release's date stamp; defaults to today")


class CloseIn(RequestModel):
    note: Note = None


class DataRequestEventOut(ResponseModel):
    from_status: str | None
    to_status: str
    actor: str
    actor_role: str
    at: datetime
    note: str | None = None


class DataRequestOut(ResponseModel):
    id: str
    requester_name: str
    requester_organisation: str
    requester_subject: str | None
    description: str
    purpose: str
    risk_level: str
    agreement_id: str | None
    status: str
    created_by: str
    assigned_to: str | None
    fulfilled_by: str | None
    fulfilled_dataset_reference: str | None
    qa_by: str | None
    released_by: str | None
    released_dataset_reference: str | None
    released_on: date | None
    checklist_reliability: bool | None
    checklist_validity: bool | None
    checklist_presentation: bool | None
    created_at: datetime
    updated_at: datetime
    history: list[DataRequestEventOut] = Field(default_factory=list)


class DataRequestList(ResponseModel):
    items: list[DataRequestOut]
    next_offset: int | None = None


# --- consents -----------------------------------------------------------------------------------


class ConsentIn(RequestModel):
    fields: Fields
    recipient: PartyIn
    purpose: Text
    expires_on: date


class ConsentOut(ResponseModel):
    id: str
    state_student_id: str
    giver_role: str
    fields: list[str]
    recipient: PartyOut
    purpose: str
    signed_on: date
    expires_on: date
    revoked_at: datetime | None = None
    status: Literal["active", "expired", "revoked"]


class ConsentList(ResponseModel):
    items: list[ConsentOut]


# --- bans ---------------------------------------------------------------------------------------


class BanIn(RequestModel):
    organisation: Name
    subjects: Annotated[list[Subject], Field(default_factory=list, max_length=50)]
    finding: Text
    found_on: date


class BanOut(ResponseModel):
    id: str
    organisation: str
    subjects: list[str]
    finding: str
    found_on: date
    banned_until: date
    active: bool
    recorded_by: str
    recorded_at: datetime


class BanList(ResponseModel):
    items: list[BanOut]


class BannedSubjectsOut(ResponseModel):
    banned_subjects: list[str]
    as_of: date


# --- directory information opt-outs ------------------------------------------------------------------


class DirectoryOptOutOut(ResponseModel):
    state_student_id: str
    opted_out: bool
    opted_out_at: datetime | None = None
    withdrawn_at: datetime | None = None


class DirectoryLookupIn(RequestModel):
    students: Annotated[list[StateStudentId], Field(min_length=1, max_length=1000)]


class DirectoryLookupOut(ResponseModel):
    opted_out: list[str] = Field(description="Those of the given students opted out of directory information")
