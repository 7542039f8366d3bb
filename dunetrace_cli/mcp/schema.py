"""Output-schema compaction: what the catalog publishes for each tool, kept small.

pydantic's JSON schemas repeat every property name as a ``title`` and spell out defaults a result
always carries; dropping those keeps ``tools/list`` within budget without losing a field.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter


def strip_titles(schema: Any) -> Any:
    """Drop pydantic's auto ``title`` keys (they repeat the property names) to keep the catalog small.

    Property *names* are kept even when a property is called ``title``.
    """
    if isinstance(schema, list):
        return [strip_titles(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            out[key] = {name: strip_titles(sub) for name, sub in value.items()}
        elif key == "title" and isinstance(value, str):
            continue
        else:
            out[key] = strip_titles(value)
    return out


def _inline_root(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    defs = schema.get("$defs") or {}
    if isinstance(ref, str) and ref.startswith("#/$defs/") and len(schema) <= 2:
        name = ref.split("/")[-1]
        root = dict(defs[name])
        rest = {k: v for k, v in defs.items() if k != name}
        if rest:
            root["$defs"] = rest
        return root
    return schema


def _compact_output(schema: Any) -> Any:
    """Output-only compaction: a result always carries every field, so ``default``/``readOnly`` say nothing;
    ``additionalProperties: true`` is JSON Schema's default (API objects may carry fields newer servers add).

    Nullable fields stay ``anyOf [{type: X}, {type: null}]``: ``type: [X, "null"]`` would be shorter but
    the Inspector's --strict portability check flags it (single-``type`` dialects such as Gemini's reject it).
    """
    if isinstance(schema, list):
        return [_compact_output(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "$defs") and isinstance(value, dict):
            out[key] = {name: _compact_output(sub) for name, sub in value.items()}
        elif key in ("default", "readOnly"):
            continue
        elif key == "additionalProperties" and value is True:
            continue  # JSON Schema's default: saying it costs characters and adds nothing
        else:
            out[key] = _compact_output(value)
    return out


def output_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The published outputSchema: what ``model_dump(mode="json")`` produces, computed fields included."""
    schema = TypeAdapter(model).json_schema(mode="serialization")
    return _compact_output(strip_titles(_inline_root(schema)))


def compact_input(schema: Any) -> Any:
    """Input-schema compaction for the catalog (issue 13): an optional argument is published as its own
    type (``anyOf [X, null]`` -> ``X``, no ``default: null``): leaving it out is how a client says "not
    given", and the tool still accepts an explicit ``null``."""
    if isinstance(schema, list):
        return [compact_input(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    any_of = schema.get("anyOf")
    if isinstance(any_of, list) and len(any_of) == 2 and {"type": "null"} in any_of:
        other = next(item for item in any_of if item != {"type": "null"})
        schema = {**{k: v for k, v in schema.items() if k != "anyOf"}, **other}
        if "default" in schema and schema["default"] is None:
            del schema["default"]
    return {key: compact_input(value) for key, value in schema.items()}
