"""A local single-node Kafka (KRaft, broker + controller in one JVM) for trying casefile and for tests.

With a Docker engine it runs the official `apache/kafka` image; otherwise it fetches Apache
Kafka's jars from Maven Central once (cached), formats KRaft storage once, and starts
`kafka.Kafka` in the background. Every step is idempotent: a second `start` reuses the cached
jars and the running broker.

With `security` (a `casefile.kafka.security.BrokerSecurity`) it always runs the JVM and the
broker is *secured*: clients connect with SASL/SCRAM-SHA-512 (`SASL_PLAINTEXT` on `port`, and
`SASL_SSL` with a test CA on `port + 2` when `security.tls`), KRaft's `StandardAuthorizer`
denies what no ACL allows, and `User:admin` is the only super user. The controller (`port + 1`)
and the inter-broker listener (`port + 3`) use SASL/PLAIN with the admin's password from a static
JAAS line, both bound to the broker's own host: no listener maps to PLAINTEXT, so no connection
is ever ANONYMOUS. SCRAM users are created when the storage is formatted (`--add-scram` with
salted passwords, so no password is on a command line); the state dir is `<port>-secure`, so a
plain broker's data is never reused. `server.properties` and `credentials.json` are mode 0600.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka.admin import AdminClient

from casefile.errors import CasefileError
from casefile.kafka.security import (ADMIN_USER, MECHANISM, BrokerSecurity, TestCertificates, client_properties,
                                     ensure_test_certificates, write_client_properties)

KAFKA_VERSION = "4.1.1"
_HERE = Path(__file__).resolve().parent
DOCKER_IMAGE = f"apache/kafka:{KAFKA_VERSION}"
DOCKER_CONTAINER = "casefile-kafka"


def _default_state_dir() -> Path:
    env = os.environ.get("CASEFILE_KAFKA_DIR")
    if env:
        return Path(env)
    project = _HERE.parents[1]
    # a source checkout keeps broker data in its git-ignored .kafka/; an installed package uses the cwd
    return project / ".kafka" if (project / "pyproject.toml").exists() else Path.cwd() / ".kafka"


def _default_jar_cache() -> Path:
    base = os.environ.get("CASEFILE_KAFKA_JARS") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")), "casefile", f"kafka-{KAFKA_VERSION}")
    return Path(base)


@dataclass(frozen=True)
class LocalBroker:
    host: str = "127.0.0.1"
    port: int = 9092
    state_dir: Path = Path()
    jar_dir: Path = Path()
    security: BrokerSecurity | None = None

    @classmethod
    def for_bootstrap(cls, bootstrap: str, security: BrokerSecurity | None = None,
                      state_dir: Path | None = None) -> "LocalBroker":
        """The broker for `bootstrap`; with `security`, a secured one (state in `<port>-secure`)."""
        host, _, port = bootstrap.split(",")[0].rpartition(":")
        if state_dir is None:
            state_dir = _default_state_dir() / (f"{port}-secure" if security is not None else port)
        return cls(host=host or "127.0.0.1", port=int(port), state_dir=state_dir,
                   jar_dir=_default_jar_cache(), security=security)

    @classmethod
    def secured(cls, bootstrap: str, tls: bool = False, state_dir: Path | None = None) -> "LocalBroker":
        """A secured broker whose users are the ones saved in its state dir, or new ones (random passwords)."""
        host, _, port = bootstrap.split(",")[0].rpartition(":")
        state_dir = state_dir or _default_state_dir() / f"{port}-secure"
        security = BrokerSecurity.load(state_dir / "credentials.json")
        if security is None:
            security = BrokerSecurity.generate(tls=tls)
        elif tls and not security.tls:
            security = BrokerSecurity(users=security.users, tls=True)
        return cls.for_bootstrap(bootstrap, security=security, state_dir=state_dir)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def controller_port(self) -> int:
        return self.port + 1

    @property
    def ssl_port(self) -> int:
        return self.port + 2

    @property
    def internal_port(self) -> int:
        return self.port + 3

    @property
    def ssl_bootstrap(self) -> str:
        return f"{self.host}:{self.ssl_port}"

    @property
    def tls_dir(self) -> Path:
        return self.state_dir / "tls"

    def certificates(self) -> TestCertificates:
        return ensure_test_certificates(self.tls_dir, hosts=sorted({self.host, "127.0.0.1", "localhost"}))

    def client_config(self, user: str = ADMIN_USER, tls: bool = False) -> dict[str, str]:
        """librdkafka settings (bootstrap included) to reach this broker as `user`."""
        if self.security is None:
            return {"bootstrap.servers": self.bootstrap}
        if tls:
            props = client_properties(user, self.security.password(user), "SASL_SSL", self.certificates().ca_cert)
            return {"bootstrap.servers": self.ssl_bootstrap, **props}
        return {"bootstrap.servers": self.bootstrap, **client_properties(user, self.security.password(user))}

    def write_client_files(self) -> dict[str, Path]:
        """`<state>/clients/<user>.properties` (mode 0600) for CASEFILE_KAFKA_CONFIG_FILE, one per user."""
        out: dict[str, Path] = {}
        if self.security is None:
            return out
        for user in self.security.users:
            props = {k: v for k, v in self.client_config(user).items() if k != "bootstrap.servers"}
            out[user] = write_client_properties(self.state_dir / "clients" / f"{user}.properties", props)
            if self.security.tls:
                props = {k: v for k, v in self.client_config(user, tls=True).items() if k != "bootstrap.servers"}
                write_client_properties(self.state_dir / "clients" / f"{user}-ssl.properties", props)
        return out

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "broker.pid"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    # -- status -------------------------------------------------------------------------------

    def answers(self, timeout: float = 3.0) -> bool:
        """True when the broker answers a metadata request."""
        admin = AdminClient({**self.client_config(), "log_level": 0, "logger": _silent_logger()})
        try:
            md = admin.list_topics(timeout=timeout)
            return bool(md.brokers)
        except Exception:
            return False

    def running_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child that has exited
                return None
        except ChildProcessError:
            pass
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    # -- start --------------------------------------------------------------------------------

    def start(self, timeout: float = 120.0, progress=print) -> str:
        if self.answers(timeout=2.0):
            progress(f"a broker already answers on {self.bootstrap}")
            return self.bootstrap
        use_docker = self.security is None and docker_engine_answers()
        if use_docker:
            self._start_docker(progress)
        else:
            self._start_jvm(progress)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.answers(timeout=2.0):
                return self.bootstrap
            if not use_docker and self.running_pid() is None:
                raise CasefileError(f"the broker exited during start; see {self.log_dir / 'server.log'}")
            time.sleep(0.5)
        raise CasefileError(f"the broker did not answer on {self.bootstrap} within {timeout:.0f}s; "
                            f"see {self.log_dir / 'server.log'}")

    def fetch_jars(self, progress=print) -> Path:
        libs = self.jar_dir / "libs"
        marker = self.jar_dir / ".complete"
        if marker.exists():
            return libs
        if shutil.which("mvn") is None:
            raise CasefileError("Maven (mvn) is needed to fetch Apache Kafka's jars and is not on PATH")
        progress(f"fetching Apache Kafka {KAFKA_VERSION} jars from Maven Central into {libs}")
        self.jar_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(_HERE / "pom.xml", self.jar_dir / "pom.xml")
        result = subprocess.run(
            ["mvn", "-q", "-B", "-f", str(self.jar_dir / "pom.xml"), "dependency:copy-dependencies",
             f"-DoutputDirectory={libs}", f"-Dkafka.version={KAFKA_VERSION}"],
            capture_output=True, text=True)
        if result.returncode != 0:
            tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
            raise CasefileError("fetching Kafka jars failed: " + " | ".join(tail))
        marker.write_text(KAFKA_VERSION + "\n")
        return libs

    def _java(self, libs: Path, *args: str, heap: str | None = None) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise CasefileError("Java 17+ is needed to run the local Kafka broker and is not on PATH")
        cmd = [java]
        if heap:
            cmd += [f"-Xmx{heap}", f"-Xms{heap}"]
        cmd += [f"-Dlog4j.configuration=file:{_HERE / 'log4j.properties'}",
                f"-Dkafka.logs.dir={self.log_dir}", "-cp", f"{libs}/*", *args]
        return cmd

    def _write_config(self) -> Path:
        data = self.state_dir / "data"
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"{self.host}:{self.controller_port}",
            "listeners": f"PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{self.host}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(data),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "10",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "log.retention.hours": "-1",
            "auto.create.topics.enable": "true",
        }
        if self.security is not None:
            props.update(self._security_props())
        path = self.state_dir / "server.properties"
        if self.security is not None:  # holds the admin's password and the keystore's
            path.touch(mode=0o600, exist_ok=True)
            os.chmod(path, 0o600)
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        return path

    def _security_props(self) -> dict[str, str]:
        sec = self.security
        assert sec is not None
        admin_pw = sec.admin_password
        plain_jaas = (f'org.apache.kafka.common.security.plain.PlainLoginModule required username="{ADMIN_USER}" '
                      f'password="{admin_pw}" user_{ADMIN_USER}="{admin_pw}";')
        scram_jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        listeners = [f"CLIENT://{self.host}:{self.port}", f"CONTROLLER://{self.host}:{self.controller_port}",
                     f"INTERNAL://{self.host}:{self.internal_port}"]
        advertised = [f"CLIENT://{self.host}:{self.port}", f"INTERNAL://{self.host}:{self.internal_port}"]
        protocols = ["CLIENT:SASL_PLAINTEXT", "CONTROLLER:SASL_PLAINTEXT", "INTERNAL:SASL_PLAINTEXT"]
        props = {
            "listener.security.protocol.map": ",".join(protocols),
            "inter.broker.listener.name": "INTERNAL",
            "sasl.mechanism.inter.broker.protocol": "PLAIN",
            "sasl.mechanism.controller.protocol": "PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.controller.plain.sasl.jaas.config": plain_jaas,
            "listener.name.internal.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.internal.plain.sasl.jaas.config": plain_jaas,
            "listener.name.client.sasl.enabled.mechanisms": MECHANISM,
            f"listener.name.client.{MECHANISM.lower()}.sasl.jaas.config": scram_jaas,
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": f"User:{ADMIN_USER}",
            "allow.everyone.if.no.acl.found": "false",
            "auto.create.topics.enable": "false",
        }
        if sec.tls:
            certs = self.certificates()
            listeners.append(f"CLIENTSSL://{self.host}:{self.ssl_port}")
            advertised.append(f"CLIENTSSL://{self.host}:{self.ssl_port}")
            protocols.append("CLIENTSSL:SASL_SSL")
            props.update({
                "listener.security.protocol.map": ",".join(protocols),
                "listener.name.clientssl.sasl.enabled.mechanisms": MECHANISM,
                f"listener.name.clientssl.{MECHANISM.lower()}.sasl.jaas.config": scram_jaas,
                "listener.name.clientssl.ssl.keystore.type": "PKCS12",
                "listener.name.clientssl.ssl.keystore.location": str(certs.keystore),
                "listener.name.clientssl.ssl.keystore.password": certs.keystore_password,
                "listener.name.clientssl.ssl.key.password": certs.keystore_password,
                "listener.name.clientssl.ssl.client.auth": "none",
            })
        props["listeners"] = ",".join(listeners)
        props["advertised.listeners"] = ",".join(advertised)
        return props

    def _start_jvm(self, progress) -> None:
        if self.running_pid() is not None:
            progress(f"broker process {self.running_pid()} is starting")
            return
        libs = self.fetch_jars(progress)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        if self.security is not None:
            saved = BrokerSecurity.load(self.state_dir / "credentials.json")
            formatted = (self.state_dir / "data" / "meta.properties").exists()
            if formatted and saved is not None and dict(saved.users) != dict(self.security.users):
                raise CasefileError(f"{self.state_dir} was formatted with other SCRAM users or passwords; "
                                    "delete it to start afresh")
            self.security.save(self.state_dir / "credentials.json")
            self.write_client_files()
        if not (self.state_dir / "data" / "meta.properties").exists():
            cluster_id = subprocess.run(self._java(libs, "kafka.tools.StorageTool", "random-uuid"),
                                        capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            scram = self.security.add_scram_args() if self.security is not None else []
            fmt = subprocess.run(self._java(libs, "kafka.tools.StorageTool", "format", "--standalone",
                                            "-t", cluster_id, "-c", str(config), *scram), capture_output=True, text=True)
            if fmt.returncode != 0:
                last = (fmt.stderr or fmt.stdout).strip().splitlines()[-1:] or ["no output"]
                if self.security is not None:
                    last = [_hide(last[0], self.security.users.values())]
                raise CasefileError(f"formatting KRaft storage failed: {last[0]}")
            progress(f"formatted KRaft storage in {self.state_dir / 'data'} (cluster {cluster_id})")
        out = open(self.log_dir / "stdout.log", "ab")
        proc = subprocess.Popen(self._java(libs, "kafka.Kafka", str(config), heap="1G"),
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        self.pid_file.write_text(f"{proc.pid}\n")
        progress(f"started Kafka {KAFKA_VERSION} (pid {proc.pid}), logs in {self.log_dir}")

    def _start_docker(self, progress) -> None:
        subprocess.run(["docker", "rm", "-f", DOCKER_CONTAINER], capture_output=True)
        env = {
            "KAFKA_NODE_ID": "1", "KAFKA_PROCESS_ROLES": "broker,controller",
            "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
            "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{self.host}:{self.port}",
            "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
            "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
            "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        }
        cmd = ["docker", "run", "-d", "--name", DOCKER_CONTAINER, "-p", f"{self.host}:{self.port}:9092"]
        for k, v in env.items():
            cmd += ["-e", f"{k}={v}"]
        result = subprocess.run([*cmd, DOCKER_IMAGE], capture_output=True, text=True)
        if result.returncode != 0:
            raise CasefileError(f"docker run failed: {result.stderr.strip()}")
        progress(f"started {DOCKER_IMAGE} in container {DOCKER_CONTAINER}")

    # -- stop ---------------------------------------------------------------------------------

    def stop(self, timeout: float = 60.0, progress=print) -> None:
        pid = self.running_pid()
        if pid is None:
            if docker_engine_answers():
                subprocess.run(["docker", "rm", "-f", DOCKER_CONTAINER], capture_output=True)
                progress("stopped the broker container")
                return
            progress(f"no local broker is running for {self.bootstrap}")
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.running_pid() is not None:
            time.sleep(0.3)
        if self.running_pid() is not None:
            os.kill(pid, signal.SIGKILL)
            progress(f"broker pid {pid} did not stop in {timeout:.0f}s: killed")
        self.pid_file.unlink(missing_ok=True)
        progress(f"stopped the broker (pid {pid})")


def docker_engine_answers() -> bool:
    if os.environ.get("CASEFILE_NO_DOCKER") or shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _hide(text: str, secrets_: object) -> str:
    for secret in secrets_:  # type: ignore[attr-defined]
        text = text.replace(secret, "***")
    return text


def _silent_logger():
    import logging

    logger = logging.getLogger("casefile.kafka.probe")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return logger
