"""`TokenVerifier` checks a token's signature once and keeps its claims; what time or state can
change is still checked at every use: expiry, the signing key, revocation."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from shared.errors import Unauthorized
from shared.security import tokens
from shared.security.keys import decrypt_private_pem, generate_signing_key
from shared.security.tokens import TokenSubject, TokenVerifier, issue_token

ISSUER, AUDIENCE = "https://identity.test", "slds-test"


class Keys:
    def __init__(self, key: dict[str, Any]) -> None:
        self.published = {key["kid"]: key}

    async def get_key(self, kid: str) -> dict[str, Any] | None:
        return self.published.get(kid)


class Revocations:
    def __init__(self) -> None:
        self.revoked: set[str] = set()

    async def is_revoked(self, subject: str, token_id: str) -> bool:
        return token_id in self.revoked


@pytest.fixture
def signer() -> tuple[str, str, dict[str, Any]]:
    generated = generate_signing_key("ES256", b"test")
    return generated.kid, decrypt_private_pem(generated.private_pem_encrypted, b"test"), generated.public_jwk


def _token(signer: tuple[str, str, dict[str, Any]], lifetime: int = 600) -> tuple[str, Any]:
    kid, pem, _ = signer
    return issue_token(TokenSubject("client:c_1", "client", "service", "ST"), private_pem=pem, kid=kid,
                       algorithm="ES256", issuer=ISSUER, audience=AUDIENCE, lifetime_seconds=lifetime)


def _verifier(keys: Keys, revocations: Revocations) -> TokenVerifier:
    return TokenVerifier(algorithm="ES256", issuer=ISSUER, audience=AUDIENCE, keys=keys, revocations=revocations)


async def test_the_signature_is_checked_once_per_token(signer, monkeypatch: pytest.MonkeyPatch) -> None:
    decodes = []
    decode = tokens.jwt.decode
    monkeypatch.setattr(tokens.jwt, "decode", lambda *a, **kw: decodes.append(1) or decode(*a, **kw))
    verifier = _verifier(Keys(signer[2]), Revocations())
    token, _ = _token(signer)
    for _ in range(3):
        assert (await verifier.verify(token)).subject == "client:c_1"
    assert len(decodes) == 1
    other, _ = _token(signer)
    await verifier.verify(other)
    assert len(decodes) == 2


async def test_a_kept_token_gives_the_same_principal_until_refused(signer) -> None:
    revocations = Revocations()
    verifier = _verifier(Keys(signer[2]), revocations)
    token, claims = _token(signer)
    first = await verifier.verify(token)
    assert await verifier.verify(token) is first  # built once per kept token (it is frozen)
    assert first.subject == "client:c_1" and first.role == "service" and first.token_id == claims.jti
    revocations.revoked.add(claims.jti)
    with pytest.raises(Unauthorized):  # what can change is still checked at every use
        await verifier.verify(token)


async def test_a_kept_token_is_refused_once_revoked(signer) -> None:
    revocations = Revocations()
    verifier = _verifier(Keys(signer[2]), revocations)
    token, claims = _token(signer)
    await verifier.verify(token)
    revocations.revoked.add(claims.jti)
    with pytest.raises(Unauthorized, match="disabled"):
        await verifier.verify(token)


async def test_a_kept_token_is_refused_once_its_key_is_withdrawn_or_changed(signer) -> None:
    keys = Keys(signer[2])
    verifier = _verifier(keys, Revocations())
    token, _ = _token(signer)
    await verifier.verify(token)
    keys.published[signer[0]] = {**generate_signing_key("ES256", b"other").public_jwk, "kid": signer[0]}
    with pytest.raises(Unauthorized, match="not valid"):
        await verifier.verify(token)
    keys.published.clear()
    with pytest.raises(Unauthorized, match="not signed by a key"):
        await verifier.verify(token)
    keys.published[signer[0]] = signer[2]
    await verifier.verify(token)


async def test_a_kept_token_is_refused_once_expired(signer) -> None:
    verifier = _verifier(Keys(signer[2]), Revocations())
    token, claims = _token(signer, lifetime=1)
    await verifier.verify(token)
    await asyncio.sleep(claims.exp + 1.05 - time.time())  # jose compares whole seconds
    with pytest.raises(Unauthorized, match="expired"):
        await verifier.verify(token)
