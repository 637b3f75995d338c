"""Request rate limits (issue 8, OWASP API4): per principal on every authenticated call, and per
client address on the token endpoint (password guessing is also stopped by the account lockout).

`limits` (a maintained library, the one slowapi builds on) with the moving-window strategy: no
burst at window edges. Its storage is in process by default, so with several processes each
counts apart; `SLDS_RATE_LIMIT_STORAGE=async+redis://host:6379` shares one count. Over the limit:
429 problem+json with `Retry-After`. The per-principal hourly *record* quota of the records
service (`SLDS_RECORDS_READS_PER_HOUR`) is the separate guard against bulk exfiltration.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from shared.errors import TooManyRequests
from shared.settings import Settings


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(settings.rate_limit_storage))
        self._per_principal = _per_minute(settings.rate_limit_per_minute)
        self._per_token_client = _per_minute(settings.token_requests_per_minute)

    async def charge_principal(self, service: str, subject: str) -> None:
        await self._charge(self._per_principal, service, "principal", subject)

    async def charge_token_request(self, address: str) -> None:
        await self._charge(self._per_token_client, "identity", "token", address)

    async def _charge(self, item: RateLimitItem | None, *key: str) -> None:
        if item is None or await self._limiter.hit(item, *key):
            return
        stats = await self._limiter.get_window_stats(item, *key)
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        raise TooManyRequests(f"More than {item.amount} requests a minute; try again in {retry} s.",
                              headers={"Retry-After": str(retry)})


def _per_minute(amount: int | None) -> RateLimitItem | None:
    return RateLimitItemPerMinute(amount) if amount else None
