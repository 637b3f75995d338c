"""Password hashing (passlib with argon2) and the password rules of NIST 800-63B.

`verify_password_timing_safe` does the same argon2 work whether or not an account exists, so the
login's timing does not reveal which usernames are real.
"""

from __future__ import annotations

from functools import lru_cache

from passlib.context import CryptContext
from zxcvbn.frequency_lists import FREQUENCY_LISTS

_context = CryptContext(schemes=["argon2"], deprecated="auto")


@lru_cache
def _dummy_hash() -> str:
    return _context.hash("not-a-real-password: equalises login timing")


@lru_cache
def _common_passwords() -> frozenset[str]:
    # zxcvbn ships the 30,000 most common passwords from real breach corpora.
    return frozenset(FREQUENCY_LISTS["passwords"])


def hash_password(password: str) -> str:
    return _context.hash(password)


def verify_password_timing_safe(password: str, password_hash: str | None) -> bool:
    if password_hash is None:
        _context.verify(password, _dummy_hash())
        return False
    return _context.verify(password, password_hash)


def needs_rehash(password_hash: str) -> bool:
    return _context.needs_update(password_hash)


def password_problems(password: str, *, min_length: int, username: str | None = None) -> list[str]:
    """Reasons a new password is refused (empty when it is acceptable). Never includes the value."""
    problems: list[str] = []
    if len(password) < min_length:
        problems.append(f"must be at least {min_length} characters")
    if len(password) > 256:
        problems.append("must be at most 256 characters")
    lowered = password.lower()
    if lowered in _common_passwords() or len(set(lowered)) <= 2:
        problems.append("is a commonly used password")
    if username and username.lower() in lowered:
        problems.append("must not contain the username")
    return problems
