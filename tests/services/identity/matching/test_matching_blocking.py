"""Blocking keys: the same person under each kind of error still shares a key with the stored
record (the keys looked up for one meet the keys stored for the other, either way round); unrelated
people do not; keys stay few and selective, and blocks stay small as the state grows."""

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

from services.identity.matching import PersonFacts, blocking_keys, lookup_keys

STORED = PersonFacts(
    first_name="William", middle_name="James", last_name="Garcia-Lopez", birth_date=date(2011, 3, 4), sex="M",
    guardian_names=("Ana Garcia",), ssn_hash="c" * 64, address="12 Elm St", postal_code="78701",
)
KEY = re.compile(r"^(s|dn|n|md|ym|k|x|xu)\|\S+$")


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
    {"first_name": "Bill", "last_name": "Garsia-Lopez"},              # nickname and a surname typo
    {"first_name": "Xilliam", "last_name": "Garcia"},                 # first-letter typo, hyphen part
])
def test_same_person_shares_a_key(changes: dict[str, Any]) -> None:
    stored = replace(STORED, ssn_hash=None) if changes else STORED
    submitted = replace(STORED, **changes)
    assert blocking_keys(stored) & lookup_keys(submitted)
    assert lookup_keys(stored) & blocking_keys(submitted)  # the other way round


def test_a_dated_submission_meets_namesakes_only_without_a_date() -> None:
    """Names alone reach every namesake in the state: a submission with a birth date looks them up
    only among persons stored without one; a submission without a date among everyone."""
    namesake = replace(STORED, ssn_hash=None, middle_name=None, birth_date=date(2014, 9, 21))
    submitted = replace(STORED, ssn_hash=None)
    assert not blocking_keys(namesake) & lookup_keys(submitted)
    assert blocking_keys(replace(namesake, birth_date=None)) & lookup_keys(submitted)
    assert blocking_keys(namesake) & lookup_keys(replace(submitted, birth_date=None))


def test_ssn_alone_finds_the_person() -> None:
    other = PersonFacts(first_name="Zed", last_name="Quincy", birth_date=date(2001, 1, 1), ssn_hash=STORED.ssn_hash)
    assert blocking_keys(STORED) & blocking_keys(other) == {f"s|{STORED.ssn_hash}"}


def test_unrelated_people_share_no_key() -> None:
    other = PersonFacts(first_name="Olivia", last_name="Nguyen", birth_date=date(2011, 3, 5), ssn_hash="d" * 64)
    assert not blocking_keys(STORED) & blocking_keys(other)


def test_keys_are_short_prefixed_and_deterministic() -> None:
    long_name = replace(STORED, first_name="Maximiliano Alejandro", last_name="Wolfeschlegelsteinhausen-Bergerdorff")
    for person in (STORED, long_name, replace(STORED, birth_date=None), replace(STORED, first_name="王小明")):
        for make in (blocking_keys, lookup_keys):
            keys = make(person)
            assert keys == make(replace(person))
            assert all(KEY.match(k) and len(k) <= 96 for k in keys), keys
            assert 3 <= len(keys) <= 30
    # the date with each name's code; a day/month-ambiguous date is looked up under both readings
    assert {"dn|20110304|WLM", "dn|20110304|KRX", "dn|20110304|LPS", "dn|20110304|KRXLPS"} <= blocking_keys(STORED)
    assert {"dn|20110304|WLM", "dn|20110403|WLM"} <= lookup_keys(STORED)
    assert "dn|20111312|WLM" not in lookup_keys(replace(STORED, birth_date=date(2011, 12, 13)))


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
    query meets few candidates (about 50x this at 1,000,000 persons: still a handful)."""
    people = _population(20_000, seed=7)
    index: dict[str, set[int]] = {}
    for i, person in enumerate(people):
        for key in blocking_keys(person):
            index.setdefault(key, set()).add(i)
    assert max(len(ids) for ids in index.values()) < 0.005 * len(people)
    sizes = [len(set().union(*(index.get(k, set()) for k in lookup_keys(q)))) for q in _population(500, seed=8)]
    assert sum(sizes) / len(sizes) < 0.5  # 0.16 (with initials and everyone's name-only keys: 1.5)
    per_prefix = Counter(k.split("|")[0] for person in people[:1000] for k in blocking_keys(person))
    assert per_prefix["dn"] <= 8 * 1000 and sum(per_prefix.values()) <= 15 * 1000

