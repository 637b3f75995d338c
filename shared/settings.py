"""Settings for every service, read from `SLDS_*` environment variables (pydantic-settings).

The defaults are the embedded developer setup: SQLite under ./var, the four services mounted in
one process. Production sets `SLDS_DATABASE_URL` (PostgreSQL), `SLDS_SECRET_KEY` and the URLs.
"""

from __future__ import annotations

import secrets
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, PrivateAttr, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SERVICE_NAMES = ("identity", "records", "disclosure", "reporting")
DEFAULT_ISSUER = "https://slds.example.gov/identity"
MIN_SECRET_KEY_LENGTH = 32
PLACEHOLDER_SECRETS = ("change", "secret", "example", "default", "password", "test", "xxxx")
ServiceName = Literal["identity", "records", "disclosure", "reporting"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLDS_", extra="ignore")
    # The development secret as read from each var_dir's file (by path: a copy with another
    # var_dir reads its own).
    _generated_secrets: dict[Path, bytes] = PrivateAttr(default_factory=dict)

    environment: Literal["development", "test", "production"] = "development"
    var_dir: Path = Path("var")
    database_url: str = ""  # empty: sqlite+aiosqlite:///<var_dir>/slds.db
    database_echo: bool = False

    # Key that encrypts signing keys at rest and keys the SSN hash. Required in production; in
    # development it is generated once into var/secret.key so restarts keep working.
    secret_key: SecretStr | None = None

    # Tokens. One audience for all four services: one token works at every one of them.
    token_issuer: str = DEFAULT_ISSUER
    token_audience: str = "slds"
    token_algorithm: Literal["ES256", "RS256"] = "ES256"
    user_token_seconds: int = Field(default=900, ge=60, le=3600)
    client_token_seconds: int = Field(default=3600, ge=60, le=3600)
    client_live_tokens_max: int = Field(default=5, ge=1)  # older live tokens of a client are revoked
    max_token_bytes: int = 8192
    jwks_cache_seconds: float = 300.0
    jwks_min_refresh_seconds: float = 5.0  # unknown kid: refetch at most this often
    revocation_cache_seconds: float = 5.0  # a disabled account is refused everywhere within this

    # Where the services find identity and disclosure. Empty: in-process (the services run
    # mounted together). Apart, every service needs both (keys and revocations from identity; bans,
    # agreements and the disclosure log from disclosure).
    identity_url: str = ""
    disclosure_url: str = ""
    # Where disclosure reads the records access log for a breach's exposure (apart only).
    records_url: str = ""

    # People's passwords (NIST 800-63B by default; a state policy may turn on forced expiry).
    password_min_length: int = 12
    password_max_age_days: int | None = None  # e.g. 90 where a state policy requires it
    # A second factor (TOTP) for people: when on, level 1 and 2 roles need one to get a token.
    require_second_factor: bool = False
    # NDA and privacy training (issue 9; Utah plan 4, 4.4): a person in a staff role reaches no
    # student PII (aggregates only) without a signed NDA and a training completed within
    # `training_valid_days`; `nda_required_version` set: only signatures of that version count
    # (unset: any signed version). Judged at each token (user tokens live 15 minutes). Off
    # (`require_clearance=false`) for a deployment that tracks training elsewhere.
    require_clearance: bool = True
    training_valid_days: int = Field(default=365, ge=1, le=3650)
    nda_required_version: str | None = Field(default=None, max_length=50)

    # Request rate limits (shared/ratelimit.py): per principal per service, per client address on
    # the token endpoint; 0 turns one off. Storage "async+memory://" counts per process,
    # "async+redis://host:6379" across processes.
    rate_limit_per_minute: int = Field(default=12000, ge=0)
    token_requests_per_minute: int = Field(default=300, ge=0)
    rate_limit_storage: str = "async+memory://"

    # Deprovisioning (issue 8; the Illuminate 2022 breach used credentials idle for years): a
    # person or client unused for this many days is disabled at its next login, and
    # `slds accounts stale --disable` sweeps them all. None turns it off.
    account_idle_days: int | None = Field(default=180, ge=1)
    login_lockout_threshold: int = 5
    login_lockout_minutes: int = 15

    # Identity matching: a re-estimated model (`slds identity estimate`) and the decision
    # thresholds on the match probability. Unset: the shipped default model and thresholds.
    match_model_path: str | None = None
    match_upper_threshold: float | None = Field(default=None, gt=0, lt=1)
    match_lower_threshold: float | None = Field(default=None, gt=0, lt=1)

    # Run the identity batch worker inside the identity process (tests drive it by hand).
    batch_worker: bool = True
    # Batch worker processes `slds serve` starts on PostgreSQL, each taking the rows of its share
    # of birth years (services/identity/batch.py: `Partition`). Two loaded 1,000,000 students in
    # 504 s against one's 798 s on 2 cores (docs/benchmarks.md); 1 resolves every row in order.
    batch_workers: int = Field(default=2, ge=1, le=16)

    # Records: the volume alarm (a caller reading more student records than this in a clock hour
    # is refused with 429 and an alert is logged), and the rows one bulk request may carry.
    records_reads_per_hour: int = Field(default=20000, ge=1)
    records_bulk_max_rows: int = Field(default=10000, ge=1)
    # The records retention schedule (`slds retention run`); see services/records/retention.py.
    records_discipline_years: int = Field(default=3, ge=1)
    records_archive_after_years: int = Field(default=5, ge=1)
    records_destroy_after_years: int = Field(default=7, ge=1)
    # The longest access beyond a role an access request may ask for or be granted (days).
    records_access_grant_max_days: int = Field(default=365, ge=1, le=3650)
    # People's requests and their clocks (services/records/people_requests.py,
    # services/disclosure/public_records.py): FERPA 99.10(b) inspection within 45 calendar days
    # (a state may promise less); amendments decided "within a reasonable time" (99.20(b)), here
    # in calendar days; Missouri 610.023.3: a public records request acted on by the end of the
    # third business day after it was received.
    records_inspection_response_days: int = Field(default=45, ge=1, le=45)
    records_amendment_response_days: int = Field(default=30, ge=1, le=365)
    public_records_response_business_days: int = Field(default=3, ge=1, le=3)
    # De-identified student-level extracts (services/reporting/extracts.py): the smallest k a
    # request may ask for, and the share of rows that may be suppressed instead of generalising
    # every row further (0: generalise until no row is left in a class smaller than k).
    extract_min_k: int = Field(default=10, ge=2, le=1000)
    extract_max_suppressed_fraction: float = Field(default=0.05, ge=0, le=0.5)

    # Paging.
    # Statutory clocks: holidays beyond shared/policy/data/calendar.toml (ISO dates, comma-separated).
    extra_holidays: Annotated[list[date], NoDecode] = Field(default_factory=list)

    @field_validator("extra_holidays", mode="before")
    @classmethod
    def _comma_separated_dates(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    page_limit_default: int = 50
    page_limit_max: int = 500

    log_level: str = "INFO"
    # Worker processes `slds serve` runs per service (uvicorn's, sharing one listening socket):
    # one per core is the usual choice on PostgreSQL. SQLite allows only 1.
    workers: int = Field(default=1, ge=1, le=64)
    # FastAPI's own OpenTelemetry instrumentation (a span, metrics and a log record per request,
    # sent to the providers OpenTelemetry is configured with). Off unless asked for: even with no
    # provider configured it looks for one on every request, a few percent of a record read's CPU.
    opentelemetry: bool = False

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.var_dir / 'slds.db').as_posix()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    def resolved_secret_key(self) -> bytes:
        """The deployment secret; generated into var/secret.key outside production."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        if self.environment == "production":
            raise RuntimeError("SLDS_SECRET_KEY must be set in production")
        path = self.var_dir / "secret.key"
        if path in self._generated_secrets:  # read once: the SSN hash asks for it on every row
            return self._generated_secrets[path]
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        secret = self._generated_secrets[path] = path.read_text().strip().encode()
        return secret


    def production_problems(self) -> list[str]:
        """Why this configuration must not serve real data (empty outside production, or when
        fine): a missing, short or placeholder deployment secret, the embedded SQLite database,
        or the example token issuer. Every service refuses to start on any of them."""
        if self.environment != "production":
            return []
        problems = []
        key = self.secret_key.get_secret_value() if self.secret_key is not None else ""
        if len(key) < MIN_SECRET_KEY_LENGTH:
            problems.append(f"SLDS_SECRET_KEY must be set to at least {MIN_SECRET_KEY_LENGTH} random characters")
        elif any(word in key.lower() for word in PLACEHOLDER_SECRETS):
            problems.append("SLDS_SECRET_KEY looks like a placeholder; generate one (e.g. openssl rand -base64 48)")
        if self.is_sqlite:
            problems.append("SLDS_DATABASE_URL must name PostgreSQL (SQLite is the embedded development default)")
        if self.token_issuer == DEFAULT_ISSUER:
            problems.append("SLDS_TOKEN_ISSUER must be the deployment's own URL, not the example")
        return problems


@lru_cache
def get_settings() -> Settings:
    return Settings()
