"""The replay commands' work, Kafka or archive on one side, DuckDB or container files on the other."""
from __future__ import annotations

from functools import partial
from typing import Any, Iterator, Union

import numpy as np

from casefile.errors import CasefileError
from casefile.settings import Settings
from processor.domain.policy import Policy
from projections.decode_batch import BatchDecoder
from projections.prefetch import END, Idle, LogSource, Prefetcher
from replay.archive import ArchiveReader, ArchiveWriter, ReadArchive
from replay.batches import EncodedBatch, TableBatch
from replay.log_reader import LogReader, Progress, ReadLogPrefix, decode, decode_value
from replay.rebuild import RebuildStats, check_new_target, ensure_not_in_use, promote, rebuild
from schemas.codec import log_codec


def prefetched(source: LogSource, topic: str, progress: Progress | None = None
               ) -> Iterator[Union[TableBatch, EncodedBatch]]:
    """The records of `source` (a log prefix or an archive), read and decoded in a child
    process (projections.prefetch): the rebuild's process only folds and writes."""
    prefetch = Prefetcher(source)
    try:
        while True:
            event = prefetch.get(1.0)
            if event is None:
                continue
            if isinstance(event, Idle):
                assert event.info == END
                return
            if progress:
                progress.advance(len(event.partitions))
            if event.decoded:
                yield TableBatch(event.table, topic, event.partitions, event.offsets)
            else:
                coords = [(topic, p, o) for p, o in zip(event.partitions.tolist(), event.offsets.tolist())]
                yield EncodedBatch(event.table.column("value").to_pylist(), coords)
    finally:
        prefetch.close()


def run_rebuild(settings: Settings, policy: Policy, db: str, as_of_ms: int | None = None,
                live_db: str | None = None, archive_dir: str | None = None) -> dict[str, Any]:
    check_new_target(db)
    if live_db is not None:
        if as_of_ms is not None:
            raise CasefileError("--as-of builds a view of the past; it cannot be promoted over the live database")
        if live_db == db:
            raise CasefileError("--promote names the database being built")
        ensure_not_in_use(live_db)  # fail before the long part, and again at the swap
    source: dict[str, Any]
    if archive_dir is not None:  # no Kafka client is created on this path
        archive = ArchiveReader(archive_dir, log_codec())  # checks the manifest and every file
        progress = Progress("rebuild", archive.total)
        stats = rebuild(db, policy, prefetched(ReadArchive(archive_dir, archive.manifest), archive.topic, progress),
                        as_of_ms, decode_one=partial(decode_value, log_codec()))
        source = {"archive": archive_dir, "topic": archive.topic}
    else:
        with LogReader(settings) as reader:  # the bounds; the reading is done in a child process
            progress = Progress("rebuild", reader.total_offsets)
            prefix = ReadLogPrefix(settings, reader.topic, (reader.start_offsets, reader.end_offsets))
            stats = rebuild(db, policy, prefetched(prefix, reader.topic, progress), as_of_ms,
                            decode_one=partial(decode_value, log_codec()))
            source = {"topic": reader.topic, "end_offsets": {str(p): o for p, o in reader.end_offsets.items()}}
    out: dict[str, Any] = {"db": db, **source, **stats.as_dict()}
    if as_of_ms is not None:
        out["as_of_ms"] = as_of_ms
    if live_db is not None:
        out["promoted"] = promote(db, live_db)
    return out


EXPORT_BATCH = 50_000  # values per read: nothing is gained by more, the memory grows with it


def run_export(settings: Settings, out_dir: str) -> dict[str, Any]:
    codec = log_codec()
    decoder = BatchDecoder(codec)
    with LogReader(settings, batch_size=EXPORT_BATCH) as reader:
        writer = ArchiveWriter(out_dir, reader.topic, codec)
        progress = Progress("export", reader.total_offsets)
        for msgs in reader.batches():
            values = [m.value() for m in msgs]
            table = decoder.decode(values)  # every value's header checked: the bodies are log-schema records
            if table is not None:
                writer.write_values(values, np.array([m.partition() for m in msgs], np.int64),
                                    np.array([m.offset() for m in msgs], np.int64), table)
            else:  # another writer schema, or a bad value (named by its offset): record by record
                for m in msgs:
                    rec = decode(codec, m, reader.topic)
                    for k in ("_topic", "_partition", "_offset"):
                        del rec[k]
                    writer.write(m.partition(), m.offset(), rec)
            progress.advance(len(msgs))
        manifest = writer.finish(reader.partitions, reader.end_offsets)
    return {"out": out_dir, "topic": manifest["topic"], "records": manifest["records"],
            "files": [p["file"] for p in manifest["partitions"]], "streams": len(manifest["streams"]),
            "seconds": progress.figures()["elapsed_s"]}


__all__ = ["run_rebuild", "run_export", "prefetched", "RebuildStats"]
