"""Small-cell suppression: primary suppression, top/bottom coding (and Utah interval recoding),
and complementary suppression across row, column and hierarchy totals. Pure functions over an
in-memory table; `audit.py` then proves (or disproves) that no hidden cell can be narrowed down.

A table has rows (state, districts, schools: each row's parent is the row one level up) and
columns (`all` then the subgroup values of one dimension). Two kinds of additivity hold and are
published with the table, so both are protected:
- row: the subgroup cells of a row add up to the row's `all` cell (siblings of one group);
- hierarchy: in each column, the cells of a parent's child rows add up to the parent's cell
  (schools to their district, districts to the state).
A count table has one number per cell (`d`); a rate table has `x` of `d` (numerator of
denominator) and publishes the rate, plus `d` where the policy reports underlying counts.

Every cell ends with a `display` and a `reason`:
  published | primary_small_n | no_students (0 students: a count shows 0) | coded_top | coded_bottom | coded_interval |
  secondary (with `protects`: the cells it was hidden to protect).

Utah Appendix B, as written: (1) underlying counts are not reported; (2) when a reporting group
(a row) has a subgroup of 10 or fewer students, those subgroups show "N<10" and the remaining
subgroups of that row get the size-band top/bottom codes and interval recoding. Appendix B says
nothing of rows without a small subgroup; there we still apply the top/bottom codes (not the
intervals), because 0% and 100% must never reveal every member's outcome (issue 7). The n = 10
boundary: "10 or fewer" wins over "10 or more but less than 20", so n = 10 shows "N<10".
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

Kind = Literal["count", "rate"]
ALL = "all"


@dataclass
class Cell:
    row: str
    col: str
    d: int  # the count, or the rate's denominator
    x: int | None = None  # the rate's numerator
    hidden: bool = False
    reason: str = "published"
    protects: list[str] = field(default_factory=list)
    display: str = ""
    value: float | int | None = None  # what is published as a number (None when hidden/coded)
    n: int | None = None  # published denominator, when the policy reports counts
    rate_lo: Fraction | None = None  # published rate as the interval it stands for, [lo, hi]
    rate_hi: Fraction | None = None
    id: str = field(init=False, repr=False, compare=False, default="")  # "row/col", set once: hot in the audit

    def __post_init__(self) -> None:
        self.id = f"{self.row}/{self.col}"


@dataclass
class Row:
    id: str  # "school:1001-01"
    level: str
    unit: str
    parent: str | None


@dataclass
class Table:
    kind: Kind
    rows: dict[str, Row]
    cols: list[str]
    cells: dict[tuple[str, str], Cell]

    def constraints(self) -> list[tuple[tuple[str, str], list[tuple[str, str]]]]:
        """(total cell, the cells that add up to it): rows, then each parent's children by column.
        Computed once per table (its rows and columns do not change; suppression only hides)."""
        cached = self.__dict__.get("_constraints")
        if cached is None:
            cached = self.__dict__["_constraints"] = self._build_constraints()
        return cached

    def _build_constraints(self) -> list[tuple[tuple[str, str], list[tuple[str, str]]]]:
        out = []
        subgroups = [c for c in self.cols if c != ALL]
        if subgroups:
            for r in self.rows:
                out.append(((r, ALL), [(r, c) for c in subgroups]))
        children: dict[str, list[str]] = {}
        for r in self.rows.values():
            if r.parent is not None:
                children.setdefault(r.parent, []).append(r.id)
        for parent, kids in children.items():
            for c in self.cols:
                out.append(((parent, c), [(k, c) for k in kids]))
        return out


def load_policy(policies: dict[str, Any], code: str) -> dict[str, Any] | None:
    return next((p for p in policies["policies"] if p["code"] == code), None)


def _pct(x: int, d: int) -> int:
    """Whole percent, half rounded up, exactly: floor(100x/d + 1/2)."""
    return (200 * x + d) // (2 * d)


def _band(policy: dict[str, Any], n: int) -> dict[str, Any] | None:
    return next((b for b in policy.get("bands", []) if b["min_n"] <= n < b["max_n"]), None)


def _intervals(spec: str) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in (part.split("-") for part in spec.split(","))]


def _is_small(policy: dict[str, Any], d: int) -> bool:
    if policy["method"] == "percent_bands":
        return d <= policy["small_subgroup_max_n"]
    return d < policy["minimum_n"]


def _hide(cell: Cell, reason: str, policy: dict[str, Any], protects: str | None = None) -> None:
    cell.hidden, cell.reason = True, reason
    if protects:
        cell.protects.append(protects)
    cell.value = cell.n = cell.rate_lo = cell.rate_hi = None
    small = reason == "primary_small_n" and policy["method"] == "percent_bands"
    cell.display = policy.get("small_subgroup_label", "*") if small else "*"


def _publish_rate(cell: Cell, policy: dict[str, Any], recode: bool) -> None:
    d, x = cell.d, cell.x or 0
    p = _pct(x, d)
    band = _band(policy, d) or {}
    top, bottom = band.get("top"), band.get("bottom")
    half = Fraction(1, 200)
    if top is not None and p >= top:
        cell.display, cell.reason = f">={top}%", "coded_top"
        cell.rate_lo, cell.rate_hi = Fraction(top, 100) - half, Fraction(1)
    elif bottom is not None and p <= bottom:
        cell.display, cell.reason = f"<={bottom}%", "coded_bottom"
        cell.rate_lo, cell.rate_hi = Fraction(0), Fraction(bottom, 100) + half
    elif recode and band.get("intervals"):
        lo, hi = next(((a, b) for a, b in _intervals(band["intervals"]) if a <= p <= b), (p, p))
        cell.display, cell.reason = f"{lo}-{hi}%", "coded_interval"
        cell.rate_lo, cell.rate_hi = Fraction(lo, 100) - half, Fraction(hi, 100) + half
    else:
        cell.display, cell.value = f"{p}%", p
        cell.rate_lo, cell.rate_hi = Fraction(p, 100) - half, Fraction(p, 100) + half
    cell.rate_lo, cell.rate_hi = max(cell.rate_lo, Fraction(0)), min(cell.rate_hi, Fraction(1))
    if policy.get("report_underlying_counts", True):
        cell.n = d


def primary_and_coding(table: Table, policy: dict[str, Any]) -> None:
    """Primary suppression of small cells, then coding of every published rate."""
    for cell in table.cells.values():
        cell.hidden, cell.reason, cell.protects = False, "published", []
        if cell.d == 0:
            # Nobody to describe: an empty cell identifies no one, and hiding it would only make
            # its siblings hide too. A count shows 0, a rate has nothing to show.
            cell.display, cell.reason, cell.n = ("0" if table.kind == "count" else "-"), "no_students", 0
            cell.value = 0 if table.kind == "count" else None
            cell.rate_lo = cell.rate_hi = None
        elif _is_small(policy, cell.d):
            _hide(cell, "primary_small_n", policy)
        elif table.kind == "count":
            cell.display, cell.value, cell.n = str(cell.d), cell.d, cell.d
    if table.kind != "rate":
        return
    for r in table.rows:
        # Utah: interval recoding applies to a reporting group with a subgroup of 10 or fewer.
        row_cells = [table.cells[(r, c)] for c in table.cols]
        recode = policy["method"] == "percent_bands" and any(
            c.reason == "primary_small_n" for c in row_cells if c.col != ALL)
        for cell in row_cells:
            if not cell.hidden and cell.reason != "no_students":
                _publish_rate(cell, policy, recode)


def hide_secondary(table: Table, policy: dict[str, Any], cell: Cell, protects: str) -> None:
    _hide(cell, "secondary", policy, protects)


def complementary(table: Table, policy: dict[str, Any], *, avoid: set[str] = frozenset()) -> int:
    """Hide more cells until no total/parts relation has exactly one hidden member (which the
    others would give away by subtraction). Picks the smallest published part (a total only when
    no part is left), not cells in `avoid` (already public from earlier releases). Returns how
    many cells it hid."""
    hidden = 0
    constraints = table.constraints()
    members, relations_of = _membership(table)
    count = [sum(c.hidden for c in cells) for cells in members]
    # Passes over the relations in order, as long as one hides something; a pass visits only the
    # relations with exactly one hidden member (those that reach one during the pass are visited
    # in it when they come later, else in the next pass), instead of every relation of the state.
    pending = [j for j, n in enumerate(count) if n == 1]
    while pending:
        heap = pending
        heapq.heapify(heap)
        pending = []
        queued = set(heap)
        nxt: set[int] = set()
        while heap:
            j = heapq.heappop(heap)
            if count[j] != 1:
                continue
            total, parts = constraints[j]
            pick = pick_partner(table, total, parts, avoid)
            if pick is None:
                continue  # nothing left to hide here; the audit will judge (and may refuse)
            concealed = next(c for c in members[j] if c.hidden)
            hide_secondary(table, policy, pick, concealed.id)
            hidden += 1
            for k in relations_of[(pick.row, pick.col)]:
                count[k] += 1
                if count[k] == 1:
                    if k > j and k not in queued:
                        heapq.heappush(heap, k)
                        queued.add(k)
                    elif k < j:
                        nxt.add(k)
        pending = sorted(nxt)
    return hidden


def _membership(table: Table) -> tuple[list[list[Cell]], dict[tuple[str, str], list[int]]]:
    """Each relation's member cells, and the relations each cell is in (once per table)."""
    cached = table.__dict__.get("_membership")
    if cached is None:
        members, relations_of = [], defaultdict(list)
        for j, (total, parts) in enumerate(table.constraints()):
            members.append([table.cells[k] for k in (total, *parts)])
            for k in (total, *parts):
                relations_of[k].append(j)
        cached = table.__dict__["_membership"] = (members, dict(relations_of))
    return cached


def pick_partner(table: Table, total: tuple[str, str], parts: list[tuple[str, str]],
                 avoid: set[str] | frozenset[str] = frozenset()) -> Cell | None:
    def candidates(keys: list[tuple[str, str]]) -> list[Cell]:
        return [table.cells[k] for k in keys
                if not table.cells[k].hidden and table.cells[k].reason != "no_students"
                and table.cells[k].id not in avoid]
    for pool in (candidates(parts), candidates([total])):
        if pool:
            positive = [c for c in pool if c.d > 0] or pool
            return min(positive, key=lambda c: (c.d, c.id))
    return None


def suppress(table: Table, policy: dict[str, Any], *, avoid: set[str] | frozenset[str] = frozenset()) -> Table:
    primary_and_coding(table, policy)
    complementary(table, policy, avoid=avoid)
    return table
