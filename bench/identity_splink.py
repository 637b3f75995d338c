"""Splink 5 (DuckDB) on the identity bench's submissions: the reference tool, run as a batch
dedupe of the whole stream at once.

`run_splink(submissions)` cleans the rows the way a Splink user would (accents folded, lowercase,
punctuation dropped, metaphone codes), blocks like our resolver does (birth date, day/month-swapped
birth date, names by sound, surname + first initial, SSN, the district's local ID), trains u by
random sampling and m by EM on two blocking rules, predicts, and returns the scored pairs and the
connected-component clusters at the requested thresholds, with the time each step took.

Splink has an advantage the resolver has not: it sees the whole year's stream at once (later rows
can link earlier ones through a third) and trains on it. It has no nickname list and no sibling
guard.
"""

from __future__ import annotations

import logging
import math
import re
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import jellyfish

_APOSTROPHES = re.compile(r"['’‘ʼ`´]")
_SEPARATORS = re.compile(r"[\W_]+")
_PARTICLES = frozenset({"de", "del", "la", "las", "los", "van", "von", "der", "den", "da", "di",
                        "du", "le", "al", "el", "y", "st", "dos", "das"})


def clean(text: str | None) -> str | None:
    """"José O'Brien-Núñez" -> "jose obrien nunez"; None for nothing left."""
    if not text:
        return None
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    words = _SEPARATORS.sub(" ", _APOSTROPHES.sub("", folded)).split()
    return " ".join(words) or None


def _compact(text: str | None) -> str | None:
    value = clean(text)
    return value.replace(" ", "") if value else None


def _metaphone(text: str | None) -> str | None:
    return jellyfish.metaphone(text) or None if text else None


def _swapped(iso: str | None) -> str | None:
    if not iso:
        return None
    day = date.fromisoformat(iso)
    if day.day > 12 or day.day == day.month:
        return None
    return day.replace(month=day.day, day=day.month).isoformat()


def splink_rows(submissions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One cleaned input row per submission; unique_id is the position in the stream."""
    rows = []
    for index, s in enumerate(submissions):
        first = _compact(s.get("first_name"))
        last = _compact(s.get("last_name"))
        last_words = (clean(s.get("last_name")) or "").split()
        parts = [w for w in last_words if w not in _PARTICLES and len(w) > 1] or last_words
        middle = _compact(s.get("middle_name"))
        guardians = sorted({g for g in (clean(n) for n in s.get("guardian_names") or []) if g})
        rows.append({
            "unique_id": index,
            "first_name": first,
            "first_mp": _metaphone(first),
            "first_init": first[0] if first else None,
            "middle_name": middle,
            "last_name": last,
            "last_parts": parts or None,
            "last_mp": _metaphone(last),
            "dob": s.get("birth_date"),
            "dob_swapped": _swapped(s.get("birth_date")),
            "sex": s.get("sex"),
            "ssn": s.get("ssn"),
            "guardians": guardians or None,
            "address": clean(s.get("address")),
            "postal_code": s.get("postal_code"),
            "birthplace": clean(s.get("birthplace")),
            "district_local": f"{s['district_id']}|{s['local_student_id']}",
        })
    return rows


def _settings() -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    first_name = cl.CustomComparison(output_column_name="first_name", comparison_levels=[
        cll.NullLevel("first_name"),
        cll.ExactMatchLevel("first_name").configure(tf_adjustment_column="first_name"),
        cll.ColumnsReversedLevel("first_name", "last_name", symmetrical=True),
        cll.JaroWinklerLevel("first_name", 0.92),
        cll.ExactMatchLevel("first_mp"),
        cll.JaroWinklerLevel("first_name", 0.80),
        cll.ExactMatchLevel("first_init"),
        cll.ElseLevel(),
    ])
    last_name = cl.CustomComparison(output_column_name="last_name", comparison_levels=[
        cll.NullLevel("last_name"),
        cll.ExactMatchLevel("last_name").configure(tf_adjustment_column="last_name"),
        cll.JaroWinklerLevel("last_name", 0.92),
        cll.ArrayIntersectLevel("last_parts", min_intersection=1),
        cll.ExactMatchLevel("last_mp"),
        cll.JaroWinklerLevel("last_name", 0.80),
        cll.ElseLevel(),
    ])
    middle_name = cl.CustomComparison(output_column_name="middle_name", comparison_levels=[
        cll.NullLevel("middle_name"),
        cll.ExactMatchLevel("middle_name"),
        cll.CustomLevel("substr(middle_name_l, 1, 1) = substr(middle_name_r, 1, 1) "
                        "and (length(middle_name_l) = 1 or length(middle_name_r) = 1)", "initial"),
        cll.JaroWinklerLevel("middle_name", 0.88),
        cll.ElseLevel(),
    ])
    dob = cl.CustomComparison(output_column_name="dob", comparison_levels=[
        cll.NullLevel("dob"),
        cll.ExactMatchLevel("dob"),
        cll.CustomLevel("dob_l = dob_swapped_r", "day/month swapped"),
        cll.LevenshteinLevel("dob", 1),
        cll.CustomLevel("substr(dob_l, 1, 4) = substr(dob_r, 1, 4)", "same year"),
        cll.ElseLevel(),
    ])
    address = cl.CustomComparison(output_column_name="address", comparison_levels=[
        cll.And(cll.NullLevel("address"), cll.NullLevel("postal_code")),
        cll.ExactMatchLevel("address"),
        cll.JaroWinklerLevel("address", 0.90),
        cll.ExactMatchLevel("postal_code"),
        cll.ElseLevel(),
    ])
    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            first_name, last_name, middle_name, dob,
            cl.ExactMatch("sex"),
            cl.LevenshteinAtThresholds("ssn", [1]),
            cl.ArrayIntersectAtSizes("guardians", [1]),
            address,
            cl.ExactMatch("birthplace"),
            cl.ExactMatch("district_local"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("dob"),
            "l.dob = r.dob_swapped",
            block_on("first_mp", "last_mp"),
            "l.first_name = r.last_name and l.last_name = r.first_name",
            block_on("last_name", "first_init"),
            block_on("ssn"),
            block_on("district_local"),
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


@dataclass
class SplinkRun:
    pairs: list[tuple[int, int, float]]  # (unique_id_l, unique_id_r, match_weight) of every blocked pair
    clusters: dict[float, list[int]]  # threshold probability -> cluster id per row
    timings: dict[str, float] = field(default_factory=dict)
    prior: float = 0.0
    blocked_pairs: int = 0


def run_splink(submissions: list[dict[str, Any]], *, seed: int = 1, u_pairs: float = 5e6,
               cluster_thresholds: tuple[float, ...] = (0.999,)) -> tuple[SplinkRun, Any]:
    """Train, predict and cluster; returns the run and the linker (for more clustering)."""
    import pyarrow as pa
    from splink import DuckDBAPI, Linker, block_on

    timings: dict[str, float] = {}
    started = time.perf_counter()
    rows = splink_rows(submissions)
    table = pa.Table.from_pylist(rows, schema=pa.schema([
        ("unique_id", pa.int64()), ("first_name", pa.string()), ("first_mp", pa.string()),
        ("first_init", pa.string()), ("middle_name", pa.string()), ("last_name", pa.string()),
        ("last_parts", pa.list_(pa.string())), ("last_mp", pa.string()), ("dob", pa.string()),
        ("dob_swapped", pa.string()), ("sex", pa.string()), ("ssn", pa.string()),
        ("guardians", pa.list_(pa.string())), ("address", pa.string()), ("postal_code", pa.string()),
        ("birthplace", pa.string()), ("district_local", pa.string()),
    ]))
    db_api = DuckDBAPI()
    df = db_api.register(table, dataset_display_name="submissions")
    linker = Linker(df, _settings(), log_level=logging.ERROR)
    timings["prepare"] = time.perf_counter() - started

    mark = time.perf_counter()
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "last_name", "dob"), block_on("ssn")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=seed)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("first_mp", "last_mp"))
    timings["train"] = time.perf_counter() - mark

    mark = time.perf_counter()
    predictions = linker.inference.predict()
    relation = predictions.as_duckdbpyrelation()
    pairs = [(int(l), int(r), float(w)) for l, r, w in
             relation.project("unique_id_l, unique_id_r, match_weight").fetchall()]
    timings["predict"] = time.perf_counter() - mark

    mark = time.perf_counter()
    clusters = {t: cluster_ids(linker, predictions, t, len(rows)) for t in cluster_thresholds}
    timings["cluster"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - started
    prior = linker._settings_obj._probability_two_random_records_match
    return SplinkRun(pairs, clusters, timings, prior, len(pairs)), (linker, predictions)


def cluster_ids(linker: Any, predictions: Any, threshold: float, n: int) -> list[int]:
    """Splink's connected components at a match probability threshold: a cluster id per row."""
    clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=threshold)
    labels = [0] * n
    names: dict[Any, int] = {}
    for uid, cid in clustered.as_duckdbpyrelation().project("unique_id, cluster_id").fetchall():
        labels[int(uid)] = names.setdefault(cid, len(names))
    return labels


def probability(weight: float) -> float:
    return 1.0 / (1.0 + 2.0 ** min(-weight, 1000.0))


def weight_of(probability_value: float) -> float:
    return math.log2(probability_value / (1.0 - probability_value))
