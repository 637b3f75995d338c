"""The projection matrix: every role in the policy x every student field in the data dictionary x an
in-scope and an out-of-scope student, over real HTTP with real tokens.

Nothing here asks the policy library what a role may see. The expected field set of each role is
computed from the TOML sources themselves (roles.toml, data_dictionary.toml): a field is visible
to a role that reaches the student by role iff `field.level >= role.level`, its pii class is not in
`exclude_pii`, its category passes `only_categories` / `exclude_categories`, it is not
`never_returned`, and it is a `directory` field if the role is `directory_only`. Roles reaching nobody by role ("grants", "none") get 404: tokens carry no grants
(`TokenClaims` has no grants claim), so those principals reach no student at all.

The submitted record is generated from the dictionary too: one value for every student field (code
sets honoured, list sections with one element), so a field added to the dictionary is covered the
day it is added. Student A is enrolled now in district 1001 / school 1001-01 with a current IEP and
504 plan, is in a class section of teacher S-TEACH and on the caseloads of S-COUNS (counselor) and
S-PSYCH / S-SOCW (service providers); student B has the same record in district 1002 / school
1002-01 and no relationships. The SSN is sent for both and must never appear in any response.
"""

from __future__ import annotations

import json
import tomllib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.records.sections import sections
from services.records.service import fields_present
from tests.helpers import bearer, client_token, password_token
from tests.services.records.conftest import STUDENTS, World

DATA = Path(__file__).resolve().parents[3] / "shared" / "policy" / "data"
ROLES: list[dict[str, Any]] = tomllib.loads((DATA / "roles.toml").read_text("utf-8"))["roles"]
STUDENT_FIELDS: list[dict[str, Any]] = [
    f for f in tomllib.loads((DATA / "data_dictionary.toml").read_text("utf-8"))["fields"] if f["entity"] == "student"
]
CODE_SETS: dict[str, dict[str, Any]] = tomllib.loads((DATA / "code_sets.toml").read_text("utf-8"))

SSN = "078-05-1120"
SSN_FORMS = (SSN, SSN.replace("-", ""))
DISTRICT_A, SCHOOL_A = "1001", "1001-01"
DISTRICT_B, SCHOOL_B = "1002", "1002-01"
STATE_WIDE = frozenset(r["code"] for r in ROLES if r["row_scope"] == "state")
REACHES_NOBODY = frozenset(r["code"] for r in ROLES if r["row_scope"] in ("grants", "none"))
# Staff IDs of the relationships the matrix sets up, by role (row scopes keyed on a staff ID).
STAFF_IDS = {"teacher": "S-TEACH", "counselor": "S-COUNS", "psychologist": "S-PSYCH", "social_worker": "S-SOCW"}

TODAY = date.today()


def _day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


# Samples for code sets given by an external standard (validation checks them by format/lookup).
STANDARD_SAMPLES = {
    "ISO 3166-1 alpha-3": "USA",
    "ISO 639-3": "eng",
    "School Courses for the Exchange of Data (SCED)": "02052",
    "Classification of Instructional Programs (CIP 2020)": "11.0701",
    "IPEDS UnitID": "126614",
}

# Values whose meaning matters: reach (enrollment now, plans now), ordered date pairs, the
# district/school the enrollment names. Everything else is generated from the field's type.
# The enrollment carries an exit date so every dictionary field is present, but it lies in the
# future, so the student is enrolled today (an open or future end counts as current).
SEMANTIC = {
    "demographics.birth_date": "2012-05-01",
    "enrollment.school_year": "2025-2026",
    "enrollment.grade_level": "09",  # a student success plan is kept for grades 6 to 12 only
    "enrollment.entry_date": _day(-100),
    "enrollment.exit_date": _day(200),
    "enrollment.exit_type": "end_of_year",
    "enrollment.expected_graduation_year": 2031,
    "programs.special_education": True,
    "programs.section_504": True,
    "special_education.iep_begin_date": _day(-100),
    "special_education.iep_end_date": _day(200),
    "special_education.services.minutes_per_week": 90,
    "special_education.services.provider_staff_id": "S-PSYCH",
    "section_504.plan_begin_date": _day(-100),
    "section_504.plan_end_date": _day(200),
    "english_learner.identification_date": _day(-1000),
    "english_learner.exit_date": _day(-10),
    "early_childhood.entry_date": _day(-2500),
    "early_childhood.exit_date": _day(-2000),
    "early_childhood.readiness_assessment_date": _day(-2100),
    "discipline.incident_date": _day(-50),
    "assessments.school_year": "2025-2026",
    "assessments.scale_score": 512,
    "assessments.growth_percentile": 61,
    "attendance.school_year": "2025-2026",
    "courses.school_year": "2025-2026",
    "courses.educator_staff_id": "S-TEACH",
    "activities.school_year": "2025-2026",
}


def _sample(spec: dict[str, Any]) -> Any:
    code_set = CODE_SETS.get(spec.get("code_set") or "")
    code = None
    if code_set is not None:
        code = next(iter(code_set["values"])) if code_set.get("values") else STANDARD_SAMPLES[code_set["standard"]]
    match spec["type"]:
        case "string":
            return f"{spec['name'].replace('.', '-')}-value"
        case "date":
            return _day(-365)
        case "integer":
            return 7
        case "decimal":
            return 2.5
        case "boolean":
            return True
        case "code":
            return code
        case "code_list":
            return [code]
    raise AssertionError(f"no sample for field type {spec['type']!r} ({spec['name']})")


def full_record(state_id: str, district: str, school: str) -> dict[str, Any]:
    """A record with a value for every student field of the dictionary (the SSN included)."""
    shapes = sections("student")
    local = {"enrollment.district_id": district, "enrollment.school_id": school, "attendance.school_id": school}
    record: dict[str, Any] = {"state_student_id": state_id, "ssn": SSN}
    for spec in STUDENT_FIELDS:
        name = spec["name"]
        if name in record:
            continue
        value = local.get(name, SEMANTIC.get(name, _sample(spec)))
        head, *rest = name.split(".")
        if not rest:
            record[name] = value
            continue
        node = record.setdefault(head, [{}] if shapes[head].shape == "list" else {})
        node = node[0] if isinstance(node, list) else node
        for part in rest[:-1]:  # a nested sub-record list (special_education.services): one element
            node = node.setdefault(part, [{}])[0]
        node[rest[-1]] = value
    return record


def expected_fields(role: dict[str, Any]) -> set[str]:
    """Student fields a role sees of a student it reaches by role, from the TOML alone."""
    if role["row_scope"] in ("grants", "none"):
        return set()
    only = role.get("only_categories")
    return {
        f["name"] for f in STUDENT_FIELDS
        if f["level"] >= role["level"]
        and not f.get("never_returned", False)
        and f["pii"] not in role.get("exclude_pii", [])
        and (only is None or f["category"] in only)
        and f["category"] not in role.get("exclude_categories", [])
        and (f.get("directory", False) or not role.get("directory_only", False))
    }


def keep_only(record: Any, names: set[str], prefix: str = "") -> Any:
    """The sent record cut down to `names` (empty sections and elements dropped): what must come back."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            if sub := keep_only(value, names, name):
                out[key] = sub
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            if subs := [s for s in (keep_only(v, names, name) for v in value) if s]:
                out[key] = subs
        elif name in names:
            out[key] = value
    return out


def no_ssn(response: httpx.Response) -> httpx.Response:
    for form in SSN_FORMS:
        assert form not in response.text, f"{response.request.method} {response.request.url.path} returned the SSN"
    return response


class Matrix:
    """Students A (in scope) and B (out of scope), their full records and A's relationships."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.a = world.students[0]
        self.b = ""
        self.sent: dict[str, dict[str, Any]] = {}

    async def call(self, method: str, url: str, headers: dict[str, str], **kw: Any) -> httpx.Response:
        return no_ssn(await self.world.client.request(method, url, headers=headers, **kw))

    async def build(self) -> Matrix:
        w = self.world
        self.b = await w.resolve("L-B", "Dana", "Reyes", "2011-07-04", headers=w.other_sis, district=DISTRICT_B)
        for sid, district, school in ((self.a, DISTRICT_A, SCHOOL_A), (self.b, DISTRICT_B, SCHOOL_B)):
            record = full_record(sid, district, school)
            # record_management is state-only, so the steward submits (no district check either).
            response = await self.call("POST", STUDENTS, w.steward, json=record)
            assert response.status_code == 201, response.text
            self.sent[sid] = record
        dated = {"begin_date": _day(-100)}
        section = await self.call("PUT", f"/records/v1/class-sections/{DISTRICT_A}/MATH-6-1", w.sis, json={
            "school_id": SCHOOL_A, "school_year": "2025-2026", "course_code": "02052", "title": "Math 6",
            "begin_date": _day(-100), "end_date": _day(200),
            "teachers": [{"staff_id": STAFF_IDS["teacher"], **dated}],
            "students": [{"state_student_id": self.a, **dated}]})
        assert section.status_code == 200, section.text
        for staff_id, kind in ((STAFF_IDS["counselor"], "counselor"), (STAFF_IDS["psychologist"], "service_provider"),
                               (STAFF_IDS["social_worker"], "service_provider")):
            caseload = await self.call("POST", "/records/v1/caseloads", w.sis, json={
                "district_id": DISTRICT_A, "staff_id": staff_id, "state_student_id": self.a, "kind": kind, **dated})
            assert caseload.status_code == 201, caseload.text
        return self


async def principal_for(role: dict[str, Any], matrix: Matrix, make_user, make_client_app) -> dict[str, str]:
    """A token for `role` holding the relationship that puts A in its reach (none for roles reaching
    nobody by role). A client when the role allows one (no password hashing), else a user."""
    code, scope = role["code"], role["row_scope"]
    kw: dict[str, Any] = {}
    match scope:
        case "state":
            kw["state"] = "ST"
        case "district" | "special_education":
            kw["district_ids"] = [DISTRICT_A]
        case "school":
            kw["school_ids"] = [SCHOOL_A]
        case "class_sections" | "caseload" | "service_provider":
            assert code in STAFF_IDS, f"{code}: the matrix sets up no relationship for this staff role"
            kw["staff_id"] = STAFF_IDS[code]
        case "own_records":
            kw["student_ids"] = [matrix.a]
        case "grants" | "none":
            pass
        case _:
            raise AssertionError(f"{code}: row scope {scope!r} unknown to the matrix")
    client = matrix.world.client
    if "client" in role["principal_kinds"]:
        assert "staff_id" not in kw and "student_ids" not in kw, f"{code}: a client cannot carry this scope"
        created = await make_client_app(f"matrix {code}", code, **kw)
        return bearer(await client_token(client, created.client.client_id, created.secret))
    await make_user(f"matrix_{code}", code, **kw)
    return bearer(await password_token(client, f"matrix_{code}"))


@pytest.fixture
async def matrix(world: World) -> Matrix:
    return await Matrix(world).build()


def test_the_generated_record_covers_every_student_field() -> None:
    record = full_record("0000000001", DISTRICT_A, SCHOOL_A)
    assert fields_present(record) == {f["name"] for f in STUDENT_FIELDS}
    assert all(len(v) == 1 for k, v in record.items() if isinstance(v, list) and v and isinstance(v[0], dict))
    assert len(record["special_education"]["services"]) == 1
    # Every returnable field is visible to some role, so the matrix exercises all of them.
    visible = set().union(*(expected_fields(r) for r in ROLES))
    assert visible == {f["name"] for f in STUDENT_FIELDS if not f.get("never_returned", False)}
    assert all("ssn" not in expected_fields(r) for r in ROLES)


@pytest.mark.parametrize("role", ROLES, ids=[r["code"] for r in ROLES])
async def test_each_role_gets_exactly_its_fields(role: dict[str, Any], matrix: Matrix, make_user,
                                                 make_client_app) -> None:
    code = role["code"]
    headers = await principal_for(role, matrix, make_user, make_client_app)
    expected = expected_fields(role)
    reaches_a = code not in REACHES_NOBODY
    reaches_b = code in STATE_WIDE
    bodies: dict[str, Any] = {}

    for sid, reached in ((matrix.a, reaches_a), (matrix.b, reaches_b)):
        who = "A (in scope)" if sid == matrix.a else "B (other district)"
        response = await matrix.call("GET", f"{STUDENTS}/{sid}", headers)
        if not reached:
            assert response.status_code == 404, f"{code}: student {who} answered {response.status_code}, not 404"
            assert response.json()["detail"] == "No such student record.", f"{code}: {response.text}"
            continue
        assert response.status_code == 200, f"{code}: student {who} answered {response.status_code}: {response.text}"
        body = response.json()
        got = fields_present(body)
        assert got == expected, (f"{code}, student {who}: missing {sorted(expected - got)}, "
                                 f"extra {sorted(got - expected)}")
        assert body == keep_only(matrix.sent[sid], expected), f"{code}, student {who}: values differ from the submission"
        bodies[sid] = body

    listing = await matrix.call("GET", STUDENTS, headers)
    assert listing.status_code == 200, f"{code}: list answered {listing.status_code}: {listing.text}"
    items = listing.json()["items"]
    canonical = sorted(json.dumps(i, sort_keys=True) for i in items)
    assert canonical == sorted(json.dumps(b, sort_keys=True) for b in bodies.values()), (
        f"{code}: the list should hold exactly {['A' if s == matrix.a else 'B' for s in bodies]}, "
        f"projected as the single reads; got {len(items)} item(s) with ids "
        f"{[i.get('state_student_id', '<hidden>') for i in items]}")
    if not reaches_b:
        assert matrix.b not in listing.text, f"{code}: the list mentions out-of-scope student B"
