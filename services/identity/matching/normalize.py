"""Name normalisation for matching: what two spellings of the same name have in common.

Everything here is a pure function of one string and cached, because the same names recur across
hundreds of thousands of persons and resolve compares one submission with many candidates.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from nicknames import NickNamer

# Letters that NFKD does not decompose into a base letter plus accents.
_FOLD = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ı": "i"})
_APOSTROPHES = re.compile(r"['’‘ʼ`´]")
_SEPARATORS = re.compile(r"[\W_]+")  # anything but letters (any script) and digits

# Lowercase words that join a surname without being one of its parts ("de la Cruz", "Van Buren").
# Not "le", "do", "lo": those are Vietnamese and Chinese surnames ("Nguyen Le") as well.
SURNAME_PARTICLES = frozenset({
    "al", "bin", "da", "das", "de", "del", "della", "den", "der", "des", "di", "dos", "du", "el",
    "ibn", "la", "las", "les", "los", "st", "ste", "saint", "ten", "ter", "van", "vande", "vander",
    "von", "y",
})

# Generational suffixes, spelled the ways districts send them, to one form each.
SUFFIXES = {"jr": "jr", "junior": "jr", "sr": "sr", "senior": "sr", "ii": "ii", "2nd": "ii",
            "iii": "iii", "3rd": "iii", "iv": "iv", "4th": "iv", "v": "v", "5th": "v"}


@lru_cache(maxsize=200_000)
def normalize_name(text: str) -> str:
    """Lowercase ASCII-folded words: "José O'Brien-Núñez" -> "jose obrien nunez"."""
    # apostrophes go first: NFKD would split "´" into a space and an accent
    folded = _APOSTROPHES.sub("", text).casefold()
    if not folded.isascii():  # ASCII has nothing to decompose or fold: most names skip this
        decomposed = unicodedata.normalize("NFKD", folded)
        folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).translate(_FOLD)
    return " ".join(_SEPARATORS.sub(" ", folded).split())


def spelled_name(text: str) -> str:
    """A name as written, for "is this the same spelling": case, apostrophes and punctuation
    ignored, accents kept ("Zoë" and "Zoe" are two spellings; "ZOË" and "zoë" are one)."""
    folded = unicodedata.normalize("NFC", _APOSTROPHES.sub("", text).casefold())
    return " ".join(_SEPARATORS.sub(" ", folded).split())


@lru_cache(maxsize=200_000)
def is_blank_name(text: str) -> bool:
    """True when nothing usable is left after normalisation ("!!!", " - ", "123")."""
    return not any(ch.isalpha() for ch in normalize_name(text))


@lru_cache(maxsize=200_000)
def surname_parts(last: str) -> tuple[str, ...]:
    """The parts a surname can be shortened to: "Garcia-Lopez" -> ("garcia", "lopez"),
    "de la Cruz" -> ("cruz",), "Van Buren" -> ("buren",); particles only when nothing else is left."""
    words = normalize_name(last).split()
    parts = tuple(word for word in words if word not in SURNAME_PARTICLES)
    return parts or tuple(words)


@lru_cache(maxsize=200_000)
def split_suffix(last: str) -> tuple[str, str | None]:
    """A generational suffix typed into the surname ("Smith Jr.") -> ("smith", "jr")."""
    words = normalize_name(last).split()
    if len(words) > 1 and words[-1] in SUFFIXES:
        return " ".join(words[:-1]), SUFFIXES[words[-1]]
    return " ".join(words), None


def normalize_suffix(text: str | None) -> str | None:
    if text is None:
        return None
    word = normalize_name(text).replace(" ", "")
    return SUFFIXES.get(word, word) or None


@lru_cache(maxsize=1)
def _nicknamer() -> NickNamer:
    return NickNamer()


@lru_cache(maxsize=100_000)
def given_name_equivalents(first: str) -> frozenset[str]:
    """The name itself, its nicknames and the names it is a nickname of ("bill" -> william, will,
    ...). One hop only: two nicknames of different names ("Bill", "Bob") stay apart, which keeps
    twins William and Robert from looking like one child."""
    name = normalize_name(first).replace(" ", "")
    if not name:
        return frozenset()
    namer = _nicknamer()
    return frozenset({name} | namer.nicknames_of(name) | namer.canonicals_of(name))


@lru_cache(maxsize=100_000)
def given_name_roots(first: str) -> frozenset[str]:
    """Names a given name may be short for, and itself: a nickname and its full name share one."""
    name = normalize_name(first).replace(" ", "")
    if not name:
        return frozenset()
    return frozenset({name} | _nicknamer().canonicals_of(name))
