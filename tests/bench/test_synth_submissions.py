"""The submission stream and its ground truth: every row has a truth row, enrollments behave
(first, transfer, re-entry, resubmission), local ids are unique within a district, and every
error type appears at its configured rate and changes the row the way it says."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from datetime import date
from typing import Any

import pytest

from bench.synth import ErrorRates, SynthConfig, SyntheticState, generate_state, is_eligible
from bench.synth.names import NICKNAMES, strip_accents

IDENTITY_FIELDS = ("first_name", "middle_name", "last_name", "suffix", "birth_date", "sex", "hispanic_latino", "races", "ssn")
ROW_KEYS = [
    "row_ref", "district_id", "local_student_id", "first_name", "middle_name", "last_name", "suffix", "birth_date", "sex",
    "hispanic_latino", "races", "guardian_names", "ssn", "birthplace", "address", "postal_code", "school_id", "grade", "submitted_on",
]


@pytest.fixture(scope="module")
def default_state() -> SyntheticState:
    return generate_state(SynthConfig(students=5000, seed=17))


@pytest.fixture(scope="module")
def noisy_state() -> SyntheticState:
    """Many non-first rows and every error at 20%: enough rows to measure each rate."""
    config = SynthConfig(
        students=3000, seed=11, transfer_rate=0.3, reentry_rate=0.1, resubmission_rate=1.0,
        errors=ErrorRates().with_rates(all=0.2),
    )
    return generate_state(config)


def _pairs(state: SyntheticState) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    people = {s["person_key"]: s for s in state.students}
    return [(row, truth, people[truth["person_key"]]) for row, truth in zip(state.submissions, state.truth)]


def _guardian_names(person: dict[str, Any]) -> list[str]:
    return [f"{g['first_name']} {g['last_name']}" for g in person["guardians"]]


def test_every_row_has_its_truth_row(default_state: SyntheticState) -> None:
    subs, truth = default_state.submissions, default_state.truth
    assert len(subs) == len(truth) > len(default_state.students)
    refs = [r["row_ref"] for r in subs]
    assert refs == [t["row_ref"] for t in truth]
    assert len(set(refs)) == len(refs)
    people = {s["person_key"] for s in default_state.students}
    for row, t in zip(subs, truth):
        assert list(row) == ROW_KEYS
        assert set(t) == {"row_ref", "person_key", "kind", "errors"}
        assert t["person_key"] in people
        assert t["kind"] in ("first", "transfer", "reentry", "resubmission")
        assert set(t["errors"]) <= set(ErrorRates.names())
    assert {t["person_key"] for t in truth} == people, "every student is submitted"


def test_stream_is_in_date_order_and_starts_with_a_first_submission(default_state: SyntheticState) -> None:
    days = [r["submitted_on"] for r in default_state.submissions]
    assert days == sorted(days)
    seen: set[str] = set()
    firsts = Counter()
    for t in default_state.truth:
        if t["person_key"] not in seen:
            assert t["kind"] == "first"
            seen.add(t["person_key"])
        firsts[t["person_key"]] += t["kind"] == "first"
    assert set(firsts.values()) == {1}


def test_submission_kind_shares(default_state: SyntheticState) -> None:
    kinds = Counter(t["kind"] for t in default_state.truth)
    n = len(default_state.students)
    assert kinds["first"] == n
    assert 0.05 < kinds["transfer"] / n < 0.12, kinds
    assert 0.01 < kinds["reentry"] / n < 0.035, kinds
    assert 0.12 < kinds["resubmission"] / n < 0.26, kinds


def test_first_submission_is_the_true_record(default_state: SyntheticState) -> None:
    for row, t, person in _pairs(default_state):
        if t["kind"] != "first":
            continue
        assert t["errors"] == []
        for key in IDENTITY_FIELDS + ("district_id", "local_student_id", "school_id", "address", "postal_code", "grade"):
            assert row[key] == person[key], key
        assert row["guardian_names"] == _guardian_names(person)
        assert row["birthplace"] in (None, person["birthplace"])


def test_enrollments_transfers_reentries_and_resubmissions(default_state: SyntheticState) -> None:
    """Transfers change district and local id; re-entries keep the district with a new id;
    resubmissions repeat an enrollment's district and local id."""
    enrollments: dict[str, list[tuple[str, str]]] = defaultdict(list)
    transfers = reentries = resubmissions = 0
    for row, t in zip(default_state.submissions, default_state.truth):
        key = (row["district_id"], row["local_student_id"])
        history = enrollments[t["person_key"]]
        if t["kind"] == "resubmission":
            assert key in history
            resubmissions += 1
            continue
        if t["kind"] == "transfer":
            assert row["district_id"] != history[-1][0]
            transfers += 1
        if t["kind"] == "reentry":
            assert row["district_id"] == history[-1][0]
            reentries += 1
        if t["kind"] != "first":
            assert key not in history, "a new enrollment gets a new local id"
            assert row["local_student_id"] not in {h[1] for h in history if h[0] == row["district_id"]}
        history.append(key)
    assert transfers and reentries and resubmissions


def test_families_move_together(default_state: SyntheticState) -> None:
    people = {s["person_key"]: s for s in default_state.students}
    moves: dict[tuple[str, str], set[tuple[str, str, str | None]]] = defaultdict(set)
    for row, t in zip(default_state.submissions, default_state.truth):
        if t["kind"] == "transfer" and "missing_address" not in t["errors"]:
            moves[(people[t["person_key"]]["family_key"], row["submitted_on"])].add((row["district_id"], row["submitted_on"], row["address"]))
    assert moves
    assert all(len(v) == 1 for v in moves.values()), "siblings move on one day to one address"


def test_local_ids_are_unique_within_a_district(default_state: SyntheticState) -> None:
    owner: dict[tuple[str, str], str] = {}
    for row, t in zip(default_state.submissions, default_state.truth):
        key = (row["district_id"], row["local_student_id"])
        assert owner.setdefault(key, t["person_key"]) == t["person_key"], key
    per_district = Counter(d for d, _ in owner)
    assert len(per_district) > 1
    for s in default_state.students:
        assert owner[(s["district_id"], s["local_student_id"])] == s["person_key"]


def test_rows_without_errors_match_the_person(default_state: SyntheticState) -> None:
    clean = 0
    for row, t, person in _pairs(default_state):
        if t["errors"]:
            continue
        clean += 1
        for key in IDENTITY_FIELDS:
            assert row[key] == person[key], (key, t)
        assert row["guardian_names"] == _guardian_names(person)
        assert row["grade"] == person["grade"]
    assert clean > 0.8 * len(default_state.truth)


def test_no_errors_when_rates_are_zero() -> None:
    state = generate_state(SynthConfig(students=800, seed=3, resubmission_rate=1.0, errors=ErrorRates().with_rates(all=0.0)))
    assert all(t["errors"] == [] for t in state.truth)
    assert sum(t["kind"] != "first" for t in state.truth) > 800


def test_each_error_type_occurs_at_its_configured_rate(noisy_state: SyntheticState) -> None:
    """Observed frequency among eligible non-first rows is within sampling noise of 20%."""
    eligible: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    for _, t, person in _pairs(noisy_state):
        if t["kind"] == "first":
            continue
        applied = t["errors"]
        for name in ErrorRates.names():
            before = applied[: applied.index(name)] if name in applied else applied
            if is_eligible(name, person, before):
                eligible[name] += 1
                hits[name] += name in applied
    for name in ErrorRates.names():
        n = eligible[name]
        assert n >= 60, f"{name}: only {n} eligible rows"
        rate = hits[name] / n
        tolerance = max(0.05, 4 * math.sqrt(0.2 * 0.8 / n))
        assert abs(rate - 0.2) < tolerance, f"{name}: {rate:.3f} over {n} eligible rows"


def test_default_rates_are_realised(default_state: SyntheticState) -> None:
    rates = ErrorRates()
    eligible: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    for _, t, person in _pairs(default_state):
        if t["kind"] == "first":
            continue
        for name in ("typo", "middle_dropped", "case_accents", "missing_guardians", "missing_races"):
            if is_eligible(name, person, []):
                eligible[name] += 1
                hits[name] += name in t["errors"]
    for name, n in eligible.items():
        expected = getattr(rates, name)
        assert abs(hits[name] / n - expected) < max(0.02, 4 * math.sqrt(expected * (1 - expected) / n)), name


def _edit_distance_one(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance exactly 1 (substitute, insert, delete or adjacent swap)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]) or (
            len(diff) == 2 and diff == [0, 1] and a[0].lower() == b[1].lower() and a[1].lower() == b[0].lower())
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def _fold(text: str | None) -> str | None:
    return strip_accents(text).casefold() if text is not None else None


def test_single_errors_change_rows_as_described(noisy_state: SyntheticState) -> None:
    """Rows with exactly one error differ from the person only in that error's way."""
    checked: Counter[str] = Counter()
    for row, t, person in _pairs(noisy_state):
        if len(t["errors"]) != 1:
            continue
        (err,) = t["errors"]
        guardians = _guardian_names(person)
        untouched = {
            "typo": ("birth_date", "sex", "races", "ssn"),
            "nickname": ("middle_name", "last_name", "birth_date", "sex", "races", "ssn"),
            "name_swap": ("middle_name", "birth_date", "sex", "races", "ssn"),
            "dob_day_month_swap": ("first_name", "middle_name", "last_name", "sex", "races", "ssn"),
            "dob_digit_typo": ("first_name", "middle_name", "last_name", "sex", "races", "ssn"),
            "middle_dropped": ("first_name", "last_name", "birth_date", "sex", "races", "ssn"),
            "middle_initial": ("first_name", "last_name", "birth_date", "sex", "races", "ssn"),
            "hyphen_surname": ("first_name", "middle_name", "birth_date", "sex", "races", "ssn"),
            "compound_spacing": ("first_name", "middle_name", "birth_date", "sex", "races", "ssn"),
            "case_accents": ("birth_date", "sex", "races", "ssn"),
            "missing_sex": ("first_name", "middle_name", "last_name", "birth_date", "races", "ssn"),
            "missing_races": ("first_name", "middle_name", "last_name", "birth_date", "sex", "ssn"),
            "missing_guardians": ("first_name", "middle_name", "last_name", "birth_date", "sex", "races", "ssn"),
            "missing_address": ("first_name", "middle_name", "last_name", "birth_date", "sex", "races", "ssn"),
            "ssn_missing": ("first_name", "middle_name", "last_name", "birth_date", "sex", "races"),
            "ssn_typo": ("first_name", "middle_name", "last_name", "birth_date", "sex", "races"),
        }[err]
        for key in untouched:
            assert row[key] == person[key], (err, key, row, person)
        if err != "case_accents":
            assert row["guardian_names"] == guardians or (err == "missing_guardians" and row["guardian_names"] == [])
        if err == "typo":
            changed = [k for k in ("first_name", "middle_name", "last_name") if row[k] != person[k]]
            assert len(changed) == 1 and _edit_distance_one(row[changed[0]], person[changed[0]]), (row, person)
        elif err == "nickname":
            assert row["first_name"] in NICKNAMES[person["first_name"]]
        elif err == "name_swap":
            assert (row["first_name"], row["last_name"]) == (person["last_name"], person["first_name"])
        elif err == "dob_day_month_swap":
            y, m, d = person["birth_date"].split("-")
            assert row["birth_date"] == f"{y}-{d}-{m}" and int(d) <= 12
        elif err == "dob_digit_typo":
            a, b = row["birth_date"], person["birth_date"]
            date.fromisoformat(a)
            assert len(a) == len(b) and sum(x != y for x, y in zip(a, b)) == 1
        elif err == "middle_dropped":
            assert row["middle_name"] is None and person["middle_name"]
        elif err == "middle_initial":
            assert row["middle_name"] == person["middle_name"][0]
        elif err == "hyphen_surname":
            assert "-" in person["last_name"] and row["last_name"] in person["last_name"].split("-")
        elif err == "compound_spacing":
            letters = re.sub(r"[^a-z]", "", _fold(row["last_name"]) or "")
            assert row["last_name"] != person["last_name"] and re.sub(r"[^a-z]", "", _fold(person["last_name"]) or "").endswith(letters)
        elif err == "case_accents":
            assert any(row[k] != person[k] for k in ("first_name", "middle_name", "last_name"))
            for key in ("first_name", "middle_name", "last_name"):
                assert _fold(row[key]) == _fold(person[key])
            assert [_fold(g) for g in row["guardian_names"]] == [_fold(g) for g in guardians]
        elif err == "missing_sex":
            assert row["sex"] is None
        elif err == "missing_races":
            assert row["races"] == []
        elif err == "missing_guardians":
            assert row["guardian_names"] == []
        elif err == "missing_address":
            assert row["address"] is None and row["postal_code"] is None
        elif err == "ssn_missing":
            assert row["ssn"] is None and person["ssn"]
        elif err == "ssn_typo":
            assert len(row["ssn"]) == 9 and sum(x != y for x, y in zip(row["ssn"], person["ssn"])) == 1
        checked[err] += 1
    missing = set(ErrorRates.names()) - set(checked)
    assert not missing, f"no single-error row for {missing}"


def test_accents_and_case_are_stripped_in_some_rows(noisy_state: SyntheticState) -> None:
    folded = [row for row, t, person in _pairs(noisy_state) if "case_accents" in t["errors"] and not person["first_name"].isascii()]
    assert any(row["first_name"].isascii() for row in folded), "José -> JOSE happens"
    assert any(row["last_name"].isupper() for row, t, _ in _pairs(noisy_state) if "case_accents" in t["errors"])
