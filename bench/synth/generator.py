"""The generator core: organisations, families and students, staff and sections, and the
submission stream with its ground truth.

Work proceeds one district at a time so memory holds at most one district's people (a few
tens of thousands at the 1,000,000-student scale); submissions go to an `EventStore` that sorts
them by date, spilling to bucket files for large runs. A single `random.Random` seeded from the
config drives every choice (and Faker is seeded per instance), so a seed fixes every byte.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TextIO

from faker import Faker

from .config import GENERATOR_VERSION, SynthConfig
from .errors import inject_errors
from .names import (
    ORIGINS,
    SIMILAR_FEMALE,
    SIMILAR_MALE,
    SIMILAR_MIXED,
    STAFF_ORIGINS,
    US_ADULT_F,
    US_ADULT_M,
    US_KIDS_F,
    US_KIDS_M,
    Origin,
    Weighted,
    feminine_surname,
    strip_accents,
)

GRADE_LABELS: tuple[str, ...] = ("KG", *(f"{g:02d}" for g in range(1, 13)))
SCHOOL_TYPES: dict[str, range] = {"elementary": range(0, 6), "middle": range(6, 9), "high": range(9, 13)}
RACE_ORDER = ("AM", "AS", "BL", "PI", "WH")

_CHILD_COUNT = Weighted([(1, 0.40), (2, 0.36), (3, 0.16), (4, 0.06), (5, 0.02)])
_SUFFIXES = Weighted([("Jr", 0.7), ("II", 0.08), ("III", 0.18), ("IV", 0.04)])
_STREET_SUFFIX = Weighted([("St", 0.3), ("Ave", 0.2), ("Rd", 0.15), ("Dr", 0.12), ("Ln", 0.08), ("Ct", 0.05), ("Blvd", 0.03), ("Way", 0.04), ("Pl", 0.03)])
_STREET_STEMS = (
    "Main Oak Maple Cedar Pine Elm Washington Lake Hill Park Church Center Mill River Spring Ridge Sunset "
    "Walnut Chestnut Highland Meadow Forest Valley Lincoln Jefferson Madison Franklin Jackson Willow 1st 2nd 3rd 4th 5th"
).split()
_SCHOOL_STEMS = (
    "Lincoln Washington Jefferson Roosevelt Kennedy Franklin Oak Grove Riverside Lakeview Hillcrest Maple "
    "Pine Ridge Sunset Meadowbrook Central North South East West Heritage Cedar Creek Eagle Valley Prairie"
).split()
_ELECTIVES = (("PE", "Physical Education"), ("ART", "Art"), ("MUS", "Music"), ("SPA", "Spanish"))
_CORE = (("ELA", "English Language Arts"), ("MATH", "Mathematics"), ("SCI", "Science"), ("SOC", "Social Studies"))


def grade_label(grade: int) -> str:
    return GRADE_LABELS[grade]


def school_type_for(grade: int) -> str:
    return "elementary" if grade <= 5 else "middle" if grade <= 8 else "high"


def expected_grade(birth: date, school_year: int) -> int:
    """Grade for the age on Sept 1 of the school year: 5 years old -> KG (0)."""
    age = school_year - birth.year - (1 if (birth.month, birth.day) > (9, 1) else 0)
    return age - 5


def _dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class IdSpace:
    """Unique, random-looking ids: an affine permutation of 0..10^width-1 (no set needed)."""

    __slots__ = ("width", "prefix", "_mod", "_a", "_b", "_n")

    def __init__(self, rng: random.Random, width: int, prefix: str = "") -> None:
        self.width, self.prefix = width, prefix
        self._mod = 10**width
        a = rng.randrange(self._mod // 10, self._mod)
        while a % 2 == 0 or a % 5 == 0:
            a += 1
        self._a, self._b, self._n = a % self._mod, rng.randrange(self._mod), 0

    def next(self) -> str:
        if self._n >= self._mod:
            raise RuntimeError("local id space exhausted")
        value = (self._a * self._n + self._b) % self._mod
        self._n += 1
        return f"{self.prefix}{value:0{self.width}d}"


@dataclass(slots=True, eq=False)
class School:
    school_id: str
    district_id: str
    name: str
    type: str
    address: str
    postal_code: str
    weight: float

    def record(self, state_code: str) -> dict[str, object]:
        return {
            "school_id": self.school_id,
            "district_id": self.district_id,
            "state_code": state_code,
            "name": self.name,
            "type": self.type,
            "grades": [GRADE_LABELS[g] for g in SCHOOL_TYPES[self.type]],
            "address": self.address,
            "postal_code": self.postal_code,
        }


@dataclass(slots=True, eq=False)
class District:
    district_id: str
    name: str
    city: str
    postal_codes: list[str]
    streets: list[str]
    quota: int
    schools: list[School]
    origins: Weighted[str]
    ids: IdSpace
    staff_ids: IdSpace
    pickers: dict[str, Weighted[School]] = field(default_factory=dict)

    def record(self, state_code: str) -> dict[str, object]:
        return {
            "district_id": self.district_id,
            "state_code": state_code,
            "name": self.name,
            "city": self.city,
            "postal_codes": self.postal_codes,
            "school_ids": [s.school_id for s in self.schools],
            "local_id_width": self.ids.width + len(self.ids.prefix),
        }


@dataclass(slots=True, eq=False)
class Family:
    family_key: str
    district: District
    address: str
    postal_code: str
    guardians: list[tuple[str, str, str]]  # (first, last, relationship)
    zone: dict[str, School]
    children: list[Student] = field(default_factory=list)
    guardian_names: list[str] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Student:
    person_key: str
    family: Family
    origin: str
    first: str
    middle: str | None
    last: str
    suffix: str | None
    birth: date
    sex: str
    hispanic: bool
    races: tuple[str, ...]
    grade: int
    grade_offset: int
    birthplace: str
    ssn: str | None
    school: School | None = None
    local_id: str = ""
    twin: Student | None = None
    counselor_key: str | None = None

    def record(self) -> dict[str, object]:
        fam = self.family
        return {
            "person_key": self.person_key,
            "family_key": fam.family_key,
            "first_name": self.first,
            "middle_name": self.middle,
            "last_name": self.last,
            "suffix": self.suffix,
            "birth_date": self.birth.isoformat(),
            "sex": self.sex,
            "hispanic_latino": self.hispanic,
            "races": list(self.races),
            "origin": self.origin,
            "twin": self.twin is not None,
            "twin_key": self.twin.person_key if self.twin else None,
            "grade": GRADE_LABELS[self.grade],
            "grade_offset": self.grade_offset,
            "district_id": fam.district.district_id,
            "school_id": self.school.school_id if self.school else None,
            "local_student_id": self.local_id,
            "ssn": self.ssn,
            "birthplace": self.birthplace,
            "address": fam.address,
            "postal_code": fam.postal_code,
            "guardians": [{"first_name": f, "last_name": la, "relationship": r} for f, la, r in fam.guardians],
            "counselor_staff_key": self.counselor_key,
        }


class EventStore:
    """Submissions sorted by (date, random tiebreak, sequence), in memory or via bucket files.

    Bucket files (a few days each) keep memory to one bucket's rows when a million students'
    submissions are sorted; the order is a total order, so both modes give identical output.
    """

    BUCKET_DAYS = 3

    def __init__(self, start_ordinal: int, spill_dir: Path | None) -> None:
        self._start = start_ordinal
        self._spill = spill_dir
        self._lines: list[str] = []
        self._files: dict[int, TextIO] = {}
        self._seq = 0
        self.count = 0

    def add(self, ordinal: int, tiebreak: int, row_json: str, truth_json: str) -> None:
        self._seq += 1
        self.count += 1
        line = f"{ordinal:07d}{tiebreak:010d}{self._seq:010d}\t{row_json}\t{truth_json}"
        if self._spill is None:
            self._lines.append(line)
            return
        bucket = max(0, ordinal - self._start) // self.BUCKET_DAYS
        handle = self._files.get(bucket)
        if handle is None:
            handle = open(self._spill / f"bucket-{bucket:04d}.tsv", "w", encoding="utf-8")  # noqa: SIM115
            self._files[bucket] = handle
        handle.write(line + "\n")

    def sorted_rows(self) -> Iterator[tuple[str, str]]:
        """(row_json, truth_json) in stream order; consumes the store."""
        if self._spill is None:
            self._lines.sort()
            lines, self._lines = self._lines, []
            for line in lines:
                _, row, truth = line.split("\t")
                yield row, truth
            return
        for bucket in sorted(self._files):
            self._files.pop(bucket).close()
            path = self._spill / f"bucket-{bucket:04d}.tsv"
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
            os.remove(path)
            lines.sort()
            for line in lines:
                _, row, truth = line.split("\t")
                yield row, truth

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()


class Synthesizer:
    """Generates one synthetic state from a `SynthConfig`.

    `records()` yields `(file_stem, json_line)` pairs: districts and schools, then each
    district's students, staff and sections, then submissions and truth interleaved in stream
    order. `manifest()` is complete once `records()` is exhausted.
    """

    def __init__(self, config: SynthConfig, on_students: Callable[[int], None] | None = None) -> None:
        self.config = config
        self.rng = random.Random(f"bench.synth:{config.seed}")
        self.faker = Faker("en_US")
        self.faker.seed_instance(config.seed)
        self.on_students = on_students
        self.counts: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()
        self.error_counts: Counter[str] = Counter()
        self._seq = {"person": 0, "family": 0, "staff": 0}
        self._ssns: set[str] = set()
        year = config.school_year
        self._fall = date(year, 8, 10).toordinal()
        self._oct1 = date(year, 10, 1).toordinal()
        self._apr30 = date(year + 1, 4, 30).toordinal()
        self._may31 = date(year + 1, 5, 31).toordinal()
        self._jun20 = date(year + 1, 6, 20).toordinal()
        self._end = date(year + 1, 6, 30).toordinal()
        self._window_start = date(year - 18, 9, 2)
        self._window_days = (date(year - 5, 9, 1) - self._window_start).days + 1
        self._p_twin_birth = config.twin_rate / (2.0 - config.twin_rate)
        self._statewide_origins = Weighted((k, w) for k, (_, w) in ORIGINS.items())
        self.districts: list[District] = []
        self._plan()
        self._transfer_picker = Weighted((d, d.quota + 1.0) for d in self.districts)
        self._done = False

    # ------------------------------------------------------------------ organisations
    def _next(self, kind: str) -> int:
        self._seq[kind] += 1
        return self._seq[kind]

    def _plan(self) -> None:
        cfg, rng, fake = self.config, self.rng, self.faker
        n_schools = max(6, round(cfg.students / cfg.students_per_school))
        n_districts = max(2, min(n_schools // 3, round(n_schools / cfg.schools_per_district)))
        size = [rng.lognormvariate(0.0, 1.0) for _ in range(n_districts)]
        school_counts = [3] * n_districts
        for i in rng.choices(range(n_districts), weights=size, k=n_schools - 3 * n_districts):
            school_counts[i] += 1
        raw = [c * rng.uniform(0.85, 1.15) for c in school_counts]
        quotas = _apportion(cfg.students, raw)
        zip_base = rng.randrange(80000, 85000)
        zip_next = 0
        cities: set[str] = set()
        self._other_states = [f"{fake.city()}, {fake.state_abbr(include_territories=False, include_freely_associated_states=False)}" for _ in range(80)]
        for i in range(n_districts):
            district_id = str(1001 + i)
            city = fake.city()
            while city in cities:
                city = fake.city()
            cities.add(city)
            n_zip = 1 + school_counts[i] // 3
            zips = [f"{10000 + (zip_base + zip_next + k) % 90000:05d}" for k in range(n_zip)]
            zip_next += n_zip
            streets = self._streets(max(12, quotas[i] // 40))
            mix = Weighted((k, w * rng.lognormvariate(0.0, 0.6)) for k, (_, w) in ORIGINS.items())
            width = max(rng.choice((6, 6, 7, 8, 9)), len(str(4 * quotas[i] + 1000)))
            prefix = "S" if rng.random() < 0.15 else ""
            district = District(
                district_id, f"{city} {rng.choice(('Public Schools', 'School District', 'Unified School District', 'City Schools', 'County Schools'))}",
                city, zips, streets, quotas[i], [], mix, IdSpace(rng, width, prefix), IdSpace(rng, 6),
            )
            n = school_counts[i]
            n_high = max(1, round(n * 4 / 13))
            n_mid = max(1, round(n * 3 / 13))
            types = ["elementary"] * (n - n_high - n_mid) + ["middle"] * n_mid + ["high"] * n_high
            width_s = 2 if n < 100 else 3
            names: set[str] = set()
            for k, kind in enumerate(types, start=1):
                label = {"elementary": "Elementary School", "middle": "Middle School", "high": "High School"}[kind]
                stem = city if kind == "high" and f"{city} {label}" not in names else rng.choice(_SCHOOL_STEMS) if rng.random() < 0.5 else fake.last_name()
                name = f"{stem} {label}"
                while name in names:
                    name = f"{fake.last_name()} {label}"
                names.add(name)
                district.schools.append(School(
                    f"{district_id}-{k:0{width_s}d}", district_id, name, kind, self._street_address(district),
                    rng.choice(zips), rng.lognormvariate(0.0, 0.35),
                ))
            district.pickers = {t: Weighted((s, s.weight) for s in district.schools if s.type == t) for t in SCHOOL_TYPES}
            self.districts.append(district)

    def _streets(self, n: int) -> list[str]:
        rng, fake = self.rng, self.faker
        out: list[str] = []
        for _ in range(n):
            r = rng.random()
            stem = fake.last_name() if r < 0.6 else fake.first_name() if r < 0.7 else rng.choice(_STREET_STEMS)
            direction = rng.choice(("N ", "S ", "E ", "W ")) if rng.random() < 0.1 else ""
            out.append(f"{direction}{stem} {_STREET_SUFFIX.pick(rng)}")
        return out

    def _street_address(self, district: District) -> str:
        rng = self.rng
        line = f"{rng.randint(1, 9899)} {rng.choice(district.streets)}"
        if rng.random() < 0.15:
            line += f" Apt {rng.randint(1, 30)}{rng.choice(('', '', 'A', 'B', 'C'))}"
        return line

    # ------------------------------------------------------------------ people
    def _ssn(self) -> str:
        rng = self.rng
        while True:
            area = rng.randint(1, 899)
            if area == 666:
                continue
            ssn = f"{area:03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"
            if ssn not in self._ssns:
                self._ssns.add(ssn)
                return ssn

    def _given(self, o: Origin, sex: str, kid: bool) -> str:
        rng = self.rng
        if sex == "X":
            sex = "F" if rng.random() < 0.5 else "M"
        if rng.random() < (o.kid_us_first if kid else o.adult_us_first):
            source = (US_KIDS_M if sex == "M" else US_KIDS_F) if kid else (US_ADULT_M if sex == "M" else US_ADULT_F)
        else:
            source = o.first_male if sex == "M" else o.first_female
        return source.pick(rng)

    def _guardians(self, o: Origin) -> tuple[list[tuple[str, str, str]], str, str | None]:
        """Guardians (first, last, relationship), the children's surname, and an alternative
        parent's surname for half-siblings."""
        rng, cfg = self.rng, self.config
        o2 = o
        if rng.random() < 0.08:
            o2 = ORIGINS[self._statewide_origins.pick(rng)][0]
        father_last = o.last.pick(rng)
        mother_own = o2.last.pick(rng)
        mother_married = mother_own if rng.random() < o.own_surname else feminine_surname(o.key, father_last)

        def double(a: str, b: str) -> str:
            sep = " " if o.key == "hispanic" and rng.random() < 0.3 else "-"
            return f"{a}{sep}{b}"

        def g(origin: Origin, sex: str, last: str, rel: str) -> tuple[str, str, str]:
            return (self._given(origin, sex, kid=False), last, rel)

        if rng.random() >= cfg.single_guardian_rate:
            r = rng.random()
            if r < 0.85:
                child = father_last
                if mother_own != father_last and rng.random() < o.double_surname:
                    child, mother_married = double(father_last, mother_own), mother_own
                return [g(o2, "F", mother_married, "mother"), g(o, "M", father_last, "father")], child, None
            if r < 0.92:
                step_last = o.last.pick(rng)
                bio = father_last if rng.random() < 0.6 else mother_own
                mother_last = step_last if rng.random() < 0.6 else mother_own
                return [g(o2, "F", mother_last, "mother"), g(o, "M", step_last, "stepfather")], bio, step_last
            if r < 0.97:
                sex = "F" if r < 0.95 else "M"
                rel = "mother" if sex == "F" else "father"
                other = o2.last.pick(rng)
                child = father_last if rng.random() < 0.7 else double(father_last, other)
                return [g(o, sex, father_last, rel), g(o2, sex, other, rel)], child, None
            grand = father_last if rng.random() < 0.5 else mother_own
            child = grand if rng.random() < 0.5 else o.last.pick(rng)
            return [g(o, "F", feminine_surname(o.key, grand), "grandmother"), g(o, "M", grand, "grandfather")], child, None
        r = rng.random()
        if r < 0.75:
            child = mother_married if rng.random() < 0.6 else father_last
            return [g(o2, "F", mother_married, "mother")], child, mother_married
        if r < 0.9:
            return [g(o, "M", father_last, "father")], father_last, None
        if r < 0.97:
            grand = mother_own
            child = grand if rng.random() < 0.5 else father_last
            return [g(o2, "F", feminine_surname(o2.key, grand), "grandmother")], child, None
        return [g(o, "F" if rng.random() < 0.6 else "M", o.last.pick(rng), "guardian")], father_last, None

    def _births(self) -> list[tuple[date, bool, int, int]]:
        """School-age births of one family: (birth date, twins, grade, grade offset)."""
        rng, cfg, year = self.rng, self.config, self.config.school_year
        while True:
            k = _CHILD_COUNT.pick(rng)
            anchor = self._window_start + timedelta(days=rng.randrange(self._window_days))
            j = rng.randrange(k)
            dobs = [anchor]
            day = anchor
            for _ in range(j):
                day -= timedelta(days=rng.randint(400, 2200))
                dobs.insert(0, day)
            day = anchor
            for _ in range(k - 1 - j):
                day += timedelta(days=rng.randint(400, 2200))
                dobs.append(day)
            out: list[tuple[date, bool, int, int]] = []
            for dob in dobs:
                e = expected_grade(dob, year)
                twins = rng.random() < self._p_twin_birth
                r = rng.random()
                if e == 13:
                    if r < cfg.held_back_rate:
                        out.append((dob, twins, 12, -1))
                    continue
                if not 0 <= e <= 12:
                    continue
                if r < cfg.held_back_rate and e >= 1:
                    out.append((dob, twins, e - 1, -1))
                elif cfg.held_back_rate <= r < cfg.held_back_rate + cfg.accelerated_rate and e <= 11:
                    out.append((dob, twins, e + 1, 1))
                else:
                    out.append((dob, twins, e, 0))
            if out:
                return out

    def _sex(self) -> str:
        r = self.rng.random()
        x = self.config.sex_x_rate
        return "X" if r < x else "F" if r < x + (1 - x) / 2 else "M"

    def _birthplace(self, o: Origin, district: District, grade: int) -> str:
        rng = self.rng
        if rng.random() < o.abroad * (0.5 + grade / 12):
            return o.countries.pick(rng)
        r = rng.random()
        if r < 0.8:
            city = district.city if rng.random() < 0.7 else rng.choice(self.districts).city
            return f"{city}, {self.config.state_code}"
        return rng.choice(self._other_states)

    def _family(self, district: District, remaining: int) -> Family:
        rng, cfg = self.rng, self.config
        o = ORIGINS[district.origins.pick(rng)][0]
        guardians, surname, alt_surname = self._guardians(o)
        races_set = set(o.races.pick(rng))
        hispanic = rng.random() < o.hispanic
        if rng.random() < 0.04:  # a second heritage in the family
            o2 = ORIGINS[self._statewide_origins.pick(rng)][0]
            races_set.update(o2.races.pick(rng))
            hispanic = hispanic or rng.random() < o2.hispanic
        races = tuple(r for r in RACE_ORDER if r in races_set)
        keep_accents = rng.random() < o.keep_diacritics
        family = Family(
            f"F{self._next('family'):08d}", district, self._street_address(district), rng.choice(district.postal_codes),
            guardians, {t: district.pickers[t].pick(rng) for t in SCHOOL_TYPES},
        )
        has_father = any(rel == "father" for _, _, rel in guardians)
        used_first: set[str] = set()
        suffixed = False
        children: list[Student] = []
        for dob, twins, grade, offset in self._births():
            sexes = [self._sex()]
            if twins:
                same = rng.random() < 2 / 3 or sexes[0] == "X"
                sexes.append(sexes[0] if same and sexes[0] != "X" else ("M" if sexes[0] == "F" else "F"))
            firsts: list[str] = []
            if twins and rng.random() < cfg.similar_twin_names and "X" not in sexes:
                if sexes[0] == sexes[1]:
                    pair = list(rng.choice(SIMILAR_MALE if sexes[0] == "M" else SIMILAR_FEMALE))
                    rng.shuffle(pair)
                else:
                    boy, girl = rng.choice(SIMILAR_MIXED)
                    pair = [boy, girl] if sexes[0] == "M" else [girl, boy]
                if not used_first.intersection(pair):
                    firsts = pair
            if not firsts:
                for sex in sexes:
                    name = self._given(o, sex, kid=True)
                    for _ in range(5):
                        if name not in used_first and name not in firsts:
                            break
                        name = self._given(o, sex, kid=True)
                    firsts.append(name)
            used_first.update(firsts)
            last = surname
            if children and alt_surname is None and rng.random() < 0.04:
                last = o.last.pick(rng)  # half-sibling with another surname
            elif children and alt_surname is not None and rng.random() < 0.15:
                last = alt_surname
            birthplace = self._birthplace(o, district, grade)
            born: list[Student] = []
            for sex, first in zip(sexes, firsts):
                middle = None
                if rng.random() < o.middle_rate * (0.3 if " " in first else 1.0):
                    middle = self._given(o, sex, kid=True)
                    if middle == first:
                        middle = None
                suffix = None
                if sex == "M" and has_father and not suffixed and not twins and rng.random() < cfg.suffix_rate:
                    suffix = _SUFFIXES.pick(rng)
                    suffixed = True
                    guardians[:] = [(first, gl, rel) if rel == "father" else (gf, gl, rel) for gf, gl, rel in guardians]
                student = Student(
                    "", family, o.key, first, middle, last, suffix, dob, sex, hispanic, races, grade, offset, birthplace,
                    self._ssn() if rng.random() < cfg.ssn_share else None,
                )
                born.append(student)
            if len(born) == 2:
                born[0].twin, born[1].twin = born[1], born[0]
            children.extend(born)
        if len(children) > remaining:
            children = children[:remaining]
            for child in children:
                if child.twin is not None and child.twin not in children:
                    child.twin = None
        if not keep_accents:
            for child in children:
                child.first, child.last = strip_accents(child.first), strip_accents(child.last)
                child.middle = strip_accents(child.middle) if child.middle else None
            guardians[:] = [(strip_accents(f), strip_accents(la), r) for f, la, r in guardians]
        for child in children:
            child.person_key = f"P{self._next('person'):08d}"
            child.school = family.zone[school_type_for(child.grade)]
            child.local_id = district.ids.next()
        family.children = children
        family.guardian_names = [f"{f} {la}" for f, la, _ in guardians]
        return family

    # ------------------------------------------------------------------ staff and sections
    def _staff(self, district: District, school: School, role: str, subjects: list[str], endorsements: list[str]) -> dict[str, object]:
        rng, year = self.rng, self.config.school_year
        o = ORIGINS[STAFF_ORIGINS.pick(rng)][0]
        female = rng.random() < {"teacher": 0.76, "counselor": 0.72}.get(role, 0.55)
        sex = "F" if female else "M"
        first = self._given(o, sex, kid=False)
        middle = self._given(o, sex, kid=False) if rng.random() < 0.5 else None
        last = o.last.pick(rng)
        if female:
            last = feminine_surname(o.key, last)
        if rng.random() >= o.keep_diacritics:
            first, last = strip_accents(first), strip_accents(last)
            middle = strip_accents(middle) if middle else None
        credentials: list[dict[str, object]] = []
        if role in ("teacher", "principal", "assistant_principal"):
            credentials.append({"type": "Professional Teaching License", "number": f"TL{rng.randrange(10**7):07d}",
                                "endorsements": endorsements if role == "teacher" else ["Classroom Teaching K-12"],
                                "expires": f"{year + rng.randint(1, 5)}-06-30"})
        if role == "counselor":
            credentials.append({"type": "School Counselor License", "number": f"SC{rng.randrange(10**7):07d}",
                                "endorsements": ["School Counseling PK-12"], "expires": f"{year + rng.randint(1, 5)}-06-30"})
        if role in ("principal", "assistant_principal"):
            credentials.append({"type": "Administrator License", "number": f"AD{rng.randrange(10**7):07d}",
                                "endorsements": ["Building Administrator PK-12"], "expires": f"{year + rng.randint(1, 5)}-06-30"})
        return {
            "staff_key": f"E{self._next('staff'):07d}",
            "staff_local_id": district.staff_ids.next(),
            "district_id": district.district_id,
            "school_id": school.school_id,
            "role": role,
            "first_name": first,
            "middle_name": middle,
            "last_name": last,
            "sex": sex,
            "credentials": credentials,
            "subjects": subjects,
            "caseload": [],
        }

    def _school_people(self, district: District, school: School, students: list[Student]) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        """Staff and sections of one school; sets each student's counselor."""
        rng = self.rng
        staff: list[dict[str, object]] = [self._staff(district, school, "principal", [], [])]
        staff += [self._staff(district, school, "assistant_principal", [], []) for _ in range(len(students) // 500)]
        by_grade: dict[int, list[Student]] = {g: [] for g in SCHOOL_TYPES[school.type]}
        for s in students:
            by_grade[s.grade].append(s)
        sections: list[dict[str, object]] = []
        term = f"{self.config.school_year}-{(self.config.school_year + 1) % 100:02d}"

        def section(code: str, name: str, grade: int, members: list[Student], teacher: dict[str, object], k: int) -> dict[str, object]:
            return {
                "section_key": f"{school.school_id}-{code}-{k:02d}",
                "school_id": school.school_id,
                "district_id": district.district_id,
                "school_year": term,
                "course_code": code,
                "course_name": name,
                "grade": GRADE_LABELS[grade],
                "teacher_staff_key": teacher["staff_key"],
                "student_keys": sorted(s.person_key for s in members),
            }

        if school.type == "elementary":
            for grade, members in by_grade.items():
                if not members:
                    continue
                members = members[:]
                rng.shuffle(members)
                n = math.ceil(len(members) / 24)
                label = "Kindergarten" if grade == 0 else f"Grade {grade}"
                for k in range(n):
                    teacher = self._staff(district, school, "teacher", [f"{label} Homeroom"], ["Elementary Education K-6"])
                    staff.append(teacher)
                    sections.append(section(f"HR{GRADE_LABELS[grade]}", f"{label} Homeroom", grade, members[k::n], teacher, k + 1))
        else:
            band = "5-9" if school.type == "middle" else "9-12"
            planned: dict[str, list[tuple[str, str, int, list[Student]]]] = {}
            for grade, members in by_grade.items():
                if not members:
                    continue
                for code, name in _CORE:
                    shuffled = members[:]
                    rng.shuffle(shuffled)
                    n = math.ceil(len(shuffled) / 28)
                    for k in range(n):
                        planned.setdefault(code, []).append((f"{code}{GRADE_LABELS[grade]}", f"{name} {grade}", grade, shuffled[k::n]))
                electives: dict[str, list[Student]] = {}
                for s in members:
                    electives.setdefault(rng.choice(_ELECTIVES)[0], []).append(s)
                for code, name in _ELECTIVES:
                    chosen = electives.get(code, [])
                    n = math.ceil(len(chosen) / 28)
                    for k in range(n):
                        planned.setdefault(code, []).append((f"{code}{GRADE_LABELS[grade]}", f"{name} {grade}", grade, chosen[k::n]))
            names = dict(_CORE + _ELECTIVES)
            for subject, items in planned.items():
                teacher: dict[str, object] = {}
                counters: Counter[str] = Counter()
                for i, (code, name, grade, members) in enumerate(items):
                    if i % 5 == 0:
                        teacher = self._staff(district, school, "teacher", [names[subject]], [f"{names[subject]} {band}"])
                        staff.append(teacher)
                    counters[code] += 1
                    sections.append(section(code, name, grade, members, teacher, counters[code]))
        n_counselors = max(1, round(len(students) / 400))
        ordered = sorted(students, key=lambda s: (strip_accents(s.last).lower(), strip_accents(s.first).lower(), s.person_key))
        for c in range(n_counselors):
            counselor = self._staff(district, school, "counselor", [], [])
            lo, hi = c * len(ordered) // n_counselors, (c + 1) * len(ordered) // n_counselors
            for s in ordered[lo:hi]:
                s.counselor_key = str(counselor["staff_key"])
            counselor["caseload"] = sorted(s.person_key for s in ordered[lo:hi])
            staff.append(counselor)
        return staff, sections

    # ------------------------------------------------------------------ submissions
    def _emit(self, store: EventStore, child: Student, kind: str, district: District, local_id: str,
              school: School, address: str, postal: str, day: int) -> None:
        rng, cfg = self.rng, self.config
        row: dict[str, object] = {
            "district_id": district.district_id,
            "local_student_id": local_id,
            "first_name": child.first,
            "middle_name": child.middle,
            "last_name": child.last,
            "suffix": child.suffix,
            "birth_date": child.birth.isoformat(),
            "sex": child.sex,
            "hispanic_latino": child.hispanic,
            "races": list(child.races),
            "guardian_names": list(child.family.guardian_names),
            "ssn": child.ssn,
            "birthplace": child.birthplace if rng.random() < cfg.birthplace_reported else None,
            "address": address,
            "postal_code": postal,
            "school_id": school.school_id,
            "grade": GRADE_LABELS[child.grade],
            "submitted_on": date.fromordinal(day).isoformat(),
        }
        errors = inject_errors(row, cfg.errors, rng) if kind != "first" else []
        self.kinds[kind] += 1
        self.error_counts.update(errors)
        truth = {"person_key": child.person_key, "kind": kind, "errors": errors}
        store.add(day, rng.getrandbits(32), _dumps(row), _dumps(truth))

    def _enrollment(self, store: EventStore, child: Student, kind: str, district: District, local_id: str,
                    school: School, address: str, postal: str, day: int) -> None:
        """One enrollment's submission and its same-district resubmissions."""
        rng = self.rng
        self._emit(store, child, kind, district, local_id, school, address, postal, day)
        if rng.random() < self.config.resubmission_rate:
            for _ in range(2 if rng.random() < 0.25 else 1):
                later = min(day + rng.randint(5, 160), self._end)
                self._emit(store, child, "resubmission", district, local_id, school, address, postal, later)

    def _other_district(self, prev: District, avoid: set[str]) -> District:
        """A district other than `prev`, preferring ones not in `avoid`, weighted by size."""
        exclude = avoid | {prev.district_id}
        candidates = [d for d in self.districts if d.district_id not in exclude]
        if not candidates:
            exclude = {prev.district_id}
            candidates = [d for d in self.districts if d is not prev]
        if len(candidates) <= 3:
            return self.rng.choice(candidates)
        for _ in range(50):
            d = self._transfer_picker.pick(self.rng)
            if d.district_id not in exclude:
                return d
        return self.rng.choice(candidates)

    def _family_events(self, store: EventStore, family: Family) -> None:
        rng, cfg = self.rng, self.config
        district = family.district
        day = self._fall + rng.randint(0, 50)
        current: dict[str, tuple[District, str, School, str, str, int]] = {}
        for child in family.children:
            assert child.school is not None
            self._enrollment(store, child, "first", district, child.local_id, child.school, family.address, family.postal_code, day)
            current[child.person_key] = (district, child.local_id, child.school, family.address, family.postal_code, day)
        if family.children and rng.random() < cfg.transfer_rate:
            moves = 2 if rng.random() < cfg.second_transfer_rate else 1
            move_day = self._oct1 + rng.randint(0, self._apr30 - self._oct1)
            visited = {district.district_id}
            prev = district
            for _ in range(moves):
                target = self._other_district(prev, visited)
                visited.add(target.district_id)
                address, postal = self._street_address(target), rng.choice(target.postal_codes)
                zone = {t: target.pickers[t].pick(rng) for t in SCHOOL_TYPES}
                for child in family.children:
                    local = target.ids.next()
                    school = zone[school_type_for(child.grade)]
                    self._enrollment(store, child, "transfer", target, local, school, address, postal, move_day)
                    current[child.person_key] = (target, local, school, address, postal, move_day)
                prev = target
                move_day = min(move_day + rng.randint(30, 150), self._may31)
        for child in family.children:
            if rng.random() < cfg.reentry_rate:
                cur_district, _, school, address, postal, last_day = current[child.person_key]
                back = min(last_day + rng.randint(20, 120), self._jun20)
                self._enrollment(store, child, "reentry", cur_district, cur_district.ids.next(), school, address, postal, back)

    # ------------------------------------------------------------------ driver
    def records(self, spill_dir: Path | None = None) -> Iterator[tuple[str, str]]:
        """(file stem, JSON line) for every record of the state, submissions last."""
        if self._done:
            raise RuntimeError("a Synthesizer generates once; make a new one")
        self._done = True
        code = self.config.state_code
        for district in self.districts:
            self.counts["districts"] += 1
            yield "districts", _dumps(district.record(code))
        for district in self.districts:
            for school in district.schools:
                self.counts["schools"] += 1
                yield "schools", _dumps(school.record(code))
        store = EventStore(self._fall, spill_dir)
        try:
            for district in self.districts:
                families: list[Family] = []
                remaining = district.quota
                while remaining > 0:
                    family = self._family(district, remaining)
                    families.append(family)
                    remaining -= len(family.children)
                    if self.on_students is not None:
                        self.on_students(len(family.children))
                by_school: dict[str, list[Student]] = {s.school_id: [] for s in district.schools}
                for family in families:
                    for child in family.children:
                        assert child.school is not None
                        by_school[child.school.school_id].append(child)
                staff_out: list[dict[str, object]] = []
                sections_out: list[dict[str, object]] = []
                for school in district.schools:
                    staff, sections = self._school_people(district, school, by_school[school.school_id])
                    staff_out += staff
                    sections_out += sections
                self.counts["families"] += len(families)
                for family in families:
                    for child in family.children:
                        self.counts["students"] += 1
                        self.counts["twins"] += child.twin is not None
                        self.counts["students_with_ssn"] += child.ssn is not None
                        yield "students", _dumps(child.record())
                for rec in staff_out:
                    self.counts["staff"] += 1
                    yield "staff", _dumps(rec)
                for rec in sections_out:
                    self.counts["sections"] += 1
                    yield "sections", _dumps(rec)
                for family in families:
                    self._family_events(store, family)
            self.counts["submissions"] = self.counts["truth"] = store.count  # known before the sort (progress totals)
            n = 0
            for row, truth in store.sorted_rows():
                n += 1
                ref = f'{{"row_ref":"R{n:09d}",'
                yield "submissions", ref + row[1:]
                yield "truth", ref + truth[1:]
            assert n == store.count
        finally:
            store.close()

    def manifest(self) -> dict[str, object]:
        """Seed, config, counts and realised error counts (no timings: output stays byte-identical)."""
        import faker

        return {
            "generator": "bench.synth",
            "generator_version": GENERATOR_VERSION,
            "faker_version": faker.VERSION,
            "seed": self.config.seed,
            "config": self.config.to_dict(),
            "counts": dict(sorted(self.counts.items())),
            "submission_kinds": dict(sorted(self.kinds.items())),
            "errors_applied": dict(sorted(self.error_counts.items())),
            "files": [f"{name}.ndjson" for name in FILES],
        }


FILES: tuple[str, ...] = ("districts", "schools", "students", "staff", "sections", "submissions", "truth")


def _apportion(total: int, weights: list[float]) -> list[int]:
    """Largest-remainder split of `total` in proportion to `weights` (sums exactly)."""
    s = sum(weights)
    exact = [total * w / s for w in weights]
    base = [int(x) for x in exact]
    short = total - sum(base)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - base[i]), i))
    for i in order[:short]:
        base[i] += 1
    return base
