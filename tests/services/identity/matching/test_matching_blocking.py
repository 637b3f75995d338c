"""Blocking keys: the same person under each kind of error still shares a key with the stored
record; unrelated people do not; keys stay few and selective."""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import faker.providers.person.en_US as en_names
import pytest

from services.identity.matching import PersonFacts, blocking_keys

STORED = PersonFacts(
    first_name="William", middle_name="James", last_name="Garcia-Lopez", birth_date=date(2011, 3, 4), sex="M",
    guardian_names=("Ana Garcia",), ssn_hash="c" * 64, address="12 Elm St", postal_code="78701",
)
KEY = re.compile(r"^(s|d|n|md|ym|k|x)\|\S+$")


@pytest.mark.parametrize("changes", [
    {},
    {"ssn_hash": None},
    {"first_name": "WILLIAM", "last_name": "garcia lopez"},
    {"first_name": "Bill"},                                           # nickname
    {"first_name": "Wiliam"},                                         # typo in the first name
    {"first_name": "Xilliam"},                                        # typo in its first letter
    {"last_name": "Garsia-Lopez"},                                    # typo in the surname
    {"last_name": "Harcia-Lopez"},                                    # typo in its first letter
    {"first_name": "Garcia-Lopez", "last_name": "William"},           # swapped names
    {"last_name": "Garcia"},                                          # hyphen part dropped
    {"last_name": "Lopez"},
    {"last_name": "Smith"},                                           # surname changed
    {"birth_date": date(2011, 4, 3)},                                 # day/month swapped
    {"birth_date": date(2011, 3, 14)},                                # day typo
    {"birth_date": date(2011, 8, 4)},                                 # month typo
    {"birth_date": date(2010, 3, 4)},                                 # year one off
    {"birth_date": None},                                             # missing birth date
    {"first_name": "Bill", "birth_date": date(2011, 3, 5)},           # nickname and a date typo
    {"last_name": "Garcia", "birth_date": date(2011, 3, 14)},         # hyphen change and a date typo
    {"first_name": "Wiliam", "birth_date": date(2010, 3, 4)},         # name typo and a year typo
    {"first_name": "Wilxiam", "birth_date": date(2011, 3, 5)},        # name typo and a day typo
    {"last_name": "Gaxcia-Lopez", "birth_date": date(2011, 3, 3)},     # surname typo and a day typo
    {"first_name": "Garcia", "last_name": "William", "birth_date": date(2011, 4, 3)},  # swapped names and date
    {"first_name": "Wiliam", "birth_date": None},                     # typo and no date
])
def test_same_person_shares_a_key(changes: dict[str, Any]) -> None:
    stored = replace(STORED, ssn_hash=None) if changes else STORED
    assert blocking_keys(stored) & blocking_keys(replace(STORED, **changes))


def test_ssn_alone_finds_the_person() -> None:
    other = PersonFacts(first_name="Zed", last_name="Quincy", birth_date=date(2001, 1, 1), ssn_hash=STORED.ssn_hash)
    assert blocking_keys(STORED) & blocking_keys(other) == {f"s|{STORED.ssn_hash}"}


def test_unrelated_people_share_no_key() -> None:
    other = PersonFacts(first_name="Olivia", last_name="Nguyen", birth_date=date(2011, 3, 5), ssn_hash="d" * 64)
    assert not blocking_keys(STORED) & blocking_keys(other)


def test_keys_are_short_prefixed_and_deterministic() -> None:
    long_name = replace(STORED, first_name="Maximiliano Alejandro", last_name="Wolfeschlegelsteinhausen-Bergerdorff")
    for person in (STORED, long_name, replace(STORED, birth_date=None), replace(STORED, first_name="王小明")):
        keys = blocking_keys(person)
        assert keys == blocking_keys(replace(person))
        assert all(KEY.match(k) and len(k) <= 96 for k in keys), keys
        assert 3 <= len(keys) <= 30
    # a day/month-ambiguous date is filed under both readings
    assert {"d|20110304|f:w", "d|20110403|f:w", "d|20110304|l:g", "d|20110304|l:l"} <= blocking_keys(STORED)
    assert "d|20111312|f:w" not in blocking_keys(replace(STORED, birth_date=date(2011, 12, 13)))


def _population(n: int, seed: int) -> list[PersonFacts]:
    r = random.Random(seed)
    provider = en_names.Provider
    firsts = {"F": provider.first_names_female, "M": provider.first_names_male}
    pools = {sex: (list(names), list(itertools.accumulate(names.values()))) for sex, names in firsts.items()}
    lasts, last_weights = list(provider.last_names), list(itertools.accumulate(provider.last_names.values()))
    people = []
    for _ in range(n):
        sex = r.choice("FM")
        people.append(PersonFacts(
            first_name=r.choices(pools[sex][0], cum_weights=pools[sex][1])[0],
            last_name=r.choices(lasts, cum_weights=last_weights)[0],
            birth_date=date(2006, 1, 1) + timedelta(days=r.randrange(13 * 365)), sex=sex))
    return people


def test_candidate_sets_stay_small() -> None:
    """US name frequencies, 13 birth cohorts: no key is shared by a noticeable share of persons, and a
    query meets few candidates (about 50x this at 1,000,000 persons)."""
    people = _population(20_000, seed=7)
    index: dict[str, set[int]] = {}
    for i, person in enumerate(people):
        for key in blocking_keys(person):
            index.setdefault(key, set()).add(i)
    assert max(len(ids) for ids in index.values()) < 0.005 * len(people)
    sizes = [len(set().union(*(index.get(k, set()) for k in blocking_keys(q)))) for q in _population(500, seed=8)]
    assert sum(sizes) / len(sizes) < 4
    per_prefix = Counter(k.split("|")[0] for person in people[:1000] for k in blocking_keys(person))
    assert per_prefix["d"] <= 4 * 1000 and sum(per_prefix.values()) <= 15 * 1000
