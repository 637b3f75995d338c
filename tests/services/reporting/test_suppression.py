"""Suppression policies as the seeds write them: Missouri n<30 and Maine n<10 blocked, Utah
Appendix B's N<10 and size-band coding (n = 10 counts as "10 or fewer"), top/bottom coding,
and complementary suppression leaving no relation with a single hidden cell."""

from __future__ import annotations

import pytest

from services.reporting.definitions import policy
from services.reporting.suppression import primary_and_coding, suppress
from tests.services.reporting.tables import make_table


def _cell(table, row, col):
    return table.cells[(row, col)]


@pytest.mark.parametrize(("code", "blocked", "shown"), [("missouri_n30", 29, 30), ("maine_n10", 9, 10)])
def test_minimum_cell_size_threshold(code: str, blocked: int, shown: int) -> None:
    table = make_table("count", {"s1": ("d1", {"A": blocked, "B": shown, "C": 500})}, ["A", "B", "C"])
    primary_and_coding(table, policy(code))
    assert _cell(table, "school:s1", "A").display == "*"
    assert _cell(table, "school:s1", "A").reason == "primary_small_n"
    assert _cell(table, "school:s1", "A").value is None
    assert _cell(table, "school:s1", "B").display == str(shown)
    assert _cell(table, "school:s1", "B").reason == "published"


def test_utah_n10_is_shown_as_n_under_10_and_n11_is_banded() -> None:
    # n = 10 sits in both "10 or fewer" and "10 or more but less than 20": it is N<10.
    table = make_table("rate", {"s1": ("d1", {"A": (5, 10), "B": (5, 11), "C": (150, 300)})}, ["A", "B", "C"])
    primary_and_coding(table, policy("utah_appendix_b"))
    a, b, c = (_cell(table, "school:s1", k) for k in "ABC")
    assert (a.display, a.reason) == ("N<10", "primary_small_n")
    # 5/11 = 45%: the 10-19 band recodes it to the 40-49 interval (the row has a small subgroup).
    assert (b.display, b.reason) == ("40-49%", "coded_interval")
    assert c.display == "50%"
    # Appendix B 1: underlying counts are never reported.
    assert all(cell.n is None for cell in table.cells.values())


def test_utah_bands_top_and_bottom_codes_by_size() -> None:
    table = make_table("rate", {"s1": ("d1", {"A": (4, 4), "B": (300, 300), "C": (0, 45), "D": (1, 25)})},
                       ["A", "B", "C", "D"])
    primary_and_coding(table, policy("utah_appendix_b"))
    assert _cell(table, "school:s1", "B").display == ">=99%"  # 300 or more: 99-100 -> >=99%
    assert _cell(table, "school:s1", "C").display == "<=5%"  # 40-99: 0-5 -> <=5%
    assert _cell(table, "school:s1", "D").display == "<=10%"  # 20-39: 4% -> <=10%


def test_utah_row_without_a_small_subgroup_gets_top_bottom_codes_but_no_intervals() -> None:
    table = make_table("rate", {"s1": ("d1", {"A": (9, 25), "B": (25, 25)})}, ["A", "B"])
    primary_and_coding(table, policy("utah_appendix_b"))
    assert _cell(table, "school:s1", "A").display == "36%"
    assert _cell(table, "school:s1", "B").display == ">=90%"


@pytest.mark.parametrize("code", ["missouri_n30", "maine_n10"])
def test_zero_and_hundred_percent_are_coded(code: str) -> None:
    table = make_table("rate", {"s1": ("d1", {"A": (50, 50), "B": (0, 50), "C": (25, 50)})}, ["A", "B", "C"])
    primary_and_coding(table, policy(code))
    assert (_cell(table, "school:s1", "A").display, _cell(table, "school:s1", "A").reason) == (">=95%", "coded_top")
    assert (_cell(table, "school:s1", "B").display, _cell(table, "school:s1", "B").reason) == ("<=5%", "coded_bottom")
    assert _cell(table, "school:s1", "C").display == "50%"


def test_complementary_suppression_leaves_no_lone_hidden_cell() -> None:
    table = make_table("count", {
        "s1": ("d1", {"A": 40, "B": 12, "C": 3}), "s2": ("d1", {"A": 40, "B": 30, "C": 20}),
        "s3": ("d2", {"A": 50, "B": 5, "C": 60}),
    }, ["A", "B", "C"])
    suppress(table, policy("maine_n10"))
    for total, parts in table.constraints():
        hidden = [k for k in (total, *parts) if table.cells[k].hidden]
        assert len(hidden) != 1, (total, hidden)
    secondary = [c for c in table.cells.values() if c.reason == "secondary"]
    assert secondary and all(c.protects for c in secondary)
    # The small cell's row partner is the smallest published sibling, not the school total.
    assert _cell(table, "school:s1", "B").reason == "secondary"
    assert _cell(table, "school:s1", "B").protects == ["school:s1/C"]


def test_relations_are_unchanged_by_hiding_cells() -> None:
    # The table's additivity is computed once and reused by every protection round: hiding
    # cells changes which members are known, never the relations themselves.
    table = make_table("count", {"s1": ("d1", {"A": 40, "B": 3}), "s2": ("d1", {"A": 30, "B": 20})}, ["A", "B"])
    before = [(total, list(parts)) for total, parts in table.constraints()]
    suppress(table, policy("maine_n10"))
    assert any(c.hidden for c in table.cells.values())
    assert [(total, list(parts)) for total, parts in table.constraints()] == before
    assert ((("school:s1", "all"), [("school:s1", "A"), ("school:s1", "B")]) in before)
    assert _cell(table, "school:s1", "B").id == "school:s1/B"
