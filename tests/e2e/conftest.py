"""The IBM sample's read models, built once per session through the real broker and the
`casefile` command, as the quick start builds them."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT

SAMPLE = ROOT / "samples" / "ibm-accounts-receivable-sample.csv"
POLICY = ROOT / "samples" / "ibm-policy.toml"


@pytest.fixture(scope="session")
def ibm_db(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Read only: tests share it."""
    tag = uuid.uuid4().hex[:8]
    work = tmp_path_factory.mktemp("ibm")
    env = {**os.environ, "CASEFILE_BOOTSTRAP_SERVERS": kafka_bootstrap, "CASEFILE_LEDGER_TOPIC": f"ibm{tag}.ledger",
           "CASEFILE_LOG_TOPIC": f"ibm{tag}.log", "CASEFILE_DLQ_TOPIC": f"ibm{tag}.dlq", "CASEFILE_POLICY": str(POLICY)}
    db = work / "casefile.duckdb"
    for args in (["import-ibm-ar", str(SAMPLE)], ["process", "--once"], ["project", "--once", "--db", str(db)]):
        proc = subprocess.run([sys.executable, "-m", "casefile", *args], env=env, cwd=work, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
    return db
