"""Roles: every required role exists with its level and reach, has a basis, and loads strictly."""

from __future__ import annotations

import re
import tomllib

import pytest
from pydantic import ValidationError

from shared.policy.dictionary import DATA_DIR, load_data_dictionary
from shared.policy.roles import UnknownRoleError, get_role, load_roles, roles_from_toml

ROLES_TOML = (DATA_DIR / "roles.toml").read_text()
CODES_IN_FILE = [r["code"] for r in tomllib.loads(ROLES_TOML)["roles"]]

REQUIRED = [
    ("state_data_admin", 1, "state"),
    ("service", 1, "state"),
    ("superintendent", 2, "district"),
    ("district_sis", 2, "district"),
    ("principal", 2, "school"),
    ("teacher", 3, "class_sections"),
    ("counselor", 2, "caseload"),
    ("psychologist", 2, "service_provider"),
    ("social_worker", 2, "service_provider"),
    ("special_education_admin", 2, "special_education"),
    ("registrar", 4, "state"),
    ("state_reporting_analyst", 2, "state"),
    ("central_office", 4, "none"),
    ("researcher", 4, "grants"),
    ("vendor", 4, "grants"),
    ("directory_recipient", 4, "district"),
    ("parent", 2, "own_records"),
    ("eligible_student", 2, "own_records"),
    ("public", 4, "none"),
    ("security_manager", 4, "none"),  # Utah 6: works breach reports from the logs
]


@pytest.mark.parametrize(("code", "level", "scope"), REQUIRED)
def test_required_role(code: str, level: int, scope: str) -> None:
    role = get_role(code)
    assert (role.level, role.row_scope) == (level, scope)


def test_no_role_beyond_the_required_set() -> None:
    assert sorted(load_roles()) == sorted(code for code, _, _ in REQUIRED)


def test_only_the_directory_recipient_is_limited_to_directory_fields() -> None:
    assert {code for code, role in load_roles().items() if role.directory_only} == {"directory_recipient"}
    directory = {s.name for s in load_data_dictionary().fields_for("student") if s.directory}
    assert {"demographics.first_name", "demographics.last_name", "enrollment.grade_level"} <= directory
    assert not directory & {"state_student_id", "demographics.birth_date", "demographics.address_street"}


@pytest.mark.parametrize("code", CODES_IN_FILE)
def test_every_role_in_file_loads_with_a_basis_citing_a_seed(code: str) -> None:
    role = get_role(code)
    assert role.code == code and role.label
    assert re.search(r"\b00[0-4]\b", role.basis), "basis must cite a seed policy (000-004)"


@pytest.mark.parametrize(("code", "kinds"), [
    ("service", {"client"}),
    ("district_sis", {"client"}),
    ("teacher", {"user"}),
    ("vendor", {"user", "client"}),
])
def test_principal_kinds(code: str, kinds: set[str]) -> None:
    assert get_role(code).principal_kinds == kinds


def test_aggregate_only_roles() -> None:
    assert {c for c, r in load_roles().items() if r.aggregates_only} == {"central_office", "public"}


def test_analyst_excludes_direct_identifiers() -> None:
    assert get_role("state_reporting_analyst").exclude_pii == {"direct"}


def test_unknown_role_raises_clear_error() -> None:
    with pytest.raises(UnknownRoleError, match="unknown role: 'dean'"):
        get_role("dean")
    with pytest.raises(UnknownRoleError):
        get_role(["teacher"])  # type: ignore[arg-type]
    assert issubclass(UnknownRoleError, LookupError)


def test_loaded_roles_are_cached_and_read_only() -> None:
    roles = load_roles()
    assert load_roles() is roles
    with pytest.raises(TypeError):
        roles["teacher"] = roles["state_data_admin"]  # type: ignore[index]


def _role(**overrides: object) -> str:
    fields = {
        "code": '"tester"', "label": '"Tester"', "level": "3", "staff_level": "4",
        "row_scope": '"school"', "principal_kinds": '["user"]',
        "basis": '"003 Connecticut: testing only, a long enough basis."',
    }
    fields.update({k: str(v) for k, v in overrides.items()})
    return "[[roles]]\n" + "\n".join(f"{k} = {v}" for k, v in fields.items()) + "\n"


def test_well_formed_role_loads() -> None:
    assert roles_from_toml(_role(), load_data_dictionary())["tester"].row_scope == "school"


@pytest.mark.parametrize(
    "text",
    [
        _role(exclude_categories='["discipline", "dicsipline"]'),
        _role(only_categories='["staff_credentials"]'),
        _role() + _role(),
    ],
    ids=["typo-category", "staff-category", "duplicate"],
)
def test_bad_roles_file_is_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        roles_from_toml(text, load_data_dictionary())


@pytest.mark.parametrize(
    "overrides",
    [
        {"aggregates_only": "true"},
        {"level": "0"},
        {"row_scope": '"everyone"'},
        {"principal_kinds": '["robot"]'},
        {"basis": '""'},
        {"exclude_pii": '["names"]'},
        {"surprise": "1"},
    ],
    ids=[
        "aggregates-with-reach", "level-0", "bad-scope", "bad-kind", "no-basis", "bad-pii",
        "extra-key",
    ],
)
def test_invalid_role_is_rejected(overrides: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        roles_from_toml(_role(**overrides), load_data_dictionary())
