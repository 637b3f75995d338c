"""SSNs exist in identity only as a keyed hash (HMAC-SHA256) for exact comparison: never stored,
returned, logged or echoed in an error. The key is derived from the deployment secret, so the
hashes cannot be reversed by hashing all billion possible SSNs without it."""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from shared.settings import Settings


def ssn_hash(ssn_digits: str, settings: Settings) -> str:
    hasher = _keyed_hasher(settings.resolved_secret_key()).copy()  # (a batch hashes 10,000)
    hasher.update(ssn_digits.encode())
    return hasher.hexdigest()


@lru_cache(maxsize=4)
def _keyed_hasher(secret: bytes) -> hmac.HMAC:
    """An HMAC keyed for SSNs, to be copied: the key derivation is done once per secret."""
    key = hmac.new(secret, b"slds/identity/ssn-hash/v1", hashlib.sha256).digest()
    return hmac.new(key, digestmod=hashlib.sha256)
