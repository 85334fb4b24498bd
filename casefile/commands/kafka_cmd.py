"""`casefile kafka start|stop|status`."""
from __future__ import annotations

import argparse
import sys

from casefile.kafka.local_broker import LocalBroker
from casefile.settings import Settings


def run(args: argparse.Namespace, settings: Settings) -> int:
    broker = LocalBroker.for_bootstrap(settings.bootstrap_servers)
    say = lambda msg: print(msg, file=sys.stderr)  # noqa: E731 - progress to stderr, address alone on stdout
    if args.action == "start":
        print(broker.start(progress=say))
        return 0
    if args.action == "stop":
        broker.stop(progress=say)
        return 0
    if broker.answers(timeout=5.0):
        print(f"running: {broker.bootstrap}")
        return 0
    print(f"not running: nothing answers on {broker.bootstrap}")
    return 1
