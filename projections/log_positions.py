"""A batch's log coordinates as arrays: where each partition stands after it, and which of its
records a store has not applied yet (a batch read again after a crash or a rebalance)."""
from __future__ import annotations

import numpy as np


def next_positions(partitions: np.ndarray, offsets: np.ndarray) -> dict[int, int]:
    """Per partition: the offset after its highest one in the batch."""
    return {int(p): int(offsets[partitions == p].max()) + 1 for p in np.unique(partitions)}


def unapplied(partitions: np.ndarray, offsets: np.ndarray, start: dict[int, int]) -> np.ndarray | None:
    """The rows to apply, or None when that is every row: a record is applied when its offset is
    at or beyond its partition's `start` (the next offset to apply) and above every offset
    before it in the batch — what applying record by record while moving the position on does,
    also when a partition's offsets go back within a batch (a consumer reset to an earlier
    offset)."""
    keep = np.ones(len(partitions), dtype=bool)
    for p in np.unique(partitions):
        rows = np.flatnonzero(partitions == p)
        offs = offsets[rows]
        floor = np.maximum.accumulate(np.concatenate(([start.get(int(p), 0) - 1], offs[:-1])))
        keep[rows] = offs > floor
    return None if keep.all() else np.flatnonzero(keep)
