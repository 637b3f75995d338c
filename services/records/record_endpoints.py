"""Student and staff records over HTTP: submissions (one record or bulk, JSON or NDJSON), projected
reads, history, the change feed, and the access log for level-1 auditors.

Request bodies are checked against the data dictionary (`validation.py`), not a Pydantic model,
because the dictionary is the schema a state edits; the OpenAPI examples show the shape.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from cryptography.fernet import Fernet, InvalidToken
from fastapi import APIRouter, Body, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, Field
from sqlalchemy import select

from services.records.idempotency import remember, replay, request_hash
from services.records.identity_directory import IdentityDirectory
from services.records.merges import fold
from services.records.models import RecordsAccessLogEntry
from services.records.releases import (
    Caller,
    CurrentCaller,
    caller_for,
    reaches_by_grants_only,
    release,
    withhold_for,
)
from services.records.repository import RawContextReader, RecordsRepository, assemble
from services.records.sections import ID_FIELD
from services.records.service import (
    STATE_WRITERS,
    HotReads,
    RecordReader,
    RecordWriter,
    VolumeExceeded,
    fields_present,
)
from services.records.validation import UnparsableRow
from services.records.volume import ReadVolume
from shared.audit import StagedChainer, StagedLogBatcher, append_many, chain_staged
from shared.collector import young_collections_deferred
from shared.deps import ClearedPrincipal, CurrentPrincipal, DbSession, State, request_session
from shared.errors import Forbidden, NotFound, UnprocessableContent, problem_response
from shared.policy.access import project, visible_fields, visible_staff_fields
from shared.policy.dictionary import Entity
from shared.policy.principal import Principal
from shared.request_context import current_request_id
from shared.schemas import MAX_BIGINT, MAX_INT32, IsoDateTime, RequestModel
from shared.settings import Settings
from shared.state import ServiceState

records = APIRouter(prefix="/records/v1", tags=["records"])

NO_STORE = {"Cache-Control": "no-store"}
AUDITOR_ROLES = frozenset({"state_data_admin"})  # level 1
LOG_READER_ROLES = AUDITOR_ROLES | {"security_manager"}  # breach investigation (Utah plan 6)
STUDENT_EXAMPLE = {
    "state_student_id": "4820175936", "district_id": "1001", "local_student_id": "S-0042",
    "demographics": {"first_name": "Ana", "last_name": "Lopez", "birth_date": "2014-03-09", "sex": "F"},
    "enrollment": [{"school_year": "2026-2027", "district_id": "1001", "school_id": "1001-01",
                    "grade_level": "06", "entry_date": "2026-08-20", "entry_type": "first_entry_in_state"}],
}

# Bulk bodies are read by hand (JSON array or NDJSON, up to the row limit) so each row is checked on
# its own and a bad row fails alone: the schema says "an array", not what each row must be.
BULK_BODY: dict[str, Any] = {"requestBody": {"content": {
    "application/json": {"schema": {"type": "array", "items": {
        "description": "A record; each row is checked on its own, and a bad row fails alone"}}},
    "application/x-ndjson": {"schema": {"type": "string"}}}}}

IfMatch = Annotated[str | None, Header(description="The record's ETag: refuse the write if it changed since")]
IdempotencyKey = Annotated[str | None, Header(description="Makes a retried create safe: the first answer is replayed")]
Purpose = Annotated[str | None, Query(max_length=200, description="Why the records are read (kept in the access log)")]


def _directory(state: State) -> IdentityDirectory:
    directory = getattr(state, "records_directory", None)
    if directory is None:
        directory = IdentityDirectory(state.identity)
        state.records_directory = directory  # type: ignore[attr-defined]
    return directory


def _volume(state: State) -> ReadVolume:
    volume = getattr(state, "records_volume", None)
    if volume is None:
        volume = ReadVolume()
        state.records_volume = volume  # type: ignore[attr-defined]
    return volume


def _chainer(state: State) -> StagedChainer:
    chainer = getattr(state, "records_chainer", None)
    if chainer is None:
        chainer = StagedChainer(RecordsAccessLogEntry, state.db.sessionmaker)
        state.records_chainer = chainer  # type: ignore[attr-defined]
    return chainer


def _hot_reads(state: State) -> HotReads | None:
    """PostgreSQL with the background chainer running (not a test's borrowed connection)."""
    hot = getattr(state, "records_hot_reads", False)
    if hot is False:
        engine = state.db.engine
        turns = asyncio.Lock()  # the context fetch and the log append take turns (shared.batching)
        hot = (HotReads(RawContextReader(engine, turns=turns),
                        StagedLogBatcher(RecordsAccessLogEntry, engine, turns=turns), engine,
                        lambda: request_session(state))
               if engine.dialect.name == "postgresql" and _chainer(state).enabled else None)
        state.records_hot_reads = hot  # type: ignore[attr-defined]
    return hot


class RecordResponse(JSONResponse):
    """A projected record as compact UTF-8 JSON, encoded by orjson: the stdlib encoder was a tenth
    of a read's CPU. Records hold only what the dictionary validates (strings, numbers, booleans,
    lists, objects), which both encode alike."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _etag(version: int) -> str:
    return f'W/"{version}"'


def _parse_if_match(value: str | None) -> int | None:
    if value is None:
        return None
    raw = value.strip().removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise UnprocessableContent("If-Match must be an ETag this service gave out.",
                                   errors=[{"field": "If-Match", "code": "invalid", "message": "Is not an ETag of a record."}])
    return int(raw)


def _too_many(principal: Principal, limit: int) -> JSONResponse:
    # Returned, not raised: the alert written to the access log must commit with the request.
    return problem_response(429, "too-many-requests", "Too many requests",
                            f"More than {limit} student records read this hour; the state data office has been alerted.",
                            headers={"Retry-After": str(3600 - datetime.now(UTC).minute * 60), **NO_STORE})


async def _write_one(entity: Entity, request: Request, body: dict[str, Any], session: DbSession, state: State,
                     principal: Principal, if_match: str | None, idempotency_key: str | None) -> Response:
    digest = request_hash(request.method, request.url.path, await request.body())
    replayed = await replay(session, principal.subject, idempotency_key, digest)
    if replayed is not None:
        return replayed
    writer = RecordWriter(session, _directory(state), principal, request.headers.get("authorization", ""),
                          chainer=_chainer(state))
    district = writer.submitting_district(body.get("district_id") if isinstance(body, dict) else None)
    submission, (outcome,) = await writer.submit(entity, [body], district, if_match=_parse_if_match(if_match))
    if outcome.status == "rejected":
        if outcome.http_status == 403:
            raise Forbidden("This record may not be written by this caller.", errors=outcome.errors)
        raise UnprocessableContent("See 'errors' for every field that needs attention.", errors=outcome.errors)
    id_field = ID_FIELD[entity]
    payload = {id_field: outcome.state_id, "status": outcome.status, "version": outcome.version,
               "submission_id": submission.id}
    status = 201 if outcome.status == "created" else 200
    headers = {"ETag": _etag(outcome.version or 0),
               "Location": f"/records/v1/{'students' if entity == 'student' else 'staff'}/{outcome.state_id}"}
    remember(session, principal.subject, idempotency_key, digest, status, payload, headers)
    return JSONResponse(payload, status_code=status, headers=headers)


async def _write_bulk(entity: Entity, request: Request, session: DbSession, state: State,
                      principal: Principal, district_id: str | None, idempotency_key: str | None) -> Response:
    raw = await request.body()
    # Hashed only when a key is given: a megabyte's SHA-256 is ~1% of a bulk write's CPU.
    digest = "" if idempotency_key is None else request_hash(
        request.method, str(request.url.path) + "?" + str(request.url.query), raw)
    replayed = await replay(session, principal.subject, idempotency_key, digest)
    if replayed is not None:
        return replayed
    with young_collections_deferred():  # its objects live until it answers (shared/collector.py)
        rows = _parse_rows(raw, request.headers.get("content-type", ""), state.settings.records_bulk_max_rows)
        writer = RecordWriter(session, _directory(state), principal, request.headers.get("authorization", ""),
                              chainer=_chainer(state))
        district = writer.submitting_district(district_id)
        submission, outcomes = await writer.submit(entity, rows, district)
    payload = {"submission_id": submission.id, "rows": submission.rows, "accepted": submission.accepted,
               "rejected": submission.rejected,
               "results": [o.as_dict(ID_FIELD[entity]) for o in outcomes]}
    remember(session, principal.subject, idempotency_key, digest, 200, payload, {})
    # A bulk write is ~0.2 s of one worker's CPU: a client's kept-alive connection would send its
    # next one to the same worker, busy or not, while another sits idle. Closed, the client's
    # next connection is accepted by a worker that is waiting (one handshake per bulk request).
    return RecordResponse(payload, status_code=200, headers={"Connection": "close"})


def _parse_rows(raw: bytes, content_type: str, max_rows: int) -> list[Any]:
    def bad(message: str, field: str = "body") -> UnprocessableContent:
        return UnprocessableContent(message, errors=[{"field": field, "code": "invalid", "message": message}])

    if "ndjson" in content_type or "jsonl" in content_type:
        rows = []
        for number, line in enumerate(raw.splitlines()):
            if not line.strip():
                continue
            try:
                rows.append(orjson.loads(line))
            except orjson.JSONDecodeError as error:  # the row fails alone, saying why and where
                rows.append(UnparsableRow(number + 1, error.msg, error.colno))
    else:
        try:
            rows = orjson.loads(raw or b"null")  # a tenth the stdlib's time on a 1,000-record body
        except orjson.JSONDecodeError as error:  # the parser's reason and where: never the text there
            raise bad(f"The body is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno}).") from None
        if isinstance(rows, dict) and isinstance(rows.get("records"), list):
            rows = rows["records"]
        if not isinstance(rows, list):
            raise bad("The body must be a JSON array of records (or NDJSON, one record per line).")
    if not rows:
        raise bad("The submission holds no records.")
    if len(rows) > max_rows:
        raise bad(f"At most {max_rows} records per request; split the file.")
    return rows


# --- students ----------------------------------------------------------------------------------


@records.post("/students", status_code=201, summary="Create or update one student's record (natural-key upsert)",
              responses={200: {"description": "Updated (or unchanged)"}, 201: {"description": "Created"},
                         412: {"description": "If-Match did not match"}, 422: {"description": "Invalid fields"}})
async def submit_student(request: Request, session: DbSession, state: State, principal: CurrentPrincipal,
                         body: Annotated[dict[str, Any], Body(openapi_examples={"new": {"value": STUDENT_EXAMPLE}})],
                         if_match: IfMatch = None, idempotency_key: IdempotencyKey = None) -> Response:
    return await _write_one("student", request, body, session, state, principal, if_match, idempotency_key)


@records.post("/students/bulk", summary="Submit many student records (JSON array or NDJSON); answers per row",
              openapi_extra=BULK_BODY)
async def submit_students_bulk(request: Request, session: DbSession, state: State, principal: CurrentPrincipal,
                               district_id: Annotated[str | None, Query(max_length=16)] = None,
                               idempotency_key: IdempotencyKey = None) -> Response:
    return await _write_bulk("student", request, session, state, principal, district_id, idempotency_key)


@records.get("/students/{state_student_id}", summary="One student's record, with only the fields the caller may see",
             responses={503: {"description": "A researcher's or vendor's read could not be logged as a disclosure"}})
async def read_student(state_student_id: str, request: Request, caller: CurrentCaller,
                       as_of: Annotated[IsoDateTime | None, Query(description="The record as it stood then (UTC)")] = None,
                       purpose: Purpose = None) -> Response:
    # The plain read (no `as_of`, a bearer token) usually arrives through `hot_route.StudentReadRoute`
    # instead, which calls `answer_student_read` without FastAPI's per-request machinery.
    state: ServiceState = request.app.state.slds  # not `State`: one dependency less on the busiest route
    return await answer_student_read(state, caller, state_student_id, as_of, purpose)


async def answer_student_read(state: ServiceState, caller: Caller, state_student_id: str, as_of: datetime | None,
                              purpose: str | None) -> Response:
    principal = caller.principal
    # The hot path (the read dashboards and SIS make all day): no transaction unless a rare step
    # needs one. Outside parties' releases, opt-outs and as-of reads take the ordinary path.
    hot = _hot_reads(state) if as_of is None and not caller.is_outside_party and not caller.directory_only else None
    limit = state.settings.records_reads_per_hour
    if hot is not None:
        reader = RecordReader(None, principal, reads_per_hour=limit, volume=_volume(state), chainer=_chainer(state),
                              hot=hot)
        try:
            record, subject = await reader.student(state_student_id, as_of=None, purpose=purpose)
        except VolumeExceeded:
            return _too_many(principal, limit)
    else:
        async with request_session(state) as session:
            reader = RecordReader(session, principal, reads_per_hour=limit, volume=_volume(state),
                                  chainer=_chainer(state))
            reader.withhold = withhold_for(caller, state)
            try:
                record, subject = await reader.student(state_student_id, as_of=_utc(as_of), purpose=purpose)
            except VolumeExceeded:
                return _too_many(principal, limit)
            await release(session, state, caller, [(subject.state_id, fields_present(record))],
                          {subject.state_id: subject.facts})
    headers = {"ETag": _etag(subject.version), **NO_STORE}
    if subject.state_id != state_student_id:
        headers["Content-Location"] = f"/records/v1/students/{subject.state_id}"
    return RecordResponse(record, headers=headers)


class MergeIn(RequestModel):
    survivor_id: Annotated[str, Field(min_length=1, max_length=16)]
    retired_id: Annotated[str, Field(min_length=1, max_length=16)]


@records.post("/merges", summary="Fold the record kept under a retired state ID into its survivor's (level 1)")
async def fold_merge(body: MergeIn, request: Request, session: DbSession, state: State,
                     principal: CurrentPrincipal) -> Response:
    if principal.role not in STATE_WRITERS:
        raise Forbidden("Folding records after a merge is for state data staff and services.")
    status = (await _directory(state).check("student", [body.retired_id], None,
                                            request.headers.get("authorization", ""))).get(body.retired_id)
    if status is None or status.current_state_id != body.survivor_id or body.survivor_id == body.retired_id:
        raise UnprocessableContent("Identity has not merged these IDs (the retired ID's survivor differs).",
                                   errors=[{"field": "retired_id", "code": "not-merged",
                                            "message": "Is not retired into survivor_id in identity."}])
    summary = await fold(session, body.survivor_id, body.retired_id, actor=principal.subject)
    return JSONResponse(summary or {"survivor_id": body.survivor_id, "retired_id": body.retired_id,
                                    "moved": 0, "replaced": 0, "kept": 0})


@records.get("/students", summary="Students the caller reaches, projected (paged; follow `next_cursor`)")
async def list_students(session: DbSession, state: State, caller: CurrentCaller,
                        district_id: Annotated[str | None, Query(max_length=16)] = None,
                        school_id: Annotated[str | None, Query(max_length=16)] = None,
                        cursor: Annotated[str | None, Query(max_length=400, description="`next_cursor` of the previous page")] = None,
                        limit: Annotated[int, Query(ge=1, le=500)] = 50,
                        offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
                        purpose: Purpose = None) -> Response:
    principal = caller.principal
    if limit > 100 and not purpose:
        raise UnprocessableContent("State a purpose to read more than 100 records at a time (bulk export).",
                                   errors=[{"field": "purpose", "code": "required",
                                            "message": "Is required when limit is over 100."}])
    cursors = PageCursor(state.settings, principal.subject)
    after = cursors.open(cursor) if cursor else None
    reader = RecordReader(session, principal, reads_per_hour=state.settings.records_reads_per_hour,
                          volume=_volume(state), chainer=_chainer(state))
    reader.withhold = withhold_for(caller, state)
    try:
        rows, last = await reader.students(district_id=district_id, school_id=school_id, after=after, limit=limit,
                                           offset=offset, purpose=purpose)
    except VolumeExceeded:
        return _too_many(principal, state.settings.records_reads_per_hour)
    if caller.is_outside_party and reader.released:
        facts = await RecordsRepository(session).facts_for([sid for sid, _ in reader.released], _today())
        await release(session, state, caller, [(sid, fields_present(record)) for sid, record in reader.released],
                      facts)
    return JSONResponse({"items": rows, "next_cursor": cursors.seal(last) if last else None}, headers=NO_STORE)


class PageCursor:
    """An opaque, tamper-proof cursor (Fernet, keyed by the deployment secret and the caller) that
    carries the last state ID of a page without showing it: a role that may not see state IDs
    cannot read them out of paging, and one caller's cursor is useless to another."""

    def __init__(self, settings: Settings, subject: str) -> None:
        digest = hashlib.sha256(b"records-page-cursor\0" + settings.resolved_secret_key() + b"\0" + subject.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(digest.digest()))

    def seal(self, last_id: str) -> str:
        return self._fernet.encrypt(last_id.encode()).decode()

    def open(self, cursor: str) -> str:
        try:
            return self._fernet.decrypt(cursor.encode(), ttl=24 * 3600).decode()
        except (InvalidToken, ValueError):
            raise UnprocessableContent("The cursor is not one this service gave you (or it is over a day old).",
                                       errors=[{"field": "cursor", "code": "invalid",
                                                "message": "Is not a valid page cursor."}]) from None


@records.get("/students/{state_student_id}/history", summary="Every version of the record's elements, newest first, projected")
async def student_history(state_student_id: str, session: DbSession, state: State, caller: CurrentCaller,
                          limit: Annotated[int, Query(ge=1, le=500)] = 100,
                          offset: Annotated[int, Query(ge=0, le=10_000)] = 0) -> Response:
    principal = caller.principal
    repo = RecordsRepository(session)
    if await repo.subject("student", state_student_id) is None:
        raise NotFound("No such student record.")
    facts = await repo.facts_for([state_student_id], _today())
    fields = visible_fields(principal, facts[state_student_id])
    withhold = withhold_for(caller, state)
    if not fields or (withhold is not None and state_student_id in await withhold([state_student_id])):
        raise NotFound("No such student record.")
    out, went_out = [], set()
    for version in await repo.history("student", state_student_id, limit=limit, offset=offset):
        shown = project(assemble("student", state_student_id, [(version.section, version.item_key, version.data or {})]),
                        fields)
        shown.pop("state_student_id", None)
        if not shown and not (version.operation in ("delete", "expunge") and _sees_section(fields, version.section)):
            continue  # a change to fields the caller may not see is not shown at all
        went_out |= fields_present(shown)
        out.append({"change_version": version.id, "section": version.section, "operation": version.operation,
                    "recorded_at": version.recorded_at.isoformat(), "submission_id": version.submission_id,
                    "record": shown})
    await append_many(session, RecordsAccessLogEntry, [{
        "action": "read_history", "index_columns": {"state_id": state_student_id},
        "payload": {"entity": "student", "state_id": state_student_id, "role": principal.role,
                    "fields": sorted(went_out)}}], actor=principal.subject, request_id=current_request_id())
    if went_out:
        await release(session, state, caller, [(state_student_id, went_out)], facts)
    return JSONResponse({"versions": out}, headers=NO_STORE)


@records.get("/changes", summary="Students whose records changed after a change version (sync feed)")
async def changes(request: Request, session: DbSession, state: State, principal: ClearedPrincipal,
                  min_change_version: Annotated[int, Query(ge=0, le=MAX_BIGINT)] = 0,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 500) -> Response:
    if reaches_by_grants_only(principal):
        # The feed names students and what changed: a release in itself, and not one an agreement
        # describes. Researchers and vendors page through /students instead (logged per release).
        raise Forbidden("The change feed is for district and state systems.")
    # Staff access granted in writing reaches the feed as it reaches reads (access_requests.py).
    principal = (await caller_for(state, principal, request.headers.get("authorization", ""))).principal
    repo = RecordsRepository(session)
    versions = await repo.changes("student", min_change_version, limit)
    today = _today()
    facts = await repo.facts_for([v.state_id for v in versions], today)
    visible: dict[str, frozenset[str]] = {sid: visible_fields(principal, f, today=today) for sid, f in facts.items()}
    out = []
    for v in versions:
        fields = visible.get(v.state_id, frozenset())
        if "state_student_id" not in fields or not _sees_section(fields, v.section):
            # Out of reach, a section the caller cannot see (that it changed is not told), or a
            # role that may not see state IDs (an analyst): the feed names students by their ID.
            continue
        out.append({"state_student_id": v.state_id, "change_version": v.id, "section": v.section,
                    "operation": v.operation})
    next_version = versions[-1].id if versions else min_change_version
    return JSONResponse({"changes": out, "next_min_change_version": next_version}, headers=NO_STORE)


# --- staff -------------------------------------------------------------------------------------


@records.post("/staff", status_code=201, summary="Create or update one staff record")
async def submit_staff(request: Request, session: DbSession, state: State, principal: CurrentPrincipal,
                       body: Annotated[dict[str, Any], Body()],
                       if_match: IfMatch = None, idempotency_key: IdempotencyKey = None) -> Response:
    return await _write_one("staff", request, body, session, state, principal, if_match, idempotency_key)


@records.post("/staff/bulk", summary="Submit many staff records (JSON array or NDJSON); answers per row",
              openapi_extra=BULK_BODY)
async def submit_staff_bulk(request: Request, session: DbSession, state: State, principal: CurrentPrincipal,
                            district_id: Annotated[str | None, Query(max_length=16)] = None,
                            idempotency_key: IdempotencyKey = None) -> Response:
    return await _write_bulk("staff", request, session, state, principal, district_id, idempotency_key)


@records.get("/staff/{staff_id}", summary="A staff record: the open-records view (names, assignments, credentials), never the SSN")
async def read_staff(staff_id: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    repo = RecordsRepository(session)
    subject = await repo.subject("staff", staff_id)
    fields = visible_staff_fields(principal)
    if subject is None or not fields:
        raise NotFound("No such staff record.")
    items = (await repo.items("staff", [staff_id])).get(staff_id, [])
    record = project(assemble("staff", staff_id, [(i.section, i.item_key, i.data) for i in items]), fields)
    return JSONResponse(record, headers={"ETag": _etag(subject.version), **NO_STORE})


# --- the access log ------------------------------------------------------------------------------


def _utc_bound(value: datetime) -> datetime:
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # year 1 east of Greenwich: no UTC equivalent
        raise ValueError("is outside the range of representable UTC times") from None


UtcBound = Annotated[IsoDateTime, AfterValidator(_utc_bound)]


@records.get("/access-log", summary="Who read or wrote which records (level-1 auditors; the IT security manager)")
async def access_log(session: DbSession, principal: CurrentPrincipal,
                     state_id: Annotated[str | None, Query(max_length=16)] = None,
                     actor: Annotated[str | None, Query(max_length=200)] = None,
                     at_from: Annotated[UtcBound | None, Query(description="Entries at or after this time")] = None,
                     at_to: Annotated[UtcBound | None, Query(description="Entries at or before this time")] = None,
                     after_seq: Annotated[int, Query(ge=0, le=MAX_INT32)] = 0,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Response:
    """The security manager reads it to find what a compromised account touched (Utah plan 6):
    field names and student IDs, never values. A time without a zone is UTC."""
    if principal.role not in LOG_READER_ROLES:
        raise Forbidden("The access log is for level-1 auditors and the IT security manager.")
    await chain_staged(session, RecordsAccessLogEntry)  # reads staged but not yet chained show too
    query = select(RecordsAccessLogEntry).where(RecordsAccessLogEntry.seq > after_seq)
    if state_id:
        query = query.where(RecordsAccessLogEntry.state_id == state_id)
    if actor:
        query = query.where(RecordsAccessLogEntry.actor == actor)
    if at_from is not None:
        query = query.where(RecordsAccessLogEntry.at >= at_from)
    if at_to is not None:
        query = query.where(RecordsAccessLogEntry.at <= at_to)
    entries = (await session.scalars(query.order_by(RecordsAccessLogEntry.seq).limit(limit))).all()
    return JSONResponse({"entries": [{"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
                                      "request_id": e.request_id, "payload": json.loads(e.payload), "hash": e.hash}
                                     for e in entries]}, headers=NO_STORE)


def _sees_section(fields: frozenset[str], section: str) -> bool:
    """Whether the caller receives any field of a section (else even that it changed is not told)."""
    if section == "identifiers":
        return any("." not in f for f in fields)
    return any(f.startswith(section + ".") for f in fields)


def _today():
    return datetime.now(UTC).date()


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

