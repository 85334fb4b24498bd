"""Projection throughput: log records/s and peak RSS for a full `casefile project --once` catch-up.

    CASEFILE_BOOTSTRAP_SERVERS=127.0.0.1:9092 python bench/projection_bench.py [--records 1000000]
        [--path auto|encoded|records]

Prints one JSON object. The log is built once per --topic and reused by later runs.

--path: `records` runs the projector as it is; `encoded` feeds the raw log values to
`ProjectionStore.apply_encoded` (columnar decoding) — through a shim while
projections/log_consumer.py still decodes value by value and calls `apply_batch`; `auto` (the
default) is `encoded`, with no shim once the consumer calls `apply_encoded` itself.
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.make_log import make_log  # noqa: E402
from casefile.kafka.topics import admin, partition_count  # noqa: E402
from casefile.logs import configure_logging  # noqa: E402
from casefile.settings import Settings  # noqa: E402
from processor.domain.policy import Policy  # noqa: E402
from projections.log_consumer import Projector, ProjectorOptions  # noqa: E402
from projections.store import ProjectionStore  # noqa: E402


class _Raw(dict):  # type: ignore[type-arg]
    """A log value not decoded yet (the consumer adds `_topic`, `_partition`, `_offset`)."""

    __slots__ = ("value",)


class _RawCodec:
    def decode_avro(self, value: bytes) -> _Raw:
        raw = _Raw()
        raw.value = value
        return raw


class _EncodedStore(ProjectionStore):
    def apply_batch(self, records: list, positions: dict) -> None:  # type: ignore[type-arg]
        if records and isinstance(records[0], _Raw):
            self.apply_encoded([r.value for r in records],
                               [(r["_topic"], r["_partition"], r["_offset"]) for r in records],
                               positions)
        else:
            super().apply_batch(records, positions)


def _consumer_calls_apply_encoded() -> bool:
    return "apply_encoded" in inspect.getsource(Projector.run)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--topic", default=None)
    parser.add_argument("--batch", type=int, default=200_000)
    parser.add_argument("--path", choices=("auto", "encoded", "records"), default="auto")
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
        path = args.path
        if path != "records" and not _consumer_calls_apply_encoded():
            projector.codec = _RawCodec()  # type: ignore[assignment]
            projector.open_store = lambda: _EncodedStore(db, policy)  # type: ignore[method-assign]
            path = "encoded (shim)"
        elif path == "records" and _consumer_calls_apply_encoded():
            path = "encoded (the consumer calls apply_encoded)"
        started = time.monotonic()
        records = projector.run()
        seconds = time.monotonic() - started
        size = os.path.getsize(db)
    print(json.dumps({
        "benchmark": "projection", "log_records": records, "seconds": round(seconds, 2),
        "records_per_s": round(records / seconds), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "db_mb": round(size / 2**20, 1), "batch": args.batch, "path": path, "log_built": built}))


if __name__ == "__main__":
    main()
