"""Comparison levels: for each field, how well two prepared persons agree, as one named level.

`prepare()` does the expensive work once per person (normalising, phonetic codes, nickname sets);
`compare()` then only compares precomputed values, so scoring hundreds of blocked candidates stays
cheap. A comparison is a tuple of level names in `FIELDS` order: the Fellegi-Sunter gamma vector
that the model weighs and that EM counts.

Names are compared as two fields. When the names agree only crosswise (a's first ~ b's last and
a's last ~ b's first), first_name takes the level "swapped" and carries the evidence of the whole
name pair; last_name then takes the neutral level "swapped" so the same agreement is not counted
twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import jellyfish

from services.identity.matching.normalize import (
    given_name_equivalents,
    normalize_name,
    normalize_suffix,
    split_suffix,
    surname_parts,
)
from services.identity.matching.record import PersonFacts

SIMILAR = 0.92  # Jaro-Winkler at or above this: a typo ("Jonathon"/"Jonathan"), not another name
ADDRESS_SIMILAR = 0.88  # same house number and a street this close: the same street spelled apart


@dataclass(frozen=True, slots=True)
class Field:
    """One compared field: its levels from best to worst agreement; neutral levels weigh 0
    (nothing to compare, or evidence counted elsewhere) and are not estimated."""

    name: str
    levels: tuple[str, ...]
    neutral: frozenset[str] = frozenset({"missing"})


FIELDS: tuple[Field, ...] = (
    Field("first_name",
          ("exact", "nickname", "typo", "phonetic", "initial", "swapped", "different", "missing")),
    Field("last_name", ("exact", "part", "typo", "phonetic", "different", "swapped", "missing"),
          neutral=frozenset({"swapped", "missing"})),
    Field("middle_name", ("exact", "typo", "initial", "different", "missing")),
    Field("birth_date", ("exact", "day_month_swapped", "typo", "year_only", "different", "missing")),
    Field("sex", ("equal", "different", "missing")),
    Field("suffix", ("equal", "different", "missing")),
    Field("races", ("equal", "overlap", "disjoint", "missing")),
    Field("hispanic_latino", ("equal", "different", "missing")),
    Field("guardians", ("common", "none", "missing")),
    Field("ssn", ("equal", "different", "missing")),
    Field("birthplace", ("exact", "partial", "different", "missing")),
    Field("address", ("exact", "similar", "postal_code", "different", "missing")),
)
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)

Comparison = tuple[str, ...]  # one level name per field, in FIELDS order


@dataclass(frozen=True, slots=True)
class GivenName:
    words: tuple[str, ...]
    compact: str  # words joined: "Mary Ann" and "Maryann" are the same name
    metaphone: str
    equivalents: frozenset[str]  # of the first word


@dataclass(frozen=True, slots=True)
class Surname:
    compact: str
    parts: frozenset[str]
    metaphone: str


@dataclass(frozen=True, slots=True)
class Guardian:
    given: GivenName
    surname: Surname  # empty when only one word was given


@dataclass(frozen=True, slots=True)
class Address:
    street: str  # normalised line, "" when absent
    number: str  # house number, "" when none
    rest: str  # the street without the number
    postal: str  # first five digits, "" when absent


@dataclass(frozen=True, slots=True)
class PreparedPerson:
    """Everything `compare` needs, normalised once."""

    first: GivenName
    last: Surname
    middle: GivenName
    suffix: str | None
    birth_date: date | None
    sex: str | None
    hispanic_latino: bool | None
    races: frozenset[str]
    guardians: tuple[Guardian, ...]
    ssn_hash: str | None
    birthplace: tuple[str, frozenset[str]]  # compact, words
    address: Address


def _metaphone(compact: str) -> str:
    return jellyfish.metaphone(compact) if compact.isascii() else compact


@lru_cache(maxsize=200_000)
def given_name(text: str) -> GivenName:
    words = tuple(normalize_name(text).split())
    compact = "".join(words)
    equivalents = given_name_equivalents(words[0]) if words else frozenset()
    return GivenName(words, compact, _metaphone(compact), equivalents)


@lru_cache(maxsize=200_000)
def surname(text: str) -> Surname:
    compact = normalize_name(text).replace(" ", "")
    return Surname(compact, frozenset(surname_parts(text)), _metaphone(compact))


@lru_cache(maxsize=200_000)
def _guardian(text: str) -> Guardian | None:
    words = normalize_name(text).split()
    if not words:
        return None
    return Guardian(given_name(words[0]), surname(" ".join(words[1:])))


_STREET_WORDS = {
    "street": "st", "avenue": "ave", "av": "ave", "road": "rd", "drive": "dr", "lane": "ln",
    "court": "ct", "boulevard": "blvd", "place": "pl", "circle": "cir", "highway": "hwy",
    "parkway": "pkwy", "terrace": "ter", "trail": "trl", "north": "n", "south": "s", "east": "e",
    "west": "w", "apartment": "apt", "unit": "apt", "suite": "ste", "number": "", "no": "",
}


@lru_cache(maxsize=200_000)
def _address(line: str | None, postal_code: str | None) -> Address:
    words = [_STREET_WORDS.get(w, w) for w in normalize_name(line or "").split()]
    words = [w for w in words if w]
    number = words[0] if words and any(ch.isdigit() for ch in words[0]) else ""
    digits = "".join(ch for ch in postal_code or "" if ch.isdigit())[:5]
    return Address(" ".join(words), number, " ".join(words[1:] if number else words), digits)


@lru_cache(maxsize=50_000)
def _place(text: str | None) -> tuple[str, frozenset[str]]:
    words = normalize_name(text or "").split()
    return "".join(words), frozenset(words)


@lru_cache(maxsize=65_536)
def prepare(facts: PersonFacts) -> PreparedPerson:
    """Normalise a person once (cached: resolve prepares the same stored persons again and again)."""
    guardians = tuple(g for g in (_guardian(name) for name in facts.guardian_names) if g is not None)
    return prepare_core(facts, guardians, _place(facts.birthplace), _address(facts.address, facts.postal_code))


HOUSEHOLD_FIELDS = frozenset({"guardians", "birthplace", "address"})  # not in `prepare_core`
_NO_ADDRESS = Address("", "", "", "")
_NO_PLACE: tuple[str, frozenset[str]] = ("", frozenset())


def prepare_core(facts: PersonFacts, guardians: tuple[Guardian, ...] = (),
                 birthplace: tuple[str, frozenset[str]] = _NO_PLACE, address: Address = _NO_ADDRESS) -> PreparedPerson:
    """`prepare` without the household fields (`HOUSEHOLD_FIELDS` compare as "missing"): the
    names, date and codes, from caches keyed by the name texts that recur across a state. The
    guardians and the address are nearly unique per person, so at a million stored persons their
    normalisation misses every cache; a candidate ruled out on the other fields never needs them
    (`MatchModel.ceiling`). `prepare` passes them in (one construction, not a `replace`)."""
    last_text, suffix_in_last = split_suffix(facts.last_name)
    return PreparedPerson(
        first=given_name(facts.first_name),
        last=surname(last_text),
        middle=given_name(facts.middle_name or ""),
        suffix=normalize_suffix(facts.suffix) or suffix_in_last,
        birth_date=facts.birth_date,
        sex=(facts.sex or "").strip().upper() or None,
        hispanic_latino=facts.hispanic_latino,
        races=facts.races,
        guardians=guardians,
        ssn_hash=facts.ssn_hash or None,
        birthplace=birthplace,
        address=address,
    )


# --- per-field levels ----------------------------------------------------------------------


def _close(a: str, b: str) -> bool:
    """One keystroke apart or Jaro-Winkler close: JW alone misses typos in short names ("Roy"/"Roz")."""
    if a == b or jellyfish.jaro_winkler_similarity(a, b) >= SIMILAR:
        return True
    return (min(len(a), len(b)) >= 3 and abs(len(a) - len(b)) <= 1
            and jellyfish.damerau_levenshtein_distance(a, b) == 1)


def _equivalent(a: GivenName, b: GivenName) -> bool:
    """A nickname ("Bill" / "William Henry") or a second given name dropped ("Mary Ann" / "Mary");
    "Mary Ann" / "Mary Beth" are two names."""
    return b.words[0] in a.equivalents and (
        len(a.words) == 1 or len(b.words) == 1 or a.words[1:] == b.words[1:])


def _first_level(a: GivenName, b: GivenName) -> str:
    if a.compact == b.compact:
        return "exact"
    if _equivalent(a, b):
        return "nickname"
    if _close(a.compact, b.compact):
        return "typo"
    if a.metaphone and a.metaphone == b.metaphone:
        return "phonetic"
    if (len(a.compact) == 1 or len(b.compact) == 1) and a.compact[0] == b.compact[0]:
        return "initial"
    return "different"


def _last_level(a: Surname, b: Surname) -> str:
    if a.compact == b.compact:
        return "exact"
    if a.parts & b.parts:
        return "part"
    if _close(a.compact, b.compact):
        return "typo"
    if a.metaphone and a.metaphone == b.metaphone:
        return "phonetic"
    return "different"


def _given_like_surname(given: GivenName, name: Surname) -> bool:
    return given.compact in name.parts or _close(given.compact, name.compact)


def _names(a: PreparedPerson, b: PreparedPerson) -> tuple[str, str]:
    if not a.first.compact or not b.first.compact:
        first = "missing"
    else:
        first = _first_level(a.first, b.first)
    last = "missing" if not a.last.compact or not b.last.compact else _last_level(a.last, b.last)
    if (first == "different" and last != "exact" and a.last.compact and b.last.compact
            and _given_like_surname(a.first, b.last) and _given_like_surname(b.first, a.last)):
        return "swapped", "swapped"
    return first, last


def _middle(a: GivenName, b: GivenName) -> str:
    if not a.compact or not b.compact:
        return "missing"
    if a.compact == b.compact or _equivalent(a, b):
        return "exact"
    if _close(a.compact, b.compact):
        return "typo"
    if (len(a.compact) == 1 or len(b.compact) == 1) and a.compact[0] == b.compact[0]:
        return "initial"
    return "different"  # two full names, even with one initial letter ("Crystal"/"Chelsea")


@lru_cache(maxsize=4096)  # months and days: a few hundred pairs, compared for every candidate
def _near(x: int, y: int, width: int) -> bool:
    """One unit apart, one digit wrong, or two adjacent digits swapped."""
    if abs(x - y) == 1:
        return True
    sx, sy = f"{x:0{width}d}", f"{y:0{width}d}"
    wrong = [i for i in range(width) if sx[i] != sy[i]]
    return len(wrong) == 1 or (len(wrong) == 2 and wrong[1] == wrong[0] + 1
                               and sx[wrong[0]] == sy[wrong[1]] and sx[wrong[1]] == sy[wrong[0]])


def _birth_date(a: date | None, b: date | None) -> str:
    if a is None or b is None:
        return "missing"
    if a == b:
        return "exact"
    if a.year == b.year and a.day == b.month and a.month == b.day:
        return "day_month_swapped"
    same = (a.year == b.year, a.month == b.month, a.day == b.day)
    if sum(same) == 2:
        if not same[0] and abs(a.year - b.year) == 1:  # a one-digit year error is another cohort
            return "typo"
        if not same[1] and _near(a.month, b.month, 2):
            return "typo"
        if not same[2] and _near(a.day, b.day, 2):
            return "typo"
    return "year_only" if same[0] else "different"


def _equal(a: object, b: object) -> str:
    if a is None or b is None:
        return "missing"
    return "equal" if a == b else "different"


def _races(a: frozenset[str], b: frozenset[str]) -> str:
    if not a or not b:
        return "missing"
    if a == b:
        return "equal"
    return "overlap" if a & b else "disjoint"


def _same_guardian(x: Guardian, y: Guardian) -> bool:
    """Same given name (or a nickname or typo of it) and a surname in common (or a typo of it)."""
    if not x.surname.compact or not y.surname.compact:
        return x.given.compact == y.given.compact and x.surname.compact == y.surname.compact
    given = y.given.words[0] in x.given.equivalents or _close(x.given.compact, y.given.compact)
    return given and bool(x.surname.parts & y.surname.parts or _close(x.surname.compact, y.surname.compact))


def _guardians(a: tuple[Guardian, ...], b: tuple[Guardian, ...]) -> str:
    if not a or not b:
        return "missing"
    return "common" if any(_same_guardian(x, y) for x in a for y in b) else "none"


def _birthplace_level(a: tuple[str, frozenset[str]], b: tuple[str, frozenset[str]]) -> str:
    if not a[0] or not b[0]:
        return "missing"
    if a[0] == b[0]:
        return "exact"
    return "partial" if a[1] <= b[1] or b[1] <= a[1] else "different"  # "Austin" / "Austin, TX"


def _address_level(a: Address, b: Address) -> str:
    if a.street and b.street:
        if a.street == b.street:
            return "exact"
        if (a.number and a.number == b.number
                and jellyfish.jaro_winkler_similarity(a.rest, b.rest) >= ADDRESS_SIMILAR):
            return "similar"
    if a.postal and b.postal:
        return "postal_code" if a.postal == b.postal else "different"
    return "different" if a.street and b.street else "missing"


_GUARDIANS, _BIRTHPLACE, _ADDRESS = (FIELD_NAMES.index(n) for n in ("guardians", "birthplace", "address"))


def complete(levels: Comparison, a: PreparedPerson, b: PreparedPerson) -> Comparison:
    """`levels` compared with `prepare_core` of b, completed with the household fields of the
    fully prepared b: equal to `compare(a, b)`, without comparing the names again."""
    done = list(levels)
    done[_GUARDIANS] = _guardians(a.guardians, b.guardians)
    done[_BIRTHPLACE] = _birthplace_level(a.birthplace, b.birthplace)
    done[_ADDRESS] = _address_level(a.address, b.address)
    return tuple(done)


def compare(a: PreparedPerson, b: PreparedPerson) -> Comparison:
    """The comparison vector of two prepared persons (symmetric: compare(a, b) == compare(b, a))."""
    first, last = _names(a, b)
    return (
        first,
        last,
        _middle(a.middle, b.middle),
        _birth_date(a.birth_date, b.birth_date),
        _equal(a.sex, b.sex),
        _equal(a.suffix, b.suffix),
        _races(a.races, b.races),
        _equal(a.hispanic_latino, b.hispanic_latino),
        _guardians(a.guardians, b.guardians),
        _equal(a.ssn_hash, b.ssn_hash),
        _birthplace_level(a.birthplace, b.birthplace),
        _address_level(a.address, b.address),
    )
