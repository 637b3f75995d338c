"""End-to-end decisions of the default model on one pair: the cases the issue lists, each with the
decisions it may end in."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from services.identity.matching import PersonFacts, Thresholds, decide, prepare, score

WILLIAM = PersonFacts(
    first_name="William", middle_name="James", last_name="Okafor-Reyes", birth_date=date(2012, 4, 7),
    sex="M", hispanic_latino=False, races=frozenset({"BL"}), guardian_names=("Grace Okafor", "Daniel Reyes"),
    address="12 Elm St", postal_code="65101", birthplace="Jefferson City, MO",
)
JOSE = PersonFacts(
    first_name="José", middle_name="Luis", last_name="de la Cruz", birth_date=date(2010, 11, 23), sex="M",
    hispanic_latino=True, races=frozenset({"WH"}), guardian_names=("María de la Cruz",),
    address="400 N Main Street Apt 3", postal_code="78701",
)
# Twins and siblings: one family, one address, the same guardians.
EMMA = PersonFacts(
    first_name="Emma", last_name="Lindqvist", birth_date=date(2015, 6, 2), sex="F", hispanic_latino=False,
    races=frozenset({"WH"}), guardian_names=("Karin Lindqvist", "Erik Lindqvist"), address="77 Birch Lane",
    postal_code="55401",
)
SSN_A, SSN_B = "a" * 64, "b" * 64

MATCH = {"match"}
MATCH_OR_REVIEW = {"match", "review"}
NOT_MATCH = {"review", "non_match"}

CASES: list[tuple[str, PersonFacts, dict[str, Any], set[str]]] = [
    ("exact duplicate", WILLIAM, {}, MATCH),
    ("nickname", WILLIAM, {"first_name": "Bill"}, MATCH),
    ("nickname and a dropped middle name", WILLIAM, {"first_name": "Will", "middle_name": None}, MATCH),
    ("day/month swapped", WILLIAM, {"birth_date": date(2012, 7, 4)}, MATCH),
    ("one-digit day typo", WILLIAM, {"birth_date": date(2012, 4, 17)}, MATCH_OR_REVIEW),
    ("month one off", WILLIAM, {"birth_date": date(2012, 5, 7)}, MATCH_OR_REVIEW),
    ("year one off", WILLIAM, {"birth_date": date(2011, 4, 7)}, MATCH_OR_REVIEW),
    ("first and last swapped", WILLIAM, {"first_name": "Okafor-Reyes", "last_name": "William"}, MATCH_OR_REVIEW),
    ("hyphen part dropped", WILLIAM, {"last_name": "Okafor"}, MATCH),
    ("hyphenated surname changed", replace(WILLIAM, last_name="Garcia-Lopez", guardian_names=()),
     {"last_name": "Garcia", "address": "9 Oak Ave"}, MATCH_OR_REVIEW),
    ("hyphen part dropped, other part", WILLIAM, {"last_name": "Reyes", "address": "9 Oak Ave"}, MATCH_OR_REVIEW),
    ("hyphen as space, upper case", WILLIAM, {"first_name": "WILLIAM", "last_name": "okafor reyes"}, MATCH),
    ("first-name typo", WILLIAM, {"first_name": "Wiliam", "guardian_names": (), "address": None}, MATCH_OR_REVIEW),
    ("surname typo", WILLIAM, {"last_name": "Okafro-Reyes"}, MATCH_OR_REVIEW),
    ("dropped middle name", WILLIAM, {"middle_name": None}, MATCH),
    ("middle initial", WILLIAM, {"middle_name": "J."}, MATCH),
    ("missing middle, sex, races, guardians", WILLIAM,
     {"middle_name": None, "sex": None, "races": frozenset(), "guardian_names": ()}, MATCH),
    ("moved house", WILLIAM, {"address": "3 Pine Rd", "postal_code": "65109"}, MATCH),
    ("accents and case", JOSE, {"first_name": "JOSE", "last_name": "DE LA CRUZ"}, MATCH),
    ("compound surname written together", JOSE, {"last_name": "DeLaCruz"}, MATCH),
    ("compound surname shortened", JOSE, {"last_name": "Cruz"}, MATCH),
    ("apostrophes and address abbreviations", replace(WILLIAM, last_name="O'Brien"),
     {"last_name": "OBRIEN", "address": "12 ELM STREET"}, MATCH),
    ("twins with different names", EMMA, {"first_name": "Olivia"}, NOT_MATCH),
    ("boy-girl twins", EMMA, {"first_name": "Noah", "sex": "M"}, NOT_MATCH),
    ("similar-name twins", replace(EMMA, first_name="Aiden", sex="M"), {"first_name": "Aidan"}, {"review"}),
    ("twins, one by a nickname of the other's name", replace(EMMA, first_name="Elizabeth", middle_name="Rose"),
     {"first_name": "Lisa", "middle_name": "Claire"}, NOT_MATCH),
    ("twins given one first name", replace(EMMA, middle_name="Rose"), {"middle_name": "Claire"}, NOT_MATCH),
    ("sibling", EMMA, {"first_name": "Olivia", "birth_date": date(2012, 9, 14)}, {"non_match"}),
    ("sibling with the same first name", EMMA, {"birth_date": date(2012, 9, 14)}, {"non_match"}),
    ("common name, same birth date, another family",
     PersonFacts(first_name="Michael", middle_name="Ray", last_name="Smith", birth_date=date(2011, 3, 4), sex="M",
                 races=frozenset({"WH"}), guardian_names=("Lisa Smith",), address="5 Oak St", postal_code="60601"),
     {"middle_name": "Anthony", "guardian_names": ("Tom Smith",), "address": "88 Lake Dr", "postal_code": "60622"},
     NOT_MATCH),
    ("same SSN, everything else different", replace(WILLIAM, ssn_hash=SSN_A),
     {"first_name": "Zoe", "middle_name": "Ann", "last_name": "Quincy", "birth_date": date(2009, 1, 30), "sex": "F",
      "guardian_names": ("Ann Quincy",), "address": "9 Oak Ave", "postal_code": "10001", "races": frozenset({"AS"}),
      "birthplace": "Boston"},
     {"review"}),
    ("different SSN, everything else equal", replace(WILLIAM, ssn_hash=SSN_A), {"ssn_hash": SSN_B}, {"review"}),
    ("same SSN carries a typo in the family", replace(WILLIAM, ssn_hash=SSN_A),
     {"first_name": "Wiliam", "middle_name": None}, MATCH),
    ("SSN and few fields", replace(WILLIAM, ssn_hash=SSN_A),
     {"middle_name": None, "sex": None, "races": frozenset(), "guardian_names": (), "address": None,
      "postal_code": None, "birthplace": None, "hispanic_latino": None}, MATCH),
    ("unrelated people", WILLIAM,
     {"first_name": "Zed", "middle_name": None, "last_name": "Quincy", "birth_date": date(2010, 1, 1),
      "guardian_names": ("Ann Quincy",), "address": "9 Oak"}, {"non_match"}),
]


@pytest.mark.parametrize("base,changes,allowed", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decision(base: PersonFacts, changes: dict[str, Any], allowed: set[str]) -> None:
    other = replace(base, **changes)
    explanation = score(prepare(base), prepare(other))
    assert decide(explanation) in allowed, explanation.to_json()
    # the pair is scored the same whichever record came first
    assert score(prepare(other), prepare(base)) == explanation


def test_sibling_guard_is_explained() -> None:
    twins = score(prepare(EMMA), prepare(replace(EMMA, first_name="Olivia")))
    guard = next(c for c in twins.contributions if c.field == "sibling_guard")
    assert guard.level == "different_first_names" and guard.weight < 0
    assert twins.ceiling == "review" and "sibling_guard" in twins.rules
    # without the guard the shared family would have looked like a match
    assert twins.weight - guard.weight > 0

    similar = score(prepare(replace(EMMA, first_name="Aiden")), prepare(replace(EMMA, first_name="Aidan")))
    assert similar.level("sibling_guard") == "similar_first_names" and similar.probability > 0.999

    same = score(prepare(EMMA), prepare(replace(EMMA, address="1 Other Rd")))
    assert same.level("sibling_guard") == "none" and same.rules == ()


def test_ssn_rules_bound_the_decision() -> None:
    shared = score(prepare(replace(WILLIAM, ssn_hash=SSN_A)),
                   prepare(replace(JOSE, ssn_hash=SSN_A)))
    assert shared.probability < 0.5 and shared.floor == "review" and decide(shared) == "review"
    conflict = score(prepare(replace(WILLIAM, ssn_hash=SSN_A)), prepare(replace(WILLIAM, ssn_hash=SSN_B)))
    assert conflict.probability > 0.999 and conflict.ceiling == "review" and decide(conflict) == "review"


def test_thresholds_decide_on_probability() -> None:
    explanation = score(prepare(WILLIAM), prepare(replace(WILLIAM, birth_date=date(2012, 4, 17), middle_name=None,
                                                          guardian_names=(), address=None)))
    p = explanation.probability
    assert decide(explanation, Thresholds(upper=p, lower=p / 2)) == "match"
    assert decide(explanation, Thresholds(upper=min(p * 1.0001, 0.9999999), lower=p)) == "review"
    assert decide(explanation, Thresholds(upper=0.9999999, lower=min(p * 1.0001, 0.999999))) == "non_match"


@pytest.mark.parametrize("upper,lower", [(0.5, 0.5), (0.2, 0.9), (1.0, 0.5), (0.9, 0.0)])
def test_thresholds_must_be_ordered(upper: float, lower: float) -> None:
    with pytest.raises(ValueError):
        Thresholds(upper=upper, lower=lower)
