"""Turns the domain's decisions into case-file log records: deterministic ids, gapless stream
versions, and the SHA-256 chain that makes tampering evident."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from schemas import LOG_SCHEMA_FILE, load_schema_json
from schemas.codec import AvroCodec

GENESIS_HASH = "0" * 64
_FIELDS = load_schema_json(LOG_SCHEMA_FILE)["fields"]
_DEFAULTS: dict[str, Any] = {f["name"]: f.get("default") for f in _FIELDS}
_DEFAULTS["applications"] = None  # filled per record: a shared list default would be aliased


@dataclass(frozen=True, slots=True)
class Cause:
    """The ledger record that caused a set of log records."""

    event_id: str
    digest: str
    topic: str
    partition: int
    offset: int
    timestamp_ms: int


assert _FIELDS[-1]["name"] == "hash", "the encoding shortcut below needs `hash` to be the last field"


def record_hash(codec: AvroCodec, record: Mapping[str, Any]) -> str:
    """SHA-256 over the previous hash and the record's Avro body with `hash` empty."""
    body = codec.encode_body({**record, "hash": ""})
    return hashlib.sha256(record["prev_hash"].encode() + body).hexdigest()


def _hash_and_encode(codec: AvroCodec, record: dict[str, Any]) -> tuple[str, bytes]:
    """The record's hash and its single-object encoding, encoding the body once.

    `hash` is the schema's last field and an empty string encodes as the single byte 0, so the
    final body is the hashed body minus that byte plus the encoded 64-character hash.
    """
    record["hash"] = ""
    body = codec.encode_body(record)
    digest = hashlib.sha256(record["prev_hash"].encode() + body).hexdigest()
    return digest, codec.header + body[:-1] + b"\x80\x01" + digest.encode()


def build_records(decisions: Iterable[Mapping[str, Any]], cause: Cause, policy_version: str,
                  heads: Mapping[str, tuple[int, str]], codec: AvroCodec) -> list[tuple[dict[str, Any], bytes]]:
    """Full records for the domain's `decisions`, chained onto each stream's head, each with its
    single-object encoding.

    `heads` is read only: versions continue from it and from the records built here, so a
    caller that applies each record afterwards sees the same chain.
    """
    pending: dict[str, tuple[int, str]] = {}
    per_stream: dict[str, int] = {}
    out = []
    for data in decisions:
        stream = data["stream_id"]
        version, prev = pending.get(stream) or heads.get(stream) or (0, GENESIS_HASH)
        n = per_stream.get(stream, 0)
        per_stream[stream] = n + 1
        record = dict(_DEFAULTS)
        record.update(data)
        if record["applications"] is None:
            record["applications"] = []
        record.update(
            event_id=f"{cause.event_id}#{stream}#{n}", stream_version=version + 1,
            recorded_at=cause.timestamp_ms, source_event_id=cause.event_id, source_digest=cause.digest,
            source_topic=cause.topic, source_partition=cause.partition, source_offset=cause.offset,
            policy_version=policy_version, prev_hash=prev)
        record["hash"], encoded = _hash_and_encode(codec, record)
        pending[stream] = (version + 1, record["hash"])
        out.append((record, encoded))
    return out
