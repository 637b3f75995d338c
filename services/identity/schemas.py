from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

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


class RevocationList(ResponseModel):
    disabled_subjects: list[str]
    revoked_token_ids: list[str]
    generated_at: datetime
