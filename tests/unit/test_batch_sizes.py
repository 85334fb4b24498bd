"""How many records a catch-up asks Kafka for next (casefile.kafka.topics.batch_size_for)."""
from __future__ import annotations

from casefile.kafka.topics import batch_size_for


def test_ramps_down_to_half_of_what_is_left_near_the_end():
    targets = {0: 300_000, 1: 300_000}
    assert batch_size_for(200_000, 200_000, targets, {0: 0, 1: 0}) == 200_000
    assert batch_size_for(200_000, 200_000, targets, {0: 200_000, 1: 250_000}) == 75_000
    assert batch_size_for(200_000, 200_000, targets, {0: 299_000, 1: 300_000}) == 10_000  # the floor
    assert batch_size_for(40_000, 200_000, targets, {0: 0, 1: 0}) == 40_000  # still ramping up
    assert batch_size_for(200_000, 5_000, targets, {0: 299_000, 1: 300_000}) == 5_000  # a small batch size


def test_past_the_targets_it_does_not_slow_down():
    """Following the log after a catch-up, the targets are behind: full batches for a burst."""
    assert batch_size_for(200_000, 200_000, {0: 1_000}, {0: 5_000}) == 200_000
    assert batch_size_for(200_000, 200_000, {}, {}) == 200_000
