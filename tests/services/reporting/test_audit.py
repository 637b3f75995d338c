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


def _state_table(kind: str, schools: int, seed: int):
    """A state of `schools` schools in districts of ten, four subgroups of mixed sizes (many
    small): big enough that its hidden cells link into components of hundreds of unknowns."""
    import random

    rng = random.Random(seed)
    sizes = [0, 1, 2, 3, 5, 8, 12, 20, 40, 90, 150]
    spec = {}
    for s in range(schools):
        cells = {}
        for g in "ABCD":
            d = rng.choice(sizes)
            cells[g] = d if kind == "count" else (rng.randint(0, d), d)
        spec[f"s{s}"] = (f"d{s // 10}", cells)
    return make_table(kind, spec, list("ABCD"))


def test_warm_started_solves_give_the_same_exact_intervals_as_fresh_ones(monkeypatch) -> None:
    # Large components are solved on one HiGHS model re-optimised per target (warm start); the
    # intervals must be exactly those of solving every target from scratch.
    from services.reporting import audit as audit_module

    table = _state_table("count", 120, seed=3)
    suppress(table, MAINE)
    known = published_knowledge(table, MAINE)
    hidden = [c for c in table.cells.values() if c.hidden]
    # This small state's components have tens of unknowns: lower the threshold so they take the
    # warm path (the statewide table's components have thousands).
    monkeypatch.setattr(audit_module, "PERSIST_MIN_VARS", 10)
    assert sum(n >= 10 for n in _component_sizes(audit_module, table, known)) >= 5
    warm, _ = intervals(table, known, hidden)
    monkeypatch.setattr(audit_module, "PERSIST_MIN_VARS", 10**9)
    fresh, _ = intervals(table, known, hidden)
    assert {k: (v.lo, v.hi) for k, v in warm.items()} == {k: (v.lo, v.hi) for k, v in fresh.items()}
    for cell in hidden:
        assert warm[cell.id].lo <= cell.d <= warm[cell.id].hi


def _component_sizes(audit_module, table, known):
    model = audit_module._Model(table, known, cap=max(c.d for c in table.cells.values()))
    labels, _, _ = model.components()
    return [int(n) for n in __import__("numpy").bincount(labels)]


@pytest.mark.parametrize(("kind", "schools"), [("count", 120), ("rate", 30)])
def test_cheap_bounds_only_ever_lie_inside_the_exact_interval(kind: str, schools: int) -> None:
    # The certificates and the held-fixed district blocks stand in for the exact LP when they
    # prove a cell wide enough: each must be an inner bound (a set of tables consistent with the
    # release), never wider than what the attacker can actually narrow the cell down to.
    table = _state_table(kind, schools, seed=5)
    suppress(table, MAINE)
    known = published_knowledge(table, MAINE)
    targets = [c for c in table.cells.values() if c.reason == "primary_small_n"]
    rule = MAINE["audit"]

    def enough(iv):
        return iv.width * (1 if iv.kind == "count" else 100) >= (
            rule["min_count_width"] if iv.kind == "count" else rule["min_rate_width"])

    cheap, _ = intervals(table, known, targets, enough)
    exact, _ = intervals(table, known, targets)
    assert cheap.keys() == exact.keys()
    for cell in targets:
        c, e = cheap[cell.id], exact[cell.id]
        assert e.lo - 1e-9 <= c.lo and c.hi <= e.hi + 1e-9, cell.id
        true = cell.d if kind == "count" else (cell.x or 0) / cell.d
        assert c.lo - 1e-9 <= true <= c.hi + 1e-9, cell.id
        # Solving one side first (and the other only when needed) never changes a verdict.
        assert enough(c) == enough(e), cell.id
    assert any(not enough(e) for e in exact.values()) and any(enough(e) for e in exact.values())


def test_protection_rounds_see_the_cells_hidden_since_the_last_round() -> None:
    # protect() carries each cell's published knowledge from round to round; a cell hidden as a
    # secondary in between must be treated as hidden (not as still published) by the next audit.
    strict = MAINE | {"audit": {"min_count_width": 8, "min_rate_width": 20}}
    table = make_table("count", {"s1": ("d1", {"A": 300, "B": 3, "C": 2}),
                                 "s2": ("d1", {"A": 300, "B": 40, "C": 50})}, ["A", "B", "C"])
    suppress(table, strict)
    cache: dict = {}
    first = published_knowledge(table, strict, cache)
    protect(table, strict)  # hides more cells
    again = published_knowledge(table, strict, cache)
    assert again == published_knowledge(table, strict)
    newly = [c for c in table.cells.values() if c.reason == "secondary" and first[c.id].d_lo == first[c.id].d_hi]
    assert newly and all(again[c.id].d_lo != again[c.id].d_hi for c in newly)


def test_a_warm_start_that_does_not_end_optimal_is_solved_again_from_scratch(monkeypatch) -> None:
    # Should HiGHS ever stop a warm-started solve short of optimal, the target is solved from
    # scratch: the interval is still the exact one, never a value read off an unfinished solve.
    import types

    import highspy

    from services.reporting import audit as audit_module

    class Flaky(highspy._core._Highs):
        calls = 0

        def getModelStatus(self):  # HiGHS spells it so
            Flaky.calls += 1
            return highspy.HighsModelStatus.kUnknown if Flaky.calls % 2 else super().getModelStatus()

    shim = types.SimpleNamespace(**{k: getattr(highspy, k) for k in dir(highspy) if not k.startswith("__")})
    shim._core = types.SimpleNamespace(_Highs=Flaky)
    table = _state_table("count", 60, seed=7)
    suppress(table, MAINE)
    known = published_knowledge(table, MAINE)
    hidden = [c for c in table.cells.values() if c.hidden]
    monkeypatch.setattr(audit_module, "PERSIST_MIN_VARS", 10**9)
    fresh, _ = intervals(table, known, hidden)
    monkeypatch.setattr(audit_module, "PERSIST_MIN_VARS", 10)
    monkeypatch.setattr(audit_module, "highspy", shim)
    flaky, _ = intervals(table, known, hidden)
    assert Flaky.calls > 4
    assert {k: (v.lo, v.hi) for k, v in flaky.items()} == {k: (v.lo, v.hi) for k, v in fresh.items()}
