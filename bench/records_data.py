"""The records bench's synthetic state: students from `bench.synth`, turned into records (the
elements a district would submit).

    students = iter_synth_students(config)     # compact tuples, one district in memory at a time
    record = student_record(student, rng, year)  # the JSON a district SIS would POST
    elements(record)                             # (section, natural key, data), as validated

Students come from the seeded generator (names, birth dates, sex, ethnicity, districts, schools,
grades, local IDs, addresses, guardians); the submission stream it would also make (transfers,
errors) is not generated here, since the records bench needs the population only. The rest of a
record (programs, plans, assessments, attendance, migrant education, discipline incidents, high
school courses) is drawn from a per-chunk seeded RNG, so a seed still fixes every byte of the load.

The rows (see `bench.records_load`) are what the records service itself would have written for
one bulk submission per district: an item and a `create` version per element (the version id is
the change version and the item points at it), the subject at version 1 with its last change
version, the derived enrollment and plan rows, and one hash-chained `write` entry per record in
the access log.
"""

from __future__ import annotations

import json
import json.encoder
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

from stdnum import damm

from bench.synth import SynthConfig, Synthesizer
from services.records.sections import ROOT, sections
from shared.audit import canonical

LOADER_ACTOR = "client:bench-records-loader"
_SPECS = sections("student")
_STRIDE = 37  # room for 24M students in 9 digits


def state_id_for(index: int) -> str:
    """A valid 10-digit state student ID (Damm check digit) for the index-th student: irregular
    steps, but increasing with the index, so a bulk load in stream order appends to every index
    on the state ID instead of inserting all over it (lookups by key do not care about order)."""
    body = str(100_000_000 + index * _STRIDE + (index * 7919) % _STRIDE)
    return body + damm.calc_check_digit(body)


class SynthStudent(NamedTuple):
    """What the bench needs of a generated student (picklable, small)."""

    index: int
    state_id: str
    district_id: str
    school_id: str
    prev_school_id: str | None  # last year's school (None in kindergarten)
    grade: int  # 0 = KG
    local_id: str
    first: str
    middle: str | None
    last: str
    suffix: str | None
    birth_date: str
    sex: str
    hispanic: bool
    races: tuple[str, ...]
    address: str
    postal_code: str
    birthplace: str
    guardians: tuple[tuple[str, str, str], ...]  # (first, last, relationship)


def _school_type(grade: int) -> str:
    return "elementary" if grade <= 5 else "middle" if grade <= 8 else "high"


def iter_synth_students(config: SynthConfig) -> Iterator[SynthStudent]:
    """Every student of the synthetic state, district by district, as `SynthStudent`s.

    The generator's population model (families, names, birth dates, schools, local IDs) without
    its submission stream, staff and sections: the records bench needs the people only, and at
    1M students those are most of the generator's time. So the population is seeded and
    reproducible, though not the byte-identical one `iter_state` gives for the same seed (that
    one interleaves the submission stream's draws).
    """
    synth = Synthesizer(config)
    index = 0
    for district in synth.districts:
        types: dict[str, list[str]] = {}
        for school in district.schools:
            types.setdefault(school.type, []).append(school.school_id)
        remaining = district.quota
        while remaining > 0:
            family = synth._family(district, remaining)
            remaining -= len(family.children)
            for child in family.children:
                school_id = child.school.school_id
                prev = None
                if child.grade > 0:
                    kind = _school_type(child.grade - 1)
                    prev = school_id if kind == child.school.type else types[kind][index % len(types[kind])]
                yield SynthStudent(
                    index, state_id_for(index), district.district_id, school_id, prev, child.grade,
                    child.local_id, child.first, child.middle, child.last, child.suffix,
                    child.birth.isoformat(), child.sex, child.hispanic, tuple(child.races),
                    family.address, family.postal_code, child.birthplace, tuple(family.guardians))
                index += 1


# --- the record a district would submit -------------------------------------------------------

GRADES = ("KG", *(f"{g:02d}" for g in range(1, 13)))
_DISABILITIES = ("SLD", "SLD", "SLD", "SLI", "SLI", "OHI", "AUT", "EMD", "ID", "DB", "MD", "HI")
_ENVIRONMENTS = ("regular_80", "regular_80", "regular_80", "regular_40_79", "regular_under_40")
_LUNCH = ("free", "free", "reduced", "not_eligible", "not_eligible", "not_eligible")


@dataclass(frozen=True, slots=True)
class SchoolYear:
    """The current school year (the one a district is enrolling in today) and the one before."""

    fall: int

    @classmethod
    def containing(cls, day: date) -> SchoolYear:
        return cls(day.year if day.month >= 8 else day.year - 1)

    @property
    def label(self) -> str:
        return f"{self.fall}-{self.fall + 1}"

    @property
    def previous_label(self) -> str:
        return f"{self.fall - 1}-{self.fall}"


def student_record(s: SynthStudent, rng: random.Random, year: SchoolYear) -> dict[str, Any]:
    """The student's record as a district SIS would submit it (valid against the dictionary):
    identifiers, demographics, this year's enrollment (and last year's, grade 1 up), programs,
    an IEP or a 504 plan for some, two assessments, last year's attendance, and for some migrant
    education, discipline incidents and last year's core courses."""
    demographics: dict[str, Any] = {"first_name": s.first}
    if s.middle:
        demographics["middle_name"] = s.middle
    demographics["last_name"] = s.last
    if s.suffix:
        demographics["generation_code_suffix"] = s.suffix
    demographics["birth_date"] = s.birth_date
    demographics["sex"] = s.sex
    demographics["hispanic_latino_ethnicity"] = s.hispanic
    if s.races:
        demographics["races"] = list(s.races)
    demographics["federal_race_ethnicity"] = ("HI7" if s.hispanic else "MU7" if len(s.races) > 1
                                              else f"{s.races[0]}7" if s.races else "WH7")
    demographics["primary_language"] = "spa" if s.hispanic and rng.random() < 0.4 else "eng"
    demographics["address_street"] = s.address
    demographics["address_postal_code"] = s.postal_code

    grade = GRADES[s.grade]
    current: dict[str, Any] = {"school_year": year.label, "district_id": s.district_id, "school_id": s.school_id,
                               "grade_level": grade, "entry_date": f"{year.fall}-08-19", "primary_school": True}
    enrollment = [current]
    if s.prev_school_id is None:
        current["entry_type"] = "first_entry_in_state"
    else:
        if s.prev_school_id != s.school_id:
            current["entry_type"] = "transfer_same_district"
        enrollment.insert(0, {"school_year": year.previous_label, "district_id": s.district_id,
                              "school_id": s.prev_school_id, "grade_level": GRADES[s.grade - 1],
                              "entry_date": f"{year.fall - 1}-08-20", "entry_type": "first_entry_in_state",
                              "exit_date": f"{year.fall}-06-05", "exit_type": "end_of_year",
                              "primary_school": True})

    iep = rng.random() < 0.13
    plan_504 = not iep and rng.random() < 0.03
    english_learner = rng.random() < (0.35 if s.hispanic else 0.04)
    record: dict[str, Any] = {
        "state_student_id": s.state_id,
        "local_student_id": s.local_id,
        "demographics": demographics,
        "enrollment": enrollment,
        "programs": {"title_i": rng.random() < 0.45, "special_education": iep, "section_504": plan_504,
                     "gifted_talented": rng.random() < 0.06, "lunch_status": rng.choice(_LUNCH),
                     "english_learner": english_learner, "homeless": rng.random() < 0.02},
    }
    if iep or plan_504:
        begin = date(year.fall - 1, 12, 1) + timedelta(days=rng.randrange(330))
        dates = begin.isoformat(), (begin + timedelta(days=364)).isoformat()
        if iep:
            record["special_education"] = {"primary_disability": rng.choice(_DISABILITIES),
                                           "iep_begin_date": dates[0], "iep_end_date": dates[1],
                                           "educational_environment": rng.choice(_ENVIRONMENTS)}
        else:
            record["section_504"] = {"plan_begin_date": dates[0], "plan_end_date": dates[1]}

    if s.grade == 0:  # kindergarten: this fall's readiness screening
        family, school_year, tested = "kindergarten_readiness", year.label, "KG"
    else:
        family, school_year, tested = "state_summative", year.previous_label, GRADES[s.grade - 1]
    assessments = []
    for subject, title in (("ela", "ELA"), ("mathematics", "Mathematics")):
        score = int(rng.gauss(500, 60))
        assessments.append({"assessment_family": family, "assessment_title": f"ST {title} {tested}",
                            "subject": subject, "school_year": school_year, "tested_grade_level": tested,
                            "scale_score": score,
                            "performance_level": str(min(5, max(1, (score - 380) // 50 + 1)))})
    record["assessments"] = assessments
    days = 180 if s.grade else rng.randrange(55, 65)  # whole days (decimal fields; ints encode faster)
    excused = rng.randrange(0, 9)
    unexcused = rng.randrange(0, 4) if rng.random() < 0.8 else rng.randrange(4, 25)
    record["attendance"] = [{"school_year": year.previous_label if s.grade else year.label,
                             "school_id": s.prev_school_id or s.school_id, "days_enrolled": days,
                             "days_present": days - excused - unexcused, "days_absent_excused": excused,
                             "days_absent_unexcused": unexcused}]
    # Migrant education (about 1 in 50, more among Hispanic families), discipline incidents (more in
    # middle and high school; at most two) and last year's core courses from grade 9 up: at most 15
    # elements a student with the sections above (VERSIONS_PER_STUDENT is 16).
    if rng.random() < (0.05 if s.hispanic else 0.008):
        record["programs"]["migrant"] = True
        arrival = date(year.fall - 1, 1, 1) + timedelta(days=rng.randrange(600))
        record["migrant"] = {"qualifying_arrival_date": arrival.isoformat(),
                             "certificate_of_eligibility_date": (arrival + timedelta(days=rng.randrange(10, 60))).isoformat(),
                             "priority_for_services": rng.random() < 0.3,
                             "services_received": rng.sample(_MIGRANT_SERVICES, rng.randrange(1, 3))}
    if rng.random() < (0.09 if s.grade >= 6 else 0.025):
        incidents = []
        for day in sorted(rng.sample(range(20, 170), 2 if rng.random() < 0.2 else 1)):
            action = rng.choice(_ACTIONS)
            incident = {"incident_date": (date(year.fall - 1, 8, 20) + timedelta(days=day)).isoformat(),
                        "incident_type": rng.choice(_INCIDENTS), "action_type": action,
                        "related_to_disability": iep and rng.random() < 0.3,
                        "law_enforcement_referral": rng.random() < 0.03}
            if action.endswith("suspension"):
                incident["action_days"] = rng.randrange(1, 6)
            incidents.append(incident)
        record["discipline"] = incidents
    if s.grade >= 10:  # last year's (grade 9 up) ELA, mathematics and science
        record["courses"] = [{"school_year": year.previous_label, "term": "full_year", "course_code": code,
                              "course_title": title, "course_level": "honors" if rng.random() < 0.15 else "general",
                              "final_letter_grade": rng.choice(_GRADES), "credits_earned": 1}
                             for code, title in _COURSES]
    return record


_MIGRANT_SERVICES = ["instructional", "support", "referral", "continuation"]
_INCIDENTS = ("defiance", "defiance", "defiance", "bullying_harassment", "violence_without_injury",
              "tobacco", "theft", "vandalism", "drugs", "other")
_ACTIONS = ("detention", "detention", "in_school_suspension", "in_school_suspension", "out_of_school_suspension")
_GRADES = ("A", "A", "B", "B", "B", "C", "C", "D", "F")
_COURSES = (("01001", "English/Language Arts I"), ("02052", "Algebra I"), ("03051", "Biology"))


_LIST_KEYS = {name: spec.key for name, spec in _SPECS.items() if spec.shape == "list"}


def elements(record: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(section, natural key, data) per element, as `validation.validate_record` splits a
    record (the record is built valid, so the bulk load skips the validator itself; the natural
    key is `sections.natural_key`, inlined)."""
    out: list[tuple[str, str, dict[str, Any]]] = [(ROOT, "", {"local_student_id": record["local_student_id"]})]
    for name, value in record.items():
        if name not in _SPECS or name == ROOT:
            continue
        keys = _LIST_KEYS.get(name)
        if keys is None:
            out.append((name, "", value))
        else:
            for element in value:
                out.append((name, "|".join(["" if (v := element.get(k)) is None else str(v) for k in keys]),
                            element))
    return out


def person_facts(s: SynthStudent) -> dict[str, Any]:
    """The student as identity knows them (for the ingest pool's identity_person rows)."""
    return {"first_name": s.first, "middle_name": s.middle, "last_name": s.last, "suffix": s.suffix,
            "birth_date": date.fromisoformat(s.birth_date), "sex": s.sex, "hispanic_latino": s.hispanic,
            "races": list(s.races), "guardian_names": [f"{f} {la}" for f, la, _ in s.guardians],
            "birthplace": s.birthplace, "address": s.address, "postal_code": s.postal_code}


# --- rows --------------------------------------------------------------------------------------

COLUMNS: dict[str, tuple[str, ...]] = {
    "records_subject": ("entity", "state_id", "version", "change_version", "created_at", "updated_at"),
    "records_item": ("id", "entity", "state_id", "section", "item_key", "district_id", "data", "version",
                     "change_version", "recorded_at", "recorded_by", "submission_id"),
    "records_item_version": ("id", "item_id", "entity", "state_id", "section", "item_key", "version", "operation",
                             "data", "district_id", "recorded_at", "recorded_by", "submission_id"),
    "records_enrollment": ("id", "state_student_id", "item_id", "district_id", "school_id", "entry_date", "exit_date"),
    "records_student_plan": ("id", "state_student_id", "kind", "begin_date", "end_date"),
    "records_access_log": ("seq", "at", "actor", "action", "request_id", "payload", "prev_hash", "hash", "state_id"),
    "records_submission": ("id", "entity", "actor", "district_id", "received_at", "rows", "accepted", "rejected"),
    "identity_person": ("state_id", "kind", "first_name", "middle_name", "last_name", "suffix", "birth_date", "sex",
                        "hispanic_latino", "races", "guardian_names", "ssn_hash", "birthplace", "address",
                        "postal_code", "status", "merged_into", "assigned_by_district", "created_at", "updated_at"),
    "identity_alias": ("district_id", "local_id", "kind", "state_id", "created_at", "updated_at"),
}
BULK_TABLES = ("records_subject", "records_item", "records_item_version", "records_enrollment",
               "records_student_plan", "records_access_log")
SEQUENCES = {"records_item_version": "id", "records_enrollment": "id", "records_student_plan": "id"}


JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _no_default(value: Any) -> Any:
    raise TypeError(f"not JSON: {type(value).__name__}")


# The C encoder behind JSON_ENCODER, made once: `JSONEncoder.encode` builds it on every call,
# which is half the cost of encoding a small element.
_C_ENCODER = (json.encoder.c_make_encoder(None, _no_default, json.encoder.encode_basestring,  # type: ignore[attr-defined]
                                          None, ":", ",", False, False, True)
              if getattr(json.encoder, "c_make_encoder", None) else None)


def encode_json(value: dict[str, Any]) -> str:
    """Compact JSON, non-ASCII kept (as `JSON_ENCODER.encode`, faster)."""
    if _C_ENCODER is None:
        return JSON_ENCODER.encode(value)
    return "".join(_C_ENCODER(value, 0))


_C_CANONICAL = (json.encoder.c_make_encoder(None, str, json.encoder.encode_basestring,  # type: ignore[attr-defined]
                                            None, ":", ",", True, False, True)
                if getattr(json.encoder, "c_make_encoder", None) else None)


def canonical_json(payload: dict[str, Any]) -> str:
    """`shared.audit.canonical` (sorted keys, compact, non-ASCII kept, `default=str`), faster."""
    if _C_CANONICAL is None:
        return canonical(payload)
    return "".join(_C_CANONICAL(payload, 0))


@cache
def submission_id_for(district_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"slds-bench-records-load/{district_id}"))


@cache
def field_names(section: str, keys: tuple[str, ...]) -> tuple[str, ...]:
    """`fields_present` for an element without nested objects (all the bench's elements)."""
    return tuple(keys) if section == ROOT else tuple(f"{section}.{k}" for k in keys)


def identity_rows(pool: list[SynthStudent], at: datetime) -> dict[str, list[tuple[Any, ...]]]:
    persons, aliases = [], []
    for s in pool:
        f = person_facts(s)
        persons.append((s.state_id, "student", f["first_name"], f["middle_name"], f["last_name"], f["suffix"],
                        f["birth_date"], f["sex"], f["hispanic_latino"], json.dumps(f["races"]),
                        json.dumps(f["guardian_names"], ensure_ascii=False), None, f["birthplace"], f["address"],
                        f["postal_code"], "active", None, s.district_id, at, at))
        aliases.append((s.district_id, s.local_id, "student", s.state_id, at, at))
    return {"identity_person": persons, "identity_alias": aliases}


def load_timestamp() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
