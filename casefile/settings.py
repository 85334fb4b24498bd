"""One frozen settings object per process, built by the CLI from flags and the environment."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from casefile.errors import CasefileError

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_LEDGER_TOPIC = "ar.ledger.v1"
DEFAULT_LOG_TOPIC = "collections.casefile.v1"
DEFAULT_DLQ_TOPIC = "ar.ledger.v1.dlq"
SECRET_KEYS = ("sasl.password", "ssl.key.password", "ssl.keystore.password", "sasl.oauthbearer.client.secret")


@dataclass(frozen=True)
class Settings:
    bootstrap_servers: str = DEFAULT_BOOTSTRAP
    ledger_topic: str = DEFAULT_LEDGER_TOPIC
    log_topic: str = DEFAULT_LOG_TOPIC
    dlq_topic: str = DEFAULT_DLQ_TOPIC
    policy_path: str | None = None
    kafka_overrides: Mapping[str, str] = field(default_factory=dict)

    def kafka(self, **extra: Any) -> dict[str, Any]:
        """A librdkafka config: bootstrap, then `extra`, then the user's `-X` overrides."""
        # librdkafka's retrying warnings (level 4) are noise on a terminal; -X log_level=7 brings them back
        return {"bootstrap.servers": self.bootstrap_servers, "log_level": 3, **extra, **self.kafka_overrides}

    def redacted(self) -> dict[str, Any]:
        return {**{k: v for k, v in self.__dict__.items() if k != "kafka_overrides"},
                "kafka_overrides": {k: ("***" if k in SECRET_KEYS else v) for k, v in self.kafka_overrides.items()}}


def parse_overrides(pairs: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CasefileError(f"-X expects key=value, got {pair!r}")
        out[key.strip()] = value
    return out


def env_or(name: str, default: str) -> str:
    return os.environ.get(name) or default
