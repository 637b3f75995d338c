"""Signing keys: generated with `cryptography`, kept encrypted at rest, published as a JWK set.

Only the identity service holds private keys. Every service verifies with the public JWKs.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    kid: str
    algorithm: str
    private_pem_encrypted: str
    public_jwk: dict[str, Any]


def generate_signing_key(algorithm: str, secret: bytes) -> GeneratedKey:
    if algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    elif algorithm == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    else:  # pragma: no cover - settings allow only the two above
        raise ValueError(f"unsupported algorithm {algorithm}")
    kid = secrets.token_urlsafe(12)
    encrypted = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(secret),
    ).decode()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public = jwk.construct(public_pem, algorithm).to_dict()
    public.update({"kid": kid, "alg": algorithm, "use": "sig"})
    return GeneratedKey(kid, algorithm, encrypted, public)


def decrypt_private_pem(encrypted_pem: str, secret: bytes) -> str:
    key = serialization.load_pem_private_key(encrypted_pem.encode(), password=secret)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
