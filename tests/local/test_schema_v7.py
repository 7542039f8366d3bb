"""Schema v7: the insert triggers of new runs and run_llm rows, applied set-based by ``write_events``
(aggregates_defer.new_rows), leave every aggregate as the per-row triggers do; a v6 store migrates."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from dunetrace_cli.local import aggregates_defer, schema
from dunetrace_cli.local.load import ingest_sources
from dunetrace_cli.local.store import open_store
from tests.local.test_aggregate_reads import assert_triggers_equal_rebuild, sdk_store  # noqa: F401 - fixture
from tests.local.test_first_detections import AGGREGATES, migrated_from

V7_DEFERRED = ("tr_runs_insert", "tr4_runs_insert", "tr4_run_llm_insert")


def _tables(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every aggregate, agent_stats with its rowids (the order its keys were created in), the runs."""
    conn = sqlite3.connect(db)
    try:
        out = {t: conn.execute(f"SELECT * FROM {t} ORDER BY {k}").fetchall() for t, k in AGGREGATES.items()}  # noqa: S608
        out["agent_stats_rowids"] = conn.execute("SELECT rowid, agent_id FROM agent_stats ORDER BY rowid").fetchall()
        cols = [r[1] for r in conn.execute("PRAGMA table_info(runs)") if r[1] != "last_write_at"]  # the wall clock
        out["runs"] = conn.execute(f"SELECT {','.join(cols)} FROM runs ORDER BY run_id").fetchall()  # noqa: S608
        return out
    finally:
        conn.close()


def _ingest(db: Path, files: list[Path], *, prepare: Any = None) -> None:
    store = open_store(db)
    try:
        if prepare is not None:
            with store.write() as conn:
                prepare(conn)
        ingest_sources(store, [str(f) for f in files], report=lambda p: None, finalize_stalled=True)
    finally:
        store.close()


def _orphans(conn: Any) -> None:
    """Live signals stored before their runs' events (plain SQL): a new run then already has signals."""
    for run_id, agent in (("run-late-1", "agent-x"), ("run-late-2", "agent-x")):
        conn.execute(
            "INSERT INTO signals(run_id, agent_id, agent_version, failure_type, severity, confidence, evidence, "
            "detected_at, shadow) VALUES (?, ?, '1', 'TOOL_LOOP', 'HIGH', 0.9, '{}', 1000.0, 0)",
            (run_id, agent),
        )


def _late_events(tmp_path: Path) -> Path:
    import json

    lines = []
    for i, run_id in enumerate(("run-late-1", "run-late-2")):
        base = {"run_id": run_id, "agent_id": "agent-x", "agent_version": "1", "parent_run_id": None,
                "trace_id": None, "conversation_id": None}  # fmt: skip
        lines += [
            {**base, "event_type": "run.started", "step_index": 0, "timestamp": 2000.0 + i,
             "payload": {"input_text": "same input"}, "event_id": f"{run_id}-0"},
            {**base, "event_type": "llm.called", "step_index": 1, "timestamp": 2001.0 + i,
             "payload": {"model": "m", "prompt_tokens": 10}, "event_id": f"{run_id}-1"},
            {**base, "event_type": "run.completed", "step_index": 2, "timestamp": 2002.0 + i,
             "payload": {"exit_reason": "final_answer"}, "event_id": f"{run_id}-2"},
        ]  # fmt: skip
    path = tmp_path / "late.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in lines), encoding="utf-8")
    return path


@pytest.mark.parametrize("orphans", [False, True])
def test_set_based_run_inserts_equal_the_triggers(
    sdk_events: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, orphans: bool
) -> None:
    files = sorted(sdk_events.glob("*.jsonl")) + ([_late_events(tmp_path)] if orphans else [])
    prepare = _orphans if orphans else None
    calls: list[str] = []
    real = aggregates_defer.new_rows

    def counting(conn: Any, table: str, apply: list[str]) -> Any:
        calls.append(table)
        return real(conn, table, apply)

    monkeypatch.setattr(aggregates_defer, "new_rows", counting)
    _ingest(tmp_path / "set.db", files, prepare=prepare)
    assert {"runs", "run_llm"} <= set(calls)
    monkeypatch.setattr(aggregates_defer, "_DEFER_SINCE", schema.SCHEMA_VERSION + 1)  # the per-row triggers
    _ingest(tmp_path / "rows.db", files, prepare=prepare)
    got, want = _tables(tmp_path / "set.db"), _tables(tmp_path / "rows.db")
    assert got == want
    assert len(got["runs"]) > 50 and sum(r[2] for r in got["agent_stats"]) == len(got["runs"])
    assert got["agent_inputs"] and any(n >= 2 for _, _, n in got["agent_inputs"])
    if orphans:  # the new runs' signals reached their input's types and their run_llm rows
        assert ("agent-x", "TOOL_LOOP") in {(r[0], r[2]) for r in got["agent_input_types"]}
        llm = {r[0]: r for r in got["run_llm"]}
        assert llm["run-late-1"][9] == "TOOL_LOOP" and llm["run-late-1"][10] == 1000.0
    assert_triggers_equal_rebuild(tmp_path / "set.db")
    conn = sqlite3.connect(tmp_path / "set.db")
    assert conn.execute("SELECT COUNT(*) FROM agg_defer").fetchone()[0] == 0
    conn.close()


def test_a_v6_store_migrates_to_v7(sdk_store: Path, tmp_path: Path) -> None:  # noqa: F811
    db = tmp_path / "v6.db"
    shutil.copy(sdk_store, db)
    want = _tables(db)
    conn, sql = migrated_from(
        db, V7_DEFERRED, 6, "CREATE INDEX ix_run_metrics_version ON run_metrics(agent_id, agent_version, processed_at)"
    )
    assert schema.SCHEMA_VERSION == 7
    assert all("agg_defer" in sql[name] for name in V7_DEFERRED)
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "ix_run_metrics_version" not in indexes and "ix_run_metrics_run_time" in indexes
    conn.close()
    assert _tables(db) == want
    assert_triggers_equal_rebuild(db)
