"""Roles, loaded from `data/roles.toml` and checked against the data dictionary.

Roles are data so each rule can carry its `basis` in the seed policies; the checks make a typo in
a category name a load error instead of a silent hole in an exclusion.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.policy.dictionary import DATA_DIR, DataDictionary, PiiClass, load_data_dictionary

RowScopeRule = Literal[
    "state",  # every student
    "district",  # students currently enrolled in the principal's district_ids
    "school",  # students currently enrolled in the principal's school_ids
    "class_sections",  # students currently in a class section taught by the principal's staff_id
    "caseload",  # students currently on the principal's (counselor's) caseload
    "service_provider",  # students the principal currently serves or is assigned to evaluate
    "special_education",  # students with an IEP or a 504 plan in the principal's district_ids
    "own_records",  # the principal's student_ids (parent: own children; eligible student: self)
    "grants",  # only through the principal's active AccessGrants
    "none",  # no student record
]


class UnknownRoleError(LookupError):
    """A role code that roles.toml does not define. Callers answer 403, never 500."""

    def __init__(self, code: object) -> None:
        super().__init__(f"unknown role: {code!r}")
        self.code = code


class Role(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=1)
    level: int = Field(ge=1, le=4)
    staff_level: int = Field(ge=1, le=4)
    row_scope: RowScopeRule
    principal_kinds: frozenset[Literal["user", "client"]] = Field(min_length=1)
    exclude_pii: frozenset[PiiClass] = frozenset()
    only_categories: frozenset[str] | None = None
    exclude_categories: frozenset[str] = frozenset()
    aggregates_only: bool = False
    directory_only: bool = False  # sees only directory fields, and no student opted out of them
    basis: str = Field(min_length=20)

    @model_validator(mode="after")
    def _aggregates_reach_nobody(self) -> Role:
        if self.aggregates_only and self.row_scope != "none":
            raise ValueError(f"role {self.code}: aggregates_only requires row_scope 'none'")
        return self


def roles_from_toml(text: str, dictionary: DataDictionary) -> Mapping[str, Role]:
    """Parse and validate roles; category names must be student categories of `dictionary`."""
    roles: dict[str, Role] = {}
    known = dictionary.categories("student")
    for raw in tomllib.loads(text).get("roles", []):
        role = Role.model_validate(raw)
        if role.code in roles:
            raise ValueError(f"duplicate role {role.code}")
        named = (role.only_categories or frozenset()) | role.exclude_categories
        if named - known:
            raise ValueError(f"role {role.code}: unknown categories {sorted(named - known)}")
        roles[role.code] = role
    return MappingProxyType(roles)


@cache
def load_roles() -> Mapping[str, Role]:
    """The packaged roles by code, parsed once per process."""
    text = (DATA_DIR / "roles.toml").read_text(encoding="utf-8")
    return roles_from_toml(text, load_data_dictionary())


def get_role(code: str) -> Role:
    try:
        return load_roles()[code]
    except (KeyError, TypeError):  # TypeError: an unhashable code from a malformed principal
        raise UnknownRoleError(code) from None
