"""What a rebuild folds: record dicts, log values as read, or records already in columns."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence, Union

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
    """Records in columns of the log schema (an archive file read by polars), with their
    coordinates."""
    table: pa.Table
    coords: Coords


Batch = Union[list[Record], EncodedBatch, TableBatch]
