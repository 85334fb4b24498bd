"""Compare read-model tables of two DuckDB databases, ignoring row order.

Per table: row count and an order-independent checksum — the sum (as HUGEINT, so no overflow
and duplicate rows count) of DuckDB's 64-bit `hash` of each whole row. When the checksums
differ, a row-level diff: the rows only on each side (`EXCEPT ALL`), and for tables with a key
the rows present on both sides with the columns that differ.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import duckdb

from projections.schema import KEYS

SAMPLE_ROWS = 3


@dataclass
class TableDiff:
    table: str
    left_rows: int
    right_rows: int
    left_checksum: int
    right_checksum: int
    only_left: int = 0
    only_right: int = 0
    changed: list[str] = field(default_factory=list)  # "key: col a -> b" samples
    samples_left: list[dict[str, Any]] = field(default_factory=list)
    samples_right: list[dict[str, Any]] = field(default_factory=list)
    missing: str | None = None

    @property
    def equal(self) -> bool:
        return self.missing is None and (self.left_rows, self.left_checksum) == (self.right_rows, self.right_checksum)

    def summary(self, left: str = "live", right: str = "rebuilt") -> str:
        if self.missing:
            return f"{self.table}: {self.missing}"
        if self.equal:
            return f"{self.table}: equal ({self.left_rows} rows, checksum {self.left_checksum:032x})"
        parts = [f"{self.table}: DIFFERENT ({left} {self.left_rows} rows, {right} {self.right_rows} rows; "
                 f"{self.only_left} rows only in {left}, {self.only_right} only in {right})"]
        parts += [f"  changed {c}" for c in self.changed]
        parts += [f"  only in {left}: {r}" for r in self.samples_left]
        parts += [f"  only in {right}: {r}" for r in self.samples_right]
        return "\n".join(parts)


def _tables(con: duckdb.DuckDBPyConnection, catalog: str) -> set[str]:
    rows = con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [catalog]).fetchall()
    return {r[0] for r in rows}


def checksum(con: duckdb.DuckDBPyConnection, qualified: str) -> tuple[int, int]:
    count, total = con.execute(f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM {qualified} t").fetchone()
    return int(count), int(total)


def _columns(con: duckdb.DuckDBPyConnection, qualified: str) -> list[str]:
    return [d[0] for d in con.execute(f"SELECT * FROM {qualified} LIMIT 0").description]


def _rows(con: duckdb.DuckDBPyConnection, sql: str, limit: int | None = None) -> list[dict[str, Any]]:
    cur = con.execute(sql + (f" LIMIT {limit}" if limit else ""))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def compare_table(con: duckdb.DuckDBPyConnection, table: str, left: str, right: str) -> TableDiff:
    lq, rq = f'{left}.main."{table}"', f'{right}.main."{table}"'
    (ln, lsum), (rn, rsum) = checksum(con, lq), checksum(con, rq)
    diff = TableDiff(table, ln, rn, lsum, rsum)
    lcols, rcols = _columns(con, lq), _columns(con, rq)
    if lcols != rcols:  # e.g. a database built by another casefile version
        diff.missing = (f"columns differ: only in {left}: {sorted(set(lcols) - set(rcols)) or '-'}, "
                        f"only in {right}: {sorted(set(rcols) - set(lcols)) or '-'} (rebuild it with this version)")
        return diff
    if diff.equal:
        return diff
    only_l = f"SELECT * FROM {lq} EXCEPT ALL SELECT * FROM {rq}"
    only_r = f"SELECT * FROM {rq} EXCEPT ALL SELECT * FROM {lq}"
    diff.only_left = con.execute(f"SELECT count(*) FROM ({only_l})").fetchone()[0]
    diff.only_right = con.execute(f"SELECT count(*) FROM ({only_r})").fetchone()[0]
    keys = KEYS.get(table) or (("log_topic", "log_partition", "log_offset") if table == "casefile_events" else
                               ("topic", "partition") if table == "projection_offsets" else
                               ("company", "customer_account", "as_of") if table == "aging_history" else
                               ("company", "month") if table == "recovery_metrics" else None)
    if keys:
        lrows = {tuple(r[k] for k in keys): r for r in _rows(con, only_l, 2000)}
        rrows = {tuple(r[k] for k in keys): r for r in _rows(con, only_r, 2000)}
        for key in sorted(set(lrows) & set(rrows), key=repr)[:SAMPLE_ROWS * 2]:
            cols = [c for c in lrows[key] if lrows[key][c] != rrows[key].get(c)]
            shown = ", ".join(f"{c} {lrows[key][c]!r} -> {rrows[key][c]!r}" for c in cols[:6])
            diff.changed.append(f"{'/'.join(map(str, key))}: {shown}")
        diff.samples_left = [r for k, r in lrows.items() if k not in rrows][:SAMPLE_ROWS]
        diff.samples_right = [r for k, r in rrows.items() if k not in lrows][:SAMPLE_ROWS]
    else:
        diff.samples_left = _rows(con, only_l, SAMPLE_ROWS)
        diff.samples_right = _rows(con, only_r, SAMPLE_ROWS)
    return diff


def compare_databases(con: duckdb.DuckDBPyConnection, left: str, right: str,
                      tables: Sequence[str]) -> list[TableDiff]:
    """`left` and `right` are catalogs attached to `con` (e.g. `ATTACH 'x.duckdb' AS live`)."""
    have_l, have_r = _tables(con, left), _tables(con, right)
    out = []
    for table in tables:
        if table not in have_l or table not in have_r:
            side = left if table not in have_l else right
            out.append(TableDiff(table, 0, 0, 0, 0, missing=f"no table {table} in {side}"))
            continue
        out.append(compare_table(con, table, left, right))
    return out


def compare_files(left_path: str, right_path: str, tables: Sequence[str]) -> list[TableDiff]:
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{_sql_str(left_path)}' AS l (READ_ONLY)")
        con.execute(f"ATTACH '{_sql_str(right_path)}' AS r (READ_ONLY)")
        return compare_databases(con, "l", "r", tables)
    finally:
        con.close()


def _sql_str(text: str) -> str:
    return text.replace("'", "''")
