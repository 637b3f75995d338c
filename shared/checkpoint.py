"""Signed checkpoints of a hash-chained log's head, kept outside the database (issue 8).

A hash chain shows an edited or deleted row, but not a cut tail: deleting the newest entries
leaves a shorter chain that still verifies. So an operator regularly takes a checkpoint (the
head's sequence number and hash, HMAC-signed with a key derived from `SLDS_SECRET_KEY`) and keeps
it away from the database (another system, write-once storage). Verifying against it proves the
log still holds that entry with that hash: nothing up to it was cut or rewritten.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from shared.audit import ChainReport
from shared.settings import Settings


def _key(settings: Settings) -> bytes:
    return hashlib.sha256(b"slds-log-checkpoint\0" + settings.resolved_secret_key()).digest()


def _signature(settings: Settings, body: dict[str, Any]) -> str:
    material = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(_key(settings), material, hashlib.sha256).hexdigest()


def make_checkpoint(settings: Settings, table: str, report: ChainReport, at: datetime) -> dict[str, Any]:
    body = {"table": table, "seq": report.entries, "hash": report.head_hash, "at": at.isoformat()}
    return {**body, "signature": _signature(settings, body)}


def checkpoint_problem(settings: Settings, table: str, checkpoint: dict[str, Any], report: ChainReport,
                       hash_at_seq: str | None) -> str | None:
    """Why the log does not match the checkpoint (None when it does). `hash_at_seq` is the log's
    hash of the checkpoint's entry, None if there is no such entry any more."""
    body = {k: checkpoint.get(k) for k in ("table", "seq", "hash", "at")}
    if not hmac.compare_digest(_signature(settings, body), str(checkpoint.get("signature", ""))):
        return "the checkpoint's signature does not verify (not ours, or edited)"
    if body["table"] != table:
        return f"the checkpoint is of {body['table']}, not {table}"
    if hash_at_seq is None or report.entries < int(body["seq"] or 0):
        return f"truncated: the checkpoint saw {body['seq']} entries, the log has {report.entries}"
    if not hmac.compare_digest(hash_at_seq, str(body["hash"])):
        return f"rewritten: entry {body['seq']} no longer has the hash the checkpoint recorded"
    return None
