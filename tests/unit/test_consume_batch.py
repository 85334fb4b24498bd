"""casefile.kafka.topics.consume_batch: a short read is topped up while the backlog lasts, never
held back by a partition that stopped giving records."""
from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import TopicPartition

from casefile.kafka.topics import consume_batch


@dataclass
class _Msg:
    p: int
    o: int


class _Consumer:
    """Each consume() gives the next read of `reads` (cut to what was asked); position() is the
    offset after the last message given per partition."""

    def __init__(self, reads: list[list[tuple[int, int]]]) -> None:
        self.reads, self.asked, self.at = list(reads), [], {}

    def consume(self, n: int, timeout: float) -> list[_Msg]:
        self.asked.append(n)
        read = self.reads.pop(0) if self.reads else []
        msgs = [_Msg(p, o) for p, o in read[:n]]
        for m in msgs:
            self.at[m.p] = m.o + 1
        return msgs

    def position(self, tps: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition, self.at.get(tp.partition, -1001)) for tp in tps]


def _run(p: int, start: int, n: int) -> list[tuple[int, int]]:
    return [(p, o) for o in range(start, start + n)]


def test_a_short_read_is_topped_up_to_the_size_asked() -> None:
    consumer = _Consumer([_run(0, 0, 300), _run(0, 300, 300) + _run(1, 0, 400), _run(0, 600, 200)])
    msgs = consume_batch(consumer, 1_000, 0.5, "log", {0: 5_000, 1: 5_000}, {0: 0, 1: 0})
    assert [(m.p, m.o) for m in msgs] == _run(0, 0, 600) + _run(1, 0, 400)
    assert consumer.asked == [1_000, 700]


def test_no_top_up_once_every_partition_reached_its_target() -> None:
    consumer = _Consumer([_run(0, 0, 300) + _run(1, 0, 100), _run(0, 300, 10)])
    msgs = consume_batch(consumer, 1_000, 0.5, "log", {0: 300, 1: 100}, {0: 0, 1: 0})
    assert len(msgs) == 400 and consumer.asked == [1_000]


def test_a_partition_with_no_position_yet_counts_from_where_it_starts() -> None:
    consumer = _Consumer([_run(0, 0, 300)])  # partition 1 already at its target: never read
    assert len(consume_batch(consumer, 1_000, 0.5, "log", {0: 300, 1: 50}, {0: 0, 1: 50})) == 300
    assert consumer.asked == [1_000]


def test_a_stalled_partition_costs_one_short_top_up_not_the_whole_batch() -> None:
    """Partition 1 is far behind but gives nothing (its leader is away); partition 0 trickles."""
    consumer = _Consumer([_run(0, 0, 5), _run(0, 5, 3), _run(0, 8, 3), _run(0, 11, 3)])
    msgs = consume_batch(consumer, 100_000, 0.5, "log", {0: 10**9, 1: 10**6}, {0: 0, 1: 0})
    assert len(msgs) == 8 and consumer.asked == [100_000, 99_995]


def test_an_empty_read_is_returned_at_once() -> None:
    consumer = _Consumer([])
    assert consume_batch(consumer, 1_000, 0.5, "log", {0: 10}, {0: 0}) == [] and consumer.asked == [1_000]
