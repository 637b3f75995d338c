"""What identity compares about a person. Built by the identity service from a resolve request
(the SSN already replaced by its keyed hash: the SSN itself never reaches matching)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class PersonFacts:
    first_name: str
    last_name: str
    birth_date: date | None
    middle_name: str | None = None
    suffix: str | None = None  # "Jr", "III", ...
    sex: str | None = None  # code set "sex": F, M, X
    hispanic_latino: bool | None = None
    races: frozenset[str] = frozenset()  # code set "race": AM, AS, BL, PI, WH
    guardian_names: tuple[str, ...] = ()  # "First Last" of each parent or guardian
    ssn_hash: str | None = None  # keyed hash (HMAC) of the 9 digits
    birthplace: str | None = None  # free text: city, state or country
    address: str | None = None  # street address line, free text
    postal_code: str | None = None
