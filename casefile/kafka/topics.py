"""Topic administration: look up partition counts, create the topics casefile owns."""
from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from casefile.errors import CasefileError


def admin(config: dict[str, Any]) -> AdminClient:
    return AdminClient(config)


def partition_count(client: AdminClient, topic: str, timeout: float = 10.0) -> int | None:
    """Partitions of `topic`, or None when it does not exist."""
    try:
        # metadata for all topics: asking for one by name would auto-create it on brokers that allow that
        md = client.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise CasefileError(f"cannot reach Kafka: {exc.args[0].str() if exc.args else exc}") from None
    info = md.topics.get(topic)
    if info is None or info.error is not None:
        return None
    return len(info.partitions)


def ensure_topic(client: AdminClient, topic: str, partitions: int, config: dict[str, str] | None = None,
                 timeout: float = 30.0) -> int:
    """Create `topic` if it is missing; returns its partition count."""
    existing = partition_count(client, topic)
    if existing is not None:
        return existing
    futures = client.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=-1,
                                             config=config or {})], operation_timeout=timeout)
    try:
        futures[topic].result(timeout)
    except KafkaException as exc:
        err = exc.args[0]
        if err.name() != "TOPIC_ALREADY_EXISTS":
            raise CasefileError(f"cannot create topic {topic}: {err.str()}") from None
    for _ in range(50):
        count = partition_count(client, topic)
        if count:
            return count
    raise CasefileError(f"topic {topic} was created but has no metadata yet")


LOG_TOPIC_CONFIG = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}
