"""Scale-out under failure: three `casefile process` instances in one group and a projector follow a
6-partition ledger of 100,000 synthetic events while instances are SIGKILLed and restarted at
random and the broker itself is stopped and started once mid-stream. The final log (per partition,
the (stream_id, stream_version, hash) sequence), the DLQ (each rejected ledger record exactly
once) and every DuckDB table equal those of a clean single-process run.

The broker is this test's own (127.0.0.1:19292, state under tmp via CASEFILE_KAFKA_DIR), so it can
be stopped without hurting the session's broker; it is stopped at the end.

Two columns are left out of the table comparison: `casefile_events.log_topic` and `log_offset`
(the two runs write different topics, and aborted transactions and their markers take log offsets,
so the same record sits at another offset), and `projection_offsets` is compared by partition
only, for the same reason. Everything else, including every hash, must be equal.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from confluent_kafka import Consumer, TopicPartition

from casefile.kafka.local_broker import LocalBroker
from casefile.publishing import publish_events
from casefile.settings import Settings
from casefile.synthetic_ledger import synthetic_ledger
from schemas.codec import log_codec
from schemas.ledger_models import validate_ledger_event
from tests.integration.kafka_read import read_all

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

CHAOS_BOOTSTRAP = "127.0.0.1:19292"
PARTITIONS = 6
EVENTS = 100_000
INSTANCES = 3
# a SIGKILLed member leaves the group after its session timeout: 6 s (the broker's minimum) keeps
# the stalls short; the restarted instance fences its predecessor's open transaction at once
GROUP_TUNING = ["-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=1000"]


class Fleet:
    """The chaos run's processes: restartable by name, stderr to files (never an unread pipe)."""

    def __init__(self, tmp: Path, env: dict[str, str], group: str, db: Path) -> None:
        self.tmp, self.env, self.group, self.db = tmp, env, group, db
        self.procs: dict[str, subprocess.Popen] = {}
        self.started_at: dict[str, float] = {}
        self.starts: Counter = Counter()
        self.unplanned_exits: list[tuple[str, int]] = []

    def argv(self, name: str) -> list[str]:
        base = [sys.executable, "-m", "casefile", "--log-level", os.environ.get("CHAOS_LOG_LEVEL", "warning")]
        if name == "projector":
            return [*base, "project", "--db", str(self.db), "--projection-batch-size", "2000"]
        return [*base, *GROUP_TUNING, "process", "--group", self.group, "--transactional-id", f"{self.group}-{name}",
                "--partitions", str(PARTITIONS), "--batch-size", "500", "--snapshot-every", "5000"]

    def start(self, name: str) -> None:
        self.starts[name] += 1
        err = open(self.tmp / f"{name}.{self.starts[name]}.stderr", "w")
        self.procs[name] = subprocess.Popen(self.argv(name), env=self.env, stdout=subprocess.DEVNULL, stderr=err)
        self.started_at[name] = time.monotonic()
        err.close()

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()

    def revive(self) -> None:
        """Restart whatever exited on its own (e.g. gave up while the broker was down)."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                self.unplanned_exits.append((name, proc.returncode))
                self.start(name)

    def stop_all(self, names: list[str]) -> dict[str, int]:
        # a SIGTERM before the interpreter has even imported casefile ends it the default way (-15):
        # let the youngest get past start-up first (graceful stop is what is checked here)
        youngest = max(self.started_at[n] for n in names)
        time.sleep(max(0.0, youngest + 10.0 - time.monotonic()))
        for name in names:
            if self.procs[name].poll() is None:
                self.procs[name].send_signal(signal.SIGTERM)
        codes = {}
        for name in names:
            try:
                codes[name] = self.procs[name].wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.procs[name].kill()
                codes[name] = self.procs[name].wait()
        return codes

    def stderr_tail(self, name: str) -> str:
        return (self.tmp / f"{name}.{self.starts[name]}.stderr").read_text()[-3000:]


def _group_caught_up(bootstrap: str, topic: str, group: str) -> bool:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "isolation.level": "read_committed",
                  "enable.auto.commit": False})
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        ends = {p.partition: c.get_watermark_offsets(p, timeout=10)[1] for p in parts}
        return all(tp.offset >= ends[tp.partition] for tp in c.committed(parts, timeout=10))
    except Exception:
        return False
    finally:
        c.close()


def _chains(bootstrap: str, topic: str) -> dict[int, list[tuple[str, int, str]]]:
    codec = log_codec()
    out: dict[int, list[tuple[str, int, str]]] = {}
    for msg in read_all(bootstrap, topic, timeout=180):
        r = codec.decode_avro(msg.value())
        out.setdefault(msg.partition(), []).append((r["stream_id"], r["stream_version"], r["hash"]))
    return out


def _dlq(bootstrap: str, topic: str) -> list[tuple[int, int]]:
    rows = []
    for m in read_all(bootstrap, topic):
        h = dict(m.headers())
        assert int(h["partition"]) == m.partition()
        rows.append((m.partition(), int(h["offset"])))
    return sorted(rows)


def tables(db: Path) -> dict[str, list[tuple]]:
    """Every table, SELECT * ORDER BY ALL, without the log coordinates (see the module docstring)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables "
                                    "WHERE table_schema = 'main' ORDER BY 1").fetchall():
            if table == "projection_offsets":
                out[table] = con.execute("SELECT DISTINCT partition FROM projection_offsets ORDER BY ALL").fetchall()
                continue
            cols = [c for (c,) in con.execute("SELECT column_name FROM information_schema.columns WHERE "
                                              "table_name = ? ORDER BY ordinal_position", [table]).fetchall()
                    if c not in ("log_topic", "log_offset")]
            out[table] = con.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY ALL").fetchall()
        return out
    finally:
        con.close()


def _once(env: dict[str, str], *argv: str, timeout: float = 300) -> None:
    proc = subprocess.run([sys.executable, "-m", "casefile", "--log-level", "error", *argv], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_three_instances_kills_and_a_broker_restart_leave_the_log_and_tables_of_a_clean_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started = time.monotonic()
    monkeypatch.setenv("CASEFILE_KAFKA_DIR", str(tmp_path / "kafka"))
    broker = LocalBroker.for_bootstrap(CHAOS_BOOTSTRAP)
    assert not broker.answers(timeout=1.0), f"something already listens on {CHAOS_BOOTSTRAP}"
    broker.start(progress=lambda m: print(m, file=sys.stderr))
    try:
        _run(tmp_path, broker, started)
    finally:
        broker.stop(progress=lambda m: print(m, file=sys.stderr))


def _run(tmp: Path, broker: LocalBroker, started: float) -> None:
    tag = uuid.uuid4().hex[:8]
    ledger, log, dlq = f"chaos{tag}.ledger", f"chaos{tag}.casefile", f"chaos{tag}.ledger.dlq"
    env = {**os.environ, "CASEFILE_BOOTSTRAP_SERVERS": CHAOS_BOOTSTRAP, "CASEFILE_LEDGER_TOPIC": ledger,
           "CASEFILE_LOG_TOPIC": log, "CASEFILE_DLQ_TOPIC": dlq}
    env.pop("CASEFILE_METRICS_PORT", None)
    settings = Settings(bootstrap_servers=CHAOS_BOOTSTRAP, ledger_topic=ledger)
    events = [validate_ledger_event(e) for e in
              synthetic_ledger(EVENTS, accounts=3_000, events_per_day=2_000, seed=31)]
    publish_events(settings, events[:100], partitions=PARTITIONS)  # the topic exists before anyone looks

    # the publisher holds `publishing` per chunk, so the broker is restarted between two chunks
    publishing = threading.Lock()
    rest = events[100:]
    chunk = 2_500
    failures: list[BaseException] = []

    def publisher() -> None:
        try:
            for i in range(0, len(rest), chunk):
                with publishing:
                    publish_events(settings, rest[i:i + chunk], partitions=PARTITIONS)
                time.sleep(0.6)
        except BaseException as exc:  # noqa: BLE001 (reported by the main thread)
            failures.append(exc)

    group = f"chaos-{tag}"
    fleet = Fleet(tmp, env, group, tmp / "chaos.duckdb")
    names = [f"p{i}" for i in range(INSTANCES)]
    for name in [*names, "projector"]:
        fleet.start(name)
    thread = threading.Thread(target=publisher, daemon=True)
    thread.start()
    try:
        _chaos(tmp, broker, started, fleet, names, thread, failures, publishing, env, ledger, log, dlq, tag, group)
    finally:
        for name in fleet.procs:  # nothing of the fleet outlives the test, whatever failed
            fleet.kill(name)


def _chaos(tmp: Path, broker: LocalBroker, started: float, fleet: Fleet, names: list[str], thread: threading.Thread,
           failures: list, publishing: threading.Lock, env: dict[str, str], ledger: str, log: str, dlq: str,
           tag: str, group: str) -> None:

    rng = random.Random(2024)
    kills: Counter = Counter()
    broker_restarted = False
    order: list[str] = []
    rounds = 0
    chaos_until = time.monotonic() + 75
    while time.monotonic() < chaos_until:
        time.sleep(rng.uniform(2.0, 4.5))
        fleet.revive()
        if not broker_restarted and time.monotonic() > chaos_until - 45:
            with publishing:  # mid-stream: processors and projector keep running through it
                broker.stop(progress=lambda m: print(m, file=sys.stderr))
                time.sleep(3)
                broker.start(progress=lambda m: print(m, file=sys.stderr))
            broker_restarted = True
            continue
        if not order:  # every instance in turn, in a random order each round; the projector every other round
            order = rng.sample([*names, "projector"] if rounds % 2 == 0 else names, k=INSTANCES + (rounds % 2 == 0))
            rounds += 1
        victim = order.pop()
        fleet.kill(victim)
        kills[victim] += 1
        time.sleep(rng.uniform(0.2, 1.5))
        fleet.start(victim)
    thread.join(timeout=240)
    assert not thread.is_alive() and not failures, failures
    assert broker_restarted and sum(kills.values()) >= 12, kills

    # the three survivors finish the ledger together
    deadline = time.monotonic() + 180
    while not _group_caught_up(CHAOS_BOOTSTRAP, ledger, group):
        assert time.monotonic() < deadline, "the group did not catch up: " + fleet.stderr_tail("p0")
        fleet.revive()
        time.sleep(1.0)
    codes = fleet.stop_all(names)
    assert codes == {n: 0 for n in names}, {n: fleet.stderr_tail(n) for n in names}
    fleet.stop_all(["projector"])
    _once(env, "project", "--once", "--db", str(tmp / "chaos.duckdb"))
    chaos_seconds = time.monotonic() - started

    # the clean run: one process, no snapshots, no failures, into its own log, DLQ and database
    clean_env = {**env, "CASEFILE_LOG_TOPIC": f"clean{tag}.casefile", "CASEFILE_DLQ_TOPIC": f"clean{tag}.ledger.dlq"}
    _once(clean_env, "process", "--once", "--group", f"clean-{tag}", "--transactional-id", f"clean-{tag}",
          "--partitions", str(PARTITIONS), "--snapshot-every", "0")
    _once(clean_env, "project", "--once", "--db", str(tmp / "clean.duckdb"))

    clean_chains, chaos_chains = _chains(CHAOS_BOOTSTRAP, clean_env["CASEFILE_LOG_TOPIC"]), _chains(CHAOS_BOOTSTRAP, log)
    assert sorted(clean_chains) == list(range(PARTITIONS))
    assert sum(len(v) for v in clean_chains.values()) > EVENTS
    for p in range(PARTITIONS):
        assert chaos_chains.get(p) == clean_chains[p], f"log partition {p} differs"

    clean_dlq, chaos_dlq = _dlq(CHAOS_BOOTSTRAP, clean_env["CASEFILE_DLQ_TOPIC"]), _dlq(CHAOS_BOOTSTRAP, dlq)
    assert clean_dlq and len(set(clean_dlq)) == len(clean_dlq)
    assert chaos_dlq == clean_dlq  # each rejected ledger record exactly once

    want, got = tables(tmp / "clean.duckdb"), tables(tmp / "chaos.duckdb")
    assert sorted(got) == sorted(want)
    assert len(want["casefile_events"]) == sum(len(v) for v in clean_chains.values())
    for table in want:
        assert got[table] == want[table], f"table {table} differs after the chaos run"
    print(f"chaos: kills {dict(kills)}, unplanned exits {fleet.unplanned_exits}, "
          f"chaos phase {chaos_seconds:.0f}s, total {time.monotonic() - started:.0f}s", file=sys.stderr)
