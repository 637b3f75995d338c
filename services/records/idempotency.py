"""`Idempotency-Key` for creating calls: the first answer to a key is stored with the request's
hash, in the same transaction as the write, and a retry with the same key and body gets that
answer again instead of writing twice. The same key with a different body is a client error
(422, as the IETF idempotency-key draft says); two concurrent first uses race on the primary key
and the loser gets 409.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.records.models import IdempotentResponse
from shared.errors import UnprocessableContent

MAX_KEY = 200
REPLAYED_HEADERS = ("etag", "location")


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


async def replay(session: AsyncSession, actor: str, key: str | None, digest: str) -> Response | None:
    if key is None:
        return None
    if not key or len(key) > MAX_KEY:
        raise UnprocessableContent("The Idempotency-Key header must be 1 to 200 characters.",
                                   errors=[{"field": "Idempotency-Key", "code": "invalid",
                                            "message": "Must be 1 to 200 characters."}])
    stored = await session.get(IdempotentResponse, (actor, key))
    if stored is None:
        return None
    if stored.request_hash != digest:
        raise UnprocessableContent("This Idempotency-Key was used for a different request.",
                                   errors=[{"field": "Idempotency-Key", "code": "reused",
                                            "message": "Was already used with a different request body."}])
    headers = {**stored.headers, "Idempotent-Replayed": "true"}
    return Response(stored.body, status_code=stored.status, media_type="application/json", headers=headers)


def remember(session: AsyncSession, actor: str, key: str | None, digest: str, status: int,
             body: Any, headers: dict[str, str]) -> None:
    if key is None:
        return
    session.add(IdempotentResponse(
        actor=actor, key=key, request_hash=digest, status=status, body=json.dumps(body),
        headers={k: v for k, v in headers.items() if k.lower() in REPLAYED_HEADERS}))
