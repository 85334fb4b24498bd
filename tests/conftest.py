"""Shared fixtures: one real Kafka broker per test session, uuid-named topics per test."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]
# below the kernel's ephemeral range (32768-60999): a probe of a port in that range with nothing
# listening can connect to itself and leave the port in TIME_WAIT, and the broker then cannot bind it
TEST_BOOTSTRAP = "127.0.0.1:19092"


def _docker_kafka() -> Iterator[str] | None:
    from casefile.kafka.local_broker import docker_engine_answers

    if not docker_engine_answers():
        return None
    from testcontainers.kafka import KafkaContainer

    def gen() -> Iterator[str]:
        with KafkaContainer("apache/kafka:4.1.1").with_kraft() as container:
            yield container.get_bootstrap_server()
    return gen()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """CASEFILE_BOOTSTRAP_SERVERS if set; a testcontainers Kafka if Docker answers; else the local broker."""
    env = os.environ.get("CASEFILE_BOOTSTRAP_SERVERS")
    if env:
        yield env
        return
    docker = _docker_kafka()
    if docker is not None:
        yield from docker
        return
    from casefile.kafka.local_broker import LocalBroker

    broker = LocalBroker.for_bootstrap(TEST_BOOTSTRAP)
    started_here = not broker.answers(timeout=2.0)
    try:
        broker.start(progress=lambda m: print(m, file=sys.stderr))
    except Exception as exc:  # under CI a test that needs Kafka fails, never skips
        pytest.fail(f"no Kafka broker could be had: {exc}")
    yield broker.bootstrap
    if started_here and not os.environ.get("CASEFILE_KEEP_BROKER"):
        broker.stop(progress=lambda m: None)


@pytest.fixture
def topics() -> dict[str, str]:
    """Fresh topic names for one test."""
    tag = uuid.uuid4().hex[:10]
    return {"ledger": f"t{tag}.ledger", "log": f"t{tag}.casefile", "dlq": f"t{tag}.ledger.dlq"}


@pytest.fixture
def cli(kafka_bootstrap: str, topics: dict[str, str], tmp_path: Path):
    """Run `casefile ...` as a user would, against the test broker and this test's topics."""
    def run(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "CASEFILE_BOOTSTRAP_SERVERS": kafka_bootstrap,
               "CASEFILE_LEDGER_TOPIC": topics["ledger"], "CASEFILE_LOG_TOPIC": topics["log"],
               "CASEFILE_DLQ_TOPIC": topics["dlq"]}
        proc = subprocess.run([sys.executable, "-m", "casefile", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"casefile {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc
    return run
