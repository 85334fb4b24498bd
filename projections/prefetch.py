"""Read and decode the log in a child process, so the projector's process only folds and writes.

Reading (librdkafka hands over every message as a Python object) and decoding (one polars pass
a batch) take about as long as folding a batch does; in one process they would take turns on
the GIL. The child runs a `LogSource` — the Kafka consumer loop — and sends each batch over a
pipe as ONE Arrow IPC stream: the decoded columns (or, for values polars cannot decode, the
values themselves) plus `_partition` and `_offset`. The pipe holds at most the batch being sent,
so the child reads ahead by one batch: memory stays bounded and a slow fold slows the reading.

The child ignores SIGINT (the parent decides when to stop), dies with its parent (Linux
PR_SET_PDEATHSIG; otherwise at its next write to the closed pipe), and reports its own failure
as one line (`ChildFailed`) which the parent raises as a CasefileError.
"""
from __future__ import annotations

import ctypes
import fcntl
import mmap
import multiprocessing
import os
import signal
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.reduction import recv_handle, send_handle
from typing import Any, Iterator, Protocol, Union

import numpy as np
import pyarrow as pa
from confluent_kafka import KafkaError, KafkaException

from casefile.errors import CasefileError
from casefile.logs import configure_logging, logging_configuration
from projections.decode_batch import BatchDecoder
from projections.log_positions import next_positions
from schemas.codec import log_codec

Positions = dict[int, int]  # partition -> next offset


@dataclass
class Values:
    """A batch as read: values, and each one's partition and offset."""
    values: list[bytes]
    partitions: list[int]
    offsets: list[int]
    info: Any = None  # whatever the source reports along (e.g. lag)


@dataclass
class Idle:
    """Nothing more to read for now; `info` is the source's status (e.g. caught up)."""
    info: Any = None


@dataclass
class Columns:
    """A batch already in columns of the log schema (e.g. read from an archive file)."""
    table: pa.Table
    partitions: list[int]
    offsets: list[int]
    info: Any = None


SourceEvent = Union[Values, Columns, Idle]
END = "end"  # the Idle info once the source has no more events


class LogSource(Protocol):
    """What the child runs: built in the parent, pickled to the child, iterated there."""

    def events(self) -> Iterator[SourceEvent]: ...


@dataclass
class Batch:
    """A batch as the parent gets it: `table` holds the log schema's columns when `decoded`,
    else one `value` column of the raw values; each record's partition and offset as arrays."""
    table: pa.Table
    decoded: bool
    partitions: np.ndarray
    offsets: np.ndarray
    positions: Positions
    info: Any


class Prefetcher:
    """The child process and the parent's end of its pipe."""

    def __init__(self, source: LogSource, shared_memory: bool | None = None) -> None:
        """`shared_memory`: hand batches over in shared memory (default: where the system has
        it, Linux) rather than through the pipe."""
        shared = SHARED_MEMORY if shared_memory is None else shared_memory
        ctx = multiprocessing.get_context("spawn")  # never fork a process running librdkafka/DuckDB threads
        # a socket pair where batches travel as shared memory (its descriptor passed over it)
        self._conn, child_end = ctx.Pipe(duplex=shared)
        if not shared:
            _widen_pipe(self._conn.fileno())
        self._process = ctx.Process(target=_child_main, args=(child_end, source, logging_configuration(), os.getpid(), shared),
                                    name="casefile-log-reader", daemon=True)
        with _main_not_rerun(), _allocators_keep_memory():
            self._process.start()
        child_end.close()
        self._owe_ack = False

    def get(self, timeout: float) -> Batch | Idle | None:
        """The next batch or status (`Idle(END)` after the last), or None when nothing came
        within `timeout` seconds."""
        if self._owe_ack:  # the caller is done with the batch it got last
            self._ack()
        try:
            if not self._conn.poll(timeout):
                return None
            header = self._conn.recv()
            if header[0] == "idle":
                return Idle(header[1])
            if header[0] == "failed":
                raise CasefileError(header[1])
            kind, decoded, info, size = header
            if kind == "shared":
                table = pa.ipc.open_stream(_map_shared(recv_handle(self._conn), size)).read_all()
                self._owe_ack = True
            else:
                table = pa.ipc.open_stream(pa.py_buffer(_read_exactly(self._conn.fileno(), size))).read_all()
        except (EOFError, OSError, RuntimeError):  # RuntimeError: the descriptor did not come
            self._process.join(5)
            raise CasefileError(f"the log reader process stopped (exit code {self._process.exitcode})") from None
        partitions = table.column("_partition").to_numpy().astype(np.int64)
        offsets = table.column("_offset").to_numpy()
        positions = next_positions(partitions, offsets)
        return Batch(table.drop_columns(["_partition", "_offset"]), decoded, partitions, offsets, positions, info)

    def _ack(self) -> None:
        """Done with the last batch: the child may send its next one (it reads one ahead)."""
        self._owe_ack = False
        try:
            self._conn.send(None)
        except OSError:
            pass  # the child has sent its last and gone

    def close(self) -> None:
        self._conn.close()
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


@contextmanager
def _main_not_rerun() -> Iterator[None]:
    """Spawn runs the parent's `__main__` again in the child (to find functions defined there);
    the child's code is all in importable modules, so it is told there is none: a user's script
    without an `if __name__ == "__main__"` guard is not re-run, and the child starts faster."""
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__spec__ = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


# The reader allocates and frees the same large buffers every batch; allocators that return
# freed memory to the system make it fault every page in again (~1 s of kernel time a million
# records). The reader process keeps what it freed instead (its peak is one batch anyway):
# glibc serves large blocks from its heap and never trims it, pyarrow's mimalloc never purges.
# (Polars' jemalloc is left alone: polars sets `_RJEM_MALLOC_CONF` itself when imported, so the
# projector's environment already holds polars' setting.)
KEEP_MEMORY = {"MALLOC_MMAP_THRESHOLD_": str(1 << 32), "MALLOC_TRIM_THRESHOLD_": str(1 << 40),
               "MIMALLOC_PURGE_DELAY": "-1"}


@contextmanager
def _allocators_keep_memory() -> Iterator[None]:
    """The environment the reader process starts with (the allocators read it at start);
    a setting the user made is left as it is."""
    added = [k for k in KEEP_MEMORY if k not in os.environ]
    os.environ.update({k: KEEP_MEMORY[k] for k in added})
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass  # then a write to the closed pipe ends it
    if os.getppid() != parent:  # it died before that took effect
        os._exit(0)


def _child_main(conn: Connection, source: LogSource, logging: tuple[str, bool], parent: int, shared: bool) -> None:
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging(*logging)
    try:
        _serve(conn, source, parent, shared)
    except (BrokenPipeError, EOFError):
        pass  # the parent is gone or done
    except CasefileError as exc:
        _report(conn, str(exc))
    except KafkaException as exc:
        err = exc.args[0] if exc.args else None
        _report(conn, f"reading the log failed: {err.str() if isinstance(err, KafkaError) else exc}")
    except Exception as exc:  # noqa: BLE001 - one line to the parent, not a traceback on its terminal
        _report(conn, f"the log reader failed: {exc.__class__.__name__}: {exc}")


def _report(conn: Connection, message: str) -> None:
    try:
        conn.send(("failed", message))
    except OSError:
        pass


def _serve(conn: Connection, source: LogSource, parent: int, shared: bool) -> None:
    decoder = BatchDecoder(log_codec())
    _send_events(conn, decoder, source, parent, shared)
    conn.send(("idle", END))


def _send_events(conn: Connection, decoder: BatchDecoder, source: LogSource, parent: int, shared: bool) -> None:
    unacknowledged = False
    for event in source.events():
        if isinstance(event, Idle):
            conn.send(("idle", event.info))
            continue
        if isinstance(event, Columns):
            table: pa.Table | None = event.table
            decoded = True
        else:
            table = decoder.decode(event.values)
            decoded = table is not None
            if table is None:  # another writer schema or a bad value: the parent decodes one by one
                table = pa.table({"value": pa.array(event.values, pa.binary())})
        table = (table.append_column("_partition", pa.array(event.partitions, pa.int32()))
                 .append_column("_offset", pa.array(event.offsets, pa.int64())))
        if shared:
            _send_shared(conn, table, decoded, event.info, parent, wait=unacknowledged)
            unacknowledged = True
        else:
            payload = _ipc_stream(table)
            conn.send(("batch", decoded, event.info, payload.size))
            _write_all(conn.fileno(), memoryview(payload))  # raw, right after its header
            del payload
        del event, table  # before the source reads the next batch: one in memory


def _ipc_stream(table: pa.Table) -> pa.Buffer:
    """The table as one Arrow IPC stream in a buffer of its exact size."""
    buf = pa.allocate_buffer(_ipc_size(table))
    _write_ipc(pa.FixedSizeBufferWriter(buf), table)
    return buf


def _ipc_size(table: pa.Table) -> int:
    """The size of the table's IPC stream, measured without writing it: the stream is then
    written once into memory of that size (a growing buffer spends more time in the kernel,
    remapping, than in copying)."""
    mock = pa.MockOutputStream()
    _write_ipc(mock, table)
    return mock.size()


def _write_ipc(sink: Any, table: pa.Table) -> None:
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)


# Linux: a batch is written once, into an anonymous shared memory file whose descriptor goes to
# the parent, which maps it and reads the table in place (no copy through a pipe).
SHARED_MEMORY = hasattr(os, "memfd_create") and sys.platform.startswith("linux")


def _send_shared(conn: Connection, table: pa.Table, decoded: bool, info: Any, parent: int, wait: bool) -> None:
    """Write the batch into a new memfd, then (`wait`: once the parent is done with the previous
    batch) pass it over."""
    size = _ipc_size(table)
    fd = os.memfd_create("casefile-log-batch", os.MFD_CLOEXEC)
    try:
        os.ftruncate(fd, size)
        mapped = mmap.mmap(fd, size)
        view = pa.py_buffer(mapped)
        _write_ipc(pa.FixedSizeBufferWriter(view), table)
        del view  # no export left: the mapping can close
        mapped.close()
        if wait:
            conn.recv()
        conn.send(("shared", decoded, info, size))
        send_handle(conn, fd, parent)
    finally:
        os.close(fd)


def _map_shared(fd: int, size: int) -> pa.Buffer:
    """The batch the child wrote into shared memory `fd`, mapped read-only (the Arrow table
    read from it refers to the mapping, which lives as long as the table does)."""
    try:
        return pa.py_buffer(mmap.mmap(fd, size, prot=mmap.PROT_READ))
    finally:
        os.close(fd)


# The IPC stream of a batch follows its header on the pipe as raw bytes (multiprocessing's own
# framing would copy it in 64 KiB pieces); a larger pipe buffer means fewer system calls.
_F_SETPIPE_SZ = 1031


def _widen_pipe(fd: int) -> None:
    try:
        fcntl.fcntl(fd, _F_SETPIPE_SZ, 1 << 20)
    except OSError:
        pass  # not Linux, or above the system's limit: the default size works too


def _read_exactly(fd: int, size: int) -> bytearray:
    buf = bytearray(size)
    view, done = memoryview(buf), 0
    while done < size:
        n = os.readv(fd, [view[done:]])
        if n == 0:
            raise EOFError
        done += n
    return buf


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data):]
