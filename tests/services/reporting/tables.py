"""Small in-memory tables for the suppression and audit tests."""

from __future__ import annotations

from services.reporting.suppression import ALL, Cell, Row, Table


def make_table(kind: str, schools: dict[str, tuple[str, dict[str, int | tuple[int, int]]]],
               cols: list[str]) -> Table:
    """schools: {school: (district, {subgroup: count or (numerator, denominator)})}; every total
    (school `all`, district, state) is the sum, as in a real table."""
    rows = {"state:ST": Row("state:ST", "state", "ST", None)}
    leaf: dict[tuple[str, str], tuple[int, int]] = {}
    for school, (district, cells) in schools.items():
        rows.setdefault(f"district:{district}", Row(f"district:{district}", "district", district, "state:ST"))
        rows[f"school:{school}"] = Row(f"school:{school}", "school", school, f"district:{district}")
        for col, v in cells.items():
            leaf[(f"school:{school}", col)] = v if isinstance(v, tuple) else (0, v)
    sums: dict[tuple[str, str], list[int]] = {}
    for (rid, col), (x, d) in leaf.items():
        r: str | None = rid
        while r is not None:
            for c in (col, ALL):
                s = sums.setdefault((r, c), [0, 0])
                s[0] += x
                s[1] += d
            r = rows[r].parent
    all_cols = [ALL, *cols]
    cells = {}
    for rid in rows:
        for c in all_cols:
            x, d = sums.get((rid, c), (0, 0))
            cells[(rid, c)] = Cell(rid, c, d, x if kind == "rate" else None)
    return Table(kind, rows, all_cols, cells)
