"""`casefile project --db PATH`: the projector."""
from __future__ import annotations

import argparse
import json

from casefile.commands.process_cmd import load
from casefile.settings import Settings
from projections.log_consumer import Projector, ProjectorOptions


def projector_options(args: argparse.Namespace, once: bool) -> ProjectorOptions:
    return ProjectorOptions(db_path=args.db, snapshot_path=args.snapshot, once=once,
                            batch_size=args.projection_batch_size, metrics_port=getattr(args, "metrics_port", None))


def run(args: argparse.Namespace, settings: Settings) -> int:
    projected = Projector(settings, load(settings), projector_options(args, args.once)).run()
    print(json.dumps({"projector": {"records": projected, "db": args.db}}))
    return 0
