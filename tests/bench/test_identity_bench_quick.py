"""The identity bench runs end to end in quick mode (real server, real HTTP, Splink, batches) and
prints its tables with sane numbers; its scoring counts what it says. No accuracy or timing targets
here: those are bench figures, not tests."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from bench.identity import Truth, pairwise, score_resolver, score_splink_rows, union_find_labels

ROOT = Path(__file__).resolve().parents[2]


def test_quick_run_prints_tables_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "identity.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.identity", "--quick", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = result.stdout
    for row in ("| auto-match precision (probabilistic matches) |",
                "| recall, auto + review (rows of already-known persons) |",
                "| review share (all submissions) |", "| false new IDs", "| wrong merges",
                "| pairwise precision |", "| pairwise recall |", "| resolve latency p50 / p95",
                "| batch: "):
        assert row in text, row

    report = json.loads(out.read_text())
    accuracy = report["accuracy"]
    assert report["meta"]["submissions"] == accuracy["rows"] > 500
    assert accuracy["errors"] == 0, accuracy.get("error_examples")
    for key in ("precision", "recall_auto_review", "recall_auto", "review_share"):
        assert 0.0 <= accuracy[key] <= 1.0, key
    for key in ("precision", "recall", "f1", "hard_precision", "hard_recall"):
        assert 0.0 <= accuracy["pairwise"][key] <= 1.0, key
    assert sum(accuracy["decisions"].values()) == accuracy["rows"]
    assert 0 < accuracy["known_rows"] < accuracy["rows"]
    assert accuracy["new_persons_assigned"] <= report["meta"]["students"]

    speed = report["speed"]
    assert 0 < speed["resolve"]["p50_ms"] <= speed["resolve"]["p95_ms"]
    assert speed["probe"]["rows"] > 0 and speed["probe"]["p50_ms"] > 0
    assert speed["batch"]["persons_per_second"] > 0
    assert speed["batch"]["accuracy"]["rows"] == accuracy["rows"]
    assert speed["batch"]["accuracy"]["errors"] == 0

    if importlib.util.find_spec("splink") is not None:
        splink = report["splink"]
        assert splink, report.get("splink_skipped")
        assert "| Splink @ p>=0.999 |" in text
        for side in ("at_upper", "at_best_f1"):
            for key in ("precision", "recall", "f1"):
                assert 0.0 <= splink[side]["pairwise"][key] <= 1.0
            assert 0.0 <= splink[side]["row_level"]["precision"] <= 1.0
        assert splink["seconds"] > 0


def _truth(persons: list[str], locals_: list[str], twins: dict[str, str] | None = None) -> Truth:
    return Truth(person=persons, kind=["first" if persons.index(p) == i else "transfer"
                                       for i, p in enumerate(persons)],
                 errors=[[] for _ in persons], local=locals_, twin_of=twins or {},
                 family_of={p: "F" for p in persons})


def test_score_resolver_counts_each_outcome() -> None:
    # A assigned, A matched right, B assigned, B given a duplicate ID, C (A's twin) merged into A,
    # D sent to review as a new person, A sent to review when known.
    truth = _truth(["A", "A", "B", "B", "C", "D", "A"], ["1|a", "2|a", "1|b", "2|b", "1|c", "1|d", "3|a"],
                   twins={"A": "C", "C": "A"})
    outcomes = [
        {"decision": "assigned", "state_id": "S1", "rule": "probabilistic"},
        {"decision": "matched", "state_id": "S1", "rule": "probabilistic"},
        {"decision": "assigned", "state_id": "S2", "rule": "probabilistic"},
        {"decision": "assigned", "state_id": "S3", "rule": "probabilistic"},
        {"decision": "matched", "state_id": "S1", "rule": "probabilistic"},
        {"decision": "review", "review_id": "R1"},
        {"decision": "review", "review_id": "R2"},
    ]
    score = score_resolver(outcomes, truth)
    assert score["precision"] == 0.5 and score["probabilistic_matches"] == 2
    assert score["wrong_merges"] == 1 and score["wrong_merges_twins"] == 1
    assert score["false_new_ids"] == 1
    assert score["known_rows"] == 3  # A twice after its ID, B once
    assert score["recall_auto_review"] == 2 / 3
    assert score["review_share"] == 2 / 7 and score["review_new"] == 1 and score["review_known"] == 1
    # Pairs: true A-A x3, B-B; predicted S1 rows 0,1,4 (one right pair, two wrong).
    assert score["pairwise"]["true_pairs"] == 4 and score["pairwise"]["predicted_pairs"] == 3
    assert score["pairwise"]["true_positive_pairs"] == 1


def test_deterministic_matches_are_inferred_without_a_rule() -> None:
    truth = _truth(["A", "A"], ["1|a", "1|a"])
    outcomes = [{"decision": "assigned", "state_id": "S1"}, {"decision": "matched", "state_id": "S1"}]
    score = score_resolver(outcomes, truth)
    assert score["deterministic_matches"] == 1 and score["probabilistic_matches"] == 0
    assert score["pairwise"]["hard_true_pairs"] == 0


def test_pairwise_and_splink_row_level() -> None:
    persons = ["A", "B", "A", "B"]
    assert pairwise(["x", "y", "x", "y"], persons, ["1", "2", "3", "4"])["f1"] == 1.0
    merged = pairwise(["x", "x", "x", "x"], persons, ["1", "2", "3", "4"])
    assert merged["recall"] == 1.0 and merged["precision"] == 2 / 6
    pairs = [(0, 2, 10.0), (1, 3, 2.0), (0, 3, 5.0)]
    assert union_find_labels(4, pairs, 4.0) == union_find_labels(4, [(0, 2, 1), (0, 3, 1)], 0)
    rows = score_splink_rows(pairs, 4.0, _truth(persons, ["1", "2", "3", "4"]))
    # Row 2 links to 0 (right), row 3's best link at >= 4 is 0 (A, wrong).
    assert rows["links"] == 2 and rows["wrong_links"] == 1 and rows["recall"] == 0.5
