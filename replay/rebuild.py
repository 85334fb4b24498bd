"""A fresh read-model database from the log (or an archive of it), optionally as known at time T.

The database is written to `NEW.building-<pid>` next to NEW and renamed to NEW only once it is
complete (checkpointed, closed, no WAL), so a crashed rebuild leaves no half-built NEW behind.
`promote` then moves NEW over the live database with `os.replace` (and refreshes the live
database's snapshot the same way): analysts see the old file or the new one, never a mix.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from casefile.errors import CasefileError
from casefile.logs import get_logger
from casefile.read_models import snapshot_path_for
from processor.domain.policy import Policy
from projections.store import ProjectionStore
from projections.log_positions import next_positions
from replay.batches import Batch, EncodedBatch, TableBatch

log = get_logger("casefile.replay")

Record = dict[str, Any]
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_as_of(text: str) -> int:
    """An RFC 3339 timestamp (with a zone: `Z` or `±hh:mm`) as ms since the epoch."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        moment = None
    if moment is None or "T" not in text.upper() or moment.tzinfo is None:
        raise CasefileError(f"--as-of expects an RFC 3339 timestamp with a zone, e.g. 2026-03-01T00:00:00Z; "
                            f"got {text!r}")
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def format_ms(ms: int) -> str:
    """ms since the epoch as RFC 3339 UTC with milliseconds."""
    moment = _EPOCH + timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def check_new_target(path: str) -> None:
    """NEW must not exist, or be an empty file."""
    p = Path(path)
    if p.exists() and (p.is_dir() or p.stat().st_size > 0):
        raise CasefileError(f"{path} already exists and is not empty; rebuild writes a fresh database "
                            f"(remove it or choose another --db)")
    if Path(f"{path}.wal").exists():
        raise CasefileError(f"{path}.wal exists: a write-ahead log of another database; remove it first")


@dataclass
class RebuildStats:
    records_read: int = 0
    records_applied: int = 0
    batches: int = 0
    seconds: float = 0.0
    apply_seconds: float = 0.0
    policy_versions: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        wall = max(self.seconds, 1e-9)
        return {"records_read": self.records_read, "records_applied": self.records_applied,
                "seconds": round(self.seconds, 3), "records_per_s": round(self.records_read / wall),
                "read_decode_seconds": round(self.seconds - self.apply_seconds, 3),
                "project_write_seconds": round(self.apply_seconds, 3)}


class Rebuilder:
    """Folds batches of log records into a new ProjectionStore at a temporary path."""

    def __init__(self, target: str, policy: Policy, as_of_ms: int | None = None,
                 keep: Callable[[Record], bool] | None = None) -> None:
        self.target = target
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        self.tmp = f"{target}.building-{os.getpid()}"
        _remove_db(self.tmp)
        self.policy = policy
        self.as_of_ms = as_of_ms
        self.keep = keep
        self.store = ProjectionStore(self.tmp, policy, background_writes=True)
        self.stats = RebuildStats()
        self._started = time.monotonic()

    def add(self, records: list[Record]) -> None:
        """One batch in log order (each record with `_topic`, `_partition`, `_offset`)."""
        self.stats.records_read += len(records)
        as_of, keep = self.as_of_ms, self.keep
        if as_of is not None:
            records = [r for r in records if r["recorded_at"] <= as_of]
        if keep is not None:
            records = [r for r in records if keep(r)]
        if not records:
            return
        positions = {}
        for r in records:  # the live projector's rule: a partition's next offset = last record + 1
            positions[(r["_topic"], r["_partition"])] = r["_offset"] + 1
            self.stats.policy_versions.add(r["policy_version"])
        t0 = time.monotonic()
        self.store.apply_batch(records, positions)
        self.stats.apply_seconds += time.monotonic() - t0
        self.stats.records_applied += len(records)
        self.stats.batches += 1

    def add_encoded(self, batch: EncodedBatch, decode_one: Callable[[bytes, tuple[str, int, int]], Record]
                    ) -> None:
        """Log values the reader could not decode in columns, decoded one by one by
        `decode_one` (which names a bad value)."""
        self.add([decode_one(v, c) for v, c in zip(batch.values, batch.coords)])

    def add_table(self, batch: TableBatch) -> None:
        """`add` for a batch in columns: the as-of cut is one vectorised filter."""
        table, partitions, offsets = batch.table, batch.partitions, batch.offsets
        self.stats.records_read += table.num_rows
        if self.keep is not None:
            raise ValueError("a record filter needs record batches")
        if self.as_of_ms is not None:
            known = pc.less_equal(table.column("recorded_at"), self.as_of_ms).to_numpy(zero_copy_only=False)
            if not known.all():
                rows = np.flatnonzero(known)
                table = table.take(pa.array(rows, pa.int64()))
                partitions, offsets = partitions[rows], offsets[rows]
        if not table.num_rows:
            return
        # the live projector's rule: a partition's next offset = its highest offset + 1
        positions = {(batch.topic, p): o for p, o in next_positions(partitions, offsets).items()}
        self.stats.policy_versions.update(pc.unique(table.column("policy_version")).to_pylist())
        t0 = time.monotonic()
        self.store.apply_table(table, batch.topic, partitions, offsets, positions)
        self.stats.apply_seconds += time.monotonic() - t0
        self.stats.records_applied += table.num_rows
        self.stats.batches += 1

    def finish(self) -> RebuildStats:
        """Checkpoint, close and rename the database to its target."""
        self.store.checkpoint()
        self.store.close()
        if Path(f"{self.tmp}.wal").exists():
            raise CasefileError(f"{self.tmp}.wal remained after closing the rebuilt database")
        os.replace(self.tmp, self.target)
        self.stats.seconds = time.monotonic() - self._started
        if len(self.stats.policy_versions) > 1 or (self.stats.policy_versions
                                                    and self.policy.version not in self.stats.policy_versions):
            log.warning("policy differs from the log's", policy_version=self.policy.version,
                        log_policy_versions=sorted(self.stats.policy_versions))
        return self.stats

    def abort(self) -> None:
        try:
            self.store.close()
        except Exception:  # noqa: BLE001 - already failing; remove what was written
            pass
        _remove_db(self.tmp)


def _remove_db(path: str) -> None:
    for p in (path, f"{path}.wal"):
        try:
            os.remove(p)
        except FileNotFoundError:
            pass


def rebuild(target: str, policy: Policy, batches: Iterable[Batch], as_of_ms: int | None = None,
            progress: Callable[[int], None] | None = None,
            decode_one: Callable[[bytes, tuple[str, int, int]], Record] | None = None) -> RebuildStats:
    """Fold every batch into a fresh database at `target`; nothing is left at `target` on failure.

    Batches are record dicts, or `EncodedBatch` (needs `decode_one`) or `TableBatch`."""
    check_new_target(target)
    rebuilder = Rebuilder(target, policy, as_of_ms)
    try:
        for batch in batches:
            if isinstance(batch, EncodedBatch):
                assert decode_one is not None
                rebuilder.add_encoded(batch, decode_one)
                n = len(batch.values)
            elif isinstance(batch, TableBatch):
                rebuilder.add_table(batch)
                n = batch.table.num_rows
            else:
                rebuilder.add(batch)
                n = len(batch)
            if progress:
                progress(n)
        return rebuilder.finish()
    except BaseException:
        rebuilder.abort()
        raise


def ensure_not_in_use(db_path: str) -> None:
    """One-line error when another process holds `db_path` (e.g. a running projector)."""
    if not Path(db_path).exists():
        return
    try:
        con = duckdb.connect(db_path)
    except duckdb.Error as exc:
        if "lock" in str(exc).lower():
            raise CasefileError(f"database {db_path} is in use by another process (stop the projector first)") from None
        raise CasefileError(f"cannot open {db_path}: {str(exc).splitlines()[0]}") from None
    con.execute("CHECKPOINT")
    con.close()


def promote(new_db: str, live_db: str) -> dict[str, str]:
    """Blue/green: the rebuilt file replaces the live database (os.replace: atomic on one file
    system) and its snapshot, if the live database has one. NEW is moved, not copied."""
    ensure_not_in_use(live_db)
    if Path(f"{live_db}.wal").exists():
        raise CasefileError(f"{live_db}.wal exists (the live database was not closed cleanly); open it with "
                            f"`casefile project --once --db {live_db}` first")
    out = {"live": live_db}
    snap = snapshot_path_for(live_db)
    if Path(snap).exists():
        tmp = f"{snap}.tmp-{os.getpid()}"
        shutil.copyfile(new_db, tmp)
        out["snapshot"] = snap
    try:
        os.replace(new_db, live_db)
    except OSError as exc:
        if "snapshot" in out:
            os.remove(tmp)
        raise CasefileError(f"cannot move {new_db} over {live_db}: {exc.strerror} "
                            f"(put --db on the same file system as the live database)") from None
    if "snapshot" in out:
        os.replace(tmp, snap)
    log.info("promoted", **out)
    return out
