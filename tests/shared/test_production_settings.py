"""A production deployment refuses to start on development defaults: no or a short or placeholder
deployment secret, the embedded SQLite database, the example token issuer (issue 8)."""

from __future__ import annotations

import pytest

from services.gateway import APP_FACTORIES
from shared.settings import Settings

GOOD = {"environment": "production", "secret_key": "q8Vh2nR5tZ1wK7mX3cJ9pL4sD6fG0bYa",
        "database_url": "postgresql+asyncpg://slds@db/slds", "token_issuer": "https://slds.state.example/identity"}


@pytest.mark.parametrize(("override", "complaint"), [
    ({"secret_key": None}, "SLDS_SECRET_KEY must be set"),
    ({"secret_key": "tooShort123"}, "SLDS_SECRET_KEY must be set"),
    ({"secret_key": "change-me-change-me-change-me-change-me"}, "placeholder"),
    ({"database_url": ""}, "SLDS_DATABASE_URL"),
    ({"token_issuer": "https://slds.example.gov/identity"}, "SLDS_TOKEN_ISSUER"),
])
def test_production_refuses_development_defaults(override: dict, complaint: str) -> None:
    problems = Settings(**{**GOOD, **override}).production_problems()
    assert any(complaint in p for p in problems)
    assert not any(str(override.get("secret_key")) in p for p in problems if override.get("secret_key"))  # no echo


def test_a_proper_production_configuration_and_development_have_no_problems() -> None:
    assert Settings(**GOOD).production_problems() == []
    assert Settings(environment="development").production_problems() == []


@pytest.mark.parametrize("service", sorted(APP_FACTORIES))
async def test_every_service_refuses_to_start(service: str) -> None:
    app = APP_FACTORIES[service](Settings(**{**GOOD, "secret_key": "password-password-password-password"}))
    with pytest.raises(RuntimeError, match="Refusing to start in production"):
        async with app.router.lifespan_context(app):
            pass
