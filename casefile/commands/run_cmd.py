"""`casefile run`: processor and projector on one machine, as two child processes.

Two processes, not threads: DuckDB writes and Avro decoding then use both cores, and a crash of
one is contained. With `--once` the processor catches up first, then the projector.
`--metrics-port PORT`: the processor child serves its metrics on PORT, the projector child on PORT+1.
"""
from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from typing import Any

from casefile.settings import Settings


def _common_argv(settings: Settings, args: argparse.Namespace) -> list[str]:
    argv = ["--bootstrap-servers", settings.bootstrap_servers, "--ledger-topic", settings.ledger_topic,
            "--log-topic", settings.log_topic, "--dlq-topic", settings.dlq_topic, "--log-level", args.log_level]
    if settings.policy_path:
        argv += ["--policy", settings.policy_path]
    for key, value in settings.kafka_overrides.items():
        argv += ["-X", f"{key}={value}"]
    return argv


def run(args: argparse.Namespace, settings: Settings) -> int:
    base = [sys.executable, "-m", "casefile", *_common_argv(settings, args)]
    process = [*base, "process", "--group", args.group, "--batch-size", str(args.batch_size),
               "--batch-ms", str(args.batch_ms), "--partitions", str(args.partitions),
               "--snapshot-every", str(args.snapshot_every)]
    if args.transactional_id:
        process += ["--transactional-id", args.transactional_id]
    project = [*base, "project", "--db", args.db, "--projection-batch-size", str(args.projection_batch_size)]
    if args.snapshot:
        project += ["--snapshot", args.snapshot]
    if args.metrics_port:  # the processor child serves PORT, the projector child PORT+1
        process += ["--metrics-port", str(args.metrics_port)]
        project += ["--metrics-port", str(args.metrics_port + 1)]
    if args.once:
        rc = subprocess.call([*process, "--once"])
        return rc or subprocess.call([*project, "--once"])
    children = [subprocess.Popen(process), subprocess.Popen(project)]

    def forward(signum: int, _frame: Any) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)
    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        codes = [child.wait() for child in children]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return max(codes)
