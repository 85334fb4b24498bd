"""One frozen settings object per process, built by the CLI from flags and the environment.

Kafka client credentials come, weakest first, from `CASEFILE_KAFKA_CONFIG_FILE` (a librdkafka
properties file, `key=value` lines), then `CASEFILE_SASL_USERNAME` / `CASEFILE_SASL_PASSWORD`, then
`-X key=value`. Secret values are held as pydantic `SecretStr` and shown as `***` by `redacted()`
and by the settings' repr.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from pydantic import SecretStr

from casefile.errors import CasefileError

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_LEDGER_TOPIC = "ar.ledger.v1"
DEFAULT_LOG_TOPIC = "collections.casefile.v1"
DEFAULT_DLQ_TOPIC = "ar.ledger.v1.dlq"
SECRET_KEYS = ("sasl.password", "ssl.key.password", "ssl.keystore.password", "sasl.oauthbearer.client.secret",
               "ssl.key.pem", "ssl.truststore.password", "sasl.oauthbearer.config", "sasl.jaas.config")
CONFIG_FILE_ENV = "CASEFILE_KAFKA_CONFIG_FILE"
SASL_USERNAME_ENV = "CASEFILE_SASL_USERNAME"
SASL_PASSWORD_ENV = "CASEFILE_SASL_PASSWORD"


def is_secret_key(key: str) -> bool:
    return key in SECRET_KEYS or key.endswith(("password", "secret", "passphrase"))


def read_kafka_properties(path: Path) -> dict[str, str]:
    """A librdkafka properties file: `key=value` lines; blank lines and `#`/`!` comments ignored.
    Errors name the line, never its content (it may be a password)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CasefileError(f"cannot read Kafka config file {path} ({CONFIG_FILE_ENV}): {exc.strerror}") from None
    out: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#!":
            continue
        key, sep, value = stripped.partition("=")
        if not sep or not key.strip():
            raise CasefileError(f"{path}:{lineno}: expected key=value")
        out[key.strip()] = value.strip()
    return out


def kafka_config_from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """librdkafka settings from CASEFILE_KAFKA_CONFIG_FILE, then CASEFILE_SASL_USERNAME/PASSWORD;
    secret values wrapped in SecretStr. `bootstrap.servers` stays the flag's/env's (a file's is ignored)."""
    env = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    file = env.get(CONFIG_FILE_ENV)
    if file:
        out.update(read_kafka_properties(Path(file)))
    out.pop("bootstrap.servers", None)
    if env.get(SASL_USERNAME_ENV):
        out["sasl.username"] = env[SASL_USERNAME_ENV]
    if env.get(SASL_PASSWORD_ENV):
        out["sasl.password"] = env[SASL_PASSWORD_ENV]
    return {k: SecretStr(v) if is_secret_key(k) and isinstance(v, str) else v for k, v in out.items()}


def _reveal(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


@dataclass(frozen=True)
class Settings:
    bootstrap_servers: str = DEFAULT_BOOTSTRAP
    ledger_topic: str = DEFAULT_LEDGER_TOPIC
    log_topic: str = DEFAULT_LOG_TOPIC
    dlq_topic: str = DEFAULT_DLQ_TOPIC
    policy_path: str | None = None
    kafka_overrides: Mapping[str, str] = field(default_factory=dict)
    # CASEFILE_KAFKA_CONFIG_FILE and CASEFILE_SASL_* as read when the settings were made; secrets as SecretStr
    kafka_environment: Mapping[str, Any] = field(default_factory=kafka_config_from_environment)

    def kafka(self, **extra: Any) -> dict[str, Any]:
        """A librdkafka config: bootstrap, then `extra`, then the environment's credentials and
        config file, then the user's `-X` overrides."""
        # librdkafka's retrying warnings (level 4) are noise on a terminal; -X log_level=7 brings them back
        return {"bootstrap.servers": self.bootstrap_servers, "log_level": 3, **extra,
                **{k: _reveal(v) for k, v in self.kafka_environment.items()}, **self.kafka_overrides}

    def redacted(self) -> dict[str, Any]:
        hide = lambda cfg: {k: ("***" if is_secret_key(k) else _reveal(v)) for k, v in cfg.items()}  # noqa: E731
        return {**{k: v for k, v in self.__dict__.items() if k not in ("kafka_overrides", "kafka_environment")},
                "kafka_overrides": hide(self.kafka_overrides), "kafka_environment": hide(self.kafka_environment)}

    def __repr__(self) -> str:  # never a password in a log line or traceback
        return f"Settings({self.redacted()!r})"


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
