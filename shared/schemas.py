"""Base for request and response bodies: unknown fields in a request are a 422, not ignored.

Dates and times in requests must be ISO 8601 text. Pydantic would otherwise also read a number
(or a string of digits) as seconds since 1970, so `"found_on": 0` became a ban found on
1 January 1970 (found by fuzzing, issue 8). `IsoDate`/`IsoDateTime` carry the rule for query
parameters; `RequestModel` applies it to every date or datetime field of a body.
"""

from __future__ import annotations

import functools
import re
import types
import typing
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationInfo,
    field_validator,
)

# The largest value a BIGINT column holds: sequence numbers and change versions are compared
# against such columns, so a query parameter above it is a 422, not a database overflow (500).
MAX_BIGINT = 2**63 - 1
MAX_INT32 = 2**31 - 1  # the hash-chained logs' sequence numbers (shared.audit)

_ISO_DATE_START = re.compile(r"^\d{4}-\d{2}-\d{2}")


def iso_text_only(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value
    if not isinstance(value, str) or not _ISO_DATE_START.match(value):
        raise ValueError("must be an ISO 8601 date (YYYY-MM-DD) or date-time")
    return value


IsoDate = Annotated[date, BeforeValidator(iso_text_only)]
def utc_representable(value: datetime) -> datetime:
    """A date-time with an offset must still be a date-time in UTC: `9999-12-31T23:00-05:00` is
    past datetime.max there, and converting it later was a 500 (found by fuzzing)."""
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is out of range once converted to UTC") from None
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(iso_text_only), AfterValidator(utc_representable)]


def _holds_dates(annotation: Any) -> bool:
    if annotation in (date, datetime):
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, typing.Annotated):
        return any(_holds_dates(arg) for arg in typing.get_args(annotation))
    return False


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _dates_are_iso_text(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and info.field_name in _date_fields(cls):
            return iso_text_only(value)
        return value


@functools.cache
def _date_fields(model: type[BaseModel]) -> frozenset[str]:
    """Once per model, not per field of every body: a bulk request validates 10,000 bodies."""
    return frozenset(name for name, spec in model.model_fields.items() if _holds_dates(spec.annotation))


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
