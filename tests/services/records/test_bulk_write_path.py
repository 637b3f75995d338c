"""The bulk write path works out its changes from a snapshot read before the records log lock and
checks it under the lock: a record that changed in between is worked out again from what is
stored, so nothing is lost, duplicated or versioned twice."""

from __future__ import annotations

import pytest

from services.records.repository import RecordsRepository
from tests.services.records.conftest import STUDENTS, World, basic_record


async def test_a_record_changed_since_the_snapshot_is_worked_out_again(world: World,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    sid, other = world.students[0], world.students[1]
    assert (await world.submit(basic_record(sid))).status_code == 201
    assert (await world.submit(basic_record(other))).status_code == 201

    # The snapshot sees `sid` as it was before the store above (no subject, no items), as if that
    # write had committed between the snapshot and the lock; `other` as it is.
    real_versions, real_items = RecordsRepository.subject_versions, RecordsRepository.item_rows
    calls = {"items": 0}

    async def stale_versions(self, entity, state_ids):  # type: ignore[no-untyped-def]
        found = await real_versions(self, entity, state_ids)
        found.pop(sid, None)
        return found

    async def stale_items(self, entity, state_ids):  # type: ignore[no-untyped-def]
        calls["items"] += 1
        found = await real_items(self, entity, state_ids)
        if calls["items"] == 1:
            found.pop(sid, None)
        return found

    monkeypatch.setattr(RecordsRepository, "subject_versions", stale_versions)
    monkeypatch.setattr(RecordsRepository, "item_rows", stale_items)
    changed = basic_record(sid)
    changed["demographics"]["middle_name"] = "Maria"
    unchanged_other = basic_record(other)
    response = await world.client.post(f"{STUDENTS}/bulk", headers=world.sis, json=[changed, unchanged_other])
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert calls["items"] == 2  # the stale record's items were read again under the lock
    assert results[0]["status"] == "updated" and results[0]["version"] == 2, results
    assert results[1]["status"] == "unchanged" and results[1]["version"] == 1, results
    monkeypatch.undo()

    history = (await world.client.get(f"{STUDENTS}/{sid}/history", headers=world.steward)).json()["versions"]
    assert sorted((v["section"], v["operation"]) for v in history) == sorted(
        [(v["section"], "create") for v in history if v["operation"] == "create"] + [("demographics", "update")])
    record = (await world.client.get(f"{STUDENTS}/{sid}", headers=world.steward)).json()
    assert record["demographics"]["middle_name"] == "Maria"


async def test_bulk_versions_follow_row_order_and_the_change_feed(world: World) -> None:
    sids = world.students[:3]
    response = await world.client.post(f"{STUDENTS}/bulk", headers=world.sis,
                                       json=[basic_record(s) for s in sids])
    assert response.status_code == 200 and response.json()["accepted"] == 3, response.text
    changes = (await world.client.get("/records/v1/changes", headers=world.steward,
                                      params={"min_change_version": 0})).json()["changes"]
    mine = [c for c in changes if c["state_student_id"] in sids]
    assert [c["change_version"] for c in mine] == sorted(c["change_version"] for c in mine)
    order = [c["state_student_id"] for c in mine]
    assert order == sorted(order, key=sids.index)  # rows' versions in the order of the rows
