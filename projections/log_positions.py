"""A batch's log coordinates as arrays: where each partition stands after it, and which of its
records a store has applied already (a batch read again after a crash or a rebalance)."""
from __future__ import annotations

import numpy as np


def next_positions(partitions: np.ndarray, offsets: np.ndarray) -> dict[int, int]:
    """Per partition: the offset after its last record in the batch (records in log order)."""
    if not len(partitions):
        return {}
    last = len(partitions) - 1 - np.unique(partitions[::-1], return_index=True)[1]
    return {int(partitions[i]): int(offsets[i]) + 1 for i in last}


def unapplied(partitions: np.ndarray, offsets: np.ndarray, start: dict[int, int]) -> np.ndarray | None:
    """The rows at or beyond `start` (partition -> next offset to apply), or None when that is
    every row; a partition's records must come in offset order after the first one kept."""
    skip = np.zeros(len(partitions), dtype=bool)
    for p, first in start.items():
        if first > 0:
            skip |= (partitions == p) & (offsets < first)
    if not skip.any():
        return None
    return np.flatnonzero(~skip)
