from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr

from services.identity.state_ids import PersonKind, StateStudentId
from shared.schemas import RequestModel, ResponseModel

Id = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")


class TokenResponse(ResponseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class OrgScopeIn(RequestModel):
    role: str = Field(min_length=1, max_length=64)
    state: str | None = Field(default=None, min_length=2, max_length=8)
    district_ids: list[str] = Field(default_factory=list, max_length=200)
    school_ids: list[str] = Field(default_factory=list, max_length=2000)


class UserCreate(OrgScopeIn):
    username: str = Field(min_length=3, max_length=150, pattern=r"^[A-Za-z0-9._@-]+$")
    display_name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=256)
    staff_id: str | None = Field(default=None, max_length=32)
    student_ids: list[str] = Field(default_factory=list, max_length=20)


class UserOut(ResponseModel):
    id: str
    username: str
    display_name: str
    role: str
    state_code: str | None
    district_ids: list[str]
    school_ids: list[str]
    staff_id: str | None
    disabled_at: datetime | None
    last_login_at: datetime | None
    created_at: datetime
    second_factor_enrolled: bool = False


class ClientCreate(OrgScopeIn):
    name: str = Field(min_length=1, max_length=200)


class ClientOut(ResponseModel):
    client_id: str
    name: str
    role: str
    state_code: str | None
    district_ids: list[str]
    school_ids: list[str]
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


class ClientCreated(ClientOut):
    client_secret: str = Field(description="Shown once. Only a hash is kept.")


class PasswordChange(RequestModel):
    username: str = Field(min_length=1, max_length=150)
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)
    totp_code: str | None = Field(None, max_length=10, description="For people with a second factor")


class SecondFactorStart(RequestModel):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=256)


class SecondFactorConfirm(SecondFactorStart):
    code: str = Field(min_length=6, max_length=6, pattern=r"^[0-9]{6}$")


class SecondFactorEnrolment(ResponseModel):
    secret: str = Field(description="Base32 TOTP secret (RFC 6238, 30 s, 6 digits, SHA-1); shown once")
    otpauth_uri: str


class RevocationList(ResponseModel):
    disabled_subjects: list[str]
    revoked_token_ids: list[str]
    generated_at: datetime


# --- persons and resolve -------------------------------------------------------------------

Sex = Literal["F", "M", "X"]
Race = Literal["AM", "AS", "BL", "PI", "WH"]
Decision = Literal["matched", "assigned", "review"]


def _not_blank(value: str) -> str:
    from services.identity.matching.normalize import is_blank_name

    if is_blank_name(value):
        raise ValueError("must contain letters")
    return value


def _past_date(value: date) -> date:
    if value > date.today():
        raise ValueError("must not be in the future")
    if value.year < 1900:
        raise ValueError("must be after 1900")
    return value


def _ssn(value: SecretStr | None) -> SecretStr | None:
    if value is None:
        return None
    digits = value.get_secret_value().replace("-", "")
    if len(digits) != 9 or not digits.isdigit() or digits.startswith(("000", "666", "9")):
        raise ValueError("must be 9 digits in a valid SSN range")
    return SecretStr(digits)


PersonName = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_not_blank)]
OptionalName = Annotated[str | None, Field(default=None, max_length=100)]
BirthDate = Annotated[date, AfterValidator(_past_date)]
OrgId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
LocalId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]


class PersonSubmission(RequestModel):
    """What every submitted person (student or staff) carries."""

    district_id: OrgId
    first_name: PersonName
    middle_name: OptionalName = None
    last_name: PersonName
    suffix: str | None = Field(default=None, max_length=10)
    birth_date: BirthDate
    sex: Sex | None = None
    ssn: Annotated[SecretStr | None, AfterValidator(_ssn)] = Field(
        default=None, description="9 digits; kept only as a keyed hash, never returned")


class StudentResolveRequest(PersonSubmission):
    local_student_id: LocalId
    hispanic_latino: bool | None = None
    races: list[Race] = Field(default_factory=list, max_length=5)
    guardian_names: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default_factory=list, max_length=6)
    birthplace: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=200)
    postal_code: str | None = Field(default=None, max_length=10, pattern=r"^[0-9A-Za-z -]+$")

    model_config = RequestModel.model_config | {
        "json_schema_extra": {"examples": [{
            "district_id": "1001", "local_student_id": "A-20931", "first_name": "María",
            "middle_name": "José", "last_name": "García-López", "birth_date": "2014-03-09",
            "sex": "F", "hispanic_latino": True, "races": ["WH"],
            "guardian_names": ["Ana López", "Luis García"], "ssn": None, "birthplace": "El Paso, TX",
        }]}
    }


class Contribution(ResponseModel):
    field: str
    level: str
    weight: float


class Explanation(ResponseModel):
    rule: Literal["district_local_id", "probabilistic", "review_decision"]
    probability: float | None = None
    match_weight: float | None = None
    contributions: list[Contribution] = Field(default_factory=list)


class Candidate(ResponseModel):
    state_student_id: str
    decision: Literal["match", "review", "non_match"]
    explanation: Explanation


class ResolveResponse(ResponseModel):
    decision: Decision
    state_student_id: str | None = None
    review_id: str | None = None
    explanation: Explanation | None = Field(
        default=None, description="Why: the deterministic rule, or the best candidate's score and each field's contribution")
    candidates: list[Candidate] = Field(
        default_factory=list, description="Scored candidates; listed only for level-1 callers")


class ReviewItemOut(ResponseModel):
    id: str
    status: str
    district_id: str
    local_id: str
    submission: dict[str, object] = Field(description="As submitted; the SSN never appears")
    candidates: list[Candidate]
    submitted_by: str
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    state_id: str | None
    created_at: datetime


class ReviewPage(ResponseModel):
    items: list[ReviewItemOut]
    limit: int
    offset: int


class ReviewDecision(RequestModel):
    decision: Literal["same_person", "different_persons"]
    same_as: StateStudentId | None = Field(default=None, description="The candidate's state ID, for same_person")
    reason: str = Field(min_length=3, max_length=2000)


class MergeRequest(RequestModel):
    survivor_id: StateStudentId
    retired_id: StateStudentId
    reason: str = Field(min_length=3, max_length=2000)


class SplitRequest(RequestModel):
    retired_id: StateStudentId
    reason: str = Field(min_length=3, max_length=2000)


class IdEventOut(ResponseModel):
    id: str
    action: str
    survivor_id: str
    retired_id: str
    actor: str
    reason: str
    at: datetime


class StudentIdStatus(ResponseModel):
    state_student_id: str = Field(description="The ID asked about")
    current_state_student_id: str = Field(description="The ID to use: the survivor if this one was merged")
    status: Literal["active", "retired"]


MAX_STATUS_IDS = 5000


class PersonStatusRequest(RequestModel):
    """Several state IDs at once, e.g. the records service checking a district's submission. An ID
    is only looked up, never validated: a mistyped or unknown one answers "unknown"."""

    kind: PersonKind
    state_ids: list[Annotated[str, Field(max_length=16)]] = Field(min_length=1, max_length=MAX_STATUS_IDS)
    district_id: OrgId | None = Field(
        default=None, description="Also tell whether this district holds a local ID (alias) for each")


class PersonStatusResult(ResponseModel):
    state_id: str = Field(description="The ID asked about")
    status: Literal["active", "retired", "unknown"]
    current_state_id: str | None = Field(description="The ID to use (the survivor if merged); null when unknown")
    district_holds_local_id: bool | None = Field(
        description="The district has an alias to this ID or to its survivor; null when no district_id was given")
    merged_ids: list[str] = Field(default_factory=list,
                                  description="IDs retired into the current one (their records belong to it now)")


class PersonStatusResults(ResponseModel):
    results: list[PersonStatusResult] = Field(description="One per asked ID, in request order")


class BatchRowIn(StudentResolveRequest):
    row_ref: str | None = Field(default=None, max_length=100, description="The client's own reference for the row")


class BatchRowResult(ResponseModel):
    row_index: int
    row_ref: str | None
    decision: Decision | None
    state_student_id: str | None
    review_id: str | None
    problem: dict[str, object] | None


class BatchOut(ResponseModel):
    id: str
    status: Literal["pending", "done"]
    total: int
    processed: int
    created_at: datetime
    finished_at: datetime | None
    results: list[BatchRowResult] | None = Field(default=None, description="One per input row, when done")


class LocatorSearch(RequestModel):
    """Criteria travel in the body, not the URL: URLs end up in proxy and server logs."""

    first_name: PersonName
    last_name: PersonName
    birth_date: BirthDate
    middle_name: OptionalName = None
    sex: Sex | None = None
    guardian_names: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default_factory=list, max_length=6)


class LocatorCard(ResponseModel):
    state_student_id: str
    first_name: str
    middle_name: str | None
    last_name: str
    suffix: str | None
    birth_date: date | None
    sex: str | None
    last_district_id: str | None
    score: float | None = None
    requested_state_student_id: str | None = None


class LocatorResults(ResponseModel):
    results: list[LocatorCard]


class StaffResolveRequest(PersonSubmission):
    """A district's staff member: IDs come from their own namespace ("S" + 8 digits + check); an
    SSN, if sent, is only matched on (as a keyed hash) and is never the staff ID."""

    local_staff_id: LocalId


class StaffResolveResponse(ResponseModel):
    decision: Decision
    staff_state_id: str | None = None
    review_id: str | None = None
    explanation: Explanation | None = None
