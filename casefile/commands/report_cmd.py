"""`casefile report aging|cases|recovery` and `casefile query "SQL"`: read-only, for analysts."""
from __future__ import annotations

import argparse
from pathlib import Path

import duckdb

from casefile.errors import CasefileError
from casefile.output import print_rows
from casefile.read_models import READ_MODEL_TABLES, open_read_only
from casefile.settings import Settings
from projections import reports


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.kind == "html":
        from casefile.html_report.command import run_html
        return run_html(args)
    con = open_read_only(args.db)
    try:
        if args.kind == "aging":
            rows = reports.aging_report(con, company=args.company, as_of=args.as_of)
        elif args.kind == "cases":
            rows = reports.cases_report(con, company=args.company)
        else:
            rows = reports.recovery_report(con, company=args.company)
    except duckdb.Error as exc:
        raise CasefileError(f"report {args.kind}: {exc}") from None
    finally:
        con.close()
    print_rows(rows, args.format)
    return 0


def query(args: argparse.Namespace, settings: Settings) -> int:
    con = open_read_only(args.db)
    try:
        if args.export_parquet:
            out = Path(args.export_parquet)
            out.mkdir(parents=True, exist_ok=True)
            for table in READ_MODEL_TABLES:
                con.execute(f"COPY {table} TO '{out / (table + '.parquet')}' (FORMAT parquet)")
            print(f"wrote {len(READ_MODEL_TABLES)} tables as Parquet to {out}")
            if not args.sql.strip():
                return 0
        cur = con.execute(args.sql)
        cols = [d[0] for d in cur.description] if cur.description else []
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    except duckdb.Error as exc:
        raise CasefileError(f"query: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()
    print_rows(rows, args.format, cols)
    return 0
