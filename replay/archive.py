"""The log as Avro object container files plus a manifest, and back.

Export writes one container file per log partition (`log-p0000.avro` …), the values' Avro
bodies copied into blocks as they are (`schemas/container.py`), with the log schema
(`schemas/casefile_event.avsc`) embedded in each file's header (any Avro reader reads them with
nothing else), deflate-compressed, and then `manifest.json`:

- `topic`, `schema_fingerprint` (CRC-64-AVRO of the schema's canonical form), `created_at`;
- per partition: `file`, `records`, `first_offset`, `last_offset`, `end_offset` (the log end
  offset read up to), `offset_runs` ([start, count] runs of consecutive record offsets: the
  log's offsets have gaps where transaction markers sit, and a rebuild stores each record's log
  coordinates), `bytes` and `sha256` of the file;
- per stream: the last `version` and `hash`;
- `manifest_sha256`: SHA-256 of the canonical JSON of everything else.

Import checks all of that before reading a record (every file's size and SHA-256, the
manifest's own checksum, no missing file), then while reading checks the record counts and that
each stream ends on the version and hash the manifest names. Any mismatch is a one-line error.
"""
from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from datetime import datetime, timezone
from itertools import chain, islice, repeat
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Union

import polars as pl
import numpy as np
import pyarrow as pa
from fastavro import block_reader
from fastavro import reader as avro_reader

from casefile.errors import CasefileError
from casefile.kafka.topics import ROW_GROUP, batch_size_for
from projections.decode_batch import BatchDecoder
from projections.prefetch import Columns, Values
from replay.batches import TableBatch, recut
from schemas.codec import HEADER_LEN, AvroCodec, log_codec
from schemas.container import ContainerWriter

FORMAT = "casefile-log-archive/1"
MANIFEST = "manifest.json"
Record = dict[str, Any]


def file_name(partition: int) -> str:
    return f"log-p{partition:04d}.avro"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class _PartitionFile:
    def __init__(self, path: Path, codec: AvroCodec, compression: str) -> None:
        self.path = path
        self.fo: BinaryIO = path.open("wb")
        self.writer = ContainerWriter(self.fo, codec.schema_json, compression, name=path.name)
        self.codec = codec
        self.records = 0
        self.runs: list[list[int]] = []

    def write(self, record: Record, offset: int) -> None:
        self.write_bodies([self.codec.encode(record)[HEADER_LEN:]], np.array([offset], np.int64))

    def write_bodies(self, bodies: list[bytes], offsets: np.ndarray) -> None:
        """Records already in the log schema's binary encoding, with their (rising) offsets."""
        if not bodies:
            return
        self.writer.write(bodies)
        self.records += len(bodies)
        starts = np.flatnonzero(np.diff(offsets) != 1) + 1  # where a run of consecutive offsets breaks
        runs = self.runs
        for run in np.split(offsets, starts):
            first, count = int(run[0]), len(run)
            if runs and runs[-1][0] + runs[-1][1] == first:
                runs[-1][1] += count
            else:
                runs.append([first, count])

    def close(self) -> None:
        self.writer.flush()
        self.fo.close()


class ArchiveWriter:
    """Write records (in each partition's offset order) into DIR; `finish` writes the manifest."""

    def __init__(self, out_dir: str, topic: str, codec: AvroCodec, compression: str = "deflate") -> None:
        self.dir = Path(out_dir)
        if self.dir.exists() and (not self.dir.is_dir() or any(self.dir.iterdir())):
            raise CasefileError(f"{out_dir} exists and is not an empty directory")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.topic = topic
        self.codec = codec
        self.compression = compression
        self.files: dict[int, _PartitionFile] = {}
        self.streams: dict[str, dict[str, Any]] = {}

    def _file(self, partition: int) -> _PartitionFile:
        f = self.files.get(partition)
        if f is None:
            f = self.files[partition] = _PartitionFile(self.dir / file_name(partition), self.codec, self.compression)
        return f

    def write(self, partition: int, offset: int, record: Record) -> None:
        self._file(partition).write(record, offset)
        self.streams[record["stream_id"]] = {"version": record["stream_version"], "hash": record["hash"]}

    def write_values(self, values: list[bytes], partitions: np.ndarray, offsets: np.ndarray, table: pa.Table) -> None:
        """Log values as read (single-object encoding with the log schema's header, every one
        checked), their coordinates (log order), and the same records decoded (`table`, for
        the stream heads): each value's body goes into its partition's file as it is."""
        for p in np.unique(partitions).tolist():
            rows = np.flatnonzero(partitions == p)
            self._file(p).write_bodies([values[i][HEADER_LEN:] for i in rows.tolist()], offsets[rows])
        heads = (pl.from_arrow(table.select(["stream_id", "stream_version", "hash"]))
                 .unique(subset="stream_id", keep="last", maintain_order=True))
        streams = self.streams
        for stream, version, hash_ in heads.iter_rows():
            streams[stream] = {"version": version, "hash": hash_}

    def finish(self, partitions: list[int], end_offsets: dict[int, int]) -> dict[str, Any]:
        for p in partitions:  # an empty partition still gets its (empty) file: the archive is complete
            if p not in self.files:
                self.files[p] = _PartitionFile(self.dir / file_name(p), self.codec, self.compression)
        parts = []
        for p in sorted(self.files):
            f = self.files[p]
            f.close()
            parts.append({"partition": p, "file": f.path.name, "records": f.records,
                          "first_offset": f.runs[0][0] if f.runs else None,
                          "last_offset": f.runs[-1][0] + f.runs[-1][1] - 1 if f.runs else None,
                          "end_offset": end_offsets.get(p), "offset_runs": f.runs,
                          "bytes": f.path.stat().st_size, "sha256": sha256_file(f.path)})
        manifest: dict[str, Any] = {
            "format": FORMAT, "topic": self.topic, "schema_fingerprint": self.codec.header[2:].hex(),
            "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "records": sum(p["records"] for p in parts), "partitions": parts,
            "streams": dict(sorted(self.streams.items()))}
        manifest["manifest_sha256"] = hashlib.sha256(_canonical(manifest)).hexdigest()
        tmp = self.dir / f".{MANIFEST}.tmp"
        tmp.write_text(json.dumps(manifest, indent=1) + "\n")
        os.replace(tmp, self.dir / MANIFEST)
        return manifest


def load_manifest(archive_dir: str) -> dict[str, Any]:
    """The manifest, after checking it and every file it names; CasefileError on any mismatch."""
    d = Path(archive_dir)
    path = d / MANIFEST
    if not path.is_file():
        raise CasefileError(f"archive {archive_dir}: no {MANIFEST} (not a `casefile replay export` directory?)")
    try:
        manifest = json.loads(path.read_bytes())
        claimed = manifest.pop("manifest_sha256")
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ValueError(f"format is not {FORMAT}")
        parts = manifest["partitions"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CasefileError(f"archive {archive_dir}: {MANIFEST} is corrupt ({exc})") from None
    if hashlib.sha256(_canonical(manifest)).hexdigest() != claimed:
        raise CasefileError(f"archive {archive_dir}: {MANIFEST} was altered (its checksum does not match)")
    for part in parts:
        f = d / part["file"]
        if not f.is_file():
            raise CasefileError(f"archive {archive_dir}: {part['file']} is missing")
        if f.stat().st_size != part["bytes"] or sha256_file(f) != part["sha256"]:
            raise CasefileError(f"archive {archive_dir}: {part['file']} was altered "
                                f"(SHA-256 does not match the manifest)")
        if sum(n for _, n in part["offset_runs"]) != part["records"]:
            raise CasefileError(f"archive {archive_dir}: {MANIFEST} offset runs of partition "
                                f"{part['partition']} do not add up to its record count")
    return manifest


def _offsets(runs: list[list[int]]) -> Iterator[int]:
    for start, count in runs:
        yield from range(start, start + count)


class ArchiveReader:
    """Batches of records (with `_topic`, `_partition`, `_offset`) from a checked archive,
    partitions interleaved chunk by chunk, as a Kafka consumer would deliver them."""

    def __init__(self, archive_dir: str, codec: AvroCodec, chunk: int = 10_000,
                 manifest: dict[str, Any] | None = None) -> None:
        """`manifest`: one `load_manifest` already checked (not checked again)."""
        self.dir = Path(archive_dir)
        self.manifest = load_manifest(archive_dir) if manifest is None else manifest
        self.topic: str = self.manifest["topic"]
        self.codec = codec
        self.chunk = chunk
        self.total = int(self.manifest["records"])

    def _partition(self, part: dict[str, Any]) -> Iterator[list[Record]]:
        topic, p = self.topic, part["partition"]
        offsets = _offsets(part["offset_runs"])
        n = 0
        with (self.dir / part["file"]).open("rb") as fo, self._corrupt_is_one_line(part["file"]):
            rd = avro_reader(fo)
            if rd.writer_schema is not None and _fingerprint(rd.writer_schema) != self.codec.header:
                fo.seek(0)
                rd = avro_reader(fo, reader_schema=self.codec.schema_json)
            batch: list[Record] = []
            for rec in rd:
                offset = next(offsets, None)
                if offset is None:
                    raise CasefileError(f"archive {self.dir}: {part['file']} holds more records than the manifest says")
                rec["_topic"], rec["_partition"], rec["_offset"] = topic, p, offset
                batch.append(rec)
                n += 1
                if len(batch) >= self.chunk:
                    yield batch
                    batch = []
            if batch:
                yield batch
        self._check_count(part, n)

    def tables(self, chunk: int = 100_000) -> Iterator[Union[TableBatch, list[Record]]]:
        """The archive for a rebuild, partition after partition: `TableBatch`es of about
        `chunk` records (the files' decompressed blocks read by polars in one pass), or record
        batches for a file written with another schema. Checks counts and stream heads as
        `batches` does."""
        heads: dict[str, tuple[int, str]] = {}
        sizes = [min(chunk, 10_000 * 4 ** i) for i in range(8)]  # small first: the fold starts early
        for n, part in enumerate(self.manifest["partitions"]):
            for batch in self._partition_tables(part, sizes if n == 0 else [chunk]):
                if isinstance(batch, list):
                    for rec in batch:
                        heads[rec["stream_id"]] = (rec["stream_version"], rec["hash"])
                else:
                    last = (pl.from_arrow(batch.table.select(["stream_id", "stream_version", "hash"]))
                            .unique(subset="stream_id", keep="last", maintain_order=True))
                    heads.update(zip(last["stream_id"], zip(last["stream_version"], last["hash"])))
                yield batch
        self._check_heads(heads)

    def _partition_tables(self, part: dict[str, Any], sizes: list[int]) -> Iterator[Union[TableBatch, list[Record]]]:
        """The file in batches of `sizes[0]`, `sizes[1]`, … records (the last size repeats)."""
        name = part["file"]
        offsets = _offsets(part["offset_runs"])
        decoder = BatchDecoder(self.codec)
        n = 0
        with (self.dir / name).open("rb") as fo, self._corrupt_is_one_line(name):
            blocks = block_reader(fo)
            if blocks.writer_schema is None or _fingerprint(blocks.writer_schema) != self.codec.header:
                yield from self._partition(part)
                return
            bodies: list[bytes] = []
            count = 0
            for block in blocks:
                bodies.append(block.bytes_.getvalue())
                count += block.num_records
                if count >= sizes[0]:
                    yield self._table_batch(_blocks(decoder, bodies, count), part, offsets, count)
                    n += count
                    bodies, count = [], 0
                    sizes = sizes[1:] or sizes
            if count:
                yield self._table_batch(_blocks(decoder, bodies, count), part, offsets, count)
                n += count
        self._check_count(part, n)

    @contextmanager
    def _corrupt_is_one_line(self, name: str) -> Iterator[None]:
        try:
            yield
        except CasefileError:
            raise
        except Exception as exc:  # noqa: BLE001 - fastavro raises many types for a corrupt file
            raise CasefileError(f"archive {self.dir}: {name} is corrupt ({exc.__class__.__name__})") from None

    def _check_count(self, part: dict[str, Any], n: int) -> None:
        if n != part["records"]:
            raise CasefileError(f"archive {self.dir}: {part['file']} holds {n} records, the manifest says {part['records']}")

    def _table_batch(self, table: pa.Table, part: dict[str, Any], offsets: Iterator[int], count: int) -> TableBatch:
        """The batch with its coordinates: the partition's next `count` offsets."""
        taken = np.fromiter(islice(offsets, count), np.int64)
        if len(taken) != count:
            raise CasefileError(f"archive {self.dir}: {part['file']} holds more records than the manifest says")
        return TableBatch(table, self.topic, np.full(count, part["partition"], np.int64), taken)

    def batches(self) -> Iterator[list[Record]]:
        heads: dict[str, tuple[int, str]] = {}
        gens = [self._partition(part) for part in self.manifest["partitions"]]
        while gens:
            for gen in list(gens):
                batch = next(gen, None)
                if batch is None:
                    gens.remove(gen)
                    continue
                for rec in batch:
                    heads[rec["stream_id"]] = (rec["stream_version"], rec["hash"])
                yield batch
        self._check_heads(heads)

    def _check_heads(self, heads: dict[str, tuple[int, str]]) -> None:
        expected = {s: (v["version"], v["hash"]) for s, v in self.manifest["streams"].items()}
        if heads != expected:
            bad = sorted(set(heads.items()) ^ set(expected.items()))[0][0]
            raise CasefileError(f"archive {self.dir}: stream {bad} does not end on the version and hash "
                                f"the manifest names")


class ReadArchive:
    """A `projections.prefetch.LogSource`: an archive's records for a rebuild, read (and for
    another schema's files, re-encoded to the log schema) in the reader process."""

    def __init__(self, archive_dir: str, manifest: dict[str, Any]) -> None:
        self.archive_dir, self.manifest = archive_dir, manifest

    def events(self) -> Iterator[Union[Columns, Values]]:
        codec = log_codec()
        total = sum(part["records"] for part in self.manifest["partitions"])
        ramp = chain((10_000, 40_000, 160_000), repeat(2 * ROW_GROUP))  # as a catch-up from Kafka ramps up
        batches = recut(ArchiveReader(self.archive_dir, codec, manifest=self.manifest).tables(),
                        lambda done: batch_size_for(next(ramp), 2 * ROW_GROUP, {0: total}, {0: done}))
        for batch in batches:
            if isinstance(batch, list):
                yield Values([codec.encode(_log_fields(codec, r)) for r in batch],
                             [r["_partition"] for r in batch], [r["_offset"] for r in batch])
            else:
                yield Columns(batch.table, batch.partitions.tolist(), batch.offsets.tolist())


def _log_fields(codec: AvroCodec, rec: Record) -> Record:
    return {f["name"]: rec[f["name"]] for f in codec.schema_json["fields"]}


def _blocks(decoder: BatchDecoder, bodies: list[bytes], count: int) -> pa.Table:
    table = decoder.decode_bodies(bodies, count)
    if table is None:
        raise ValueError("the blocks do not read as the log schema")
    return table


def _fingerprint(schema: Any) -> bytes:
    from fastavro.schema import to_parsing_canonical_form

    from schemas.fingerprint import single_object_header

    return single_object_header(to_parsing_canonical_form(schema))
