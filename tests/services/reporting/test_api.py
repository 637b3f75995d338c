"""Reporting over HTTP with real tokens: publishing (state reporting roles only), public reads
of released suppressed tables without a token (JSON and CSV), internal unsuppressed aggregates
within the caller's scope, and problem+json for every bad request."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from tests.helpers import bearer, password_token
from tests.services.reporting.conftest import YEAR

RELEASES = "/reporting/v1/releases"
PROBLEM = "application/problem+json"


def release_body(**kw: str) -> dict[str, str]:
    return {"measure": "ela_proficiency_rate", "level": "school", "dimension": "race_ethnicity",
            "school_year": YEAR, "policy": "maine_n10"} | kw


@pytest.fixture
async def publisher(client: httpx.AsyncClient, make_user) -> dict[str, str]:
    await make_user("publisher", "state_data_admin")
    return bearer(await password_token(client, "publisher"))


def cells(table: dict, row: str) -> dict[str, dict]:
    found = next(r for r in table["rows"] if r["row"] == row)
    return {c["column"]: c for c in found["cells"]}


async def test_publish_and_read_a_release_without_a_token(client: httpx.AsyncClient, publisher, seed_facts) -> None:
    await seed_facts()
    response = await client.post(RELEASES, headers=publisher, json=release_body())
    assert response.status_code == 201, response.text
    release = response.json()
    # The presentation checklist: date stamp, definitions, data as-of, policy and its version.
    assert release["released_at"] and release["data_as_of"]
    assert release["policy"] == {"code": "maine_n10", "version": "2026.2"}
    assert release["definitions"]["measure"]["code"] == "ela_proficiency_rate"
    assert "level 4" in release["definitions"]["measure"]["definition"]
    assert release["definitions"]["version"] == "2026.1"

    public = await client.get(f"{RELEASES}/{release['id']}")  # no token
    assert public.status_code == 200
    table = public.json()["table"]
    school = cells(table, "school:1001-01")
    assert school["AS7"]["display"] == "*" and school["AS7"]["reason"] == "primary_small_n"
    assert school["AS7"]["value"] is None and school["AS7"]["n"] is None
    # The 3 Asian students cannot be found by subtraction: someone else in the row is hidden too.
    assert sum(c["value"] is None for c in school.values() if c["reason"] != "no_students") >= 2
    assert all("protects" in c for r in table["rows"] for c in r["cells"] if c["reason"] == "secondary")
    # Every hidden cell's interval was checked wide enough (20 points for rates).
    assert release["audit"]["narrowest"]["width"] >= 20
    large = cells(table, "school:1001-02")
    assert large["WH7"] == {"column": "WH7", "display": "67%", "value": 67, "n": 60, "reason": "published"}

    listed = await client.get(RELEASES, params={"measure": "ela_proficiency_rate"})
    assert [r["id"] for r in listed.json()["releases"]] == [release["id"]]
    latest = await client.get("/reporting/v1/public/ela_proficiency_rate",
                              params={"level": "school", "dimension": "race_ethnicity", "school_year": YEAR})
    assert latest.status_code == 200 and latest.json()["id"] == release["id"]


async def test_csv_download(client: httpx.AsyncClient, publisher, seed_facts) -> None:
    await seed_facts()
    release = (await client.post(RELEASES, headers=publisher, json=release_body())).json()
    response = await client.get(f"{RELEASES}/{release['id']}", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(response.text)))
    assert lines[0][:2] == ["# release", release["id"]] and "maine_n10@2026.2" in lines[0]
    assert lines[1] == ["level", "unit", "parent", "column", "display", "value", "n", "reason", "protects"]
    small = next(line for line in lines[2:] if line[1] == "1001-01" and line[3] == "AS7")
    assert small[4:8] == ["*", "", "", "primary_small_n"]


async def test_utah_release_reports_no_counts(client: httpx.AsyncClient, publisher, seed_facts) -> None:
    await seed_facts()
    response = await client.post(RELEASES, headers=publisher, json=release_body(policy="utah_appendix_b"))
    assert response.status_code == 201, response.text
    table = response.json()["table"]
    assert all(c["n"] in (None, 0) for r in table["rows"] for c in r["cells"])
    assert cells(table, "school:1001-01")["AS7"]["display"] == "N<10"


async def test_only_state_reporting_roles_publish(client: httpx.AsyncClient, make_user, seed_facts) -> None:
    await seed_facts()
    assert (await client.post(RELEASES, json=release_body())).status_code == 401
    await make_user("sup", "superintendent", district_ids=["1001"])
    sup = bearer(await password_token(client, "sup"))
    response = await client.post(RELEASES, headers=sup, json=release_body())
    assert response.status_code == 403 and response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(("change", "field"), [
    ({"measure": "happiness_index"}, "measure"),
    ({"dimension": "shoe_size"}, "dimension"),
    ({"level": "classroom"}, "level"),
    ({"policy": "texas_n5"}, "policy"),
])
async def test_unknown_names_are_problems(client: httpx.AsyncClient, publisher, seed_facts, change, field) -> None:
    await seed_facts()
    response = await client.post(RELEASES, headers=publisher, json=release_body(**change))
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["field"] == field and next(iter(change.values())) not in response.text  # names, not values


async def test_public_report_cannot_be_finer_than_policy(client: httpx.AsyncClient, publisher, seed_facts) -> None:
    await seed_facts()
    # Migrant tables stop at the district level in public.
    response = await client.post(RELEASES, headers=publisher, json=release_body(dimension="migrant"))
    assert response.status_code == 403 and response.json()["field"] == "level"
    response = await client.get("/reporting/v1/public/ela_proficiency_rate",
                                params={"level": "school", "dimension": "migrant", "school_year": YEAR})
    assert response.status_code == 403 and response.headers["content-type"] == PROBLEM
    ok = await client.post(RELEASES, headers=publisher, json=release_body(dimension="migrant", level="district"))
    assert ok.status_code == 201, ok.text


async def test_internal_aggregates_are_unsuppressed_within_scope(client: httpx.AsyncClient, make_user, seed_facts) -> None:
    await seed_facts()
    await make_user("sup", "superintendent", district_ids=["1001"])
    sup = bearer(await password_token(client, "sup"))
    params = {"measure": "enrollment_count", "level": "school", "dimension": "race_ethnicity", "school_year": YEAR}
    response = await client.get("/reporting/v1/aggregates", headers=sup, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    table = response.json()["table"]
    assert {r["row"] for r in table["rows"]} == {"district:1001", "school:1001-01", "school:1001-02"}
    assert cells(table, "school:1001-01")["AS7"]["count"] == 3  # the small cell, unsuppressed
    # Not above the caller's scope.
    assert (await client.get("/reporting/v1/aggregates", headers=sup,
                             params=params | {"level": "state"})).status_code == 403

    await make_user("princ", "principal", school_ids=["1002-01"])
    princ = bearer(await password_token(client, "princ"))
    table = (await client.get("/reporting/v1/aggregates", headers=princ, params=params)).json()["table"]
    assert {r["row"] for r in table["rows"]} == {"school:1002-01"}

    await make_user("analyst", "state_reporting_analyst")
    analyst = bearer(await password_token(client, "analyst"))
    table = (await client.get("/reporting/v1/aggregates", headers=analyst,
                              params=params | {"level": "district"})).json()["table"]
    assert cells(table, "state:ST")["all"]["count"] == 289


@pytest.mark.parametrize(("role", "scope"), [("central_office", {}), ("teacher", {"staff_id": "S1"}),
                                             ("public", {})])
async def test_aggregates_refused_to_roles_without_record_scope(client, make_user, seed_facts, role, scope) -> None:
    await seed_facts()
    await make_user("someone", role, **scope)
    headers = bearer(await password_token(client, "someone"))
    response = await client.get("/reporting/v1/aggregates", headers=headers, params={
        "measure": "enrollment_count", "level": "school", "school_year": YEAR})
    assert response.status_code == 403 and response.headers["content-type"] == PROBLEM


async def test_a_release_failing_the_audit_is_refused_and_not_published(client, publisher, seed_facts) -> None:
    # A one-school state: 11 girls, 11 boys, 1 nonbinary student. The girls' and boys' cells must
    # hide to protect the 1, but both are at least 10 (the secondary reason code says so), so
    # the 1 is pinned to [0, 1] whatever else is hidden: the release cannot pass.
    await seed_facts([(11, "9001-01", "9001", "WH7", 6)], sex="F")
    await seed_facts([(11, "9001-01", "9001", "WH7", 6)], sex="M")
    await seed_facts([(1, "9001-01", "9001", "WH7", 1)], sex="X")
    response = await client.post(RELEASES, headers=publisher, json=release_body(
        measure="enrollment_count", dimension="sex"))
    assert response.status_code == 422, response.text
    body = response.json()
    assert response.headers["content-type"] == PROBLEM and body["code" if "code" in body else "type"]
    assert "school:9001-01/X" in {f["cell"] for f in body["failures"]}
    assert all({"cell", "interval", "required_width", "why"} <= set(f) for f in body["failures"])
    listed = (await client.get(RELEASES, params={"measure": "enrollment_count"})).json()
    assert listed["releases"] == []


async def test_later_release_is_audited_against_the_earlier_ones(client, publisher, seed_facts) -> None:
    from tests.services.reporting.conftest import STATE

    # A school whose 15 Hispanic students Maine (n >= 10) shows and Missouri (n >= 30) hides.
    await seed_facts([*STATE, (50, "1002-02", "1002", "WH7", 25), (15, "1002-02", "1002", "HI7", 7),
                      (30, "1002-02", "1002", "AS7", 15)])
    by_race = await client.post(RELEASES, headers=publisher, json=release_body(measure="enrollment_count"))
    assert by_race.status_code == 201
    again = await client.post(RELEASES, headers=publisher, json=release_body(
        measure="enrollment_count", policy="missouri_n30"))
    assert again.status_code == 201, again.text
    # Cells the first release already published exactly (Maine shows 10-29) and the second hides
    # as small (Missouri hides under 30) are reported as already public, not as protected.
    def by_id(release):
        return {f"{r['row']}/{c['column']}": c for r in release["table"]["rows"] for c in r["cells"]}
    first, second = by_id(by_race.json()), by_id(again.json())
    reshown = {cid for cid, c in first.items()
               if c["reason"] == "published" and second[cid]["reason"] == "primary_small_n"}
    assert reshown
    assert reshown <= set(again.json()["audit"]["previously_published"])


async def test_definitions_and_policies_are_public(client: httpx.AsyncClient) -> None:
    definitions = (await client.get("/reporting/v1/definitions")).json()
    assert {m["code"] for m in definitions["measures"]} >= {
        "enrollment_count", "ela_proficiency_rate", "chronic_absence_rate", "graduation_rate",
        "discipline_rate", "special_education_participation"}
    policies = (await client.get("/reporting/v1/suppression-policies")).json()
    assert {p["code"] for p in policies["policies"]} == {"missouri_n30", "maine_n10", "utah_appendix_b"}
