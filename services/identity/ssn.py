"""SSNs exist in identity only as a keyed hash (HMAC-SHA256) for exact comparison: never stored,
returned, logged or echoed in an error. The key is derived from the deployment secret, so the
hashes cannot be reversed by hashing all billion possible SSNs without it."""

from __future__ import annotations

import hashlib
import hmac

from shared.settings import Settings


def ssn_hash(ssn_digits: str, settings: Settings) -> str:
    key = hmac.new(settings.resolved_secret_key(), b"slds/identity/ssn-hash/v1", hashlib.sha256).digest()
    return hmac.new(key, ssn_digits.encode(), hashlib.sha256).hexdigest()
