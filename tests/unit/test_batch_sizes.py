"""How many records a catch-up asks Kafka for next (casefile.kafka.topics.batch_size_for)."""
from __future__ import annotations

from casefile.kafka.topics import ROW_GROUP, batch_size_for

BIG = 2 * ROW_GROUP


def test_ramps_up_from_small_batches():
    targets = {0: 600_000, 1: 600_000}
    assert batch_size_for(10_000, BIG, targets, {0: 0, 1: 0}) == 10_000
    assert batch_size_for(40_000, BIG, targets, {0: 0, 1: 0}) == 40_000
    assert batch_size_for(160_000, BIG, targets, {0: 0, 1: 0}) == ROW_GROUP  # whole row groups from here on
    assert batch_size_for(BIG, BIG, targets, {0: 0, 1: 0}) == BIG


def test_ramps_down_to_half_of_what_is_left_in_whole_row_groups():
    targets = {0: 600_000, 1: 600_000}
    assert batch_size_for(BIG, BIG, targets, {0: 300_000, 1: 300_000}) == BIG  # 600k left
    assert batch_size_for(BIG, BIG, targets, {0: 400_000, 1: 400_000}) == ROW_GROUP  # 400k left: half, rounded down
    assert batch_size_for(BIG, BIG, targets, {0: 500_000, 1: 550_000}) == ROW_GROUP  # never below one row group
    assert batch_size_for(BIG, BIG, targets, {0: 599_000, 1: 600_000}) == 1_000  # all that is left


def test_every_catch_up_batch_but_the_ramp_and_the_last_is_whole_row_groups():
    for total in (1_004_199, 5 * ROW_GROUP, 333_333):
        at, size, sizes = 0, 10_000, []
        while at < total:
            n = batch_size_for(size, BIG, {0: total}, {0: at})
            sizes.append(n)
            at, size = at + n, min(BIG, size * 4)
        assert sum(sizes) == total
        assert all(n % ROW_GROUP == 0 for n in sizes[2:-1]), sizes


def test_small_batch_sizes_are_kept():
    targets = {0: 300_000}
    assert batch_size_for(200_000, 5_000, targets, {0: 0}) == 5_000
    assert batch_size_for(200_000, 5_000, targets, {0: 298_000}) == 2_000


def test_past_the_targets_it_does_not_slow_down():
    """Following the log after a catch-up, the targets are behind: full batches for a burst."""
    assert batch_size_for(BIG, BIG, {0: 1_000}, {0: 5_000}) == BIG
    assert batch_size_for(BIG, BIG, {}, {}) == BIG
    assert batch_size_for(200_000, 200_000, {}, {}) == ROW_GROUP
