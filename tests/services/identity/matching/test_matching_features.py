"""Normalisation and comparison levels, field by field."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from services.identity.matching import (
    FIELDS,
    PersonFacts,
    compare,
    given_name_equivalents,
    is_blank_name,
    normalize_name,
    prepare,
    surname_parts,
)
from services.identity.matching.normalize import normalize_suffix, split_suffix


@pytest.mark.parametrize("text,expected", [
    ("José", "jose"),
    ("JOSE", "jose"),
    ("O'Brien", "obrien"),
    ("D’Angelo", "dangelo"),
    ("O´Brien", "obrien"),
    ("Garcia-Lopez", "garcia lopez"),
    ("  Mary   Ann ", "mary ann"),
    ("Ñúñez, Jr.", "nunez jr"),
    ("Søren Łukasz Strauß", "soren lukasz strauss"),
    ("Zoë-Chloé", "zoe chloe"),
    ("王小明", "王小明"),
])
def test_normalize_name(text: str, expected: str) -> None:
    assert normalize_name(text) == expected


@pytest.mark.parametrize("text,blank", [("!!!", True), (" - ", True), ("", True), ("123", True), ("'", True),
                                        ("A", False), ("Ng", False), ("O'", False)])
def test_is_blank_name(text: str, blank: bool) -> None:
    assert is_blank_name(text) is blank


@pytest.mark.parametrize("last,parts", [
    ("Garcia-Lopez", ("garcia", "lopez")),
    ("de la Cruz", ("cruz",)),
    ("Van Buren", ("buren",)),
    ("Nguyen Tran", ("nguyen", "tran")),
    ("Nguyen Le", ("nguyen", "le")),
    ("Smith", ("smith",)),
    ("De La", ("de", "la")),  # only particles: keep them
])
def test_surname_parts(last: str, parts: tuple[str, ...]) -> None:
    assert surname_parts(last) == parts


def test_suffixes_are_recognised_in_either_field() -> None:
    assert split_suffix("Smith Jr.") == ("smith", "jr")
    assert split_suffix("Junior") == ("junior", None)
    assert normalize_suffix("III") == normalize_suffix("3rd") == "iii"


@pytest.mark.parametrize("a,b", [("Bill", "William"), ("Liz", "Elizabeth"), ("Peggy", "Margaret"),
                                 ("Bob", "Robert"), ("Will", "Bill")])
def test_nicknames_are_equivalent(a: str, b: str) -> None:
    assert normalize_name(b) in given_name_equivalents(a)
    assert normalize_name(a) in given_name_equivalents(b)


@pytest.mark.parametrize("a,b", [("Bill", "Bob"), ("Emma", "Olivia"), ("Christopher", "Christina")])
def test_distinct_names_are_not_equivalent(a: str, b: str) -> None:
    assert normalize_name(b) not in given_name_equivalents(a)


BASE = PersonFacts(first_name="William", middle_name="James", last_name="Garcia-Lopez", birth_date=date(2011, 3, 4),
                   sex="M", hispanic_latino=True, races=frozenset({"WH"}), guardian_names=("Ana Garcia",),
                   ssn_hash="f" * 64, birthplace="Austin, TX", address="12 North Elm Street", postal_code="78701-1234")


def level(field: str, **changes: Any) -> str:
    index = [f.name for f in FIELDS].index(field)
    return compare(prepare(BASE), prepare(replace(BASE, **changes)))[index]


@pytest.mark.parametrize("field,changes,expected", [
    ("first_name", {}, "exact"),
    ("first_name", {"first_name": "WILLIAM"}, "exact"),
    ("first_name", {"first_name": "Bill"}, "nickname"),
    ("first_name", {"first_name": "William Henry"}, "nickname"),
    ("first_name", {"first_name": "Willaim"}, "typo"),
    ("first_name", {"first_name": "Wylliam"}, "typo"),
    ("first_name", {"first_name": "W."}, "initial"),
    ("first_name", {"first_name": "Garcia-Lopez", "last_name": "William"}, "swapped"),
    ("first_name", {"first_name": "Liam"}, "different"),
    ("first_name", {"first_name": "!!"}, "missing"),
    ("last_name", {"last_name": "Garcia Lopez"}, "exact"),
    ("last_name", {"last_name": "Garcia"}, "part"),
    ("last_name", {"last_name": "Lopez-Garcia"}, "part"),
    ("last_name", {"last_name": "Garcia-Lopes"}, "part"),  # one part survives: "part" outweighs "typo"
    ("last_name", {"last_name": "Gracia-Lopes"}, "phonetic"),
    ("last_name", {"last_name": "Smith"}, "different"),
    ("last_name", {"last_name": "Garcia-Lopez Jr"}, "exact"),
    ("last_name", {"first_name": "Garcia-Lopez", "last_name": "William"}, "swapped"),
    ("middle_name", {"middle_name": "Jim"}, "exact"),
    ("middle_name", {"middle_name": "Jmaes"}, "typo"),
    ("middle_name", {"middle_name": "J"}, "initial"),
    ("middle_name", {"middle_name": "John"}, "different"),
    ("middle_name", {"middle_name": None}, "missing"),
    ("birth_date", {"birth_date": date(2011, 4, 3)}, "day_month_swapped"),
    ("birth_date", {"birth_date": date(2011, 3, 14)}, "typo"),
    ("birth_date", {"birth_date": date(2011, 3, 5)}, "typo"),
    ("birth_date", {"birth_date": date(2011, 8, 4)}, "typo"),
    ("birth_date", {"birth_date": date(2010, 3, 4)}, "typo"),
    ("birth_date", {"birth_date": date(2014, 3, 4)}, "different"),  # a one-digit year error is another cohort
    ("birth_date", {"birth_date": date(2011, 9, 27)}, "year_only"),
    ("birth_date", {"birth_date": date(2012, 9, 27)}, "different"),
    ("birth_date", {"birth_date": None}, "missing"),
    ("sex", {"sex": "F"}, "different"),
    ("sex", {"sex": None}, "missing"),
    ("suffix", {"suffix": "Jr"}, "missing"),
    ("races", {"races": frozenset({"WH", "AS"})}, "overlap"),
    ("races", {"races": frozenset({"BL"})}, "disjoint"),
    ("races", {"races": frozenset()}, "missing"),
    ("hispanic_latino", {"hispanic_latino": False}, "different"),
    ("guardians", {"guardian_names": ("Anna Garcia-Lopez", "Luis Lopez")}, "common"),
    ("guardians", {"guardian_names": ("Ana Garica",)}, "common"),
    ("guardians", {"guardian_names": ("Rosa Garcia",)}, "none"),
    ("guardians", {"guardian_names": ()}, "missing"),
    ("ssn", {"ssn_hash": "e" * 64}, "different"),
    ("ssn", {"ssn_hash": None}, "missing"),
    ("birthplace", {"birthplace": "austin tx"}, "exact"),
    ("birthplace", {"birthplace": "Austin"}, "partial"),
    ("birthplace", {"birthplace": "Dallas, TX"}, "different"),
    ("address", {"address": "12 N Elm St", "postal_code": "78701"}, "exact"),
    ("address", {"address": "12 North Elms Street"}, "similar"),
    ("address", {"address": "900 Oak Ave"}, "postal_code"),
    ("address", {"address": "900 Oak Ave", "postal_code": "73301"}, "different"),
    ("address", {"address": None, "postal_code": None}, "missing"),
])
def test_levels(field: str, changes: dict[str, Any], expected: str) -> None:
    assert level(field, **changes) == expected


@pytest.mark.parametrize("a,b,as_first,as_last", [
    ("Thompson", "Tomson", "typo", "typo"),
    ("Okafor", "Okafro", "typo", "typo"),
    ("Ng", "Ng", "exact", "exact"),
    ("Ng", "Wu", "different", "different"),
    ("Kaitlyn", "Caitlin", "phonetic", "phonetic"),
    ("Liam", "Noah", "different", "different"),
    ("Roy", "Roz", "typo", "typo"),  # one keystroke: Jaro-Winkler alone misses short names
    ("Aiden", "Aidan", "typo", "typo"),
    ("Jonathan", "Johnathan", "nickname", "typo"),  # the nickname list knows this spelling
    ("Bill", "William", "nickname", "different"),
])
def test_name_pairs(a: str, b: str, as_first: str, as_last: str) -> None:
    assert compare(prepare(replace(BASE, first_name=a)), prepare(replace(BASE, first_name=b)))[0] == as_first
    assert compare(prepare(replace(BASE, last_name=a)), prepare(replace(BASE, last_name=b)))[1] == as_last


def test_every_level_is_declared() -> None:
    people = [BASE, replace(BASE, first_name="Bill", birth_date=None, races=frozenset()),
              replace(BASE, last_name="William", first_name="Garcia"), PersonFacts("A", "B", date(2000, 1, 1))]
    for a, b in itertools.product(people, repeat=2):
        for f, value in zip(FIELDS, compare(prepare(a), prepare(b))):
            assert value in f.levels


def test_compare_is_symmetric() -> None:
    variants = [BASE] + [replace(BASE, **c) for c in (
        {"first_name": "Bill"}, {"first_name": "Garcia-Lopez", "last_name": "William"}, {"last_name": "Garcia"},
        {"birth_date": date(2011, 4, 3)}, {"middle_name": "J"}, {"guardian_names": ("Ana Garica",)},
        {"address": "12 North Elms Street"}, {"birthplace": "Austin"}, {"first_name": "Wiliam", "sex": None})]
    for a, b in itertools.product(variants, repeat=2):
        assert compare(prepare(a), prepare(b)) == compare(prepare(b), prepare(a))
