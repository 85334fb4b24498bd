"""Projection throughput: log records/s and peak RSS for a full `casefile project --once` catch-up.

    CASEFILE_BOOTSTRAP_SERVERS=127.0.0.1:9092 python bench/projection_bench.py [--records 1000000]

Prints one JSON object. The log is built once per --topic and reused by later runs. The
projector reads and decodes in a child process (projections/prefetch.py): `peak_rss_mb` is the
projector's own process, `reader_peak_rss_mb` the reader's (sampled from /proc every 0.2 s).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.make_log import make_log  # noqa: E402
from casefile.kafka.topics import admin, partition_count  # noqa: E402
from casefile.logs import configure_logging  # noqa: E402
from casefile.settings import Settings  # noqa: E402
from processor.domain.policy import Policy  # noqa: E402
from projections.log_consumer import Projector, ProjectorOptions  # noqa: E402


class _ChildRss(threading.Thread):
    """Peak RSS of this process's children, sampled from /proc (Linux)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_kb = 0
        self.done = threading.Event()

    def run(self) -> None:
        me = os.getpid()
        while not self.done.wait(0.2):
            try:
                children = Path(f"/proc/{me}/task/{me}/children").read_text().split()
            except OSError:
                return
            for pid in children:
                try:
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            self.peak_kb = max(self.peak_kb, int(line.split()[1]))
                except OSError:
                    pass


def _cpu(who: int) -> float:
    """User + system CPU seconds (the reader's once it has exited and been waited for)."""
    usage = resource.getrusage(who)
    return round(usage.ru_utime + usage.ru_stime, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--topic", default=None)
    parser.add_argument("--batch", type=int, default=245_760)
    args = parser.parse_args()
    configure_logging("warning", json=True)
    bootstrap = os.environ.get("CASEFILE_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    topic = args.topic or f"bench.casefile.{args.records}"
    built = None
    if partition_count(admin({"bootstrap.servers": bootstrap}), topic) is None:
        built = make_log(bootstrap, topic, args.records)
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.duckdb")
        settings = Settings(bootstrap_servers=bootstrap, log_topic=topic)
        policy = Policy()
        projector = Projector(settings, policy, ProjectorOptions(db_path=db, once=True, batch_size=args.batch))
        sampler = _ChildRss()
        sampler.start()
        started = time.monotonic()
        records = projector.run()
        seconds = time.monotonic() - started
        sampler.done.set()
        size = os.path.getsize(db)
    print(json.dumps({
        "benchmark": "projection", "log_records": records, "seconds": round(seconds, 2),
        "records_per_s": round(records / seconds), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "reader_peak_rss_mb": round(sampler.peak_kb / 1024),
        "projector_cpu_s": _cpu(resource.RUSAGE_SELF), "reader_cpu_s": _cpu(resource.RUSAGE_CHILDREN),
        "db_mb": round(size / 2**20, 1), "batch": args.batch, "log_built": built}))


if __name__ == "__main__":
    main()
