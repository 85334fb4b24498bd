"""Security for the local broker and for deployments: SCRAM users, a test CA, and casefile's ACLs.

- `BrokerSecurity`: the SCRAM-SHA-512 users a secured local broker is formatted with (their
  passwords never appear in a repr), optionally TLS with a throw-away CA (`ensure_test_certificates`,
  made with the `openssl` command line).
- `casefile_acls`: the least-privilege ACLs of the four casefile roles (admin, upstream ledger
  producer, processor, reader) for a deployment's topic names; `acl_bindings` turns them into
  confluent_kafka `AclBinding`s, `kafka_acls_command_lines` into `kafka-acls.sh` lines.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from casefile.errors import CasefileError

MECHANISM = "SCRAM-SHA-512"
ADMIN_USER = "admin"
PRODUCER_USER = "ledger-producer"
PROCESSOR_USER = "casefile-processor"
READER_USER = "casefile-reader"
DEFAULT_USERS = (ADMIN_USER, PRODUCER_USER, PROCESSOR_USER, READER_USER)
# consumer groups the readers' tools use: the projector, state restore, replay/audit, ad-hoc readers
READER_GROUP_PREFIXES = ("casefile-projector-", "casefile-restore-", "casefile-replay-", "reader-")
# the processor's own helper consumers (assign() only, no commits; librdkafka still looks up their coordinator)
PROCESSOR_HELPER_GROUP_PREFIXES = ("casefile-restore-", "casefile-snapshots-")

# characters that would break `--add-scram '[name=..,password=..]'` or a JAAS line
_BAD_SECRET = re.compile(r'[\s,\[\]="\\;\']')


def _check_secret(what: str, value: str) -> None:
    if not value or _BAD_SECRET.search(value):
        raise CasefileError(f"{what} must be non-empty and free of spaces and , [ ] = \" ' \\ ;")


@dataclass(frozen=True)
class BrokerSecurity:
    """SCRAM users (name → password) of a secured local broker; `tls` adds a SASL_SSL listener."""

    users: Mapping[str, str] = field(repr=False, default_factory=dict)
    tls: bool = False

    def __post_init__(self) -> None:
        if ADMIN_USER not in self.users:
            raise CasefileError(f"a secured broker needs the super user {ADMIN_USER!r} among its SCRAM users")
        for name, password in self.users.items():
            _check_secret("a SCRAM user name", name)
            _check_secret(f"the password of {name}", password)

    def __repr__(self) -> str:
        return f"BrokerSecurity(users={sorted(self.users)}, tls={self.tls}, passwords=***)"

    @classmethod
    def generate(cls, users: Iterable[str] = DEFAULT_USERS, tls: bool = False) -> "BrokerSecurity":
        return cls(users={u: secrets.token_urlsafe(24) for u in users}, tls=tls)

    @property
    def admin_password(self) -> str:
        return self.users[ADMIN_USER]

    def password(self, user: str) -> str:
        try:
            return self.users[user]
        except KeyError:
            raise CasefileError(f"no SCRAM user {user!r} on this broker (users: {', '.join(sorted(self.users))})") from None

    def add_scram_args(self, iterations: int = 4096) -> list[str]:
        """`kafka.tools.StorageTool format` arguments creating every user in the metadata log.
        They carry the salted password (PBKDF2-HMAC-SHA-512, RFC 5802 `Hi`), never the password
        itself, so a process listing shows nothing that logs in."""
        args: list[str] = []
        for name, password in self.users.items():
            salt = secrets.token_bytes(16)
            salted = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
            args += ["--add-scram", f'{MECHANISM}=[name={name},iterations={iterations},'
                                    f'salt="{base64.b64encode(salt).decode()}",'
                                    f'saltedpassword="{base64.b64encode(salted).decode()}"]']
        return args

    # -- persisted next to the broker's data (mode 0600) so `start`/`status` after a restart find them

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_private(path, json.dumps({"mechanism": MECHANISM, "tls": self.tls, "users": dict(self.users)}, indent=2))

    @classmethod
    def load(cls, path: Path) -> "BrokerSecurity | None":
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            raise CasefileError(f"unreadable credentials file {path}") from None
        return cls(users=data["users"], tls=bool(data.get("tls")))


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def client_properties(user: str, password: str, protocol: str = "SASL_PLAINTEXT",
                      ca_location: Path | None = None) -> dict[str, str]:
    """librdkafka properties for one SCRAM user (what CASEFILE_KAFKA_CONFIG_FILE may hold)."""
    props = {"security.protocol": protocol, "sasl.mechanism": MECHANISM, "sasl.username": user, "sasl.password": password}
    if ca_location is not None:
        props["ssl.ca.location"] = str(ca_location)
    return props


def write_client_properties(path: Path, props: Mapping[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_private(path, "".join(f"{k}={v}\n" for k, v in props.items()))
    return path


# -- a throw-away CA and broker certificate ------------------------------------------------------


@dataclass(frozen=True)
class TestCertificates:
    ca_cert: Path          # PEM: what clients trust (librdkafka ssl.ca.location)
    keystore: Path         # PKCS12: the broker's key and certificate chain
    keystore_password: str = field(repr=False)


def ensure_test_certificates(directory: Path, hosts: Iterable[str] = ("127.0.0.1", "localhost"),
                             days: int = 30) -> TestCertificates:
    """A CA and a broker certificate for `hosts` (SANs), made once in `directory` with `openssl`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "broker.key", directory / "broker.csr", directory / "broker.pem"
    p12, pw_file = directory / "broker.p12", directory / "broker.p12.password"
    if p12.exists() and pw_file.exists() and ca_cert.exists():
        return TestCertificates(ca_cert, p12, pw_file.read_text().strip())
    if shutil.which("openssl") is None:
        raise CasefileError("the `openssl` command is needed to make test certificates and is not on PATH")
    password = secrets.token_urlsafe(18)
    sans = ",".join(("IP:" if re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]+", h) else "DNS:") + h for h in hosts)
    ext = directory / "broker.ext"
    ext.write_text(f"subjectAltName={sans}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
                   "keyUsage=digitalSignature,keyEncipherment\n")
    env = {**os.environ, "CASEFILE_P12_PASS": password}  # never on a command line
    steps = [
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca_cert),
         "-days", str(days), "-subj", "/CN=casefile test CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
         "-subj", "/CN=casefile local broker"],
        ["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key), "-CAcreateserial",
         "-out", str(cert), "-days", str(days), "-sha256", "-extfile", str(ext)],
        ["openssl", "pkcs12", "-export", "-in", str(cert), "-inkey", str(key), "-certfile", str(ca_cert),
         "-name", "broker", "-out", str(p12), "-passout", "env:CASEFILE_P12_PASS"],
    ]
    for cmd in steps:
        result = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise CasefileError(f"openssl {cmd[1]} failed: {last[0]}")
    for private in (ca_key, key):
        os.chmod(private, 0o600)
    _write_private(pw_file, password + "\n")
    return TestCertificates(ca_cert, p12, password)


# -- ACLs ----------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Acl:
    principal: str        # "User:name"
    resource: str         # topic | group | transactional-id | cluster
    name: str             # resource name ("kafka-cluster" for the cluster)
    pattern: str          # literal | prefixed
    operation: str        # read | write | describe | create | ...


@dataclass(frozen=True)
class AclPlan:
    ledger_topic: str
    log_topic: str
    dlq_topic: str
    processor_group: str = "casefile-processor"
    transactional_id_prefix: str | None = None   # default: the processor group (how casefile names them)
    principal_prefix: str = ""                    # e.g. "prod-" → User:prod-ledger-producer

    def principal(self, user: str) -> str:
        return f"User:{self.principal_prefix}{user}"

    @property
    def snapshot_topic(self) -> str:
        return f"{self.log_topic}.snapshots"


def casefile_acls(plan: AclPlan) -> list[Acl]:
    """Least privilege for each role; the admin is a super user and needs none."""
    producer, processor, reader = (plan.principal(u) for u in (PRODUCER_USER, PROCESSOR_USER, READER_USER))
    acls: list[Acl] = []

    def allow(principal: str, resource: str, name: str, ops: Iterable[str], pattern: str = "literal") -> None:
        acls.extend(Acl(principal, resource, name, pattern, op) for op in ops)

    # upstream producers: the ledger topic only (WRITE also allows an idempotent producer since Kafka 3.0)
    allow(producer, "topic", plan.ledger_topic, ("write", "describe"))
    # the processor: reads the ledger in its group, writes (and, to restore state, reads) the log,
    # writes the DLQ, keeps its snapshots; creates the three topics it owns when they are missing
    allow(processor, "topic", plan.ledger_topic, ("read", "describe"))
    allow(processor, "topic", plan.log_topic, ("write", "read", "describe", "create"))
    allow(processor, "topic", plan.dlq_topic, ("write", "describe", "create"))
    allow(processor, "topic", plan.snapshot_topic, ("write", "read", "describe", "create"))
    allow(processor, "group", plan.processor_group, ("read",))
    for prefix in PROCESSOR_HELPER_GROUP_PREFIXES:
        allow(processor, "group", prefix, ("read",), "prefixed")
    allow(processor, "transactional-id", plan.transactional_id_prefix or plan.processor_group,
          ("write", "describe"), "prefixed")
    # projectors and auditors: read the log, in their own groups
    allow(reader, "topic", plan.log_topic, ("read", "describe"))
    for prefix in READER_GROUP_PREFIXES:
        allow(reader, "group", prefix, ("read",), "prefixed")
    return acls


_RESOURCE_FLAG = {"topic": "--topic", "group": "--group", "transactional-id": "--transactional-id"}


def kafka_acls_command_lines(acls: Iterable[Acl], bootstrap: str, command_config: str = "admin.properties") -> list[str]:
    """One `kafka-acls.sh --add` line per principal, resource and pattern (its operations together)."""
    grouped: dict[tuple[str, str, str, str], list[str]] = {}
    for acl in acls:
        grouped.setdefault((acl.principal, acl.resource, acl.name, acl.pattern), []).append(acl.operation)
    lines = []
    for (principal, resource, name, pattern), ops in grouped.items():
        parts = ["kafka-acls.sh", "--bootstrap-server", bootstrap, "--command-config", command_config, "--add",
                 "--allow-principal", principal]
        for op in ops:
            parts += ["--operation", _java_op(op)]
        if resource == "cluster":
            parts.append("--cluster")
        else:
            parts += [_RESOURCE_FLAG[resource], name]
        parts += ["--resource-pattern-type", pattern]
        lines.append(" ".join(shlex.quote(p) for p in parts))
    return lines


def _java_op(op: str) -> str:
    return "".join(w.capitalize() for w in op.split("-"))  # read → Read, idempotent-write → IdempotentWrite


def acl_bindings(acls: Iterable[Acl]) -> list:
    """confluent_kafka `AclBinding`s (host `*`, ALLOW) for `AdminClient.create_acls`."""
    from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType, ResourcePatternType,
                                       ResourceType)

    rtype = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP, "cluster": ResourceType.BROKER,
             "transactional-id": ResourceType.TRANSACTIONAL_ID}
    out = []
    for acl in acls:
        out.append(AclBinding(rtype[acl.resource], acl.name, ResourcePatternType[acl.pattern.upper()],
                              acl.principal, "*", AclOperation[acl.operation.upper().replace("-", "_")],
                              AclPermissionType.ALLOW))
    return out


def create_acls(admin_config: Mapping[str, object], acls: Iterable[Acl], timeout: float = 30.0) -> int:
    """Create `acls` with an admin (super user) connection; returns how many were created."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    bindings = acl_bindings(acls)
    client = AdminClient(dict(admin_config))  # kept alive until every future is done
    futures = client.create_acls(bindings, request_timeout=timeout)
    for binding, future in futures.items():
        try:
            future.result(timeout)
        except KafkaException as exc:
            err = exc.args[0]
            raise CasefileError(f"creating ACL {binding} failed: {err.str() if hasattr(err, 'str') else err}") from None
    return len(bindings)
