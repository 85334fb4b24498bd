"""Avro schemas of casefile (ledger events in, case-file log out) and their codec."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent
LEDGER_SCHEMA_FILE = SCHEMA_DIR / "ledger_event.avsc"
LOG_SCHEMA_FILE = SCHEMA_DIR / "casefile_event.avsc"


def load_schema_json(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())
