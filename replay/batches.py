"""What a rebuild folds: record dicts, log values as read, or records already in columns."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence, Union

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
