"""A secured broker (SASL/SCRAM-SHA-512, SASL_SSL with a test CA, StandardAuthorizer, casefile's
ACLs): each principal can do its job and nothing else, a wrong password is one clear line, and no
password ever reaches a log line or an error message."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import duckdb
import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from casefile.kafka.local_broker import LocalBroker
from casefile.kafka.security import (ADMIN_USER, PROCESSOR_USER, PRODUCER_USER, READER_USER, AclPlan, BrokerSecurity,
                                     casefile_acls, create_acls, write_client_properties)
from casefile.kafka.topics import admin, ensure_topic
from casefile.synthetic_ledger import synthetic_ledger

pytestmark = [pytest.mark.kafka]

SECURE_BOOTSTRAP = "127.0.0.1:19192"
PARTITIONS = 3


@pytest.fixture(scope="session")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    """A secured local broker of its own (SASL_PLAINTEXT :19192, SASL_SSL :19194), fresh users and CA."""
    state = tmp_path_factory.mktemp("secure-kafka")
    broker = LocalBroker.for_bootstrap(SECURE_BOOTSTRAP, security=BrokerSecurity.generate(tls=True), state_dir=state)
    try:
        broker.start(progress=lambda m: print(m, file=sys.stderr), timeout=90)
    except Exception as exc:  # a test that needs the broker fails, never skips (CI=true or not)
        broker.stop(progress=lambda m: None)
        pytest.fail(f"the secured Kafka broker could not be started: {exc}")
    yield broker
    if not os.environ.get("CASEFILE_KEEP_BROKER"):
        broker.stop(progress=lambda m: None)


@pytest.fixture(scope="session")
def deployment(secure_broker: LocalBroker) -> dict[str, str]:
    """Fresh topic names, the ledger topic created by the admin, casefile's ACLs for them."""
    tag = uuid.uuid4().hex[:10]
    names = {"ledger": f"s{tag}.ledger", "log": f"s{tag}.casefile", "dlq": f"s{tag}.ledger.dlq"}
    admin_cfg = secure_broker.client_config(ADMIN_USER)
    ensure_topic(admin(admin_cfg), names["ledger"], PARTITIONS)
    create_acls(admin_cfg, casefile_acls(AclPlan(names["ledger"], names["log"], names["dlq"])))
    return names


def _passwords(broker: LocalBroker) -> list[str]:
    assert broker.security is not None
    return list(broker.security.users.values())


def _casefile(broker: LocalBroker, topics: dict[str, str], cwd: Path, *args: str, env: dict[str, str] | None = None,
              bootstrap: str | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("CASEFILE_SASL_", "CASEFILE_KAFKA_CONFIG"))}
    full_env.update({"CASEFILE_BOOTSTRAP_SERVERS": bootstrap or broker.bootstrap,
                     "CASEFILE_LEDGER_TOPIC": topics["ledger"], "CASEFILE_LOG_TOPIC": topics["log"],
                     "CASEFILE_DLQ_TOPIC": topics["dlq"], **(env or {})})
    return subprocess.run([sys.executable, "-m", "casefile", "--log-level", "debug", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=120)


def _config_file(broker: LocalBroker, user: str, path: Path, tls: bool = False) -> Path:
    props = {k: v for k, v in broker.client_config(user, tls=tls).items() if k != "bootstrap.servers"}
    return write_client_properties(path, props)


def _events_file(path: Path, n: int = 400) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in synthetic_ledger(n, accounts=20, events_per_day=80,
                                                                            seed=3, bad_ratio=0.0)))
    return path


def _high_watermarks(broker: LocalBroker, topic: str) -> list[int]:
    consumer = Consumer({**broker.client_config(ADMIN_USER), "group.id": f"reader-{uuid.uuid4().hex}"})
    try:
        return [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(PARTITIONS)]
    finally:
        consumer.close()


def _assert_no_secret(broker: LocalBroker, *runs: subprocess.CompletedProcess[str]) -> None:
    for run in runs:
        for secret in _passwords(broker):
            assert secret not in run.stdout and secret not in run.stderr, f"a password leaked from {run.args[3:]}"


def test_the_processor_runs_end_to_end_over_sasl(secure_broker: LocalBroker, deployment: dict[str, str],
                                                 tmp_path: Path) -> None:
    events = _events_file(tmp_path / "ledger.jsonl")
    # the upstream producer: credentials from the environment
    publish = _casefile(secure_broker, deployment, tmp_path, "-X", "security.protocol=SASL_PLAINTEXT",
                        "-X", "sasl.mechanism=SCRAM-SHA-512", "publish", str(events), "--partitions", str(PARTITIONS),
                        env={"CASEFILE_SASL_USERNAME": PRODUCER_USER,
                             "CASEFILE_SASL_PASSWORD": secure_broker.security.password(PRODUCER_USER)})
    assert publish.returncode == 0, publish.stderr[-3000:]
    # the processor: a librdkafka properties file
    proc_cfg = _config_file(secure_broker, PROCESSOR_USER, tmp_path / "processor.properties")
    process = _casefile(secure_broker, deployment, tmp_path, "process", "--once", "--partitions", str(PARTITIONS),
                        env={"CASEFILE_KAFKA_CONFIG_FILE": str(proc_cfg)})
    assert process.returncode == 0, process.stderr[-3000:]
    printed = json.loads(process.stdout.strip().splitlines()[-1])
    counters = printed.get("processor", printed)  # the counters, whether or not under a "processor" key
    assert counters["applied"] > 0 and counters["records_written"] > 0
    # the projector: over SASL_SSL, trusting the test CA
    reader_cfg = _config_file(secure_broker, READER_USER, tmp_path / "reader.properties", tls=True)
    db = tmp_path / "casefile.duckdb"
    project = _casefile(secure_broker, deployment, tmp_path, "project", "--once", "--db", str(db),
                        env={"CASEFILE_KAFKA_CONFIG_FILE": str(reader_cfg)}, bootstrap=secure_broker.ssl_bootstrap)
    assert project.returncode == 0, project.stderr[-3000:]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from casefile_events").fetchone()[0] == counters["records_written"]
        assert con.execute("select count(*) from invoices").fetchone()[0] > 0
    # every line of those runs, debug level included: no password anywhere
    assert any('"level": "debug"' in line for line in (process.stderr + project.stderr).splitlines())
    _assert_no_secret(secure_broker, publish, process, project)
    for log_file in secure_broker.log_dir.glob("*.log"):  # nor in the broker's own logs
        text = log_file.read_text(errors="replace")
        assert not [s for s in _passwords(secure_broker) if s in text], f"a password is in {log_file}"


def test_a_producer_cannot_write_the_case_file_log(secure_broker: LocalBroker, deployment: dict[str, str],
                                                   tmp_path: Path) -> None:
    ensure_topic(admin(secure_broker.client_config(ADMIN_USER)), deployment["log"], PARTITIONS)
    before = _high_watermarks(secure_broker, deployment["log"])

    errors: list[KafkaError] = []
    producer = Producer({**secure_broker.client_config(PRODUCER_USER), "enable.idempotence": True, "acks": "all",
                         "message.timeout.ms": 10000})
    producer.produce(deployment["log"], key=b"USMF/C-1", value=b'{"forged": true}',
                     on_delivery=lambda err, _msg: errors.append(err))
    producer.flush(20)
    assert len(errors) == 1 and errors[0] is not None
    assert errors[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, errors[0].str()

    # the same through casefile: one line, exit 1
    cfg = _config_file(secure_broker, PRODUCER_USER, tmp_path / "producer.properties")
    events = _events_file(tmp_path / "ledger.jsonl", n=20)
    forged = _casefile(secure_broker, {**deployment, "ledger": deployment["log"]}, tmp_path, "publish", str(events),
                       env={"CASEFILE_KAFKA_CONFIG_FILE": str(cfg)})
    assert forged.returncode == 1
    assert "Traceback" not in forged.stderr
    assert [line for line in forged.stderr.splitlines() if line.startswith("casefile: error:")], forged.stderr
    _assert_no_secret(secure_broker, forged)

    # a reader cannot write it either, nor read the ledger
    reader = Producer({**secure_broker.client_config(READER_USER), "message.timeout.ms": 10000})
    reader.produce(deployment["log"], value=b"x", on_delivery=lambda err, _msg: errors.append(err))
    reader.flush(20)
    assert errors[-1] is not None and errors[-1].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    md = AdminClient(secure_broker.client_config(READER_USER)).list_topics(timeout=10)
    assert deployment["ledger"] not in md.topics or md.topics[deployment["ledger"]].error is not None

    assert _high_watermarks(secure_broker, deployment["log"]) == before


@pytest.mark.parametrize("how", ["-X", "env"])
def test_a_wrong_password_is_one_clear_line(secure_broker: LocalBroker, deployment: dict[str, str], tmp_path: Path,
                                            how: str) -> None:
    events = _events_file(tmp_path / "ledger.jsonl", n=20)
    cfg = _config_file(secure_broker, PRODUCER_USER, tmp_path / "producer.properties")
    if how == "-X":  # the file holds the right password, the flag overrides it
        run = _casefile(secure_broker, deployment, tmp_path, "-X", "sasl.password=wrong-password", "publish",
                        str(events), env={"CASEFILE_KAFKA_CONFIG_FILE": str(cfg)})
    else:
        run = _casefile(secure_broker, deployment, tmp_path, "-X", "security.protocol=SASL_PLAINTEXT",
                        "-X", "sasl.mechanism=SCRAM-SHA-512", "publish", str(events),
                        env={"CASEFILE_SASL_USERNAME": PRODUCER_USER, "CASEFILE_SASL_PASSWORD": "wrong-password"})
    assert run.returncode == 1, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("casefile: error: Kafka authentication failed"), lines[0]
    assert "wrong-password" not in run.stderr + run.stdout
    _assert_no_secret(secure_broker, run)


def test_settings_never_show_a_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from casefile.settings import Settings

    cfg = tmp_path / "client.properties"
    cfg.write_text("# comment\nsecurity.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\nsasl.username=a\n"
                   "sasl.password=from-file-secret\nssl.key.password=key-secret\n")
    monkeypatch.setenv("CASEFILE_KAFKA_CONFIG_FILE", str(cfg))
    monkeypatch.setenv("CASEFILE_SASL_PASSWORD", "from-env-secret")
    settings = Settings(kafka_overrides={"sasl.username": "b"})
    shown = repr(settings) + str(settings.redacted())
    for secret in ("from-file-secret", "from-env-secret", "key-secret"):
        assert secret not in shown
    config = settings.kafka()
    assert config["sasl.password"] == "from-env-secret" and config["sasl.username"] == "b"
    assert config["security.protocol"] == "SASL_SSL" and config["ssl.key.password"] == "key-secret"


def test_acls_print_names_the_configured_topics(tmp_path: Path) -> None:
    env = {**os.environ, "CASEFILE_LOG_TOPIC": "prod.casefile"}
    out = subprocess.run([sys.executable, "-m", "casefile", "--bootstrap-servers", "kafka:9093", "acls", "--print",
                          "--principal-prefix", "prod-"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("kafka-acls.sh")]
    assert any("User:prod-ledger-producer" in line and "--topic ar.ledger.v1 " in line and "--operation Write" in line
               for line in lines)
    assert not any("User:prod-ledger-producer" in line and "prod.casefile" in line for line in lines)
    assert any("--transactional-id casefile-processor --resource-pattern-type prefixed" in line for line in lines)
    assert any("User:prod-casefile-reader" in line and "--topic prod.casefile " in line and "Write" not in line
               for line in lines)
    assert all("--bootstrap-server kafka:9093" in line for line in lines)
