"""Records follow identity's merges: the record kept under a retired ID moves to the survivor with
its history, on the next write for the student or at once by a steward, and the old ID answers
with the survivor's record."""

from __future__ import annotations

from tests.services.records.conftest import STUDENTS, World, basic_record, enrollment


async def _merge(world: World, survivor: str, retired: str) -> None:
    response = await world.client.post("/identity/v1/students/merges", headers=world.steward, json={
        "survivor_id": survivor, "retired_id": retired, "reason": "one child, two IDs"})
    assert response.status_code == 201, response.text


def _assessment(title: str, score: int) -> dict[str, object]:
    return {"assessment_family": "state_summative", "subject": "mathematics", "school_year": "2024-2025",
            "assessment_title": title, "scale_score": score}


async def test_the_next_write_folds_the_retired_record_into_the_survivor(world: World) -> None:
    survivor, retired = world.students[0], world.students[1]
    assert (await world.submit(basic_record(survivor, assessments=[_assessment("Spring", 500)]))).status_code == 201
    older = basic_record(retired, assessments=[_assessment("Fall", 480), _assessment("Spring", 510)])
    older["enrollment"] = [enrollment(school="1001-02", entry="2024-08-20")]
    assert (await world.submit(older)).status_code == 201
    await _merge(world, survivor, retired)

    # A write for the survivor (any write) brings the retired record across.
    update = await world.submit({"state_student_id": survivor, "programs": {"title_i": True}})
    assert update.status_code == 200, update.text
    record = (await world.client.get(f"{STUDENTS}/{survivor}", headers=world.steward)).json()
    assert sorted((a["assessment_title"], a["scale_score"]) for a in record["assessments"]) == [
        ("Fall", 480), ("Spring", 510)]  # the retired record's later Spring score became current
    assert {e["school_id"] for e in record["enrollment"]} == {"1001-01", "1001-02"}
    assert record["programs"] == {"title_i": True}

    # The old ID answers with the survivor's record, and says where it lives now.
    old = await world.client.get(f"{STUDENTS}/{retired}", headers=world.steward)
    assert old.status_code == 200 and old.json()["state_student_id"] == survivor
    assert old.headers["content-location"] == f"{STUDENTS}/{survivor}"

    # Nothing was lost: both Spring scores are in the survivor's history.
    history = (await world.client.get(f"{STUDENTS}/{survivor}/history", headers=world.steward)).json()["versions"]
    springs = sorted(v["record"]["assessments"][0]["scale_score"] for v in history
                     if v["section"] == "assessments" and v["record"]["assessments"][0]["assessment_title"] == "Spring")
    assert springs == [500, 510, 510]  # survivor's create, retired's create, the merge version
    # ...and joined the surviving element's: read as of now, the record has one Spring score, not
    # the retired element's last version beside the survivor's.
    as_of = (await world.client.get(f"{STUDENTS}/{survivor}", headers=world.steward,
                                    params={"as_of": "2999-01-01T00:00:00Z"})).json()
    assert sorted((a["assessment_title"], a["scale_score"]) for a in as_of["assessments"]) == [
        ("Fall", 480), ("Spring", 510)]


async def test_a_steward_folds_at_once_and_only_real_merges(world: World) -> None:
    survivor, retired, other = world.students
    assert (await world.submit(basic_record(retired))).status_code == 201
    refused = await world.client.post("/records/v1/merges", headers=world.steward,
                                      json={"survivor_id": survivor, "retired_id": retired})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "retired_id"
    assert (await world.client.post("/records/v1/merges", headers=world.sis,
                                    json={"survivor_id": survivor, "retired_id": retired})).status_code == 403
    await _merge(world, survivor, retired)
    folded = await world.client.post("/records/v1/merges", headers=world.steward,
                                     json={"survivor_id": survivor, "retired_id": retired})
    assert folded.status_code == 200 and folded.json()["moved"] == 3, folded.text
    again = await world.client.post("/records/v1/merges", headers=world.steward,
                                    json={"survivor_id": survivor, "retired_id": retired})
    assert again.json()["moved"] == 0
    # Reach moved too: the district still reaches the student under the survivor's ID.
    assert (await world.client.get(f"{STUDENTS}/{survivor}", headers=world.sis)).status_code == 200
    assert other  # untouched
