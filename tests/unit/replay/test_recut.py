"""replay.batches.recut: archive batches re-cut to the sizes asked, order and coordinates kept."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from replay.batches import TableBatch, recut


def _batch(partition: int, start: int, n: int) -> TableBatch:
    offsets = np.arange(start, start + n, dtype=np.int64)
    return TableBatch(pa.table({"offset": pa.array(offsets)}), "log", np.full(n, partition, np.int64), offsets)


def _flatten(batches: list) -> list[tuple[int, int, int]]:
    out = []
    for b in batches:
        if isinstance(b, TableBatch):
            assert b.table.column("offset").to_pylist() == b.offsets.tolist()  # rows stay with their coordinates
            out += list(zip(b.partitions.tolist(), b.offsets.tolist(), b.table.column("offset").to_pylist()))
        else:
            out += [(r["_partition"], r["_offset"], r["_offset"]) for r in b]
    return out


def test_cuts_exact_sizes_across_partitions():
    parts = [_batch(0, 0, 70), _batch(0, 70, 50), _batch(1, 0, 45)]
    out = list(recut(parts, lambda done: 10 if done == 0 else 40))
    assert [b.table.num_rows for b in out] == [10, 40, 40, 40, 35]
    assert _flatten(out) == _flatten(parts)
    assert out[3].partitions.tolist() == [0] * 30 + [1] * 10  # the end of partition 0 and the start of 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 60), st.booleans()), max_size=12),
       st.lists(st.integers(1, 50), min_size=1, max_size=6))
def test_same_records_in_the_same_order(pieces, sizes):
    batches: list = []
    next_offset = [0, 0, 0, 0]
    for partition, n, as_records in pieces:
        start = next_offset[partition]
        next_offset[partition] += n
        if as_records:  # a file of another schema: record dicts, passed through where they stand
            batches.append([{"_partition": partition, "_offset": o} for o in range(start, start + n)])
        else:
            batches.append(_batch(partition, start, n))
    asked: list[int] = []

    def size_after(done: int) -> int:
        asked.append(sizes[min(len(asked), len(sizes) - 1)])
        return asked[-1]

    out = list(recut(batches, size_after))
    assert _flatten(out) == _flatten(batches)
    tables = [b.table.num_rows for b in out if isinstance(b, TableBatch)]
    # every table batch has the size asked at its cut, except one before a record list or the last
    kinds = [isinstance(b, TableBatch) for b in out]
    for i, b in enumerate(out):
        if isinstance(b, TableBatch) and i + 1 < len(out) and kinds[i + 1]:
            assert b.table.num_rows in asked
    assert sum(tables) + sum(len(b) for b in out if not isinstance(b, TableBatch)) == sum(n for _, n, _ in pieces)
