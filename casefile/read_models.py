"""Opening the read models for analysts: read-only, falling back to the published snapshot while
the projector holds the database."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import duckdb

from casefile.errors import CasefileError

READ_MODEL_TABLES = ("cases", "invoices", "aging", "aging_history", "recovery_daily", "recovery_metrics",
                     "casefile_events", "projection_offsets")


def snapshot_path_for(db_path: str) -> str:
    return str(Path(db_path).with_suffix("")) + ".snapshot.duckdb"


def open_read_only(db_path: str, quiet: bool = False) -> duckdb.DuckDBPyConnection:
    """The database read-only; if the projector holds it, its latest consistent snapshot."""
    if not Path(db_path).exists():
        raise CasefileError(f"no database at {db_path} (run `casefile project --db {db_path}` first)")
    try:
        return duckdb.connect(db_path, read_only=True)
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise CasefileError(f"cannot open {db_path}: {exc}") from None
    snap = snapshot_path_for(db_path)
    if not Path(snap).exists():
        raise CasefileError(f"database {db_path} is in use by the projector and no snapshot has been published yet")
    con = duckdb.connect(snap, read_only=True)
    if not quiet:
        age = time.time() - os.path.getmtime(snap)
        rows = con.execute("SELECT partition, next_offset FROM projection_offsets ORDER BY partition").fetchall()
        position = ", ".join(f"p{p}@{o}" for p, o in rows)
        print(f"casefile: {db_path} is in use by the projector; reading its snapshot ({position}; {age:.0f}s old)",
              file=sys.stderr)
    return con
