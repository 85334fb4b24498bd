"""`casefile history (--case ID | --customer C)`: an auditor's timeline with log coordinates."""
from __future__ import annotations

import argparse

from casefile.output import print_rows
from casefile.read_models import open_read_only
from casefile.settings import Settings


def run(args: argparse.Namespace, settings: Settings) -> int:
    from replay.history import COLUMNS, TABLE_COLUMNS, parse_customer, timeline
    from replay.rebuild import parse_as_of

    as_of = parse_as_of(args.as_of) if args.as_of else None
    who: dict[str, str] = {"case_id": args.case}
    if args.customer:
        company, account = parse_customer(args.customer, args.company)
        who = {"company": company, "account": account}
    con = open_read_only(args.db)
    try:
        rows = timeline(con, as_of_ms=as_of, **who)
    finally:
        con.close()
    if args.format == "json":
        print_rows(rows, "json", COLUMNS + ("applications", "reason", "outcome", "trigger_rule", "owner", "source",
                                            "hash"))
    else:
        print_rows(rows, "table", TABLE_COLUMNS)
    return 0
