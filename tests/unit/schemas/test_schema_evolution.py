"""Schema evolution: a v2 with an added defaulted field is read by v1 readers and v1 data by v2
readers; an incompatible change is refused by `casefile schema check`."""
from __future__ import annotations

import copy
import json
from pathlib import Path

from casefile.cli import main
from schemas import LEDGER_SCHEMA_FILE, load_schema_json
from schemas.codec import AvroCodec, decode_ledger_bytes
from schemas.compatibility import full_compatibility_problems
from schemas.ledger_models import to_avro_record, validate_ledger_event
from tests.unit.schemas.test_codec import EVENT


def _v2() -> dict:
    schema = copy.deepcopy(load_schema_json(LEDGER_SCHEMA_FILE))
    schema["fields"].insert(6, {"name": "trace_id", "type": ["null", "string"], "default": None})
    invoice = next(b for b in schema["fields"][-1]["type"] if b["name"] == "InvoicePosted")
    invoice["fields"].append({"name": "po_number", "type": "string", "default": ""})
    return schema


def test_v1_reader_reads_v2_data_and_v2_reader_reads_v1_data() -> None:
    v1, v2 = AvroCodec(load_schema_json(LEDGER_SCHEMA_FILE)), AvroCodec(_v2())
    assert v1.header != v2.header
    event = validate_ledger_event(EVENT)
    record_v2 = to_avro_record(event)
    record_v2["trace_id"] = "abc"
    record_v2["payload"] = (record_v2["payload"][0], {**record_v2["payload"][1], "po_number": "PO-1"})

    v1.register_writer_schema(v2.schema_json)
    old_reader_sees = validate_ledger_event(decode_ledger_bytes(v1, v2.encode(record_v2)))
    assert old_reader_sees == event

    v2.register_writer_schema(v1.schema_json)
    new_reader_sees = decode_ledger_bytes(v2, v1.encode(to_avro_record(event)))
    assert new_reader_sees["trace_id"] is None
    assert new_reader_sees["payload"][1]["po_number"] == ""


def test_compatibility_rules() -> None:
    current = load_schema_json(LEDGER_SCHEMA_FILE)
    assert full_compatibility_problems(current, _v2()) == []
    no_default = copy.deepcopy(current)
    no_default["fields"].append({"name": "tenant", "type": "string"})
    assert any("tenant: added without a default" in p for p in full_compatibility_problems(current, no_default))
    retyped = copy.deepcopy(current)
    retyped["fields"][0]["type"] = "long"
    assert full_compatibility_problems(current, retyped)


def test_schema_check_command_refuses_an_incompatible_change(tmp_path: Path, capsys) -> None:
    good, bad = tmp_path / "v2.avsc", tmp_path / "bad.avsc"
    good.write_text(json.dumps(_v2()))
    broken = copy.deepcopy(load_schema_json(LEDGER_SCHEMA_FILE))
    broken["fields"].append({"name": "tenant", "type": "string"})
    bad.write_text(json.dumps(broken))
    assert main(["schema", "check", str(good)]) == 0
    assert main(["schema", "check", str(bad)]) == 1
    assert "tenant: added without a default" in capsys.readouterr().err
