"""Blocking keys: short strings stored per person and looked up for a submission, so that only the
persons sharing at least one key are scored.

Every rule tolerates some errors and the rules overlap, so a true match is found unless errors hit
every rule at once. One key prefix per rule (a sorted pair means either name order):

  s|<ssn hash>                         the SSN alone
  dn|<yyyymmdd>|<name code>            birth date and one name by sound: the given name, the
                                       surname and each surname part (the same prefix for all, so
                                       swapped name fields meet too); looked up also under the
                                       day/month-swapped date. Survives any error in the other name
                                       (a nickname, a new surname, a typo in its first letter, a
                                       dropped hyphen part).
  n|<sorted metaphones>|<yyyy>         first and last name (and each surname part) by sound, and the
                                       birth year: survives month/day typos, day/month swaps and
                                       swapped names.
  md|<sorted metaphones>|<mmdd>        the same without the year: survives a year typo.
  ym|<yyyymm>|<first 2>|<last 2>       year and month, and the first two letters of each name: a
                                       typo in each name (or one that changes its sound) together
                                       with a wrong day.
  k|<root>|<last metaphone>|<yyyy>     each name the first name may be short for (Bill -> william):
                                       a nickname together with a birth-date error.
  x|<sorted metaphones>                names by sound only: what a submission without a birth date
                                       looks up (stored for everyone).
  xu|<sorted metaphones>               the same, stored only for persons without a birth date:
                                       what a dated submission looks up to find them.

`blocking_keys` are the keys stored for a person, `lookup_keys` those looked up for a submission.
They differ in the name-only families, so that a dated submission does not meet every namesake in
the state (an "x" block grows with the whole population, a few hundred persons for the commonest
name pairs at 1,000,000) while an undated one still finds them all; and in the swapped date, which
only the lookup needs (storing it too found the same persons with more keys to write).

Every key but "s", "x" and "xu" joins a birth date, or a year, with a name, and no key is a bare
year, letter or surname. The keys that join the full date join it with a whole name code (not an
initial): per date a block holds the persons of that date with one name in common, which stays a
handful at a million persons (an initial's block held ~20 and grew with the state). On a synthetic
state of 245,000 stored students a submission met 1.5 candidates on average (95th percentile 5;
with initials and the "x" keys looked up by everyone: 14.5, 95th percentile 35).

Changing a rule changes what is stored: a migration must recompute the keys of stored persons
(migrations/versions/*_identity_blocking_keys_by_name_code.py did so for "dn" and "xu").
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from services.identity.matching.features import given_name, surname
from services.identity.matching.normalize import given_name_roots, split_suffix
from services.identity.matching.record import PersonFacts

_CODE = 12  # longest name code kept: keys fit the 96 characters of the key column


def _swapped(day: date) -> date | None:
    if day.day > 12 or day.day == day.month:
        return None
    return day.replace(month=day.day, day=day.month)


@lru_cache(maxsize=65_536)  # a state's students have a few thousand birth dates
def _date_texts(dob: date) -> tuple[str, str | None, str, str, str]:
    """(yyyymmdd, the day/month-swapped yyyymmdd or None, yyyy, mmdd, yyyymm): strftime costs
    microseconds per call, and every row of a batch formats its date five times."""
    swapped = _swapped(dob)
    return (f"{dob:%Y%m%d}", None if swapped is None else f"{swapped:%Y%m%d}", f"{dob:%Y}", f"{dob:%m%d}",
            f"{dob:%Y%m}")


def blocking_keys(p: PersonFacts) -> frozenset[str]:
    """The keys stored for a person."""
    return stored_and_lookup_keys(p)[0]


def lookup_keys(p: PersonFacts) -> frozenset[str]:
    """The keys looked up for a submission: `blocking_keys` with the name-only keys of the other
    side ("xu" for a dated submission, "x" for an undated one) and the day/month-swapped date."""
    return stored_and_lookup_keys(p)[1]


def stored_and_lookup_keys(p: PersonFacts) -> tuple[frozenset[str], frozenset[str]]:
    """(`blocking_keys`, `lookup_keys`) in one pass: they differ only in the name-only keys."""
    first = given_name(p.first_name)
    last = surname(split_suffix(p.last_name)[0])
    keys: set[str] = set()
    if p.ssn_hash:
        keys.add(f"s|{p.ssn_hash}")
    if not first.compact and not last.compact:
        both = frozenset(keys)
        return both, both

    surnames = {last.compact, *last.parts} - {""}
    first_code = (first.metaphone or first.compact)[:_CODE]
    surname_codes = {(surname(s).metaphone or s)[:_CODE] for s in surnames}
    name_pairs = {"|".join(sorted((first_code, code))) for code in surname_codes}
    everyone = {f"x|{pair}" for pair in name_pairs}  # stored for everyone
    undated = {f"xu|{pair}" for pair in name_pairs}  # stored only for persons without a date

    if p.birth_date is None:
        return frozenset(keys | everyone | undated), frozenset(keys | everyone)
    codes = (surname_codes | {first_code}) - {""}
    ymd, swapped, year, month_day, year_month = _date_texts(p.birth_date)
    keys.update(f"dn|{ymd}|{code}" for code in codes)
    # The day/month-swapped reading is looked up, not stored: either record may hold the swap,
    # and looking up both readings of the submission's date meets the stored date either way.
    swapped_keys = set() if swapped is None else {f"dn|{swapped}|{code}" for code in codes}
    keys.update(f"n|{pair}|{year}" for pair in name_pairs)
    keys.update(f"md|{pair}|{month_day}" for pair in name_pairs)
    keys.add(f"ym|{year_month}|{first.compact[:2]}|{last.compact[:2]}")
    last_code = (last.metaphone or last.compact)[:_CODE]
    if first.words:
        roots = given_name_roots(first.words[0])
        keys.update(f"k|{root[:_CODE]}|{last_code}|{year}" for root in roots)
    return frozenset(keys | everyone), frozenset(keys | undated | swapped_keys)
