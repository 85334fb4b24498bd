"""The projector's own work alone: fold + Arrow copies + DuckDB writes, fed from memory.

    CASEFILE_BOOTSTRAP_SERVERS=127.0.0.1:9092 python bench/store_bench.py [--topic bench.casefile.1000000]

The log topic (built by bench/projection_bench.py) is read and decoded first, untimed, into
batches of `--batch` records; then `ProjectionStore.apply_table` (writes on its writer thread,
as in the projector) takes them one after another into a fresh DuckDB file, and the clock stops
when the last transaction is committed. No Kafka and no reader process in the timed part: what
remains of the projection benchmark's time is reading, decoding and sharing the 2 cores with
them. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from casefile.logs import configure_logging  # noqa: E402
from casefile.settings import Settings  # noqa: E402
from processor.domain.policy import Policy  # noqa: E402
from projections.decode_batch import BatchDecoder  # noqa: E402
from projections.log_positions import next_positions  # noqa: E402
from projections.store import ProjectionStore  # noqa: E402
from replay.log_reader import LogReader  # noqa: E402
from schemas.codec import log_codec  # noqa: E402


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--topic", default="bench.casefile.1000000")
    parser.add_argument("--batch", type=int, default=245_760)
    args = parser.parse_args()
    configure_logging("warning", json=True)
    settings = Settings(bootstrap_servers=os.environ.get("CASEFILE_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
                        log_topic=args.topic)
    values: list[bytes] = []
    partitions: list[int] = []
    offsets: list[int] = []
    with LogReader(settings, args.topic) as reader:
        for msgs in reader.batches():
            values += [m.value() for m in msgs]
            partitions += [m.partition() for m in msgs]
            offsets += [m.offset() for m in msgs]
    decoder = BatchDecoder(log_codec())
    batches = []
    for i in range(0, len(values), args.batch):
        table = decoder.decode(values[i:i + args.batch])
        if table is None:
            raise SystemExit(f"{args.topic}: a batch did not decode in columns")
        batches.append((table, np.array(partitions[i:i + args.batch]), np.array(offsets[i:i + args.batch])))
    del values
    with tempfile.TemporaryDirectory() as tmp:
        store = ProjectionStore(str(Path(tmp) / "store.duckdb"), Policy(), background_writes=True)
        cpu, started = _cpu(), time.monotonic()
        for table, parts, offs in batches:
            positions = {(args.topic, p): o for p, o in next_positions(parts, offs).items()}
            store.apply_table(table, args.topic, parts, offs, positions)
        store.flush()
        seconds, cpu = time.monotonic() - started, _cpu() - cpu
        store.close()
    records = sum(len(p) for _, p, _ in batches)
    print(json.dumps({"benchmark": "store", "log_records": records, "seconds": round(seconds, 2),
                      "records_per_s": round(records / seconds), "cpu_s": round(cpu, 1),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                      "batch": args.batch}))


if __name__ == "__main__":
    main()
