"""The deployment files hold together (no Docker engine needed: `docker compose config` wants one,
so the compose file's structure is checked here with PyYAML)."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from casefile.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_services_are_built_from_the_dockerfile_and_configured_from_deploy() -> None:
    services = _compose()["services"]
    assert set(services) >= {"kafka", "processor", "projector"}
    assert services["processor"]["build"] == "." and services["processor"]["image"] == services["projector"]["image"]
    for name, port in (("processor", "9400"), ("projector", "9401")):
        svc = services[name]
        assert svc["env_file"] == "deploy/casefile.env" and (ROOT / svc["env_file"]).exists()
        assert svc["command"][0] == ("process" if name == "processor" else "project")
        assert svc["command"][svc["command"].index("--metrics-port") + 1] == port
        assert port in " ".join(svc["healthcheck"]["test"]) and "/healthz" in " ".join(svc["healthcheck"]["test"])
        # every command line parses with the real `casefile` parser
        build_parser().parse_args(svc["command"])
    assert "--transactional-id" in services["processor"]["command"]
    assert services["processor"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert "casefile-data" in _compose()["volumes"]


def test_the_kafka_service_matches_the_local_broker_recipe() -> None:
    """`docker compose up kafka` runs what `casefile kafka start` runs with Docker."""
    from casefile.kafka.local_broker import DOCKER_IMAGE

    kafka = _compose()["services"]["kafka"]
    assert kafka["image"] == DOCKER_IMAGE
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == "0"


def test_dockerfile_and_env_file() -> None:
    docker = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", docker, re.M)
    assert re.search(r"^RUN pip install \.", docker, re.M)
    assert 'ENTRYPOINT ["casefile"]' in docker
    for copied in re.findall(r"^COPY (\S+)", docker, re.M):
        assert (ROOT / copied).exists(), copied
    env = (ROOT / "deploy" / "casefile.env").read_text()
    keys = re.findall(r"^#? ?(CASEFILE_[A-Z_]+)=", env, re.M)
    assert {"CASEFILE_BOOTSTRAP_SERVERS", "CASEFILE_LEDGER_TOPIC", "CASEFILE_LOG_TOPIC", "CASEFILE_DLQ_TOPIC",
            "CASEFILE_POLICY", "CASEFILE_METRICS_PORT", "CASEFILE_METRICS_HOST", "CASEFILE_HEALTH_STALE_S"} <= set(keys)
    assert (ROOT / "deploy" / "policy.toml").read_text() == (ROOT / "casefile/policy/default.toml").read_text()
