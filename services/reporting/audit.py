"""The disclosure audit: for every small (primary-suppressed) hidden cell, the interval of values
an attacker can still hold it to, given everything published in this release and in earlier releases of the same
population (the release ledger); and the loop that protects more cells, or refuses, until every
interval is wide enough by the policy's rule (`audit` in suppression_policies.toml).

What the attacker knows, per cell (`Known`): published counts exactly; published rates as the
interval they stand for ("37%" is [36.5%, 37.5%], ">=95%" is [94.5%, 100%]); that a cell was
hidden as a small cell (so its count is below the threshold) or as a secondary (so it was not
small); and the table's additivity (rows to their `all` cell, schools to districts to the state,
in each column, for counts and for numerators). Earlier releases add their knowledge of the same
cells. Each hidden count's interval is [min, max] of a linear program over those constraints; a
hidden rate's is [min, max] of x/d, a linear-fractional program solved as an LP by the
Charnes-Cooper substitution (y = t*v, t = 1/d).

Why scipy's HiGHS (`scipy.optimize.linprog(method="highs")`, `milp`): it is on PyPI in a wheel
every platform already has with numpy, solves sparse LPs with a dual simplex (vertex solutions,
so integral when the constraint matrix is totally unimodular) and has a MILP for the integer
check, with no solver licence or native install to manage. Counts are integers: the additivity
matrix of a hierarchical two-way table is totally unimodular (two laminar families), so the LP
bound is the integer bound; when a bound still comes out fractional (ledger intervals, rate
constraints) that target is re-solved with `milp` and integrality on every variable. Rate
intervals are the LP relaxation's (a superset of the integer one: the audit may accept a rate
cell whose integer interval is a little narrower; the counts behind it are exact).

Speed: one LP per (cell, min|max) would cost ~2 ms of call overhead each. Cells are grouped into
connected components (hidden cells linked by shared constraints). A small component: every target
gets its own copy of the component's constraints, and all the copies go to HiGHS as one
block-diagonal LP (the blocks do not interact, so each copy reaches its own optimum). A large one
(PERSIST_MIN_VARS unknowns or more; a statewide table has one of thousands): the component is
passed to HiGHS once through `highspy` and re-solved per target with only the objective changed,
by the primal simplex from the previous optimal basis (still feasible: only costs moved), a few
pivots instead of a copy per target. Either way the LP and its optimum are the same.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import highspy
import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse.csgraph import connected_components

from services.reporting.suppression import (
    ALL,
    Cell,
    Row,
    Table,
    complementary,
    hide_secondary,
    pick_partner,
)

INF = math.inf
BATCH_VARS = 60_000  # variables per block-diagonal LP call
PERSIST_MIN_VARS = 200  # from this block size on, one warm-started HiGHS model per block
EXACT_RATE_MAX_VARS = 1_000  # above this, rate cells keep the (safe) held-fixed bound
EXACT_MAX_VARS = 1_000  # above this, a school cell keeps its (safe) district-block bound


@dataclass
class Known:
    """What is public about one cell: bounds on the count / denominator d, the numerator x and
    the rate x/d (None: nothing beyond 0 <= x <= d)."""

    d_lo: float = 0
    d_hi: float = INF
    x_lo: float = 0
    x_hi: float = INF
    r_lo: Fraction | None = None
    r_hi: Fraction | None = None

    def merge(self, other: Known) -> Known:
        r_lo = max((r for r in (self.r_lo, other.r_lo) if r is not None), default=None)
        r_hi = min((r for r in (self.r_hi, other.r_hi) if r is not None), default=None)
        return Known(max(self.d_lo, other.d_lo), min(self.d_hi, other.d_hi),
                     max(self.x_lo, other.x_lo), min(self.x_hi, other.x_hi), r_lo, r_hi)

    def as_dict(self) -> dict[str, Any]:
        def num(v: float) -> float | None:
            return None if v == INF else v
        return {"d_lo": self.d_lo, "d_hi": num(self.d_hi), "x_lo": self.x_lo, "x_hi": num(self.x_hi),
                "r_lo": None if self.r_lo is None else str(self.r_lo),
                "r_hi": None if self.r_hi is None else str(self.r_hi)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Known:
        def num(v: float | None) -> float:
            return INF if v is None else v
        return cls(data["d_lo"], num(data["d_hi"]), data["x_lo"], num(data["x_hi"]),
                   None if data.get("r_lo") is None else Fraction(data["r_lo"]),
                   None if data.get("r_hi") is None else Fraction(data["r_hi"]))


@dataclass
class Interval:
    cell: str
    kind: str  # "count" | "rate"
    lo: float
    hi: float

    @property
    def width(self) -> float:
        return self.hi - self.lo


@dataclass
class AuditResult:
    intervals: dict[str, Interval] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    exempt: list[str] = field(default_factory=list)  # already public through earlier releases
    rounds: int = 0
    lps: int = 0


class AuditRefused(Exception):
    def __init__(self, failures: list[dict[str, Any]]) -> None:
        super().__init__("the release fails the disclosure audit")
        self.failures = failures


def published_knowledge(table: Table, policy: dict[str, Any],
                        cache: dict[str, tuple[str, Known]] | None = None) -> dict[str, Known]:
    """What this release makes public about each cell (its displays and reason codes).

    `cache` (cell id -> (reason, Known)) carries the answers from one protection round to the
    next: a cell's knowledge depends only on its reason for a given table, and only the cells
    hidden since change. The Known objects are shared, so callers replace them, never mutate."""
    small = (policy["small_subgroup_max_n"] + 1) if policy["method"] == "percent_bands" else policy["minimum_n"]
    out: dict[str, Known] = {}
    for cell in table.cells.values():
        if cache is not None:
            hit = cache.get(cell.id)
            if hit is not None and hit[0] == cell.reason:
                out[cell.id] = hit[1]
                continue
        k = Known()
        if cell.reason == "no_students":
            k = Known(0, 0, 0, 0)
        elif cell.hidden:
            # The reason code is public: a primary cell is small, a secondary one was not.
            # (Empty cells are shown, so a hidden one has at least one student.)
            k.d_lo, k.d_hi = (1, small - 1) if cell.reason == "primary_small_n" else (small, INF)
        else:
            if cell.n is not None:
                k.d_lo = k.d_hi = cell.n
            elif table.kind == "rate":
                k.d_lo = small
            k.r_lo, k.r_hi = cell.rate_lo, cell.rate_hi
            if k.d_lo == k.d_hi and k.r_lo is not None:
                k.x_lo, k.x_hi = math.ceil(k.r_lo * int(k.d_lo)), math.floor(k.r_hi * int(k.d_lo))
        if table.kind == "count":
            k.x_lo, k.x_hi = 0, 0
        out[cell.id] = k
        if cache is not None:
            cache[cell.id] = (cell.reason, k)
    return out


def _more_free_vars_than(table: Table, known: dict[str, Known], cap: float, limit: int) -> bool:
    """Whether `_Model` would have more than `limit` unknowns, without building it; it stops
    counting at the limit (a statewide table passes it within its first few thousand cells)."""
    n = 0
    rate = table.kind == "rate"
    for cell in table.cells.values():
        k = known[cell.id]
        n += k.d_lo != min(k.d_hi, cap)
        if rate:
            n += k.x_lo != min(k.x_hi, k.d_hi, cap)
        if n > limit:
            return True
    return False


def _structure(table: Table) -> tuple[list[Cell], np.ndarray, np.ndarray, np.ndarray, int]:
    """The table's additivity as arrays, once per table: (cells in order, and for every term of
    every relation its relation, its cell's position and its coefficient: +1 part, -1 total)."""
    cached = table.__dict__.get("_audit_structure")
    if cached is None:
        cells = list(table.cells.values())
        pos = {key: i for i, key in enumerate(table.cells)}
        rel, at, coef = [], [], []
        constraints = table.constraints()
        for j, (total, parts) in enumerate(constraints):
            rel += [j] * (len(parts) + 1)
            at += [pos[p] for p in parts] + [pos[total]]
            coef += [1.0] * len(parts) + [-1.0]
        cached = (cells, np.array(rel, dtype=np.int64), np.array(at, dtype=np.int64),
                  np.array(coef), len(constraints))
        table.__dict__["_audit_structure"] = cached
    return cached


class _Model:
    """The linear system over the cells' unknowns (d, and x for rates) that are not pinned, built
    with numpy: unknown i of cell c is slot c*P + p (P parts: d, or d and x); a pinned slot's
    value moves to the right-hand side, and a relation left with no unknown is dropped."""

    def __init__(self, table: Table, known: dict[str, Known], cap: float) -> None:
        self.table, self.known = table, known
        cells, rel, at, coef, nrel = _structure(table)
        rate = table.kind == "rate"
        parts = ("d", "x") if rate else ("d",)
        n_parts = len(parts)
        ks = [known[c.id] for c in cells]
        d_lo = np.array([k.d_lo for k in ks], dtype=float)
        d_hi_raw = np.array([k.d_hi for k in ks], dtype=float)
        d_hi = np.minimum(d_hi_raw, cap)
        if rate:
            x_lo = np.array([k.x_lo for k in ks], dtype=float)
            x_hi = np.minimum(np.minimum(np.array([k.x_hi for k in ks], dtype=float), d_hi_raw), cap)
            lo = np.column_stack([d_lo, x_lo]).ravel()
            hi = np.column_stack([d_hi, x_hi]).ravel()
        else:
            lo, hi = d_lo, d_hi
        free = lo != hi
        col = np.full(len(lo), -1, dtype=np.int64)
        col[free] = np.arange(int(free.sum()))
        self.lb, self.ub = lo[free], hi[free]
        self._slot_free, self._slot_col, self._slot_val = free, col, lo
        self._pos = {c.id: i for i, c in enumerate(cells)}
        self._parts = {p: i for i, p in enumerate(parts)}
        # Relations, one copy per part.
        r_rel = np.concatenate([rel * n_parts + p for p in range(n_parts)]) if len(rel) else rel
        r_slot = np.concatenate([at * n_parts + p for p in range(n_parts)]) if len(at) else at
        r_coef = np.tile(coef, n_parts)
        self.a_eq, self.b_eq = self._rows(r_rel, r_slot, r_coef, nrel * n_parts)
        if rate:
            n = len(cells)
            idx = np.arange(n)
            r_lo = np.array([np.nan if k.r_lo is None else float(k.r_lo) for k in ks])
            r_hi = np.array([np.nan if k.r_hi is None else float(k.r_hi) for k in ks])
            d_free = d_lo != d_hi_raw  # with d pinned, the rate is already in x's bounds
            with np.errstate(invalid="ignore"):
                has_lo = d_free & (r_lo > 0)
                has_hi = d_free & (r_hi < 1)
            rows_rel, rows_slot, rows_coef = [], [], []
            # x - d <= 0
            rows_rel += [idx, idx]
            rows_slot += [idx * 2 + 1, idx * 2]
            rows_coef += [np.ones(n), -np.ones(n)]
            base = n
            for mask, cx, cd in ((has_lo, -1.0, r_lo), (has_hi, 1.0, -r_hi)):
                sel = idx[mask]
                rid = base + np.arange(len(sel))
                rows_rel += [rid, rid]
                rows_slot += [sel * 2 + 1, sel * 2]
                rows_coef += [np.full(len(sel), cx), cd[sel]]
                base += len(sel)
            self.a_ub, self.b_ub = self._rows(np.concatenate(rows_rel), np.concatenate(rows_slot),
                                              np.concatenate(rows_coef), base)
        else:
            self.a_ub, self.b_ub = sparse.csr_matrix((0, len(self.lb))), np.zeros(0)

    def _rows(self, rel: np.ndarray, slot: np.ndarray, coef: np.ndarray,
              nrows: int) -> tuple[sparse.csr_matrix, np.ndarray]:
        """Rows sum(coef * slot) (= or <=) 0 over unknowns, pinned slots moved to the rhs."""
        free = self._slot_free[slot]
        rhs = -np.bincount(rel[~free], weights=coef[~free] * self._slot_val[slot[~free]], minlength=nrows)
        has = np.bincount(rel[free], minlength=nrows) > 0
        keep = np.flatnonzero(has)
        new_row = np.full(nrows, -1, dtype=np.int64)
        new_row[keep] = np.arange(len(keep))
        a = sparse.csr_matrix((coef[free], (new_row[rel[free]], self._slot_col[slot[free]])),
                              shape=(len(keep), len(self.lb)))
        return a, rhs[keep] + 0.0

    def col(self, cid: str, part: str) -> int | None:
        slot = self._pos[cid] * len(self._parts) + self._parts[part]
        return int(self._slot_col[slot]) if self._slot_free[slot] else None

    def value(self, cid: str, part: str) -> float:
        """A pinned unknown's value."""
        return float(self._slot_val[self._pos[cid] * len(self._parts) + self._parts[part]])

    def components(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Component label of every column, of every equality row and of every inequality row
        (columns linked by a shared row are in one component)."""
        n, m_eq = len(self.lb), self.a_eq.shape[0]
        a = sparse.vstack([self.a_eq, self.a_ub], format="csr")
        m = a.shape[0]
        # Bipartite graph: column nodes 0..n-1, row nodes n..n+m-1.
        coo = a.tocoo()
        graph = sparse.csr_matrix((np.ones(len(coo.row)), (coo.row + n, coo.col)), shape=(n + m, n + m))
        _, labels = connected_components(graph, directed=False)
        return labels[:n], labels[n:n + m_eq], labels[n + m_eq:]


@dataclass
class _Block:
    """One component's system, columns renumbered 0..n-1."""

    cols: list[int]
    a_eq: sparse.csr_matrix
    b_eq: np.ndarray
    a_ub: sparse.csr_matrix
    b_ub: np.ndarray
    lb: np.ndarray
    ub: np.ndarray


def _blocks(model: _Model, col_label: np.ndarray, eq_label: np.ndarray, ub_label: np.ndarray,
            wanted: list[int]) -> dict[int, _Block]:
    """The components' systems: rows and columns sorted by component once, so each component is
    a contiguous slice of the permuted matrices (taken without copying through scipy's indexing,
    which costs more than the solve for the many small blocks)."""
    c_perm = np.argsort(col_label, kind="stable")
    c_sorted = col_label[c_perm]

    def permuted(a: sparse.csr_matrix, label: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
        r_perm = np.argsort(label, kind="stable")
        return a[r_perm][:, c_perm].tocsr(), r_perm, label[r_perm]

    eq, eq_perm, eq_sorted = permuted(model.a_eq, eq_label)
    ub, ub_perm, ub_sorted = permuted(model.a_ub, ub_label)

    def piece(a: sparse.csr_matrix, r0: int, r1: int, c0: int, c1: int) -> sparse.csr_matrix:
        p0, p1 = a.indptr[r0], a.indptr[r1]
        return sparse.csr_matrix((a.data[p0:p1], a.indices[p0:p1] - c0, a.indptr[r0:r1 + 1] - p0),
                                 shape=(r1 - r0, c1 - c0))
    out = {}
    for ci in wanted:
        c0, c1 = np.searchsorted(c_sorted, ci, "left"), np.searchsorted(c_sorted, ci, "right")
        e0, e1 = np.searchsorted(eq_sorted, ci, "left"), np.searchsorted(eq_sorted, ci, "right")
        u0, u1 = np.searchsorted(ub_sorted, ci, "left"), np.searchsorted(ub_sorted, ci, "right")
        cols = c_perm[c0:c1]
        out[ci] = _Block(cols, piece(eq, e0, e1, c0, c1), model.b_eq[eq_perm[e0:e1]],
                         piece(ub, u0, u1, c0, c1), model.b_ub[ub_perm[u0:u1]], model.lb[cols], model.ub[cols])
    return out


@dataclass
class _Target:
    cell: str
    kind: str  # "count": optimise a column; "rate": x/d by Charnes-Cooper; "scaled": x/D, D pinned
    sense: int  # +1 minimise, -1 maximise
    col: int | None  # local column of d (count) or x (rate/scaled); None: x pinned
    d_col: int | None = None  # local column of d (rate)
    x_const: float = 0.0
    d_const: float = 1.0


def _copy(block: _Block, t: _Target) -> tuple[list[sparse.spmatrix], list[np.ndarray], list[sparse.spmatrix],
                                             list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """One target's copy of the block: (A_eq, b_eq, A_ub, b_ub, c, lb, ub)."""
    n = len(block.cols)
    if t.kind != "rate":
        c = np.zeros(n)
        c[t.col] = t.sense
        return [block.a_eq], [block.b_eq], [block.a_ub], [block.b_ub], c, block.lb, block.ub
    # Charnes-Cooper: columns (y, s) with y = s*v, s = 1/d. Homogenised rows, then y_d = 1.
    eq = sparse.hstack([block.a_eq, sparse.csr_matrix(-block.b_eq.reshape(-1, 1))])
    ub_rows = [sparse.hstack([block.a_ub, sparse.csr_matrix(-block.b_ub.reshape(-1, 1))])]
    eye = sparse.identity(n, format="csr")
    finite = np.isfinite(block.ub)
    if finite.any():
        ub_rows.append(sparse.hstack([eye[finite], sparse.csr_matrix(-block.ub[finite].reshape(-1, 1))]))
    positive = block.lb > 0
    if positive.any():
        ub_rows.append(sparse.hstack([-eye[positive], sparse.csr_matrix(block.lb[positive].reshape(-1, 1))]))
    norm = sparse.csr_matrix(([1.0], ([0], [t.d_col])), shape=(1, n + 1))
    c = np.zeros(n + 1)
    if t.col is None:
        c[n] = t.sense * t.x_const
    else:
        c[t.col] = t.sense
    a_ub = sparse.vstack(ub_rows)
    return ([eq, norm], [np.zeros(eq.shape[0]), np.ones(1)], [a_ub], [np.zeros(a_ub.shape[0])],
            c, np.zeros(n + 1), np.full(n + 1, INF))


def _block_diag(mats: list[sparse.csr_matrix], widths: list[int]) -> sparse.csr_matrix:
    """scipy's block_diag, without its per-block conversions (thousands of small blocks)."""
    data, rows, cols = [], [], []
    r0 = c0 = 0
    for m, w in zip(mats, widths, strict=True):
        m = m.tocsr()
        counts = np.diff(m.indptr)
        data.append(m.data)
        rows.append(np.repeat(np.arange(r0, r0 + m.shape[0]), counts))
        cols.append(m.indices + c0)
        r0 += m.shape[0]
        c0 += w
    if not data:
        return sparse.csr_matrix((0, c0))
    return sparse.csr_matrix((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))), shape=(r0, c0))


def _solve_batch(jobs: list[tuple[_Block, _Target]]) -> list[float]:
    """Optimum of each (block, target) copy, all in one block-diagonal LP."""
    eqs, beqs, ubs, bubs, cs, lbs, ubounds = [], [], [], [], [], [], []
    for block, t in jobs:
        a_eq, b_eq, a_ub, b_ub, c, lb, ub = _copy(block, t)
        eqs.append(a_eq[0] if len(a_eq) == 1 else sparse.vstack(a_eq))
        beqs.append(b_eq[0] if len(b_eq) == 1 else np.concatenate(b_eq))
        ubs.append(a_ub[0] if len(a_ub) == 1 else sparse.vstack(a_ub))
        bubs.append(b_ub[0] if len(b_ub) == 1 else np.concatenate(b_ub))
        cs.append(c)
        lbs.append(lb)
        ubounds.append(ub)
    c = np.concatenate(cs)
    a_eq = _block_diag(eqs, [len(ci) for ci in cs])
    a_ub = _block_diag(ubs, [len(ci) for ci in cs])
    kwargs: dict[str, Any] = {}
    if a_eq.shape[0]:
        kwargs.update(A_eq=a_eq, b_eq=np.concatenate(beqs))
    if a_ub.shape[0]:
        kwargs.update(A_ub=a_ub, b_ub=np.concatenate(bubs))
    bounds = np.column_stack([np.concatenate(lbs), np.concatenate(ubounds)])
    res = linprog(c, bounds=bounds, method="highs", **kwargs)
    if res.status != 0:
        raise RuntimeError(f"audit LP did not solve: {res.message}")
    out, offset = [], 0
    for (_block_, t), ci in zip(jobs, cs, strict=True):
        out.append(float(ci @ res.x[offset:offset + len(ci)]) * t.sense)
        offset += len(ci)
    return out


def _solve_persistent(block: _Block, targets: list[_Target]) -> list[float]:
    """Optimum of each linear target over one block: the model is passed to HiGHS once and only
    the objective changes between targets, so each solve starts from the previous optimal basis
    (still primal feasible: only the costs moved) instead of from scratch. Same LP, same exact
    optimum as `_solve_batch`; what changes is the work per target (a few pivots, not a rebuild)."""
    # The solver class itself: highspy.Highs wraps it with a banner on stdout and interrupt
    # callbacks checked during the solve, neither of which a service wants.
    h = highspy._core._Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("presolve", "off")  # keep the basis between solves
    h.setOptionValue("simplex_strategy", 1)  # dual from scratch for the first target, then primal
    n = len(block.cols)
    a = sparse.vstack([block.a_eq, block.a_ub], format="csc")
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, a.shape[0]
    lp.col_cost_ = np.zeros(n)
    lp.col_lower_, lp.col_upper_ = block.lb, block.ub
    lp.row_lower_ = np.concatenate([block.b_eq, np.full(len(block.b_ub), -highspy.kHighsInf)])
    lp.row_upper_ = np.concatenate([block.b_eq, block.b_ub])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
    h.passModel(lp)
    out = []
    previous = None
    for i, t in enumerate(targets):
        if previous is not None:
            h.changeColCost(previous, 0.0)
        h.changeColCost(t.col, float(t.sense))
        previous = t.col
        h.run()
        if i == 0:
            # A new objective leaves the optimal basis primal feasible: primal simplex from it.
            h.setOptionValue("simplex_strategy", 4)
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            # Should not happen (the LP is bounded and feasible); solve it from scratch rather
            # than trust a warm start that went wrong, and start the next one afresh too.
            out.append(_solve_batch([(block, t)])[0])
            h.clearSolver()
            continue
        out.append(float(h.getInfo().objective_function_value) * t.sense)
    return out


def _milp_bound(block: _Block, t: _Target) -> float:
    c = np.zeros(len(block.cols))
    c[t.col] = t.sense
    constraints = []
    if block.a_eq.shape[0]:
        constraints.append(LinearConstraint(block.a_eq, block.b_eq, block.b_eq))
    if block.a_ub.shape[0]:
        constraints.append(LinearConstraint(block.a_ub, -np.inf, block.b_ub))
    res = milp(c, constraints=constraints, integrality=np.ones(len(c)), bounds=Bounds(block.lb, block.ub))
    if res.status != 0:
        raise RuntimeError(f"audit MILP did not solve: {res.message}")
    return float(res.fun) * t.sense


def _screen(table: Table, known: dict[str, Known], targets: list[Cell], cap: float,
            enough: Any) -> dict[str, Interval]:
    """Certified sub-intervals, cheaply: moves that keep every published number unchanged.

    Take the target (r, a) and another hidden cell (r, b) of its row. Add t to (r, a) and +-t to
    (r, b) (the sign that keeps the row's subgroups adding up to its `all` cell), and the same to
    (c, a), (c, b) of one child row c, of one child of c, and so on down to a school (each of
    them hidden too): every row and every column relation still holds. If r has a parent, a
    sibling row r' (with its own chain down) takes -t, so the parent's cells do not move either.
    Every t that keeps all those cells within what is known of them gives a table consistent
    with everything published, so [v + t_min, v + t_max] lies inside the true interval (and so
    does the hull of several such moves: the feasible set is convex). A target this proves wide
    enough needs no LP. For rates the moves are on numerators, denominators held at their true
    values (a further restriction, so still inside the true interval)."""
    children: dict[str | None, list[str]] = defaultdict(list)
    for r in table.rows.values():
        children[r.parent].append(r.id)
    hidden_cols = {rid: {c for c in table.cols if table.cells[(rid, c)].hidden} for rid in table.rows}
    rate = table.kind == "rate"

    def bounds(cell: Cell) -> tuple[float, float, float]:
        k = known[cell.id]
        if not rate:
            return k.d_lo, min(k.d_hi, cap), cell.d
        lo, hi = k.x_lo, min(k.x_hi, cell.d)
        if k.r_lo is not None:
            lo = max(lo, math.ceil(k.r_lo * cell.d))
        if k.r_hi is not None:
            hi = min(hi, math.floor(k.r_hi * cell.d))
        return lo, hi, cell.x or 0

    def step(cell: Cell, coef: int) -> tuple[float, float]:
        lo, hi, v = bounds(cell)  # v + coef * t within [lo, hi]
        return (lo - v, hi - v) if coef > 0 else (v - hi, v - lo)

    memo: dict[tuple[str, str, str, int], tuple[float, float] | None] = {}

    def chain(rid: str, a: str, b: str, sign: int, flip: int) -> tuple[float, float] | None:
        """The t range of the move on row `rid` and the best path of hidden pairs below it."""
        key = (rid, a, b, flip)
        if key in memo:
            return memo[key]
        t_lo, t_hi = -INF, INF
        for col, coef in ((a, flip), (b, sign * flip)):
            lo, hi = step(table.cells[(rid, col)], coef)
            t_lo, t_hi = max(t_lo, lo), min(t_hi, hi)
        kids = children.get(rid, [])
        if kids:
            best = None
            for kid in kids:
                if a in hidden_cols[kid] and b in hidden_cols[kid]:
                    sub = chain(kid, a, b, sign, flip)
                    if sub is not None and (best is None or sub[1] - sub[0] > best[1] - best[0]):
                        best = sub
            if best is None:
                memo[key] = None
                return None
            t_lo, t_hi = max(t_lo, best[0]), min(t_hi, best[1])
        memo[key] = (t_lo, t_hi) if t_lo <= t_hi else None
        return memo[key]

    out: dict[str, Interval] = {}
    for cell in targets:
        if cell.d == 0:
            continue
        r, a = cell.row, cell.col
        parent = table.rows[r].parent
        v0 = (cell.x or 0) if rate else cell.d
        lo_v = hi_v = v0
        for b in hidden_cols[r] - {a}:
            sign = 1 if (a == ALL) != (b == ALL) else -1
            own = chain(r, a, b, sign, 1)
            if own is None:
                continue
            partners = [None] if parent is None else [
                s for s in children[parent] if s != r and a in hidden_cols[s] and b in hidden_cols[s]]
            for s in partners:
                t_lo, t_hi = own
                if s is not None:
                    other = chain(s, a, b, sign, -1)
                    if other is None:
                        continue
                    t_lo, t_hi = max(t_lo, other[0]), min(t_hi, other[1])
                if t_lo <= t_hi:
                    lo_v, hi_v = min(lo_v, v0 + t_lo), max(hi_v, v0 + t_hi)
            iv = (Interval(cell.id, "rate", lo_v / cell.d, hi_v / cell.d) if rate
                  else Interval(cell.id, "count", lo_v, hi_v))
            if enough(iv):
                out[cell.id] = iv
                break
    return out


def intervals(table: Table, known: dict[str, Known], targets: list[Cell], enough: Any = None,
              exact_for: set[str] | frozenset[str] = frozenset(),
              bounded: set[str] | None = None) -> tuple[dict[str, Interval], int]:
    """The feasible interval of each target cell's count (count tables) or rate (rate tables).

    With `enough` (a rule), cheaper sufficient checks go first, and a target they prove wide
    enough gets that certified sub-interval instead of the exact bound: each check fixes some
    unknowns at their true values, which only shrinks the feasible set, so "wide enough" there
    is wide enough for the attacker too. Only targets they cannot clear reach the exact LP."""
    state_total = max((c.d for c in table.cells.values()), default=0)
    if enough is None:
        return _exact(table, known, targets, state_total)
    lps = 0
    out: dict[str, Interval] = {}
    if table.kind == "rate":
        # Denominators held at their true values, and so are the numerators of published cells
        # (a published "37%" of 500 leaves the numerator a few students of play): a linear
        # program in the hidden numerators only, much smaller and easier for HiGHS than the
        # Charnes-Cooper form over every cell of the state.
        fixed = _held_fixed(table, known)
        first, lps = _staged(table, fixed, targets, enough, state_total, exact_for, bounded)
        out = {cid: iv for cid, iv in first.items() if enough(iv)}
        targets = [c for c in targets if c.id not in out]
        if targets and _more_free_vars_than(table, known, state_total, EXACT_RATE_MAX_VARS):
            # Too large to solve exactly in time: keep the held-fixed bound. It is narrower than
            # the attacker's true interval, so at worst more cells get protected than needed.
            # (The held-fixed stage already solved the whole state for the cells in exact_for.)
            return out | {c.id: first[c.id] for c in targets}, lps
    rest, n = _staged(table, known, targets, enough, state_total, exact_for, bounded)
    return out | rest, lps + n


def _held_fixed(table: Table, known: dict[str, Known]) -> dict[str, Known]:
    """Every cell with its denominator at its true value, and a published cell's numerator too.
    Kept on the table between protection rounds: a cell's entry changes only when its knowledge
    (a new object, see `published_knowledge`) or its hidden flag does."""
    cache: dict[str, tuple[Known, bool, Known]] = table.__dict__.setdefault("_audit_held_fixed", {})
    out: dict[str, Known] = {}
    for c in table.cells.values():
        k = known[c.id]
        hit = cache.get(c.id)
        if hit is None or hit[0] is not k or hit[1] != c.hidden:
            hit = (k, c.hidden, _at_true_d(k, c.d) if c.hidden else Known(c.d, c.d, c.x or 0, c.x or 0))
            cache[c.id] = hit
        out[c.id] = hit[2]
    return out


def _at_true_d(k: Known, d: int) -> Known:
    """`k` with the denominator pinned to `d`, its rate interval turned into numerator bounds."""
    x_lo, x_hi = k.x_lo, min(k.x_hi, d)
    if k.r_lo is not None:
        x_lo = max(x_lo, math.ceil(k.r_lo * d))
    if k.r_hi is not None:
        x_hi = min(x_hi, math.floor(k.r_hi * d))
    return replace(k, d_lo=d, d_hi=d, x_lo=x_lo, x_hi=x_hi)


def _staged(table: Table, known: dict[str, Known], targets: list[Cell], enough: Any,
            state_total: float, exact_for: set[str] | frozenset[str] = frozenset(),
            bounded: set[str] | None = None) -> tuple[dict[str, Interval], int]:
    if not targets:
        return {}, 0
    screened = _screen(table, known, targets, state_total, enough)
    rest = [c for c in targets if c.id not in screened]
    # Targets in rows without children: first the parent's block alone (the parent row and its
    # child rows) with every other cell held at its true value. Holding cells fixed only shrinks
    # the feasible set, so an interval wide enough there is wide enough in the whole table; and
    # the block is small where the whole table's component can span the state.
    has_children = {r.parent for r in table.rows.values() if r.parent is not None}
    blocks: dict[str | None, list[Cell]] = defaultdict(list)
    upper: list[Cell] = []
    for cell in rest:
        row = table.rows[cell.row]
        if row.id in has_children or row.parent is None:
            upper.append(cell)
        else:
            blocks[row.parent].append(cell)
    out = dict(screened)
    lps = 0
    ivs, n = _exact(*_parent_blocks(table, known, list(blocks)), [c for cells in blocks.values() for c in cells],
                    state_total, enough) if blocks else ({}, 0)
    lps += n
    confirm = None
    for cid, iv in ivs.items():
        if enough(iv):
            out[cid] = iv
            continue
        if confirm is None:
            confirm = not _more_free_vars_than(table, known, state_total, EXACT_MAX_VARS)
        if confirm or cid in exact_for:
            upper.append(table.cells[tuple(cid.rsplit("/", 1))])  # judge it exactly
        else:
            # A large state: keep the block's bound, narrower than the attacker's true interval
            # (so never unsafe); `protect` first hides more inside the block, and asks for the
            # exact bound only when nothing is left there (`exact_for`).
            out[cid] = iv
            if bounded is not None:
                bounded.add(cid)
    ivs, n = _exact(table, known, upper, state_total, enough)
    return out | ivs, lps + n


def _parent_blocks(table: Table, known: dict[str, Known],
                   parents: list[str]) -> tuple[Table, dict[str, Known]]:
    """Every parent's block (the parent row held at its true values, and its child rows) as one
    table: the blocks share no unknown, so each is still its own component, and the model and
    the LP are built once for all of them instead of once per parent."""
    wanted = set(parents)
    kids: dict[str, list[Row]] = defaultdict(list)
    for r in table.rows.values():
        if r.parent in wanted:
            kids[r.parent].append(r)
    rows: dict[str, Row] = {}
    for parent in parents:
        top = table.rows[parent]
        rows[parent] = Row(top.id, top.level, top.unit, None)
        rows.update((r.id, r) for r in kids[parent])
    cells = {(r, c): table.cells[(r, c)] for r in rows for c in table.cols}
    sub_known = {c.id: known[c.id] for c in cells.values()}
    for parent in parents:
        for c in table.cols:
            cell = table.cells[(parent, c)]
            x = cell.x or 0
            sub_known[cell.id] = Known(cell.d, cell.d, x, x)  # held at its true value
    return Table(table.kind, rows, table.cols, cells), sub_known


def _exact(table: Table, known: dict[str, Known], targets: list[Cell],
           state_total: float, enough: Any = None) -> tuple[dict[str, Interval], int]:
    return _exact_many([(table, known, targets)], state_total, enough)


def _exact_many(problems: list[tuple[Table, dict[str, Known], list[Cell]]],
                state_total: float, enough: Any = None) -> tuple[dict[str, Interval], int]:
    """Exact intervals of the targets of several independent problems (tables or blocks), their
    LP copies packed together into as few HiGHS calls as fit BATCH_VARS.

    With `enough`, each target first gets only its likelier wide side (the maximum of a small
    count; for a rate the side farther from its true value): the true value is feasible, so
    [true value, maximum] lies inside the interval, and a target that sub-interval proves wide
    enough is answered with it (a certified sub-interval, as from `_screen`) and never needs
    its other LP; the rest get the other side too, so their interval is exact. The verdicts are
    the same as with both sides solved; up to half the LPs are saved."""
    out: dict[str, Interval] = {}
    jobs: list[tuple[_Block, _Target]] = []
    truth: dict[str, float] = {}
    for table, known, targets in problems:
        if targets:
            jobs += _jobs(table, known, targets, state_total, out)
            for cell in targets:
                truth[cell.id] = float(cell.d) if table.kind == "count" else (cell.x or 0) / cell.d if cell.d else 0.0
    if enough is None:
        values, lps = _solve_jobs(jobs, range(len(jobs)))
        for (_block, t), v in zip(jobs, values, strict=True):
            _set_side(out, t, v)
        return out, lps

    def first_sense(t: _Target) -> int:  # -1 maximise, +1 minimise
        return -1 if t.kind == "count" or truth[t.cell] <= 0.5 else 1

    first = [i for i, (_b, t) in enumerate(jobs) if t.sense == first_sense(t)]
    values, lps = _solve_jobs(jobs, first)
    settled: set[str] = set()
    for i, v in zip(first, values, strict=True):
        t = jobs[i][1]
        _set_side(out, t, v)
        iv = out[t.cell]
        probe = Interval(t.cell, iv.kind, min(v, truth[t.cell]), max(v, truth[t.cell]))
        if enough(probe):
            out[t.cell] = probe
            settled.add(t.cell)
    second = [i for i, (_b, t) in enumerate(jobs) if t.sense != first_sense(t) and t.cell not in settled]
    values, n = _solve_jobs(jobs, second)
    for i, v in zip(second, values, strict=True):
        _set_side(out, jobs[i][1], v)
    return out, lps + n


def _set_side(out: dict[str, Interval], t: _Target, v: float) -> None:
    iv = out.setdefault(t.cell, Interval(t.cell, "count" if t.kind == "count" else "rate", INF, -INF))
    if t.sense == 1:
        iv.lo = v
    else:
        iv.hi = v


def _solve_jobs(jobs: list[tuple[_Block, _Target]], indices: Any) -> tuple[list[float], int]:
    """The optimum of each of `jobs[i]` for i in `indices` (in that order), and the LP calls."""
    chosen = list(indices)
    values: dict[int, float] = {}
    lps = 0
    # A large block with linear targets: one HiGHS model, re-solved per target from the last basis.
    by_block: dict[int, list[int]] = defaultdict(list)
    for i in chosen:
        block, t = jobs[i]
        if t.kind != "rate" and len(block.cols) >= PERSIST_MIN_VARS:
            by_block[id(block)].append(i)
    for idx in by_block.values():
        block = jobs[idx[0]][0]
        idx.sort(key=lambda i: jobs[i][1].sense)  # every max, then every min: neighbouring optima
        for i, v in zip(idx, _solve_persistent(block, [jobs[i][1] for i in idx]), strict=True):
            values[i] = v
        lps += len(idx)
    rest = [i for i in chosen if i not in values]
    start = 0
    while start < len(rest):
        size, end = 0, start
        while end < len(rest) and (end == start or size + len(jobs[rest[end]][0].cols) + 1 <= BATCH_VARS):
            size += len(jobs[rest[end]][0].cols) + 1
            end += 1
        for i, v in zip(rest[start:end], _solve_batch([jobs[i] for i in rest[start:end]]), strict=True):
            values[i] = v
        lps += 1
        start = end
    out = []
    for i in chosen:
        (block, t), v = jobs[i], values[i]
        if t.kind in ("count", "scaled") and abs(v - round(v)) > 1e-6:
            v = _milp_bound(block, t)  # a fractional vertex: the integer bound is tighter
            lps += 1
        if t.kind == "count":
            v = round(v)
        elif t.kind == "scaled":
            v = round(v) / t.d_const
        out.append(v)
    return out, lps


def _jobs(table: Table, known: dict[str, Known], targets: list[Cell], state_total: float,
          out: dict[str, Interval]) -> list[tuple[_Block, _Target]]:
    """The LP copies (min and max) each target needs; targets with nothing unknown go to `out`."""
    model = _Model(table, known, cap=state_total)
    col_label, eq_label, ub_label = model.components()

    by_comp: dict[int, list[tuple[Cell, str]]] = defaultdict(list)
    for cell in targets:
        k = known[cell.id]
        dv = model.col(cell.id, "d")
        xv = model.col(cell.id, "x") if table.kind == "rate" else None
        if table.kind == "count":
            if dv is None:
                out[cell.id] = Interval(cell.id, "count", k.d_lo, k.d_lo)
            else:
                by_comp[int(col_label[dv])].append((cell, "count"))
        elif dv is None and xv is None:
            d = model.value(cell.id, "d")
            r = model.value(cell.id, "x") / d if d else 0.0
            out[cell.id] = Interval(cell.id, "rate", r, r)
        else:
            by_comp[int(col_label[dv if dv is not None else xv])].append((cell, "rate"))

    jobs: list[tuple[_Block, _Target]] = []
    blocks = _blocks(model, col_label, eq_label, ub_label, list(by_comp))
    for ci, items in by_comp.items():
        block = blocks[ci]
        local = {int(c): i for i, c in enumerate(block.cols)}
        for cell, kind in items:
            dv = model.col(cell.id, "d")
            xv = model.col(cell.id, "x") if table.kind == "rate" else None
            for sense in (1, -1):
                if kind == "count":
                    t = _Target(cell.id, "count", sense, local[dv])
                elif dv is None:
                    t = _Target(cell.id, "scaled", sense, local[xv], d_const=model.value(cell.id, "d"))
                else:
                    t = _Target(cell.id, "rate", sense, None if xv is None else local[xv],
                                d_col=local[dv], x_const=0.0 if xv is not None else model.value(cell.id, "x"))
                jobs.append((block, t))
    return jobs


def _wide_enough(iv: Interval, rule: dict[str, Any]) -> bool:
    if iv.kind == "count":
        return iv.width >= rule["min_count_width"]
    return iv.width * 100 >= rule["min_rate_width"] - 1e-9


def _ledger_interval(table: Table, cell: Cell, k: Known) -> Interval | None:
    """The interval earlier releases alone leave for a cell, when they pin it (cheap, no LP)."""
    if table.kind == "count":
        return Interval(cell.id, "count", k.d_lo, k.d_hi) if k.d_hi != INF else None
    if k.r_lo is not None and k.r_hi is not None:
        return Interval(cell.id, "rate", float(k.r_lo), float(k.r_hi))
    if k.d_lo == k.d_hi and k.x_hi != INF and k.d_lo:
        return Interval(cell.id, "rate", k.x_lo / k.d_lo, k.x_hi / k.d_lo)
    return None


def audit(table: Table, policy: dict[str, Any], earlier: dict[str, Known] | None = None,
          *, skip: set[str] | frozenset[str] = frozenset(),
          exact_for: set[str] | frozenset[str] = frozenset(),
          knowledge_cache: dict[str, tuple[str, Known]] | None = None) -> AuditResult:
    """Intervals of every hidden cell (but those in `skip`), and the cells whose interval is
    too narrow."""
    rule = policy["audit"]
    known = published_knowledge(table, policy, knowledge_cache)
    exempt: list[str] = []
    for cid, k in (earlier or {}).items():
        if cid in known:
            known[cid] = known[cid].merge(k)
    # The cells to protect are the small ones. A secondary cell is large by construction (it was
    # publishable) and hidden only to widen a small cell's interval; its own value needs no width.
    hidden = [c for c in table.cells.values()
              if c.hidden and c.reason == "primary_small_n" and c.id not in skip]
    targets = []
    for cell in hidden:
        before = (earlier or {}).get(cell.id)
        iv = _ledger_interval(table, cell, before) if before is not None else None
        if iv is not None and not _wide_enough(iv, rule):
            exempt.append(cell.id)  # earlier releases already made it public; nothing to protect
        else:
            targets.append(cell)
    bounded: set[str] = set()
    ivs, lps = intervals(table, known, targets, lambda iv: _wide_enough(iv, rule), exact_for, bounded)
    failures = [
        {"cell": iv.cell, "kind": iv.kind, "interval": [iv.lo, iv.hi],
         "required_width": rule["min_count_width"] if iv.kind == "count" else rule["min_rate_width"]}
        | ({"bound": "block"} if iv.cell in bounded else {})
        for iv in ivs.values() if not _wide_enough(iv, rule)
    ]
    if failures and earlier:
        # A cell that earlier releases alone already hold too narrowly was disclosed by them;
        # hiding more now cannot take that back, so it is reported, not held against this one.
        before = {c.id: earlier.get(c.id, Known()) for c in table.cells.values()}
        if table.kind == "count":
            before = {cid: Known(k.d_lo, k.d_hi, 0, 0) for cid, k in before.items()}
        failing = [table.cells[tuple(f["cell"].rsplit("/", 1))] for f in failures]
        past, n = intervals(table, before, failing)
        lps += n
        gone = {cid for cid, iv in past.items() if not _wide_enough(iv, rule)
                and not any(f["cell"] == cid and f.get("bound") for f in failures)}
        exempt += sorted(gone)
        failures = [f for f in failures if f["cell"] not in gone]
    return AuditResult(ivs, failures, exempt, 1, lps)


def pinned_by(earlier: dict[str, Known] | None, kind: str) -> set[str]:
    """Cells earlier releases published exactly: hiding them again protects nothing."""
    out = set()
    for cid, k in (earlier or {}).items():
        if k.d_lo == k.d_hi and (kind == "count" or k.r_lo is not None):
            out.add(cid)
    return out


def _find_partner(table: Table, constraints: list[Any], by_cell: dict[tuple[str, str], list[int]],
                  start: tuple[str, str], avoid: set[str], max_depth: int = 4) -> Cell | None:
    """A published cell to hide for a failing one: first in the relations the failing cell is in
    (its own row first), then, when those are all hidden already, in the relations of the hidden
    cells it is linked to (breadth first), since that is where its narrow bound comes from."""
    seen_rel: set[int] = set()
    frontier, seen_cells = [start], {start}
    for _ in range(max_depth):
        nxt: list[tuple[str, str]] = []
        for key in frontier:
            for i in sorted(by_cell[key], key=lambda i: constraints[i][0][1] != ALL):
                if i in seen_rel:
                    continue
                seen_rel.add(i)
                total, parts = constraints[i]
                partner = pick_partner(table, total, parts, avoid)
                if partner is not None:
                    return partner
                for k in (total, *parts):
                    if k not in seen_cells and table.cells[k].hidden:
                        seen_cells.add(k)
                        nxt.append(k)
        frontier = nxt
    return None


def protect(table: Table, policy: dict[str, Any], earlier: dict[str, Known] | None = None,
            *, max_rounds: int = 25) -> AuditResult:
    """Audit; while some hidden cell is too narrow, hide a further cell that shares a relation with
    it (reason "secondary", protecting it) and audit again. Refuses (AuditRefused) when a failing
    cell has no cell left to hide beside it or the rounds run out."""
    avoid = pinned_by(earlier, table.kind)
    complementary(table, policy, avoid=avoid)
    constraints = table.constraints()
    by_cell: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, (total, parts) in enumerate(constraints):
        for key in (total, *parts):
            by_cell[key].append(i)
    total_lps = 0
    # Hiding one more cell only takes a constraint away (its value becomes a bound), so the
    # feasible set only grows and an interval found wide enough stays wide enough: each round
    # re-audits only the cells not yet proven.
    proven: dict[str, Interval] = {}
    exempt: list[str] = []
    exact_for: set[str] = set()
    block_tried: set[str] = set()
    knowledge_cache: dict[str, tuple[str, Known]] = {}
    for round_no in range(1, max_rounds + 1):
        result = audit(table, policy, earlier, skip=set(proven) | set(exempt), exact_for=exact_for,
                       knowledge_cache=knowledge_cache)
        failing = {f["cell"] for f in result.failures}
        proven.update({cid: iv for cid, iv in result.intervals.items() if cid not in failing})
        exempt += result.exempt
        total_lps += result.lps
        result.rounds, result.lps = round_no, total_lps
        if not result.failures:
            result.intervals, result.exempt = proven, exempt
            return result
        stuck = []
        for failure in result.failures:
            row, col = failure["cell"].rsplit("/", 1)
            if failure.get("bound") == "block":
                # Judged on its district block alone: hide more inside the block, or, when the
                # block has nothing left, judge it exactly next round.
                parent = table.rows[row].parent
                block_avoid = avoid | {f"{parent}/{c}" for c in table.cols}
                partner = None
                if failure["cell"] not in block_tried:  # once: if that did not do, judge exactly
                    block_tried.add(failure["cell"])
                    partner = _find_partner(table, constraints, by_cell, (row, col), block_avoid, max_depth=2)
                if partner is None:
                    exact_for.add(failure["cell"])
                    continue
                hide_secondary(table, policy, partner, failure["cell"])
                continue
            partner = _find_partner(table, constraints, by_cell, (row, col), avoid)
            if partner is None:
                stuck.append(failure | {"why": "no cell left to hide beside it"})
                continue
            hide_secondary(table, policy, partner, failure["cell"])
        if stuck:
            raise AuditRefused(stuck)
        complementary(table, policy, avoid=avoid)
    raise AuditRefused([f | {"why": "still too narrow after the protection rounds"} for f in result.failures])
