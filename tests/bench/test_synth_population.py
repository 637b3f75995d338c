"""The true population is realistic where matching cares: organisations, families, twins,
siblings, ages for grades, SSN share, name shapes and frequencies, staff and sections."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date
from typing import Any

import pytest

from bench.synth import SynthConfig, SyntheticState, Synthesizer, expected_grade, generate_state
from bench.synth.errors import double_surname_parts
from bench.synth.names import SIMILAR_FEMALE, SIMILAR_MALE, SIMILAR_MIXED, strip_accents

N = 6000


@pytest.fixture(scope="module")
def state() -> SyntheticState:
    return generate_state(SynthConfig(students=N, seed=5))


@pytest.fixture(scope="module")
def students(state: SyntheticState) -> list[dict[str, Any]]:
    return state.students


def test_counts_and_organisations(state: SyntheticState) -> None:
    assert len(state.students) == N
    assert len({s["person_key"] for s in state.students}) == N
    assert len(state.schools) == round(N / 500)
    district_ids = {d["district_id"] for d in state.districts}
    assert all(re.fullmatch(r"\d{4}", d) for d in district_ids)
    assert {d["state_code"] for d in state.districts} == {"ST"}
    grades = {"elementary": ["KG", "01", "02", "03", "04", "05"], "middle": ["06", "07", "08"], "high": ["09", "10", "11", "12"]}
    by_district: dict[str, set[str]] = defaultdict(set)
    for school in state.schools:
        assert re.fullmatch(r"\d{4}-\d{2}", school["school_id"])
        assert school["school_id"].startswith(school["district_id"] + "-")
        assert school["district_id"] in district_ids
        assert school["grades"] == grades[school["type"]]
        by_district[school["district_id"]].add(school["type"])
    assert all(types == set(grades) for types in by_district.values()), "every district serves K-12"
    school_by_id = {s["school_id"]: s for s in state.schools}
    for s in state.students:
        assert s["grade"] in school_by_id[s["school_id"]]["grades"]
        assert school_by_id[s["school_id"]]["district_id"] == s["district_id"]
    assert state.manifest["counts"]["students"] == N  # type: ignore[index]


def test_a_million_students_plan_about_two_thousand_schools_in_varied_districts() -> None:
    synth = Synthesizer(SynthConfig(students=1_000_000, seed=1))
    schools = sum(len(d.schools) for d in synth.districts)
    assert schools == 2000
    quotas = sorted(d.quota for d in synth.districts)
    assert sum(quotas) == 1_000_000
    assert quotas[-1] > 5 * quotas[len(quotas) // 2], "district sizes are skewed"
    assert min(len(d.schools) for d in synth.districts) >= 3


def test_twins_share_birth_date_family_guardians_address_and_grade(students: list[dict[str, Any]]) -> None:
    by_key = {s["person_key"]: s for s in students}
    twins = [s for s in students if s["twin"]]
    share = len(twins) / len(students)
    assert 0.01 <= share <= 0.045, share
    for s in twins:
        other = by_key[s["twin_key"]]
        assert other["twin_key"] == s["person_key"] and other["person_key"] != s["person_key"]
        for key in ("birth_date", "family_key", "guardians", "address", "postal_code", "grade", "district_id"):
            assert s[key] == other[key], key
    assert not [s for s in students if not s["twin"] and s["twin_key"] is not None]


def test_some_twins_have_look_alike_names() -> None:
    state = generate_state(SynthConfig(students=3000, seed=8, twin_rate=0.3, similar_twin_names=0.5))
    by_key = {s["person_key"]: s for s in state.students}
    similar = {frozenset(p) for p in SIMILAR_MALE + SIMILAR_FEMALE + SIMILAR_MIXED}
    pairs = {frozenset((s["person_key"], s["twin_key"])) for s in state.students if s["twin"]}
    look_alike = [p for p in pairs if frozenset(strip_accents(by_key[k]["first_name"]) for k in p) in {frozenset(strip_accents(n) for n in q) for q in similar}
                  or frozenset(by_key[k]["first_name"] for k in p) in similar]
    same_sex = [p for p in look_alike if len({by_key[k]["sex"] for k in p}) == 1]
    assert len(look_alike) >= 0.25 * len(pairs), (len(look_alike), len(pairs))
    assert same_sex, "same-sex twins with near-identical names (the hard case) exist"


def test_siblings_share_address_guardians_and_usually_surname(students: list[dict[str, Any]]) -> None:
    families: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in students:
        families[s["family_key"]].append(s)
    multi = [f for f in families.values() if len(f) > 1]
    assert len(multi) > 0.2 * len(families)
    same_last = 0
    for fam in multi:
        first = fam[0]
        for s in fam[1:]:
            for key in ("address", "postal_code", "guardians", "district_id"):
                assert s[key] == first[key], key
        same_last += len({s["last_name"] for s in fam}) == 1
    assert same_last / len(multi) > 0.85
    addresses = Counter((fam[0]["address"], fam[0]["postal_code"]) for fam in families.values())
    assert len(addresses) > 0.95 * len(families), "families rarely share an address with another family"
    assert same_last < len(multi), "a few half-siblings carry another surname"


def test_guardians(students: list[dict[str, Any]]) -> None:
    counts = Counter(len(s["guardians"]) for s in students)
    assert set(counts) <= {1, 2}
    assert 0.15 < counts[1] / len(students) < 0.45
    differs = 0
    for s in students:
        for g in s["guardians"]:
            assert g["first_name"] and g["last_name"] and g["relationship"]
        differs += any(g["last_name"] != s["last_name"] for g in s["guardians"])
    assert 0.05 < differs / len(students) < 0.6, "a guardian's surname sometimes differs from the child's"


def test_ssn_share_format_and_uniqueness(students: list[dict[str, Any]]) -> None:
    ssns = [s["ssn"] for s in students if s["ssn"] is not None]
    assert abs(len(ssns) / len(students) - 0.30) < 0.03
    assert len(set(ssns)) == len(ssns)
    for ssn in ssns:
        assert re.fullmatch(r"\d{9}", ssn)
        assert ssn[:3] not in ("000", "666") and ssn[3:5] != "00" and ssn[5:] != "0000"
    custom = generate_state(SynthConfig(students=1000, seed=5, ssn_share=0.8)).students
    assert abs(sum(s["ssn"] is not None for s in custom) / 1000 - 0.8) < 0.05


def test_birth_dates_are_consistent_with_grade(students: list[dict[str, Any]]) -> None:
    offsets = Counter()
    for s in students:
        grade = 0 if s["grade"] == "KG" else int(s["grade"])
        offset = grade - expected_grade(date.fromisoformat(s["birth_date"]), 2025)
        assert offset in (-1, 0, 1), s
        assert offset == s["grade_offset"]
        offsets[offset] += 1
        if s["grade"] == "KG" and offset == 0:
            born = date.fromisoformat(s["birth_date"])
            assert 2025 - born.year - ((born.month, born.day) > (9, 1)) == 5
    assert offsets[0] / len(students) > 0.9
    assert 0.015 < offsets[-1] / len(students) < 0.07, "some held back"
    assert 0.001 < offsets[1] / len(students) < 0.03, "a few accelerated"
    per_grade = Counter(s["grade"] for s in students)
    assert len(per_grade) == 13 and min(per_grade.values()) > 0.5 * max(per_grade.values())


def test_sex_race_and_hispanic_follow_origin(students: list[dict[str, Any]]) -> None:
    sexes = Counter(s["sex"] for s in students)
    assert set(sexes) <= {"F", "M", "X"} and 0.45 < sexes["F"] / len(students) < 0.55 and sexes["X"] < 0.02 * len(students)
    by_origin: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in students:
        assert s["races"] and set(s["races"]) <= {"AM", "AS", "BL", "PI", "WH"}
        assert s["races"] == sorted(s["races"])
        by_origin[s["origin"]].append(s)

    def share(group: list[dict[str, Any]], pred: Any) -> float:
        return sum(1 for s in group if pred(s)) / len(group)

    assert share(by_origin["hispanic"], lambda s: s["hispanic_latino"]) > 0.9
    assert share(by_origin["us_white"], lambda s: s["hispanic_latino"]) < 0.1
    assert share(by_origin["us_black"], lambda s: "BL" in s["races"]) > 0.9
    asian = by_origin["chinese"] + by_origin["vietnamese"] + by_origin["indian"] + by_origin["korean"]
    assert share(asian, lambda s: "AS" in s["races"]) > 0.85
    assert share(students, lambda s: len(s["races"]) > 1) > 0.03, "some students have several races"


def test_name_shapes_occur_at_realistic_rates(students: list[dict[str, Any]]) -> None:
    n = len(students)
    hyphenated = sum(double_surname_parts(s["last_name"]) is not None for s in students) / n
    accented = sum(not (s["first_name"] + s["last_name"] + (s["middle_name"] or "")).isascii() for s in students) / n
    particles = sum(bool(re.match(r"(?i)(de |del |van |von |le |da |dela |delos |st\. |o'|d')", s["last_name"])) for s in students) / n
    spaced = sum(" " in s["last_name"] for s in students) / n
    no_middle = sum(s["middle_name"] is None for s in students) / n
    suffixes = Counter(s["suffix"] for s in students if s["suffix"])
    assert 0.005 < hyphenated < 0.2, hyphenated
    assert 0.005 < accented < 0.3, accented
    assert 0.001 < particles < 0.1, particles
    assert 0.002 < spaced < 0.1, spaced
    assert 0.15 < no_middle < 0.6, no_middle
    assert suffixes and set(suffixes) <= {"Jr", "II", "III", "IV"} and sum(suffixes.values()) < 0.05 * n
    assert all(s["sex"] == "M" for s in students if s["suffix"])
    for s in students:
        for key in ("first_name", "last_name"):
            assert s[key] and s[key] == s[key].strip() and "  " not in s[key]
    for s in students:
        if s["suffix"]:
            assert any(g["first_name"] == s["first_name"] and g["relationship"] == "father" for g in s["guardians"])


def test_common_names_are_common(students: list[dict[str, Any]]) -> None:
    last = Counter(strip_accents(s["last_name"]) for s in students)
    top = [name for name, _ in last.most_common(10)]
    assert {"Garcia", "Smith"} & set(top), top
    assert sum(c for _, c in last.most_common(10)) / len(students) > 0.05
    assert len(last) > 0.2 * len(students), "and there is a long tail"
    first = Counter(s["first_name"] for s in students)
    assert first.most_common(1)[0][1] / len(students) < 0.025, "no single given name dominates"


def test_staff_sections_and_caseloads(state: SyntheticState) -> None:
    staff = {p["staff_key"]: p for p in state.staff}
    roles_by_school: dict[str, Counter[str]] = defaultdict(Counter)
    local_ids: dict[str, set[str]] = defaultdict(set)
    for p in state.staff:
        roles_by_school[p["school_id"]][p["role"]] += 1
        assert p["first_name"] and p["last_name"] and p["credentials"]
        assert p["staff_local_id"] not in local_ids[p["district_id"]]
        local_ids[p["district_id"]].add(p["staff_local_id"])
    for school in state.schools:
        roles = roles_by_school[school["school_id"]]
        assert roles["principal"] == 1 and roles["counselor"] >= 1 and roles["teacher"] >= 1
    students = {s["person_key"]: s for s in state.students}
    in_sections: Counter[str] = Counter()
    for sec in state.sections:
        teacher = staff[sec["teacher_staff_key"]]
        assert teacher["role"] == "teacher" and teacher["school_id"] == sec["school_id"]
        assert sec["student_keys"]
        for key in sec["student_keys"]:
            assert students[key]["school_id"] == sec["school_id"] and students[key]["grade"] == sec["grade"]
            in_sections[key] += 1
    assert set(in_sections) == set(students), "every student is in a section"
    for s in state.students:
        counselor = staff[s["counselor_staff_key"]]
        assert counselor["role"] == "counselor" and counselor["school_id"] == s["school_id"]
        assert s["person_key"] in counselor["caseload"]
