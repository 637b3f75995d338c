"""De-identified student-level extracts over real HTTP (issue 7 item 6): only under an agreement in
force naming the caller and covering the columns and districts; k-anonymous over students;
pseudonyms that no two extracts share; no direct identifier; the release in the FERPA 99.32 log
(written by reporting) before the data leave, and nothing released when it cannot be logged."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from stdnum import damm

from services.disclosure.models import DisclosureLogEntry
from services.reporting import extracts as deid
from services.reporting.extract_models import ExtractRelease
from services.reporting.facts_model import StudentFact
from shared.disclosure_client import DisclosureClient
from shared.security.service_auth import ServiceToken
from tests.helpers import DisclosureLogDown, bearer, password_token
from tests.services.reporting.conftest import STATE, YEAR

EXTRACTS = "/reporting/v1/extracts"
PROBLEM = "application/problem+json"
TODAY = datetime.now(UTC).date()
ALL_FIELDS = deid.fields_for(list(deid.COLUMNS))
QI = ["district_id", "school_id", "grade_level", "sex", "race_ethnicity"]
WANTED = QI + ["ela_proficient", "attendance_rate", "discipline_incidents"]
TOTAL = sum(g[0] for g in STATE)
# What would identify a student directly (34 CFR 99.3 "personally identifiable information").
DIRECT_IDENTIFIERS = {"state_student_id", "local_student_id", "ssn", "medicaid_id", "first_name", "middle_name",
                      "last_name", "name", "birth_date", "address_street", "phone_number", "email_address",
                      "student_key"}


def days(n: int) -> str:
    return (TODAY + timedelta(days=n)).isoformat()


class Study:
    def __init__(self, client: httpx.AsyncClient, steward: dict[str, str], steward2: dict[str, str],
                 researcher: dict[str, str], subject: str) -> None:
        self.client, self.steward, self.steward2 = client, steward, steward2
        self.researcher, self.subject = researcher, subject

    async def agreement(self, fields: list[str] = ALL_FIELDS, districts: list[str] | None = None,
                        students: list[str] | None = None) -> str:
        """Drafted by one steward, through every approval, signed by a second (four eyes)."""
        draft = await self.client.post("/disclosure/v1/agreements", headers=self.steward, json={
            "title": "Attendance and proficiency study", "organisation": "State University",
            "contact_name": "Dr. Rivera", "contact_email": "rivera@university.example", "subjects": [self.subject],
            "purpose": "Evaluate the attendance programme", "legal_basis": "studies", "fields": fields,
            "district_ids": ["1001", "1002"] if districts is None else districts, "student_ids": students or [],
            "starts_on": days(-30), "ends_on": days(180), "destroy_by": days(210)})
        assert draft.status_code == 201, draft.text
        agreement_id = draft.json()["id"]
        for to, who in (("coordinator_review", self.steward), ("legal_review", self.steward),
                        ("board_consent", self.steward), ("superintendent_approval", self.steward),
                        ("active", self.steward2)):
            moved = await self.client.post(f"/disclosure/v1/agreements/{agreement_id}/transitions", headers=who,
                                           json={"to": to, "note": "ref"})
            assert moved.status_code == 200, moved.text
        return agreement_id

    async def extract(self, agreement_id: str, **kw: Any) -> httpx.Response:
        headers = kw.pop("headers", self.researcher)
        body = {"agreement_id": agreement_id, "columns": WANTED, "school_years": [YEAR], "k": 10} | kw
        return await self.client.post(EXTRACTS, headers=headers, json=body)

    async def log(self, agreement_id: str) -> list[dict[str, Any]]:
        found = await self.client.get("/disclosure/v1/disclosures", headers=self.steward,
                                      params={"agreement_id": agreement_id})
        assert found.status_code == 200, found.text
        return found.json()["items"]


@pytest.fixture
async def study(client: httpx.AsyncClient, make_user, seed_facts) -> Study:
    await seed_facts()
    await make_user("steward", "state_data_admin")
    await make_user("steward2", "state_data_admin")
    researcher = await make_user("researcher", "researcher")
    return Study(client, bearer(await password_token(client, "steward")),
                 bearer(await password_token(client, "steward2")),
                 bearer(await password_token(client, "researcher")), researcher.subject)


def classes(rows: list[dict[str, Any]], columns: list[str]) -> dict[tuple[Any, ...], set[str]]:
    """Students (pseudonyms) per combination of the quasi-identifiers released."""
    out: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for row in rows:
        out[tuple(row.get(c) for c in columns)].add(row["pseudonym"])
    return out


async def test_an_extract_is_k_anonymous_pseudonymous_logged_and_recorded(study: Study, db) -> None:
    agreement_id = await study.agreement()
    made = await study.extract(agreement_id)
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "no-store"
    body = made.json()
    rows = body["rows"]
    qi_columns = deid.quasi_identifier_columns(WANTED)
    assert body["k"] == 10 and len(rows) == body["rows_released"]
    assert all(len(students) >= 10 for students in classes(rows, qi_columns).values())
    # The 3 Asian students of 1001-01 and the 4 Black students of 1002-01 are within the default
    # suppression allowance (5%): suppressed rather than generalising everyone's race.
    assert body["rows_suppressed"] == 7 and body["rows_released"] == TOTAL - 7
    assert body["generalisation"] == {"location": "school", "grade_level": "grade", "race_ethnicity": "code",
                                      "sex": "value"}
    assert {r["race_ethnicity"] for r in rows} == {"WH7", "HI7", "AS7"}  # AS7: 22 at 1001-02
    assert not [r for r in rows if r["race_ethnicity"] == "AS7" and r["school_id"] == "1001-01"]
    assert len({r["pseudonym"] for r in rows}) == TOTAL - 7

    # No direct identifier: not in the fact table, not in the output, and no fact key leaks.
    assert not DIRECT_IDENTIFIERS & {c.name for c in StudentFact.__table__.columns} - {"student_key"}
    assert set(body["header"]) == {"pseudonym", "school_year", "state", *WANTED}
    assert all(set(r) <= set(body["header"]) for r in rows)
    async with db.sessionmaker() as session:
        keys = set(await session.scalars(select(StudentFact.student_key)))
    assert not any(key in made.text for key in keys)
    assert all(r["discipline_incidents"] <= deid.DISCIPLINE_TOP_CODE for r in rows)

    # The disclosure log holds the release, written by reporting's service client.
    [entry] = await study.log(agreement_id)
    assert entry["actor"] == "client:svc-reporting"
    assert entry["party"] == {"name": "Dr. Rivera", "organisation": "State University", "subject": study.subject}
    assert entry["legal_basis"] == "studies" and entry["purpose"] == "Evaluate the attendance programme"
    assert entry["fields"] == body["fields_released"] == deid.fields_for(WANTED)
    assert entry["student_count"] == 0 and entry["deidentified_records"] == body["rows_released"]
    assert entry["seq"] == body["disclosure_seq"] and body["id"] in entry["reference"]
    verified = await study.client.get("/disclosure/v1/disclosures/verify", headers=study.steward)
    assert verified.status_code == 200 and verified.json()["ok"] is True

    # The stored release: metadata only, for the requester and Level 1; nobody else.
    assert made.headers["location"] == f"{EXTRACTS}/{body['id']}"
    for who in (study.researcher, study.steward):
        again = await study.client.get(made.headers["location"], headers=who)
        assert again.status_code == 200 and again.headers["cache-control"] == "no-store"
        meta = again.json()
        assert "rows" not in meta and meta["rows_released"] == body["rows_released"]
        assert meta["agreement_id"] == agreement_id and meta["requested_by"] == study.subject
        assert meta["population"] == {"school_years": [YEAR], "district_ids": ["1001", "1002"]}
        assert meta["generalisation"] == body["generalisation"] and meta["k"] == 10
    other = await study.client.get(made.headers["location"], headers=study.steward2)
    assert other.status_code == 200  # Level 1


async def test_without_a_suppression_allowance_quasi_identifiers_are_generalised(
        study: Study, settings, monkeypatch) -> None:
    monkeypatch.setattr(settings, "extract_max_suppressed_fraction", 0.0)
    made = await study.extract(await study.agreement())
    assert made.status_code == 201, made.text
    body = made.json()
    # Race groups still leave 3 "other" and 4 BL7 students alone at their schools: race goes to *.
    assert body["generalisation"]["race_ethnicity"] == "*" and body["generalisation"]["location"] == "school"
    assert body["rows_suppressed"] == 0 and body["rows_released"] == TOTAL
    assert {r["race_ethnicity"] for r in body["rows"]} == {"*"}
    assert all(len(s) >= 10 for s in classes(body["rows"], deid.quasi_identifier_columns(WANTED)).values())


async def test_pseudonyms_differ_between_two_extracts_of_the_same_students(study: Study) -> None:
    agreement_id = await study.agreement()
    first, second = await study.extract(agreement_id), await study.extract(agreement_id)
    assert first.status_code == second.status_code == 201
    a = {r["pseudonym"] for r in first.json()["rows"]}
    b = {r["pseudonym"] for r in second.json()["rows"]}
    assert len(a) == len(b) == TOTAL - 7 and not a & b
    assert first.json()["id"] != second.json()["id"] and len(await study.log(agreement_id)) == 2


async def test_an_extract_as_csv(study: Study) -> None:
    agreement_id = await study.agreement()
    for made in (await study.client.post(f"{EXTRACTS}?format=csv", headers=study.researcher, json={
                     "agreement_id": agreement_id, "columns": WANTED, "school_years": [YEAR]}),
                 await study.client.post(EXTRACTS, headers=study.researcher | {"Accept": "text/csv"}, json={
                     "agreement_id": agreement_id, "columns": ["school_id", "math_proficient"],
                     "school_years": [YEAR], "k": 12})):
        assert made.status_code == 201, made.text
        assert made.headers["content-type"].startswith("text/csv")
        assert made.headers["cache-control"] == "no-store" and made.headers["location"].startswith(EXTRACTS)
        lines = list(csv.reader(io.StringIO(made.text)))
        assert lines[0][0] == "# extract" and lines[1][0] == "pseudonym"
        meta = (await study.client.get(made.headers["location"], headers=study.researcher)).json()
        assert len(lines) - 2 == meta["rows_released"] > 0
    assert meta["k"] == 12 and meta["columns"] == ["school_id", "math_proficient"]


async def test_no_agreement_in_force_or_not_covered_is_403(study: Study, make_user) -> None:
    refused = await study.extract("no-such-agreement")
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    narrow = await study.agreement(fields=deid.fields_for(["school_id", "ela_proficient"]), districts=["1001"])
    refused = await study.extract(narrow)
    assert refused.status_code == 403
    assert {e["field"] for e in refused.json()["errors"]} >= {"body.columns[0]", "body.columns[2]"}  # district, grade
    refused = await study.extract(narrow, columns=["school_id"], district_ids=["1002"])
    assert refused.status_code == 403 and refused.json()["errors"][0]["field"] == "body.district_ids[0]"
    listed = await study.agreement(districts=[], students=[damm.calc_check_digit("100000000").join(["100000000", ""])])
    refused = await study.extract(listed)
    assert refused.status_code == 403 and refused.json()["errors"][0]["field"] == "body.agreement_id"
    # Within its agreement the narrow one works: only district 1001's students.
    made = await study.extract(narrow, columns=["school_id", "ela_proficient"])
    assert made.status_code == 201 and {r["school_id"] for r in made.json()["rows"]} == {"1001-01", "1001-02"}
    # Staff roles do not take extracts, even state stewards.
    refused = await study.extract(narrow, headers=study.steward)
    assert refused.status_code == 403
    assert len(await study.log(narrow)) == 1  # only the extract that was released


@pytest.mark.parametrize(("change", "field"), [
    ({"k": 9}, "k"), ({"k": 0}, "k"), ({"columns": ["student_key"]}, "columns[0]"), ({"columns": []}, "columns"),
    ({"school_years": ["2025"]}, "school_years[0]"), ({"district_ids": ["10 01"]}, "district_ids[0]"),
    ({"extra": 1}, "extra"),
])
async def test_bad_input_is_422_naming_the_field(study: Study, change: dict[str, Any], field: str) -> None:
    bad = await study.extract("a" * 36, **change)
    assert bad.status_code == 422, bad.text
    assert bad.headers["content-type"] == PROBLEM
    assert f"body.{field}" in {e["field"] for e in bad.json()["errors"]}


async def test_no_students_in_the_population_is_404_naming_school_years(study: Study) -> None:
    missing = await study.extract(await study.agreement(), school_years=["2019-2020"])
    assert missing.status_code == 404 and missing.json()["field"] == "body.school_years"




async def test_disclosure_down_is_503_and_nothing_released(study: Study, gateway, db) -> None:
    agreement_id = await study.agreement()
    reporting = gateway.apps["reporting"].state.slds
    link = httpx.AsyncClient(base_url="http://slds.internal", transport=DisclosureLogDown(httpx.ASGITransport(gateway)))
    reporting.disclosure_client = DisclosureClient(link, ServiceToken(reporting.identity, reporting.settings,
                                                                      "reporting"))
    try:
        refused = await study.extract(agreement_id)
    finally:
        await link.aclose()
        reporting.disclosure_client = None
    assert refused.status_code == 503 and refused.headers["content-type"] == PROBLEM
    assert "pseudonym" not in refused.text and "rows" not in refused.json()
    async with db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(ExtractRelease)) == 0
        assert await session.scalar(select(func.count()).select_from(DisclosureLogEntry)) == 0


async def test_a_banned_party_gets_nothing(study: Study) -> None:
    agreement_id = await study.agreement()
    ban = await study.client.post("/disclosure/v1/bans", headers=study.steward, json={
        "organisation": "State University", "subjects": [study.subject],
        "finding": "Redisclosed an extract", "found_on": days(-1)})
    assert ban.status_code == 201, ban.text
    refused = await study.extract(agreement_id)
    assert refused.status_code == 401 and await study.log(agreement_id) == []


def _fact(key: str, year: str, school: str, race: str) -> StudentFact:
    return StudentFact(school_year=year, student_key=key, state="ST", district_id=school[:4], school_id=school,
                       grade_level="07", sex="M", race_ethnicity=race, ela_proficient=True, refreshed_at=datetime.now(UTC))


def test_students_linked_across_years_are_k_anonymous_as_a_whole() -> None:
    """Two years of the same 30 students: the rows of one pseudonym link, so a student who moved
    school is alone in that trajectory even though each of its rows has 14 or more peers."""
    facts = [_fact(f"s{i}", y, "1001-01", "WH7") for i in range(15) for y in ("2024-2025", "2025-2026")]
    facts += [_fact(f"t{i}", y, "1001-02", "HI7") for i in range(15) for y in ("2024-2025", "2025-2026")]
    facts[1] = _fact("s0", "2025-2026", "1001-02", "WH7")  # s0 moved school
    out = deid.deidentify(facts, ["school_id", "race_ethnicity"], k=10, max_suppressed_fraction=0.0)
    by_student: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for r in out.rows:
        by_student[r["pseudonym"]].append((r["school_year"], r["school_id"], r["race_ethnicity"]))
    sizes = defaultdict(int)
    for trajectory in by_student.values():
        sizes[tuple(sorted(trajectory))] += 1
    assert all(n >= 10 for n in sizes.values())
    assert out.rows_released + out.rows_suppressed == len(facts)
    # With a 5% allowance the one mover is suppressed instead (its two rows).
    kept = deid.deidentify(facts, ["school_id", "race_ethnicity"], k=10, max_suppressed_fraction=0.05)
    assert kept.students_suppressed == 1 and kept.rows_suppressed == 2 and kept.generalisation["location"] == "school"


async def test_the_log_takes_a_de_identified_entry_only_without_students(study: Study) -> None:
    """The disclosure log's additive rule for extracts: no students, or a count of de-identified
    records, never both and never neither."""
    agreement_id = await study.agreement()
    entry = {"party": {"name": "Dr. Rivera", "organisation": "State University", "subject": study.subject},
             "legal_basis": "studies", "purpose": "Evaluate", "fields": ["enrollment.school_year"],
             "agreement_id": agreement_id}
    post = "/disclosure/v1/disclosures"
    neither = await study.client.post(post, headers=study.steward, json=entry | {"students": []})
    assert neither.status_code == 422 and "students" in {e["field"] for e in neither.json()["errors"]}
    sid = damm.calc_check_digit("100000000").join(["100000000", ""])
    both = await study.client.post(post, headers=study.steward,
                                   json=entry | {"students": [sid], "deidentified_records": 5})
    assert both.status_code == 422 and "deidentified_records" in {e["field"] for e in both.json()["errors"]}
    assert await study.log(agreement_id) == []
