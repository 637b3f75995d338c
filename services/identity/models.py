"""Identity's tables: accounts, machine clients, signing keys, revoked tokens; persons with their
state IDs, district aliases, blocking keys and the review queue."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.audit import ChainedLogMixin
from shared.db import Base, TimestampMixin, new_uuid


class OrgScopeColumns:
    """The organisation scope a token carries, stored as on the account or client."""

    role: Mapped[str] = mapped_column(String(64))
    state_code: Mapped[str | None] = mapped_column(String(8))
    district_ids: Mapped[list[str]] = mapped_column(default=list)
    school_ids: Mapped[list[str]] = mapped_column(default=list)


class UserAccount(OrgScopeColumns, TimestampMixin, Base):
    __tablename__ = "identity_user_account"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[datetime]
    staff_id: Mapped[str | None] = mapped_column(String(32))
    student_ids: Mapped[list[str]] = mapped_column(default=list)  # parent / eligible student
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    # TOTP second factor (services/identity/second_factor.py): the secret sealed with a key from
    # the deployment secret; in force once confirmed; the last time step used (each code once).
    totp_secret_sealed: Mapped[str | None] = mapped_column(Text)
    totp_confirmed_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)

    @property
    def subject(self) -> str:
        return f"user:{self.id}"

    @property
    def second_factor_enrolled(self) -> bool:
        return self.totp_confirmed_at is not None


class ClientApp(OrgScopeColumns, TimestampMixin, Base):
    __tablename__ = "identity_client_app"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(128))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    @property
    def subject(self) -> str:
        return f"client:{self.client_id}"


class SigningKey(TimestampMixin, Base):
    __tablename__ = "identity_signing_key"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    private_pem_encrypted: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]]
    retired_at: Mapped[datetime | None]  # stops signing; still published until tokens expire


class IssuedClientToken(Base):
    """A token issued to a machine client, kept until it expires: a client holds at most
    `client_live_tokens_max` live tokens (issue 8), the oldest are revoked past that."""

    __tablename__ = "identity_issued_client_token"

    jti: Mapped[str] = mapped_column(String(100), primary_key=True)
    subject: Mapped[str] = mapped_column(String(200), index=True)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class RevokedToken(Base):
    __tablename__ = "identity_revoked_token"

    jti: Mapped[str] = mapped_column(String(100), primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime]


class Person(TimestampMixin, Base):
    """A student or staff member known to the state, under the state ID assigned to them.

    The demographics are the ones identity matches on (as first submitted; later variants add
    blocking keys, not overwrites). A retired ID (merged) keeps its row and points at the survivor,
    so it is never reassigned and still answers."""

    __tablename__ = "identity_person"

    state_id: Mapped[str] = mapped_column(String(10), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # "student" | "staff"
    first_name: Mapped[str] = mapped_column(String(100))
    middle_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    suffix: Mapped[str | None] = mapped_column(String(10))
    birth_date: Mapped[date | None]
    sex: Mapped[str | None] = mapped_column(String(1))
    hispanic_latino: Mapped[bool | None]
    races: Mapped[list[str]] = mapped_column(default=list)
    guardian_names: Mapped[list[str]] = mapped_column(default=list)
    ssn_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    birthplace: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(8), default="active")  # "active" | "retired"
    merged_into: Mapped[str | None] = mapped_column(ForeignKey("identity_person.state_id"))
    assigned_by_district: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        # "Which IDs were merged into these?" (every records submission asks, through the batch
        # ID status). Partial: only retired IDs have a survivor.
        Index("ix_identity_person_merged_into", "merged_into", postgresql_where=text("merged_into IS NOT NULL"),
              sqlite_where=text("merged_into IS NOT NULL")),
    )


class Alias(TimestampMixin, Base):
    """A district's local ID for a person: the deterministic path of resolve."""

    __tablename__ = "identity_alias"

    district_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    local_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    state_id: Mapped[str] = mapped_column(ForeignKey("identity_person.state_id"), index=True)


class BlockingKey(Base):
    """Short keys per person (see services/identity/matching/blocking.py): resolve looks up the
    incoming person's keys here to find the few candidates worth scoring."""

    __tablename__ = "identity_blocking_key"

    # Written for each new person (eight or more) and read only by key. No index on state_id: a
    # merge moves no keys (a retired ID's keys lead to its survivor), and that index was half the
    # cost of writing keys in a statewide load. No foreign key either: keys are derived from
    # persons, which are never deleted, and written only by the resolvers for persons they hold;
    # its check was a person look-up and row lock per key (docs/benchmarks.md, 2026-12-04).
    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    state_id: Mapped[str] = mapped_column(String(10), primary_key=True)


class ReviewItem(TimestampMixin, Base):
    """A near match held for a level-1 data steward: no ID is handed out until it is decided."""

    __tablename__ = "identity_review_item"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    kind: Mapped[str] = mapped_column(String(8), default="student")
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)  # open | same_person | different_persons
    district_id: Mapped[str] = mapped_column(String(32))
    local_id: Mapped[str] = mapped_column(String(64))
    submission: Mapped[dict[str, Any]]  # the facts as submitted, the SSN only as its keyed hash
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # state IDs with explanations
    submitted_by: Mapped[str] = mapped_column(String(200))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    state_id: Mapped[str | None] = mapped_column(ForeignKey("identity_person.state_id"))

    __table_args__ = (Index("ix_identity_review_item_submitter", "district_id", "local_id", "status"),)


class IdEvent(Base):
    """The audit trail of merges and splits: who, when, why; a split names the merge it undoes."""

    __tablename__ = "identity_id_event"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    action: Mapped[str] = mapped_column(String(8))  # "merge" | "split"
    survivor_id: Mapped[str] = mapped_column(ForeignKey("identity_person.state_id"), index=True)
    retired_id: Mapped[str] = mapped_column(ForeignKey("identity_person.state_id"), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class Batch(TimestampMixin, Base):
    """A bulk resolve request. Rows are processed one transaction each, so a batch interrupted by a
    crash resumes where it stopped and no row is resolved twice."""

    __tablename__ = "identity_batch"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    submitted_by: Mapped[str] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending | done
    total: Mapped[int]
    processed: Mapped[int] = mapped_column(default=0)
    finished_at: Mapped[datetime | None]

    __table_args__ = (Index("uq_identity_batch_idempotency", "submitted_by", "idempotency_key", unique=True),)


class BatchRow(Base):
    __tablename__ = "identity_batch_row"

    batch_id: Mapped[str] = mapped_column(ForeignKey("identity_batch.id"), primary_key=True)
    row_index: Mapped[int] = mapped_column(primary_key=True)
    row_ref: Mapped[str | None] = mapped_column(String(100))
    district_id: Mapped[str | None] = mapped_column(String(32))
    local_id: Mapped[str | None] = mapped_column(String(64))
    facts: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # validated; the SSN only as its hash
    done: Mapped[bool] = mapped_column(default=False)
    decision: Mapped[str | None] = mapped_column(String(16))
    state_id: Mapped[str | None] = mapped_column(String(10))
    review_id: Mapped[str | None] = mapped_column(String(36))
    problem: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AccessLogEntry(ChainedLogMixin, Base):
    """Identity's access log: every locator search and lookup, who and which IDs (hash-chained)."""

    __tablename__ = "identity_access_log"
