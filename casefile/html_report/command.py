"""The `html` branch of `casefile report`: open the read models read-only, write the pages, print
the index page's path as the last line."""
from __future__ import annotations

import argparse
from pathlib import Path

import duckdb

from casefile.errors import CasefileError
from casefile.read_models import open_read_only


def run_html(args: argparse.Namespace) -> int:
    if not args.out:
        raise CasefileError("report html: --out DIR is required")
    try:
        from casefile.html_report.render import build
    except ImportError as exc:  # plotly is a declared dependency; say so if it is missing
        raise CasefileError(f"report html: {exc} (pip install plotly)") from None
    con = open_read_only(args.db)
    try:
        index = build(con, Path(args.out), company=args.company, as_of=args.as_of, source=args.db)
    except duckdb.Error as exc:
        raise CasefileError(f"report html: {str(exc).splitlines()[0]}") from None
    except OSError as exc:
        raise CasefileError(f"report html: cannot write {args.out}: {exc}") from None
    finally:
        con.close()
    pages = sum(1 for _ in (index.parent / "cases").glob("*.html"))
    print(f"wrote the report ({pages} case pages) to {index.parent.resolve()}")
    print(index.resolve())
    return 0
