"""The reader process (projections/prefetch.py) with scripted sources: no broker needed."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from casefile.errors import CasefileError
from projections.log_positions import next_positions, unapplied
from projections.prefetch import KEEP_MEMORY, SHARED_MEMORY, Batch, Idle, Prefetcher, Values
from projections.testing import EnvironmentProbe, LogBuilder, ScriptedSource
from schemas.codec import log_codec


def _values(n: int) -> tuple[list[bytes], list[dict]]:
    log = LogBuilder()
    for i in range(n):
        log.add("NoteLogged", "C-1", f"2026-01-01T10:00:{i:02d}Z", case_id="K-1", text=f"n{i}")
    codec = log_codec()
    fields = [f["name"] for f in codec.schema_json["fields"]]
    return [codec.encode({f: r[f] for f in fields}) for r in log.records], log.records


def _next(reader: Prefetcher):
    for _ in range(100):
        event = reader.get(0.5)
        if event is not None:
            return event
    raise AssertionError("nothing came from the reader process")


@pytest.mark.parametrize("shared_memory", [True, False] if SHARED_MEMORY else [False],
                         ids=(lambda shared: "shared-memory" if shared else "pipe"))
def test_batches_come_decoded_with_their_coordinates_and_idle_states_in_order(shared_memory):
    values, records = _values(5)
    reader = Prefetcher(ScriptedSource([Values(values[:3], [0, 1, 0], [7, 2, 9], {0: 5}), Idle((False, {})),
                                        Values(values[3:] + [b"not avro"], [2, 2, 2], [0, 1, 2]), Idle((True, {0: 0}))]),
                        shared_memory=shared_memory)
    try:
        first = _next(reader)
        assert isinstance(first, Batch) and first.decoded and first.info == {0: 5}
        assert (first.partitions.tolist(), first.offsets.tolist(), first.positions) == (
            [0, 1, 0], [7, 2, 9], {0: 10, 1: 3})
        assert first.table.column("text").to_pylist() == ["n0", "n1", "n2"]
        assert first.table.column_names == [f["name"] for f in log_codec().schema_json["fields"]]
        assert _next(reader).info == (False, {})
        second = _next(reader)  # a value polars cannot read: the raw values come, for fastavro
        assert isinstance(second, Batch) and not second.decoded
        assert second.table.column("value").to_pylist() == values[3:] + [b"not avro"]
        last = _next(reader)
        assert isinstance(last, Idle) and last.info == (True, {0: 0})
    finally:
        reader.close()


def test_a_failing_source_is_one_line_for_the_parent():
    reader = Prefetcher(ScriptedSource([], fail="broker on fire"))
    try:
        with pytest.raises(CasefileError, match="the log reader failed: RuntimeError: broker on fire"):
            _next(reader)
    finally:
        reader.close()


def test_the_reader_process_dies_with_its_parent(tmp_path):
    script = (
        "import sys, time\n"
        "from projections.prefetch import Prefetcher\n"
        "from projections.testing import ScriptedSource\n"
        "r = Prefetcher(ScriptedSource([], block=True))\n"
        "print(r._process.pid, flush=True)\n"
        "time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))))
    child = int(parent.stdout.readline())
    assert _alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not _alive(child):
            return
        time.sleep(0.1)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the reader process outlived its parent")


def _alive(pid: int) -> bool:
    """Running (a zombie nobody reaped, here where pid 1 may not reap, is dead)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return not any(line.startswith("State:") and "Z" in line.split()[1] for line in f)
    except FileNotFoundError:
        return False


def test_a_script_without_a_main_guard_is_not_run_again_in_the_reader(tmp_path):
    script = tmp_path / "user_script.py"
    script.write_text(
        "from projections.prefetch import Idle, Prefetcher\n"
        "from projections.testing import ScriptedSource\n"
        "print('script ran', flush=True)\n"
        "r = Prefetcher(ScriptedSource([Idle('x')]))\n"
        "event = None\n"
        "while event is None:\n"
        "    event = r.get(0.5)\n"
        "r.close()\n"
        "print('got', event.info, flush=True)\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": root})
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["script ran", "got x"]


def test_next_positions_and_the_rows_a_store_has_not_applied():
    partitions, offsets = np.array([0, 1, 0, 2, 1]), np.array([7, 2, 9, 0, 3])
    assert next_positions(partitions, offsets) == {0: 10, 1: 4, 2: 1}
    assert next_positions(partitions[:0], offsets[:0]) == {}
    assert unapplied(partitions, offsets, {0: 8, 1: 0}).tolist() == [1, 2, 3, 4]
    assert unapplied(partitions, offsets, {0: 7, 2: 0}) is None
    assert unapplied(partitions, offsets, {0: 100, 1: 3, 2: 1}).tolist() == [4]


def test_offsets_going_back_within_a_batch_are_not_applied_twice():
    """A consumer reset to an earlier offset can put records read before into the same batch:
    as record by record, only offsets above everything before them count."""
    partitions, offsets = np.zeros(6, dtype=np.int64), np.array([100, 101, 102, 0, 101, 102])
    assert unapplied(partitions, offsets, {0: 100}).tolist() == [0, 1, 2]
    assert next_positions(partitions[:5], np.array([100, 101, 102, 100, 101])) == {0: 103}


def test_the_reader_process_starts_with_allocators_that_keep_memory_and_a_users_setting_wins(monkeypatch):
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    monkeypatch.setenv("MIMALLOC_PURGE_DELAY", "250")  # the user's own
    reader = Prefetcher(EnvironmentProbe(list(KEEP_MEMORY)))
    try:
        seen = _next(reader).info
    finally:
        reader.close()
    assert seen == {**KEEP_MEMORY, "MIMALLOC_PURGE_DELAY": "250"}
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ  # the projector's own process is left as it was
