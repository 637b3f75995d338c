"""Every forged or broken token is refused with a 401 problem at every one of the four services,
and a good token is accepted by all four."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from jose import jwk, jwt

from services.identity.service import KeyService
from shared.state import Database
from shared.security.keys import decrypt_private_pem, generate_signing_key
from shared.settings import Settings
from tests.helpers import bearer, password_token

SERVICES = ["identity", "records", "disclosure", "reporting"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode()),
                     b64url(signature)])


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode())])
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(signature)


class Forger:
    """Makes tokens with our real signing key (as an attacker who stole nothing cannot) to check
    that every claim rule is enforced, and with public material only (as an attacker can)."""

    def __init__(self, settings: Settings, kid: str, private_pem: str, public_jwk: dict[str, Any],
                 good_claims: dict[str, Any]) -> None:
        self.settings = settings
        self.kid = kid
        self.private_pem = private_pem
        self.public_jwk = public_jwk
        self.good = good_claims

    def claims(self, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {**self.good, "iat": now, "exp": now + 600, "jti": "forged-" + str(now)}
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    def sign(self, claims: dict[str, Any], **headers: Any) -> str:
        return jwt.encode(claims, self.private_pem, algorithm=self.settings.token_algorithm,
                          headers={"kid": self.kid, **headers})

    def public_pem(self) -> bytes:
        return jwk.construct(self.public_jwk, self.settings.token_algorithm).to_pem()

    def public_der(self) -> bytes:
        key = serialization.load_pem_public_key(self.public_pem())
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture
async def forger(client: httpx.AsyncClient, make_user, db: Database, settings: Settings) -> Forger:
    await make_user("forge.target", "state_data_admin")
    good = jwt.get_unverified_claims(await password_token(client, "forge.target"))
    async with db.sessionmaker() as session:
        key, pem = await KeyService(session, settings).signing_key()
    return Forger(settings, key.kid, pem, key.public_jwk, good)


def _other_key_pem(settings: Settings) -> tuple[str, str]:
    generated = generate_signing_key(settings.token_algorithm, b"elsewhere")
    return generated.kid, decrypt_private_pem(generated.private_pem_encrypted, b"elsewhere")


FORMS = {
    "malformed": lambda f: "not-a-jwt",
    "garbage_segments": lambda f: "abc.def.ghi",
    "wrong_audience": lambda f: f.sign(f.claims(aud="some-other-system")),
    "wrong_issuer": lambda f: f.sign(f.claims(iss="https://evil.example")),
    "expired": lambda f: f.sign(f.claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
    "issued_in_future": lambda f: f.sign(f.claims(iat=int(time.time()) + 3600, exp=int(time.time()) + 3900)),
    "lifetime_too_long": lambda f: f.sign(f.claims(exp=int(time.time()) + 86400 * 30)),
    "missing_sub": lambda f: f.sign(f.claims(sub=None)),
    "missing_iat": lambda f: f.sign(f.claims(iat=None)),
    "missing_exp": lambda f: f.sign(f.claims(exp=None)),
    "missing_jti": lambda f: f.sign(f.claims(jti=None)),
    "alg_none": lambda f: unsigned({"alg": "none", "typ": "JWT", "kid": f.kid}, f.claims()),
    "alg_none_no_kid": lambda f: unsigned({"alg": "none"}, f.claims()),
    "hs256_with_public_pem": lambda f: hs256({"alg": "HS256", "kid": f.kid}, f.claims(), f.public_pem()),
    "hs256_with_public_der": lambda f: hs256({"alg": "HS256", "kid": f.kid}, f.claims(), f.public_der()),
    "unknown_kid": lambda f: jwt.encode(f.claims(), _other_key_pem(f.settings)[1],
                                        algorithm=f.settings.token_algorithm, headers={"kid": "no-such-kid"}),
    "own_key_claiming_our_kid": lambda f: jwt.encode(f.claims(), _other_key_pem(f.settings)[1],
                                                     algorithm=f.settings.token_algorithm, headers={"kid": f.kid}),
    "jku_header": lambda f: f.sign(f.claims(), jku="https://evil.example/jwks.json"),
    "x5u_header": lambda f: f.sign(f.claims(), x5u="https://evil.example/cert.pem"),
    "embedded_jwk_header": lambda f: f.sign(f.claims(), jwk=f.public_jwk),
    "tampered_payload": lambda f: _tamper(f.sign(f.claims()), f.claims(role="state_data_admin", sub="user:x")),
    "oversized": lambda f: f.sign(f.claims(padding="x" * 9000)),
    "unknown_kind": lambda f: f.sign(f.claims(kind="robot")),
}


def _tamper(token: str, claims: dict[str, Any]) -> str:
    header, _payload, signature = token.split(".")
    return ".".join([header, b64url(json.dumps(claims).encode()), signature])


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("form", sorted(FORMS))
async def test_forged_token_is_refused(client: httpx.AsyncClient, forger: Forger, service: str, form: str) -> None:
    token = FORMS[form](forger)
    response = await client.get(f"/{service}/v1/whoami", headers=bearer(token))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 401 and body["request_id"]
    assert "Traceback" not in response.text


@pytest.mark.parametrize("service", SERVICES)
async def test_real_token_is_accepted_everywhere(client: httpx.AsyncClient, forger: Forger, service: str) -> None:
    response = await client.get(f"/{service}/v1/whoami", headers=bearer(forger.sign(forger.claims())))
    assert response.status_code == 200, response.text
    assert response.json()["subject"] == forger.good["sub"]
    assert response.json()["service"] == service


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("header", [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer  ", "Token abc"])
async def test_missing_or_wrong_scheme_is_401(client: httpx.AsyncClient, service: str, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = await client.get(f"/{service}/v1/whoami", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
