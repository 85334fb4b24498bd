"""`casefile publish FILE` and `casefile close-day`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from casefile.errors import CasefileError
from casefile.publishing import close_day as publish_close_day
from casefile.publishing import publish_events, read_json_lines
from casefile.settings import Settings


def run(args: argparse.Namespace, settings: Settings) -> int:
    result = read_json_lines(Path(args.file))
    for line in result.errors:
        print(line, file=sys.stderr)
    if result.errors and not args.skip_invalid:
        print(f"casefile: error: {len(result.errors)} invalid line(s) in {args.file}; nothing published "
              "(--skip-invalid publishes the valid ones)", file=sys.stderr)
        return 1
    if not result.events:
        raise CasefileError(f"no events in {args.file}")
    sent = publish_events(settings, result.events, partitions=args.partitions)
    skipped = f", skipped {len(result.errors)} invalid" if result.errors else ""
    print(f"published {sent} events to {settings.ledger_topic}{skipped}")
    return 0


def close_day(args: argparse.Namespace, settings: Settings) -> int:
    partitions = publish_close_day(settings, args.company, args.date, partitions=args.partitions)
    print(f"closed {args.date} for {args.company} on {partitions} partitions of {settings.ledger_topic}")
    return 0
