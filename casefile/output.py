"""Rows as a table, CSV or JSON on stdout."""
from __future__ import annotations

import csv
import json
import sys
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Sequence


def plain(value: Any) -> Any:
    """A row value as JSON has it (dates ISO, decimals as floats)."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def print_rows(rows: Sequence[dict[str, Any]], fmt: str, columns: Sequence[str] | None = None) -> None:
    cols = list(columns or (rows[0].keys() if rows else []))
    if fmt == "json":
        print(json.dumps([{c: plain(r.get(c)) for c in cols} for r in rows], indent=1))
        return
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(cols)
        for r in rows:
            writer.writerow(["" if r.get(c) is None else plain(r.get(c)) for c in cols])
        return
    cells = [[("" if r.get(c) is None else str(plain(r.get(c)))) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(row, widths)))
    print(f"({len(rows)} rows)")


def _numeric(text: str) -> bool:
    return text.replace("-", "", 1).replace(".", "", 1).isdigit()
