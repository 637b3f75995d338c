"""Realistic data-entry errors injected into resubmitted rows, each recorded in the ground truth.

The errors are the ones that make identity matching hard in practice: one-letter typos,
nicknames, swapped name fields, day/month confusion, dropped middle names, half of a double
surname, particles and apostrophes written differently, upper-cased and accent-stripped legacy
exports, and fields a district simply did not send. Every applied error is named so a bench can
report which kinds of difference its matcher misses.
"""

from __future__ import annotations

import random
import re
from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

from .config import ErrorRates
from .names import NICKNAMES, strip_accents

# First parts of a hyphenated surname that are particles, not a surname of their own
# ("Al-Sayed" is one surname; "Garcia-Lopez" is two).
PARTICLES = frozenset({"al", "el", "abu", "ben", "bin", "ibn", "ould", "ait", "de", "del", "la", "le", "van", "von", "da", "di", "du", "st.", "o"})
_INNER_CAPITAL = re.compile(r"[a-z][A-Z]")

_KEYBOARD = {
    "q": "wa", "w": "qes", "e": "wrd", "r": "etf", "t": "ryg", "y": "tuh", "u": "yij", "i": "uok", "o": "ipl",
    "p": "ol", "a": "qsz", "s": "adwx", "d": "sfec", "f": "dgrv", "g": "fhtb", "h": "gjyn", "j": "hkum",
    "k": "jli", "l": "kop", "z": "asx", "x": "zsdc", "c": "xdfv", "v": "cfgb", "b": "vghn", "n": "bhjm", "m": "njk",
}


def double_surname_parts(last: str | None) -> tuple[str, str] | None:
    """The two surnames of a hyphenated double surname, else None."""
    if not last or last.count("-") != 1:
        return None
    left, right = last.split("-")
    if len(left) < 2 or len(right) < 2 or left.lower() in PARTICLES or " " in left or " " in right:
        return None
    return left, right


def is_compound(last: str | None) -> bool:
    """A surname whose spacing or punctuation varies between systems."""
    if not last:
        return False
    return any(ch in last for ch in " -'’") or bool(_INNER_CAPITAL.search(last))


def is_eligible(name: str, true_row: Mapping[str, Any], applied: Collection[str] = ()) -> bool:
    """Whether error `name` can occur in a resubmission of `true_row` (a student record or its
    clean first submission), given the errors already `applied` to the same row.

    The configured rate of an error is its frequency among eligible rows; tests use this too.
    """
    first, middle, last = true_row.get("first_name"), true_row.get("middle_name"), true_row.get("last_name")
    if name == "nickname":
        return first in NICKNAMES
    if name in ("middle_dropped",):
        return bool(middle)
    if name == "middle_initial":
        return bool(middle) and len(middle) > 1 and "middle_dropped" not in applied
    if name == "hyphen_surname":
        return double_surname_parts(last) is not None
    if name == "compound_spacing":
        return is_compound(last) and "hyphen_surname" not in applied
    if name == "dob_day_month_swap":
        born = true_row.get("birth_date")
        if not born:
            return False
        d = date.fromisoformat(born)
        return d.day <= 12 and d.day != d.month
    if name == "missing_sex":
        return true_row.get("sex") is not None
    if name == "ssn_missing":
        return bool(true_row.get("ssn"))
    if name == "ssn_typo":
        return bool(true_row.get("ssn")) and "ssn_missing" not in applied
    if name in ErrorRates.names():
        return True
    raise ValueError(f"unknown error type {name!r}")


def one_edit(text: str, rng: random.Random) -> str:
    """`text` with exactly one keyboard-plausible edit to a letter (never the same string)."""
    letters = [i for i, ch in enumerate(text) if ch.isalpha()]
    if not letters:
        return text + "x"
    for _ in range(8):
        op = rng.random()
        i = letters[rng.randrange(len(letters))]
        ch = text[i]
        low = ch.lower()
        if op < 0.35:  # substitute with a neighbouring key
            repl = rng.choice(_KEYBOARD.get(strip_accents(low), "aeiou"))
            out = text[:i] + (repl.upper() if ch.isupper() else repl) + text[i + 1 :]
        elif op < 0.6:  # delete (never the whole name)
            if len(letters) < 3:
                continue
            out = text[:i] + text[i + 1 :]
        elif op < 0.8:  # insert: doubled letter or a neighbour
            extra = low if rng.random() < 0.6 else rng.choice(_KEYBOARD.get(strip_accents(low), "e"))
            out = text[: i + 1] + extra + text[i + 1 :]
        else:  # transpose two adjacent letters
            if i + 1 >= len(text) or not text[i + 1].isalpha() or text[i + 1].lower() == low:
                continue
            a, b = text[i], text[i + 1]
            if i == 0:  # keep the capital at the front
                a, b = a.lower(), b.upper()
            out = text[:i] + b + a + text[i + 2 :]
        if out != text:
            return out
    return text[:-1] + ("a" if text[-1] != "a" else "e")


def _compound_variant(last: str, rng: random.Random) -> str:
    variants: list[str] = []
    letters = "".join(ch for ch in last if ch not in " -'’.")
    if letters:
        variants.append(letters[0].upper() + letters[1:].lower())  # "de la Cruz" -> "Delacruz"
        variants.append(letters[0].upper() + letters[1:])  # "de la Cruz" -> "DelaCruz", "O'Brien" -> "OBrien"
    if " " in last:
        variants.append(last.replace(" ", "-"))
        variants.append(last.split(" ")[-1])  # particle dropped: "Van Buren" -> "Buren"
    if "-" in last:
        variants.append(last.replace("-", " "))
    if "'" in last or "’" in last:
        variants.append(last.replace("'", " ").replace("’", " "))
    if _INNER_CAPITAL.search(last) and " " not in last:
        variants.append(re.sub(r"([a-z])([A-Z])", r"\1 \2", last))  # "McDonald" -> "Mc Donald"
    variants = [v for v in dict.fromkeys(variants) if v and v != last]
    return rng.choice(variants) if variants else last


def _dob_digit_typo(iso: str, rng: random.Random) -> str | None:
    positions = (2, 3, 5, 6, 8, 9)
    weights = (0.05, 0.3, 0.1, 0.15, 0.15, 0.25)
    for _ in range(20):
        pos = rng.choices(positions, weights)[0]
        digit = iso[pos]
        new = str((int(digit) + rng.choice((1, -1, 1, -1, 2, 3))) % 10)
        candidate = iso[:pos] + new + iso[pos + 1 :]
        try:
            date.fromisoformat(candidate)
        except ValueError:
            continue
        if candidate != iso:
            return candidate
    return None


def _case_accents(row: dict[str, Any], rng: random.Random) -> None:
    names = [row["first_name"], row["middle_name"], row["last_name"], *row["guardian_names"]]
    accented = any(n and not n.isascii() for n in names)
    r = rng.random()
    mode = "upper_ascii" if r < 0.5 else "ascii" if r < 0.8 else "upper"
    if mode == "ascii" and not accented:
        mode = "upper_ascii"  # plain ASCII names: only case can change

    def conv(value: str | None) -> str | None:
        if value is None:
            return None
        if mode != "upper":
            value = strip_accents(value)
        return value.upper() if mode != "ascii" else value

    row["first_name"] = conv(row["first_name"])
    row["middle_name"] = conv(row["middle_name"])
    row["last_name"] = conv(row["last_name"])
    row["guardian_names"] = [conv(g) for g in row["guardian_names"]]
    if row.get("suffix"):
        row["suffix"] = row["suffix"].upper() if mode != "ascii" else row["suffix"]


def inject_errors(row: dict[str, Any], rates: ErrorRates, rng: random.Random) -> list[str]:
    """Apply errors to `row` (a clean submission, modified in place); return their names in order.

    Draw order is fixed (field changes first, then swaps, then formatting, then omissions) so
    that a given seed always produces the same row and eligibility stays well defined.
    """
    true = dict(row)
    applied: list[str] = []

    def draw(name: str) -> bool:
        if is_eligible(name, true, applied) and rng.random() < getattr(rates, name):
            applied.append(name)
            return True
        return False

    if draw("nickname"):
        row["first_name"] = rng.choice(NICKNAMES[row["first_name"]])
    if draw("middle_dropped"):
        row["middle_name"] = None
    elif draw("middle_initial"):
        row["middle_name"] = row["middle_name"][0]
    if draw("hyphen_surname"):
        left, right = double_surname_parts(row["last_name"]) or ("", "")
        row["last_name"] = left if rng.random() < 0.6 else right
    elif draw("compound_spacing"):
        row["last_name"] = _compound_variant(row["last_name"], rng)
    if draw("typo"):
        r = rng.random()
        key = "first_name" if r < 0.45 else "middle_name" if r < 0.55 and row["middle_name"] and len(row["middle_name"]) > 1 else "last_name"
        row[key] = one_edit(row[key], rng)
    if draw("dob_day_month_swap"):
        y, m, d = row["birth_date"].split("-")
        row["birth_date"] = f"{y}-{d}-{m}"
    if is_eligible("dob_digit_typo", true, applied) and rng.random() < rates.dob_digit_typo:
        changed = _dob_digit_typo(row["birth_date"], rng)
        if changed is not None:
            row["birth_date"] = changed
            applied.append("dob_digit_typo")
    if draw("name_swap"):
        row["first_name"], row["last_name"] = row["last_name"], row["first_name"]
    if draw("case_accents"):
        _case_accents(row, rng)
    if draw("missing_sex"):
        row["sex"] = None
    if draw("missing_races"):
        row["races"] = []
    if draw("missing_guardians"):
        row["guardian_names"] = []
    if draw("missing_address"):
        row["address"] = None
        row["postal_code"] = None
    if draw("ssn_missing"):
        row["ssn"] = None
    elif draw("ssn_typo"):
        ssn = row["ssn"]
        pos = rng.randrange(9)
        row["ssn"] = ssn[:pos] + str((int(ssn[pos]) + rng.randint(1, 9)) % 10) + ssn[pos + 1 :]
    return applied
