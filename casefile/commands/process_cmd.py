"""`casefile process`: the ledger processor."""
from __future__ import annotations

import argparse
import json

from casefile.errors import CasefileError
from casefile.settings import Settings
from processor.domain.policy import PolicyError, load_policy
from processor.kafka_processor import LedgerProcessor, ProcessorOptions


def processor_options(args: argparse.Namespace) -> ProcessorOptions:
    return ProcessorOptions(group=args.group, transactional_id=args.transactional_id, batch_size=args.batch_size,
                            batch_ms=args.batch_ms, partitions=args.partitions, once=getattr(args, "once", False),
                            snapshot_every=args.snapshot_every, metrics_port=getattr(args, "metrics_port", None))


def load(settings: Settings):
    try:
        return load_policy(settings.policy_path)
    except PolicyError as exc:
        raise CasefileError(str(exc)) from None


def run(args: argparse.Namespace, settings: Settings) -> int:
    counters = LedgerProcessor(settings, load(settings), processor_options(args)).run()
    print(json.dumps({"processor": counters.as_dict()}))
    return 0
