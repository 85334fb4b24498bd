"""Avro schema compatibility by the specification's resolution rules.

`problems(reader, writer)` lists why data written with `writer` could not be read with
`reader`; an empty list means it can. casefile requires FULL compatibility of a new schema
version with the current one: old readers read new data and new readers read old data.
"""
from __future__ import annotations

from typing import Any

_PROMOTIONS = {("int", "long"), ("int", "float"), ("int", "double"), ("long", "float"), ("long", "double"),
               ("float", "double"), ("string", "bytes"), ("bytes", "string")}
_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


class _Names:
    def __init__(self) -> None:
        self.types: dict[str, dict[str, Any]] = {}

    def resolve(self, schema: Any, namespace: str = "") -> Any:
        if isinstance(schema, str) and schema not in _PRIMITIVES:
            key = schema if "." in schema or not namespace else f"{namespace}.{schema}"
            return self.types.get(key) or self.types.get(schema) or schema
        if isinstance(schema, dict) and schema.get("type") in ("record", "enum", "fixed"):
            ns = schema.get("namespace", namespace)
            name = schema["name"]
            full = name if "." in name else (f"{ns}.{name}" if ns else name)
            self.types[full] = schema
        return schema


def _type_name(schema: Any) -> str:
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, dict):
        t = schema["type"]
        return t if isinstance(t, str) else _type_name(t)
    return schema


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def problems(reader: Any, writer: Any, path: str = "", rn: _Names | None = None, wn: _Names | None = None) -> list[str]:
    rn, wn = rn or _Names(), wn or _Names()
    reader, writer = rn.resolve(reader), wn.resolve(writer)
    if isinstance(reader, dict) and isinstance(reader.get("type"), (dict, list)):
        reader = reader["type"]
    if isinstance(writer, dict) and isinstance(writer.get("type"), (dict, list)):
        writer = writer["type"]
    rt, wt = _type_name(reader), _type_name(writer)
    where = path or "<root>"
    if wt == "union":
        out: list[str] = []
        for branch in writer:
            out += problems(reader, branch, path, rn, wn)
        return out
    if rt == "union":
        for branch in reader:
            if not problems(branch, writer, path, _copy(rn), _copy(wn)):
                problems(branch, writer, path, rn, wn)  # register names on the matching path
                return []
        return [f"{where}: no branch of the reader's union reads the writer's {wt}"]
    if rt in _PRIMITIVES or wt in _PRIMITIVES:
        if rt == wt or (wt, rt) in _PROMOTIONS:
            return []
        return [f"{where}: writer's {wt} cannot be read as {rt}"]
    if rt != wt:
        return [f"{where}: writer's {wt} cannot be read as {rt}"]
    if rt == "record":
        if _short(reader["name"]) != _short(writer["name"]):
            return [f"{where}: record {writer['name']} cannot be read as {reader['name']}"]
        wfields = {f["name"]: f for f in writer["fields"]}
        out = []
        for field in reader["fields"]:
            names = [field["name"], *field.get("aliases", [])]
            match = next((wfields[n] for n in names if n in wfields), None)
            sub = f"{path}.{field['name']}" if path else field["name"]
            if match is None:
                if "default" not in field:
                    out.append(f"{sub}: added without a default")
                continue
            out += problems(field["type"], match["type"], sub, rn, wn)
        return out
    if rt == "enum":
        missing = set(writer["symbols"]) - set(reader["symbols"])
        if missing and "default" not in reader:
            return [f"{where}: enum symbols {sorted(missing)} unknown to the reader"]
        return []
    if rt == "array":
        return problems(reader["items"], writer["items"], f"{path}[]", rn, wn)
    if rt == "map":
        return problems(reader["values"], writer["values"], f"{path}{{}}", rn, wn)
    if rt == "fixed":
        if reader["size"] != writer["size"]:
            return [f"{where}: fixed size {writer['size']} cannot be read as {reader['size']}"]
        return []
    return [f"{where}: unsupported type {rt}"]


def _copy(names: _Names) -> _Names:
    c = _Names()
    c.types = dict(names.types)
    return c


def full_compatibility_problems(current: Any, candidate: Any) -> list[str]:
    """Both directions: the candidate reads current data, and current readers read candidate data."""
    return ([f"new reader, old data: {p}" for p in problems(candidate, current)]
            + [f"old reader, new data: {p}" for p in problems(current, candidate)])
