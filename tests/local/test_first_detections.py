"""Schema v6: first detections written in a batch keep every aggregate exactly as the per-row triggers do,
a v4 store migrates, and the SDK-line fast path of ``parse_line`` gives the full path's events and errors."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from dunetrace_cli.local import aggregates_defer, schema
from dunetrace_cli.local.detect_record import _INSERT_SIGNAL, _UPDATE_RUN
from dunetrace_cli.local.ingest import ValidationFailed, parse_line, sources
from dunetrace_cli.local.store import open_store
from tests.local.test_aggregate_reads import assert_triggers_equal_rebuild, sdk_store  # noqa: F401 - fixture

DEFERRED = ("tr_signals_insert", "tr4_signals_insert", "tr4_signals_llm_insert", "tr4_runs_update")
AGGREGATES = {
    "agent_stats": "agent_id", "agent_signal_types": "agent_id, failure_type, severity",
    "agent_signal_days": "agent_id, day", "agent_llm_days": "agent_id, day", "run_llm": "run_id",
    **{t: "1, 2" for t in ("run_hours", "agent_versions", "agent_tool_steps", "agent_inputs")},
    "run_type_hours": "1, 2, 3", "agent_input_types": "1, 2, 3", "signal_type_days": "1, 2, 3, 4",
    "run_starts": "1, 2",
}  # fmt: skip


def _aggregates(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(db)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY {k}").fetchall() for t, k in AGGREGATES.items()}  # noqa: S608
    finally:
        conn.close()


def _undetect(src: Path, db: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Copy ``src`` to ``db`` with its runs' detections taken back (the triggers keep the aggregates);
    return the signal rows and run updates that put them back, as a first detection writes them."""
    shutil.copy(src, db)
    conn = sqlite3.connect(db)
    signals = conn.execute(
        "SELECT run_id, agent_id, agent_version, failure_type, severity, step_index, confidence, evidence, "
        "detected_at, shadow, co_signal_count, detector_severity, detector_confidence FROM signals ORDER BY id"
    ).fetchall()
    runs = conn.execute(
        "SELECT processed_at, trigger, event_count, signal_count, event_count, processing_error, baseline_key, run_id "
        "FROM runs WHERE processed_at IS NOT NULL ORDER BY processed_at, run_id"
    ).fetchall()
    with conn:
        conn.execute("DELETE FROM signals")
        conn.execute("UPDATE runs SET processed_at = NULL, trigger = NULL, signal_count = 0")
    conn.close()
    return signals, runs


def _redetect(db: Path, signals: list[tuple[Any, ...]], runs: list[tuple[Any, ...]], *, batched: bool,
              also: list[str] = ()) -> None:  # type: ignore[assignment]  # fmt: skip
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    for i in range(0, len(runs), 7):  # several batches, as ingest writes them
        chunk = runs[i : i + 7]
        ids = {r[-1] for r in chunk}
        rows = [s for s in signals if s[0] in ids]
        if batched:
            with aggregates_defer.first_detections(conn, [r[-1] for r in chunk] + list(also)):
                conn.executemany(_INSERT_SIGNAL, rows)
                conn.executemany(_UPDATE_RUN, chunk)
        else:
            conn.executemany(_INSERT_SIGNAL, rows)
            conn.executemany(_UPDATE_RUN, chunk)
        assert conn.execute("SELECT COUNT(*) FROM agg_defer").fetchone()[0] == 0
    conn.execute("COMMIT")
    conn.close()


def test_batched_first_detections_equal_the_triggers(sdk_store: Path, tmp_path: Path) -> None:  # noqa: F811
    want = _aggregates(sdk_store)
    signals, runs = _undetect(sdk_store, tmp_path / "a.db")
    assert len(runs) > 40 and len(signals) > 20
    shutil.copy(tmp_path / "a.db", tmp_path / "b.db")
    assert _aggregates(tmp_path / "a.db") != want  # the detections are out
    _redetect(tmp_path / "a.db", signals, runs, batched=False)
    _redetect(tmp_path / "b.db", signals, runs, batched=True)
    got = _aggregates(tmp_path / "b.db")
    assert got == _aggregates(tmp_path / "a.db")
    assert got["run_hours"] == want["run_hours"] and got["agent_signal_types"] == want["agent_signal_types"]
    assert any(types for _, _, _, _, _, _, _, _, _, types, _ in got["run_llm"])
    assert_triggers_equal_rebuild(tmp_path / "b.db")


def test_a_batch_holding_a_processed_run_keeps_the_triggers(sdk_store: Path, tmp_path: Path) -> None:  # noqa: F811
    signals, runs = _undetect(sdk_store, tmp_path / "a.db")
    shutil.copy(tmp_path / "a.db", tmp_path / "b.db")
    _redetect(tmp_path / "a.db", signals, runs, batched=False)
    # every batch also names the first run, processed by the first batch: from then on the triggers apply
    _redetect(tmp_path / "b.db", signals, runs, batched=True, also=[runs[0][-1]])
    assert _aggregates(tmp_path / "b.db") == _aggregates(tmp_path / "a.db")


def migrated_from(db: Path, triggers: Any, version: int, *extra: str) -> tuple[sqlite3.Connection, dict[str, str]]:
    """Turn ``db`` back into a store at ``version`` (the triggers ``triggers`` as their per-row definitions of
    schema v3 / v4, then the statements ``extra``), open it (which migrates it), and check it is at the
    current version: a connection to it and its triggers' SQL by name."""
    old = {}
    for v in (3, 4):
        for stmt in schema.statements(schema.script(v)):
            name = stmt.split()[5] if stmt.startswith("CREATE TRIGGER IF NOT EXISTS") else ""
            if name in triggers:
                old[name] = stmt
    assert sorted(old) == sorted(triggers)
    conn = sqlite3.connect(db)
    with conn:
        for name, stmt in old.items():
            conn.execute(f"DROP TRIGGER {name}")
            conn.execute(stmt)
        for stmt in extra:
            conn.execute(stmt)
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
    conn.close()
    open_store(db, create=False).close()
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(schema.SCHEMA_VERSION)
    return conn, dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall())


def test_a_v5_store_migrates_to_v6(sdk_store: Path, tmp_path: Path) -> None:  # noqa: F811
    db = tmp_path / "v5.db"
    shutil.copy(sdk_store, db)
    want = _aggregates(db)
    conn, sql = migrated_from(db, DEFERRED, 5, "DROP TABLE agg_defer")
    assert all("agg_defer" in sql[name] for name in DEFERRED)
    assert sum("agg_defer" in text for text in sql.values()) == len(DEFERRED) + 3  # and v7's three
    assert conn.execute("SELECT COUNT(*) FROM agg_defer").fetchone()[0] == 0
    conn.close()
    assert _aggregates(db) == want
    assert_triggers_equal_rebuild(db)


# ── parse_line: the SDK line's fast path ───────────────────────────────────────────────────────────
def _full_path(line: str) -> Any:
    """``parse_line`` without its fast path: the strict parse, then ``normalize_event``'s rules."""
    saved = sources._sdk_line
    sources._sdk_line = lambda text: None  # type: ignore[assignment]
    try:
        return parse_line(line)
    except ValidationFailed as exc:
        return exc.errors
    finally:
        sources._sdk_line = saved


def _parsed(line: str) -> Any:
    try:
        return parse_line(line)
    except ValidationFailed as exc:
        return exc.errors


def test_sdk_lines_parse_as_the_full_path_does(sdk_events: Path) -> None:
    lines = [ln for f in sorted(sdk_events.glob("*.jsonl")) for ln in f.read_text(encoding="utf-8").splitlines(True)]
    assert len(lines) > 600
    for line in lines:
        assert _parsed(line) == _full_path(line)


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (lambda e: {**e, "extra": "__BIG__"}, "json"),  # a number out of range anywhere rejects the line
        (lambda e: {**e, "timestamp": "__BIG__"}, "json"),
        (lambda e: {**e, "payload": {**e["payload"], "latency_ms": "__BIG__"}}, "json"),
        (lambda e: {**e, "payload": {**e["payload"], "x": "__NAN__"}}, "json"),
        (lambda e: {**e, "step_index": 1.0}, None),  # the full path's lax int: accepted, as before
        (lambda e: {**e, "event_id": ""}, None),  # minted from the canonical JSON
        (lambda e: {**e, "agent_id": "a\u001b[31m"}, "agent_id"),
        (lambda e: {**e, "payload": {"tool_name": "t\u202e"}}, "tool_name"),
        (lambda e: {**e, "run_id": "r" * 1001}, "run_id"),
    ],
)
def test_unusual_sdk_lines_get_the_full_rules(sdk_events: Path, edit: Any, where: str | None) -> None:
    first = json.loads((sdk_events / "events-mixed.jsonl").read_text(encoding="utf-8").splitlines()[0])
    line = json.dumps(edit(first), separators=(",", ":")).replace('"__BIG__"', "1e999").replace('"__NAN__"', "NaN")
    got = _parsed(line + "\n")
    assert got == _full_path(line + "\n")
    if where is None:
        assert len(got) == 1 and got[0].run_id == first["run_id"]
    else:
        assert isinstance(got[0], dict) and where in (got[0]["type"] + ".".join(map(str, got[0]["loc"])))
