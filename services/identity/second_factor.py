"""A second factor for people: TOTP (RFC 6238) through `pyotp`, the maintained implementation.

Issue 8 / PowerSchool 2024 (a support credential with no second factor): with
`SLDS_REQUIRE_SECOND_FACTOR` on, people whose role is level 1 or 2 get no token without a
one-time code; anyone may enrol. The shared secret is kept encrypted with a key derived from the
deployment secret (Fernet), never returned after enrolment, and each code is accepted once (the
last used time step is kept), one step of clock drift either way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pyotp
from cryptography.fernet import Fernet

from shared.settings import Settings

ISSUER = "SLDS"
DRIFT_STEPS = 1


def _fernet(settings: Settings) -> Fernet:
    digest = hashlib.sha256(b"identity-totp-secret\0" + settings.resolved_secret_key()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def new_secret() -> str:
    return pyotp.random_base32()


def seal(settings: Settings, secret: str) -> str:
    return _fernet(settings).encrypt(secret.encode()).decode()


def unseal(settings: Settings, sealed: str) -> str:
    return _fernet(settings).decrypt(sealed.encode()).decode()


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def matching_step(secret: str, code: str, *, after_step: int | None, now: float | None = None) -> int | None:
    """The time step `code` is valid for (within the drift), if later than `after_step` (a code is
    used once); None if it matches none. Compared in constant time."""
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    moment = time.time() if now is None else now
    current = totp.timecode(moment)
    found = None
    for offset in range(-DRIFT_STEPS, DRIFT_STEPS + 1):
        step = current + offset
        if hmac.compare_digest(totp.generate_otp(step), code) and (after_step is None or step > after_step):
            found = step
    return found

