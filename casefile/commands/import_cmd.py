"""`casefile import-ibm-ar CSV`: the IBM sample as ledger events, published (or written as JSON lines)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from casefile.ibm_import import read_sample, sample_events
from casefile.publishing import LedgerPublisher
from casefile.settings import Settings
from schemas.ledger_models import canonical_json


def run(args: argparse.Namespace, settings: Settings) -> int:
    rows = read_sample(Path(args.csv))
    events = sample_events(rows, company=args.company)
    if args.out:
        n = 0
        with open(args.out, "w", encoding="utf-8") as out:
            for event, _ in events:
                out.write(canonical_json(event) + "\n")
                n += 1
        print(f"wrote {n} ledger events for {len(rows)} invoices to {args.out}")
        return 0
    publisher = LedgerPublisher(settings, partitions=args.partitions)
    n = 0
    for event, everywhere in events:
        if everywhere:
            for p in range(publisher.partitions):
                publisher.send(event, partition=p)
        else:
            publisher.send(event)
        n += 1
        if n % 2000 == 0:
            print(f"import: {n} events sent", file=sys.stderr)
    delivered = publisher.flush()
    print(f"published {delivered} ledger records ({n} events) for {len(rows)} invoices to {settings.ledger_topic}")
    return 0
