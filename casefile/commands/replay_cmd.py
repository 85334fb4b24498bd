"""`casefile replay rebuild | verify | export`: the log replayed into DuckDB, checked, archived."""
from __future__ import annotations

import argparse
import json

from casefile.commands.process_cmd import load
from casefile.settings import Settings


def run(args: argparse.Namespace, settings: Settings) -> int:
    action = args.replay_action
    if action == "rebuild":
        from replay.jobs import run_rebuild
        from replay.rebuild import parse_as_of

        as_of = parse_as_of(args.as_of) if args.as_of else None
        result = run_rebuild(settings, load(settings), args.db, as_of_ms=as_of, live_db=args.promote,
                             archive_dir=args.from_archive)
        print(json.dumps({"rebuild": result}))
        return 0
    if action == "export":
        from replay.jobs import run_export

        print(json.dumps({"export": run_export(settings, args.out)}))
        return 0
    if action == "verify":
        from replay.verify import verify

        report = verify(settings, load(settings), args.db)
        for line in report.lines:
            print(line)
        print("verify: ok" if report.exit_code == 0 else f"verify: FAILED ({', '.join(report.failed)})")
        return report.exit_code
    raise AssertionError(action)
