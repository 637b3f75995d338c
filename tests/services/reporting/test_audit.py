"""The audit (services/reporting/audit.py): exact intervals, and attacks that work against a
naive suppressor and fail against suppress + protect: subtraction from totals, differencing two
releases of the same population, and a whole group sharing one outcome."""

from __future__ import annotations

import itertools

import pytest

from services.reporting.audit import (
    AuditRefused,
    Known,
    audit,
    intervals,
    protect,
    published_knowledge,
)
from services.reporting.definitions import policy
from services.reporting.suppression import primary_and_coding, suppress
from tests.services.reporting.tables import make_table

MAINE = policy("maine_n10")
NAIVE = MAINE | {"bands": []}  # exact percentages, no top/bottom coding


def _school_table():
    return make_table("count", {
        "s1": ("d1", {"A": 40, "B": 12, "C": 3}), "s2": ("d1", {"A": 40, "B": 30, "C": 20}),
        "s3": ("d2", {"A": 50, "B": 15, "C": 60}), "s4": ("d2", {"A": 45, "B": 25, "C": 30}),
    }, ["A", "B", "C"])


def _consistent_leaves(table, known):
    """Every integer assignment to the hidden school cells whose sums reproduce everything the
    release publishes (totals are sums of school cells, so the school cells decide the table)."""
    leaves = [c for c in table.cells.values() if c.hidden and c.row.startswith("school:") and c.col != "all"]
    fixed = {k: c.d for k, c in table.cells.items() if c.row.startswith("school:") and c.col != "all"}
    for combo in itertools.product(*[range(int(known[c.id].d_lo), int(known[c.id].d_hi) + 1) for c in leaves]):
        trial = dict(fixed)
        trial.update({(c.row, c.col): v for c, v in zip(leaves, combo, strict=True)})
        totals: dict[tuple[str, str], int] = {}
        for (row, col), v in trial.items():
            r = row
            while r is not None:
                for c in (col, "all"):
                    totals[(r, c)] = totals.get((r, c), 0) + v
                r = table.rows[r].parent
        if all(known[cell.id].d_lo <= totals.get(key, 0) <= known[cell.id].d_hi
               for key, cell in table.cells.items()):
            yield totals


def test_count_intervals_are_exact_against_brute_force() -> None:
    table = make_table("count", {"s1": ("d1", {"A": 20, "B": 3, "C": 2}),
                                 "s2": ("d1", {"A": 20, "B": 4, "C": 1})}, ["A", "B", "C"])
    suppress(table, MAINE)
    known = published_knowledge(table, MAINE)
    hidden = [c for c in table.cells.values() if c.hidden]
    assert len(hidden) >= 8
    ivs, _ = intervals(table, known, hidden)
    seen: dict[str, set[int]] = {c.id: set() for c in hidden}
    for totals in _consistent_leaves(table, known):
        for cell in hidden:
            seen[cell.id].add(totals.get((cell.row, cell.col), 0))
    for cell in hidden:
        assert (ivs[cell.id].lo, ivs[cell.id].hi) == (min(seen[cell.id]), max(seen[cell.id])), cell.id
        assert ivs[cell.id].lo <= cell.d <= ivs[cell.id].hi


def test_subtraction_from_the_total_recovers_a_lone_hidden_cell() -> None:
    naive = _school_table()
    primary_and_coding(naive, MAINE)  # primary suppression only
    s1 = {c: naive.cells[("school:s1", c)] for c in ("all", "A", "B", "C")}
    assert s1["C"].hidden and not s1["B"].hidden
    # The attack: the school total minus the published subgroups.
    assert s1["all"].value - s1["A"].value - s1["B"].value == 3
    result = audit(naive, MAINE)
    assert "school:s1/C" in {f["cell"] for f in result.failures}
    assert result.intervals["school:s1/C"].width == 0

    table = _school_table()
    suppress(table, MAINE)
    result = protect(table, MAINE)
    assert result.failures == []
    iv = result.intervals["school:s1/C"]
    assert iv.lo <= 3 <= iv.hi and iv.width >= MAINE["audit"]["min_count_width"]
    for cell in table.cells.values():
        if cell.reason == "primary_small_n":
            assert result.intervals[cell.id].width >= MAINE["audit"]["min_count_width"]


def test_protect_hides_more_when_complementary_suppression_is_not_enough() -> None:
    # Both small cells hide each other (3 and 2), but their sum is published by subtraction:
    # each lies in [0, 5] at most... narrower than the rule when the rule asks for more.
    strict = MAINE | {"audit": {"min_count_width": 8, "min_rate_width": 20}}
    table = make_table("count", {"s1": ("d1", {"A": 300, "B": 3, "C": 2}),
                                 "s2": ("d1", {"A": 300, "B": 40, "C": 50})}, ["A", "B", "C"])
    suppress(table, strict)
    before = {c.id for c in table.cells.values() if c.hidden}
    assert audit(table, strict).failures  # the pair alone is too narrow
    result = protect(table, strict)
    after = {c.id for c in table.cells.values() if c.hidden}
    assert before < after
    assert result.failures == []
    assert all(iv.width >= 8 for iv in result.intervals.values())


def test_two_releases_differenced_recover_a_cell_unless_the_ledger_is_audited() -> None:
    # Release 1 (an earlier run) published s1/B exactly; release 2's suppressor, on its own,
    # picks s1/B as the partner of the small cell s1/C: each release alone looks safe.
    earlier = {"school:s1/B": Known(12, 12, 0, 0)}
    table = _school_table()
    suppress(table, MAINE)
    assert table.cells[("school:s1", "B")].reason == "secondary"
    alone = audit(table, MAINE)
    assert alone.failures == []
    # Together: s1/C = s1/all - s1/A - s1/B(release 1) = 3.
    combined = audit(table, MAINE, earlier)
    failing = {f["cell"]: f["interval"] for f in combined.failures}
    assert failing["school:s1/C"] == [3, 3]

    table = _school_table()
    suppress(table, MAINE)
    result = protect(table, MAINE, earlier)
    assert result.failures == []
    iv = result.intervals["school:s1/C"]
    assert iv.lo <= 3 <= iv.hi and iv.width >= MAINE["audit"]["min_count_width"]
    assert table.cells[("school:s1", "A")].hidden  # a partner not already public was hidden


def _all_proficient_table():
    # At s1 every student reached proficiency: the 48 of subgroup A and the 4 of subgroup C.
    return make_table("rate", {"s1": ("d1", {"A": (48, 48), "C": (4, 4)}),
                               "s2": ("d1", {"A": (30, 60), "C": (30, 60)})}, ["A", "C"])


def test_a_group_sharing_one_outcome_is_revealed_by_a_naive_suppressor() -> None:
    table = _all_proficient_table()
    suppress(table, NAIVE)  # primary + complementary suppression, exact percentages
    assert table.cells[("school:s1", "all")].display == "100%"
    assert table.cells[("school:s1", "C")].hidden
    result = audit(table, NAIVE)
    iv = result.intervals["school:s1/C"]
    assert iv.hi == 1.0 and iv.lo > 0.999  # every one of the 4 hidden students is known proficient
    assert "school:s1/C" in {f["cell"] for f in result.failures}


def test_top_coding_and_protection_keep_a_group_sharing_one_outcome_uncertain() -> None:
    table = _all_proficient_table()
    suppress(table, MAINE)
    assert table.cells[("school:s1", "all")].display == ">=95%"  # 100% of 52 is top-coded
    # Coding alone is not enough here: the district's and s2's published rates still pin s1/C.
    assert "school:s1/C" in {f["cell"] for f in audit(table, MAINE).failures}
    result = protect(table, MAINE)
    assert result.failures == []
    iv = result.intervals["school:s1/C"]
    assert iv.lo <= 1.0 <= iv.hi and (iv.hi - iv.lo) * 100 >= MAINE["audit"]["min_rate_width"]
    assert all((v.hi - v.lo) * 100 >= 20 for v in result.intervals.values())


def test_a_release_that_cannot_be_protected_is_refused_with_reasons() -> None:
    # A one-school state, 11 + 11 + 1: the two large cells can hide the 1, but each is known to
    # be at least 10 (its reason code says it was publishable), so the 1 stays within [1, 3] (and empty cells are shown, so it is not 0).
    table = make_table("count", {"s1": ("d1", {"F": 11, "M": 11, "X": 1})}, ["F", "M", "X"])
    suppress(table, MAINE)
    with pytest.raises(AuditRefused) as refused:
        protect(table, MAINE)
    failures = {f["cell"]: f for f in refused.value.failures}
    assert failures["school:s1/X"]["interval"] == [1, 3]
    assert all("why" in f and "required_width" in f for f in failures.values())


def test_cells_earlier_releases_already_disclosed_are_reported_not_refused() -> None:
    table = make_table("count", {"s1": ("d1", {"A": 40, "B": 3})}, ["A", "B"])
    earlier = {f"{row}/{col}": Known(table.cells[(row, col)].d, table.cells[(row, col)].d, 0, 0)
               for row in ("school:s1", "district:d1", "state:ST") for col in ("all", "A")}
    suppress(table, MAINE)
    result = protect(table, MAINE, earlier)
    assert "school:s1/B" in result.exempt and result.failures == []
