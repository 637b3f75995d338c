"""Following identity's merges: when two state IDs turn out to be one student, the record kept
under the retired ID moves to the survivor, losing nothing.

Records learns of a merge from identity itself: its ID check (`persons/status`) lists, for each
current ID, the IDs retired into it, and the next write for the student folds any record still
kept under those IDs (a steward can also fold at once with `POST /records/v1/merges`). Folding:

- elements only the retired record had move across with their whole history;
- an element both records have (same section and natural key) keeps the survivor's row; if the
  retired one was recorded later, its value becomes current as a new version ("merge");
- every version of the retired record is re-keyed to the survivor, so history and `as_of` read
  through the merge; relationships (rosters, caseloads) follow; derived enrollments and plans are
  rebuilt;
- the retired subject row stays, pointing at the survivor, so reads of the old ID answer with the
  survivor's record.

A split in identity does not move elements back (which element belonged to whom is a judgement):
the versions keep who submitted what, and districts resubmit under the restored ID.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.records.models import (
    Caseload,
    RecordItemVersion,
    RecordsAccessLogEntry,
    SectionStudent,
)
from services.records.repository import RecordsRepository
from shared.audit import append_many
from shared.request_context import current_request_id


async def fold(session: AsyncSession, survivor: str, retired: str, *, actor: str) -> dict[str, Any] | None:
    """Move the retired ID's record into the survivor's; None when there is nothing to fold."""
    repo = RecordsRepository(session)
    if survivor == retired:
        return None
    old = await repo.subject("student", retired)
    if old is None or old.merged_into == survivor:
        return None
    await repo.lock_for_writes()
    await repo.hold_change_floor()  # before a replaced element's version takes a change version
    subjects = await repo.subjects_for_update("student", [survivor, retired])
    current = await repo.items("student", [survivor, retired])
    theirs = {(i.section, i.item_key): i for i in current.get(survivor, [])}
    now = datetime.now(UTC)
    moved = replaced = kept = 0
    for item in current.get(retired, []):
        twin = theirs.get((item.section, item.item_key))
        if twin is None:
            item.state_id = survivor
            moved += 1
            continue
        if item.recorded_at > twin.recorded_at and item.data != twin.data:
            twin.data, twin.version = item.data, twin.version + 1
            twin.recorded_at, twin.recorded_by, twin.district_id = now, actor, item.district_id
            version = RecordItemVersion(
                item_id=twin.id, entity="student", state_id=survivor, section=twin.section, item_key=twin.item_key,
                version=twin.version, operation="merge", data=item.data, district_id=item.district_id,
                recorded_at=now, recorded_by=actor, submission_id=None)
            session.add(version)
            await session.flush()
            twin.change_version = version.id
            replaced += 1
        else:
            kept += 1
        # The retired element's history joins the surviving element's.
        # Found by student first (the versions' subject index; none is kept by element).
        await session.execute(update(RecordItemVersion).where(
            RecordItemVersion.entity == "student", RecordItemVersion.state_id == retired,
            RecordItemVersion.item_id == item.id).values(item_id=twin.id))
        await session.delete(item)
    await session.flush()
    await session.execute(update(RecordItemVersion).where(
        RecordItemVersion.entity == "student", RecordItemVersion.state_id == retired).values(state_id=survivor))
    for table in (SectionStudent, Caseload):
        await session.execute(update(table).where(table.state_student_id == retired).values(state_student_id=survivor))
    items = (await repo.items("student", [survivor])).get(survivor, [])
    await repo.refresh_enrollments(survivor, items)
    await repo.refresh_plans(survivor, items)
    await repo.refresh_enrollments(retired, [])
    subjects[retired].merged_into = survivor
    subjects[retired].version += 1
    subjects[survivor].version += 1
    summary = {"survivor_id": survivor, "retired_id": retired, "moved": moved, "replaced": replaced, "kept": kept}
    await append_many(session, RecordsAccessLogEntry, [
        {"action": "merge", "index_columns": {"state_id": survivor}, "payload": {"entity": "student", **summary}},
        {"action": "merge", "index_columns": {"state_id": retired}, "payload": {"entity": "student", **summary}},
    ], actor=actor, request_id=current_request_id())
    return summary
