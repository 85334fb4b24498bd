"""`casefile schema check FILE` refuses an incompatible schema change; `schema show` prints the schema."""
from __future__ import annotations

import argparse
import json

from casefile.errors import CasefileError
from casefile.settings import Settings
from schemas import LEDGER_SCHEMA_FILE, LOG_SCHEMA_FILE, load_schema_json
from schemas.compatibility import full_compatibility_problems


def run(args: argparse.Namespace, settings: Settings) -> int:
    current_file = LEDGER_SCHEMA_FILE if args.subject == "ledger" else LOG_SCHEMA_FILE
    current = load_schema_json(current_file)
    if args.action == "show":
        print(json.dumps(current, indent=2))
        return 0
    if not args.file:
        raise CasefileError("schema check needs the candidate schema file")
    try:
        candidate = load_schema_json(args.file)
    except (OSError, json.JSONDecodeError) as exc:
        raise CasefileError(f"cannot read schema {args.file}: {exc}") from None
    found = full_compatibility_problems(current, candidate)
    if found:
        raise CasefileError(f"{args.file} is not fully compatible with {current_file.name}: " + "; ".join(found[:5]))
    print(f"{args.file} is fully compatible with {current_file.name}")
    return 0
