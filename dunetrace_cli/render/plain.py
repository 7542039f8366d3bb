"""List results as rows for pipes and scripts: TSV (gh's convention), CSV, NDJSON, JSON with --fields.

When stdout is not a terminal, list commands print one tab-separated line per item with full
values: no header, no wrapping, no box drawing, no colour, so ``grep -c``, ``cut -f``, ``sort`` and
``awk`` work. Times are ISO-8601 UTC; lists are comma-joined; every value from the server is
passed through ``sanitize.clean`` (a tab or newline inside a value shows as ``\\t`` / ``\\n``, so a
row is always one line with the same number of fields).

Field names are the item's ``--json`` keys (``agent_id``, ``run_count``...) plus a few derived
ones (``top_failure``); ``--fields a,b`` picks and orders them, in every format.
"""

from __future__ import annotations

import csv
import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from dunetrace_cli.errors import UsageError
from dunetrace_cli.render.sanitize import clean, json_dumps

Getter = Callable[[Any, Any], Any]  # (item, result) -> value


def _top(agent: Any) -> tuple[str, int] | None:
    return max(agent.failure_types.items(), key=lambda kv: (kv[1], kv[0]), default=None)


@dataclass(frozen=True)
class ListSpec:
    """How one list result becomes rows: where its items are, the default columns, derived fields."""

    items: str
    columns: tuple[str, ...]
    derived: dict[str, Getter] = field(default_factory=dict)


SPECS: dict[str, ListSpec] = {
    "AgentList": ListSpec(
        "agents",
        ("agent_id", "run_count", "signal_count", "critical_count", "high_count", "top_failure",
         "top_failure_count", "last_seen"),
        {
            "top_failure": lambda a, r: (_top(a) or ("", 0))[0],
            "top_failure_count": lambda a, r: (_top(a) or ("", 0))[1],
        },
    ),
    "RunList": ListSpec(
        "runs",
        ("run_id", "agent_version", "started_at", "duration_s", "step_count", "total_tokens", "exit_reason",
         "signal_count"),
    ),
    "SignalSearch": ListSpec(
        "signals",
        ("id", "severity", "failure_type", "agent_id", "run_id", "step_index", "confidence", "detected_at", "title"),
    ),
    "Patterns": ListSpec(
        "patterns",
        ("failure_type", "kind", "affected_runs", "total_runs", "rate", "trend_verdict", "daily_counts",
         "last_seen"),
    ),
    # issue 8: issues, fixes, voice calls, policies, custom detectors
    "IssueList": ListSpec(
        "issues",
        ("id", "status", "agent_id", "failure_type", "affected_runs", "clean_runs_since", "first_seen", "last_seen"),
    ),
    "FixList": ListSpec(
        "fixes",
        ("id", "signal_id", "failure_type", "fix_type", "applied_via", "applied_at", "runs_after", "recurrences_after",
         "verdict"),
    ),
    "CallList": ListSpec(
        "calls",
        ("id", "agent_id", "last_run_at", "duration_seconds", "completion_status", "silence_pct", "voice_signal_count",
         "cost_usd"),
    ),
    "PolicyList": ListSpec("policies", ("id", "name", "agent_id", "enabled", "priority", "condition", "action")),
    "DetectorList": ListSpec(
        "detectors", ("id", "name", "agent_id", "status", "total_runs", "shadow_fire_count", "description"),
    ),
}


def spec_for(result: Any) -> ListSpec | None:
    """The result's row spec: a curated one above, else inferred from its first list of models."""
    for cls in type(result).__mro__:
        spec = SPECS.get(cls.__name__)
        if spec is not None:
            return spec
    return _inferred(type(result))


def _inferred(model: Any) -> ListSpec | None:
    """Rows of any list result: its first ``list[Model]`` field, the item's scalar fields as columns."""
    fields = getattr(model, "model_fields", None)
    if not fields:
        return None
    for name, info in fields.items():
        args = typing.get_args(info.annotation)
        item = args[0] if args and typing.get_origin(info.annotation) is list else None
        if item is None or not hasattr(item, "model_fields"):
            continue
        columns = [k for k, f in item.model_fields.items() if _scalar(f.annotation)]
        columns += [k for k in getattr(item, "model_computed_fields", {}) if not k.endswith("_iso")]
        return ListSpec(name, tuple(columns))
    return None


def _scalar(annotation: Any) -> bool:
    """str, int, float, bool (optionally None or Annotated): a value that fits one TSV cell."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    options = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else (
        annotation,)
    return all(o in (str, int, float, bool, type(None)) or typing.get_origin(o) is typing.Literal for o in options)


def _items(result: Any, spec: ListSpec) -> list[Any]:
    return list(getattr(result, spec.items))


def _dump(item: Any) -> dict[str, Any]:
    dumped = item.model_dump(mode="json")
    return dumped if isinstance(dumped, dict) else {}


def _item_keys(result: Any, spec: ListSpec) -> list[str]:
    """The JSON keys of the result's items, from the item model (so an empty list knows them too)."""
    annotation = type(result).model_fields[spec.items].annotation
    args = typing.get_args(annotation)
    model = args[0] if args else None
    if model is None or not hasattr(model, "model_fields"):
        return []
    return [*model.model_fields, *model.model_computed_fields]


def field_names(result: Any) -> list[str]:
    """Every field ``--fields`` accepts for this result."""
    spec = spec_for(result)
    if spec is None:
        return []
    names: list[str] = list(spec.columns)
    for name in [*_item_keys(result, spec), *spec.derived]:
        if name not in names and not name.endswith("_iso"):
            names.append(name)
    return names


def select(result: Any, fields: list[str] | None) -> list[str]:
    """The columns to print: ``fields`` checked against what the result has, or the defaults."""
    spec = spec_for(result)
    if spec is None:
        raise UsageError("--fields works with list commands only (agents, runs, signals, issues, ...).")
    if not fields:
        columns = list(spec.columns)
        if getattr(result, "with_health", False):  # agents --health: the score after the counts
            columns.insert(columns.index("high_count") + 1, "health_score")
        return columns
    known = field_names(result)
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise UsageError(f"unknown field {clean(unknown[0], newlines=False)!r}; choose from: {', '.join(known)}.")
    return fields


def _raw(item: Any, dumped: dict[str, Any], name: str, result: Any, spec: ListSpec) -> Any:
    if name in spec.derived:
        return spec.derived[name](item, result)
    return dumped.get(name)


def _text(value: Any) -> str:
    """One value as one clean line of text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e6 else f"{value:.0f}" if abs(value) < 1e15 else repr(value)  # epochs whole
    if isinstance(value, (list, tuple)):
        return ",".join(_text(v) for v in value)
    if isinstance(value, dict):
        return clean(json.dumps(value, ensure_ascii=False, sort_keys=True), newlines=False)
    return clean(str(value), newlines=False)


def rows(result: Any, fields: list[str] | None = None) -> tuple[list[str], list[list[str]]]:
    """(column names, rows of text) for a list result; times as ISO-8601 UTC."""
    spec = spec_for(result)
    columns = select(result, fields)
    assert spec is not None
    out: list[list[str]] = []
    for item in _items(result, spec):
        dumped = _dump(item)
        line = []
        for name in columns:
            iso_twin = dumped.get(f"{name}_iso")
            value = iso_twin if iso_twin is not None else _raw(item, dumped, name, result, spec)
            line.append(_text(value))
        out.append(line)
    return columns, out


def records(result: Any, fields: list[str] | None) -> list[dict[str, Any]]:
    """The items as JSON objects: every field, or only ``fields`` (in that order)."""
    spec = spec_for(result)
    if spec is None:
        return []
    columns = select(result, fields) if fields else None
    out = []
    for item in _items(result, spec):
        dumped = _dump(item)
        if columns is None:
            out.append({**dumped, **{k: g(item, result) for k, g in spec.derived.items() if k not in dumped}})
        else:
            out.append({name: _raw(item, dumped, name, result, spec) for name in columns})
    return out


def write_tsv(result: Any, fields: list[str] | None, out: IO[str]) -> None:
    _, lines = rows(result, fields)
    out.write("".join("\t".join(line) + "\n" for line in lines))


def write_csv(result: Any, fields: list[str] | None, out: IO[str]) -> None:
    columns, lines = rows(result, fields)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(lines)


def write_ndjson(result: Any, fields: list[str] | None, out: IO[str]) -> None:
    out.write("".join(json_dumps(rec) + "\n" for rec in records(result, fields)))


WRITERS = {"tsv": write_tsv, "csv": write_csv, "ndjson": write_ndjson}


def write(result: Any, fmt: str, *, fields: list[str] | None, out: IO[str]) -> None:
    """Write a list result to ``out`` as ``fmt`` (tsv, csv or ndjson)."""
    if spec_for(result) is None:
        raise UsageError(f"--format {fmt} works with list commands only (agents, runs, signals, issues, ...).")
    WRITERS[fmt](result, fields, out)
    out.flush()
