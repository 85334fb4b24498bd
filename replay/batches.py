"""What a rebuild folds: record dicts, log values as read, or records already in columns."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Sequence, Union

import numpy as np
import pyarrow as pa

Record = dict[str, Any]
Coords = Sequence[tuple[str, int, int]]  # (topic, partition, offset) of each record


@dataclass
class EncodedBatch:
    """Log values as read from Kafka that did not decode as one columnar batch (another
    writer schema, a bad value), with their coordinates."""
    values: list[bytes]
    coords: Coords


@dataclass
class TableBatch:
    """Records of `topic` in columns of the log schema (decoded by the reader process, or an
    archive file read by polars), with each one's partition and offset."""
    table: pa.Table
    topic: str
    partitions: np.ndarray
    offsets: np.ndarray

    @property
    def coords(self) -> list[tuple[str, int, int]]:
        return [(self.topic, p, o) for p, o in zip(self.partitions.tolist(), self.offsets.tolist())]


Batch = Union[list[Record], EncodedBatch, TableBatch]


def recut(batches: Iterable[Union[TableBatch, list[Record]]], size_after: Callable[[int], int]
          ) -> Iterator[Union[TableBatch, list[Record]]]:
    """The records of `batches`, in the same order, as `TableBatch`es of exactly
    `size_after(records so far)` records (called once per batch cut; the last batch: what
    remains), across partitions;
    record lists pass through where they stand (what is held is yielded first).

    Archive files come in blocks and partitions of any size; the projector's DuckDB writes are
    cheapest in whole row groups (casefile.kafka.topics.ROW_GROUP)."""
    held: list[TableBatch] = []
    count = done = 0
    want = size_after(done)
    for batch in batches:
        if not isinstance(batch, TableBatch):
            if held:
                yield _joined(held)
                done += count
                held, count = [], 0
            done += len(batch)
            yield batch
            want = size_after(done)
            continue
        held.append(batch)
        count += batch.table.num_rows
        while count >= want > 0:
            whole = _joined(held)
            yield _slice(whole, 0, want)
            done += want
            count -= want
            held = [_slice(whole, want, count)] if count else []
            want = size_after(done)
    if held:
        yield _joined(held)


def _joined(batches: list[TableBatch]) -> TableBatch:
    if len(batches) == 1:
        return batches[0]
    return TableBatch(pa.concat_tables([b.table for b in batches]), batches[0].topic,
                      np.concatenate([b.partitions for b in batches]), np.concatenate([b.offsets for b in batches]))


def _slice(batch: TableBatch, start: int, length: int) -> TableBatch:
    end = start + length
    return TableBatch(batch.table.slice(start, length), batch.topic, batch.partitions[start:end],
                      batch.offsets[start:end])
