"""The v4 aggregate reads give exactly what the scans they replaced gave (issue 11, "reads in constant time").

The reference is ``tests/local/scan_reference``: health, insights and token stats as they were computed on
read from the agent's runs, signals and events. Every answer is compared as a whole (``==`` on the route's
dict) for every agent and for clocks that put the rolling windows' edges inside the data (mid-hour, near a
midnight), on the real fixtures (SDK events, the latest server's dataset, the March replay), on a generated
100k-event store, and after late-arriving runs, the stall sweep and a re-ingest of the same file. The
trigger-kept aggregate tables are also compared with ``aggregates.rebuild`` from the stored rows.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from dunetrace_cli.local import aggregates
from dunetrace_cli.local import readqueries_health as rh
from dunetrace_cli.local import readqueries_insights as ri
from dunetrace_cli.local import readqueries_tokens as rt
from dunetrace_cli.local.load import ingest_sources
from dunetrace_cli.local.store import open_store
from tests.local.scan_reference import health_scan, insights_scan, tokens_scan

ROOT = Path(__file__).resolve().parents[2]
V4_TABLES = {
    "run_hours": "agent_id, hour",
    "run_type_hours": "agent_id, hour, failure_type",
    "agent_versions": "agent_id, agent_version",
    "agent_tool_steps": "agent_id, step",
    "agent_inputs": "agent_id, input_hash",
    "agent_input_types": "agent_id, input_hash, failure_type",
    "signal_type_days": "agent_id, day, failure_type, agent_version",
    "run_starts": "run_id, agent_id",
}


def _v4_snapshot(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for table, key in V4_TABLES.items():
        rows = conn.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall()  # noqa: S608
        # a bucket emptied by a delete stays as a row of zeros (its first/last detection NULL)
        out[table] = [tuple(r) for r in rows if any(v for v in tuple(r)[len(key.split(",")):])]
    out["run_llm"] = conn.execute("SELECT run_id, live_types, live_first FROM run_llm ORDER BY 1").fetchall()
    return out


def assert_triggers_equal_rebuild(db: Path) -> None:
    store = open_store(db, create=False)
    try:
        conn = store.conn()
        kept = _v4_snapshot(conn)
        with store.write() as w:
            aggregates.rebuild(w, only_v4=True)
        assert _v4_snapshot(conn) == kept
    finally:
        store.close()


def _clocks(conn: sqlite3.Connection) -> list[float]:
    """Clocks whose rolling windows (1, 7, 14, 30 days) start just before a run's processed time at the
    first quarter and the middle of the data (the edge hour holds runs on both sides), plus the ends."""
    times = [r[0] for r in conn.execute("SELECT processed_at FROM runs WHERE processed_at IS NOT NULL ORDER BY 1")]
    day = 86400.0
    out = [times[-1] + 60.0, times[-1] + 29.5 * day]
    for at in (times[len(times) // 4], times[len(times) // 2]):
        out += [at + days * day - 0.0004 for days in (1, 7, 14, 30)]
    return out


def assert_reads_equal_scans(db: Path, clocks: list[float] | None = None) -> int:
    """Every agent's health, insights and token stats, aggregate path == scan path; returns the answers compared."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        agents = [r[0] for r in conn.execute("SELECT DISTINCT agent_id FROM runs ORDER BY 1")] + ["no-such-agent"]
        compared = 0
        for now in clocks or _clocks(conn):
            for agent in agents:
                pairs = (
                    (rh.health_score, health_scan.health_score),
                    (ri.insights, insights_scan.insights),
                    (rt.token_stats, tokens_scan.token_stats),
                )
                for new, ref in pairs:
                    got, want = new(conn, agent, now=now), ref(conn, agent, now=now)
                    assert got == want, (new.__module__, agent, now)
                    compared += 1
        return compared
    finally:
        conn.close()


@pytest.fixture
def sdk_store(tmp_path: Path, sdk_events: Path) -> Path:
    db = tmp_path / "s.db"
    store = open_store(db)
    try:
        ingest_sources(store, [str(sdk_events / "events-mixed.jsonl")], report=lambda p: None, finalize_stalled=True)
    finally:
        store.close()
    return db


def test_sdk_fixture_reads_equal_the_scans(sdk_store: Path) -> None:
    assert assert_reads_equal_scans(sdk_store) > 100
    assert_triggers_equal_rebuild(sdk_store)


def test_latest_server_dataset_reads_equal_the_scans(tmp_path: Path) -> None:
    from tests.local.test_api import LATEST, _capture_clock, _load, build_store

    db = tmp_path / "latest.db"
    build_store(db, _load(LATEST / "dataset.json"))  # plain SQL inserts: the triggers keep the aggregates
    conn = sqlite3.connect(db)
    clocks = [_capture_clock(), *_clocks(conn)]
    conn.close()
    assert assert_reads_equal_scans(db, clocks) > 100
    assert_triggers_equal_rebuild(db)


def test_march_replay_reads_equal_the_scans(tmp_path: Path) -> None:
    from tests.local.test_replay import MARCH_FILE, _load, capture_clock, replay

    db = tmp_path / "march.db"
    replay(db, _load(MARCH_FILE))
    conn = sqlite3.connect(db)
    clocks = [capture_clock(), *_clocks(conn)]
    conn.close()
    assert assert_reads_equal_scans(db, clocks) > 100
    assert_triggers_equal_rebuild(db)


def test_late_runs_stall_sweep_and_reingest_keep_the_reads_equal(tmp_path: Path, sdk_events: Path) -> None:
    """Late-arriving earlier runs (re-evaluations move, add and remove signals), runs finalised by the
    stall sweep, and the same file ingested twice (no double counting)."""
    from dunetrace_cli.local import detect

    lines = (sdk_events / "events-mixed.jsonl").read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines if line.strip()]
    runs: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        runs.setdefault(e["run_id"], []).append(e)
    ordered = sorted(runs, key=lambda r: min(e["timestamp"] for e in runs[r]))
    late, early = ordered[: len(ordered) // 3], ordered[len(ordered) // 3 :]
    first = tmp_path / "later-runs.jsonl"
    second = tmp_path / "earlier-runs.jsonl"
    first.write_text("".join(json.dumps(e) + "\n" for r in early for e in runs[r]), encoding="utf-8")
    second.write_text("".join(json.dumps(e) + "\n" for r in late for e in runs[r]), encoding="utf-8")
    db = tmp_path / "late.db"
    store = open_store(db)
    try:
        ingest_sources(store, [str(first)], report=lambda p: None)  # unfinished runs stay pending
        ingest_sources(store, [str(second)], report=lambda p: None)  # earlier runs arrive late
        detect.sweep(store, finalize_stalled=True)  # the stall sweep finalises the rest
        before = _v4_snapshot(store.conn())
        ingest_sources(store, [str(first), str(second)], report=lambda p: None)  # the same files again
        assert _v4_snapshot(store.conn()) == before  # nothing counted twice
        reevaluated = store.conn().execute("SELECT COUNT(*) FROM runs WHERE processed_at IS NULL").fetchone()[0]
        assert reevaluated == 0
    finally:
        store.close()
    assert assert_reads_equal_scans(db) > 100
    assert_triggers_equal_rebuild(db)


def test_deletes_and_signal_updates_keep_the_aggregates(sdk_store: Path, tmp_path: Path) -> None:
    """Plain-SQL writers (the demo's day-by-day copies delete runs and signals; a signal turned shadow,
    retyped, moved to another run's agent; a run renamed to another agent) keep the trigger tables right."""
    db = tmp_path / "edited.db"
    shutil.copy(sdk_store, db)
    conn = sqlite3.connect(db)
    ids = [r[0] for r in conn.execute("SELECT id FROM signals ORDER BY id")]
    runs = [r[0] for r in conn.execute("SELECT run_id FROM runs WHERE processed_at IS NOT NULL ORDER BY run_id")]
    with conn:
        conn.execute("UPDATE signals SET shadow = 1 WHERE id = ?", (ids[0],))
        conn.execute("UPDATE signals SET failure_type = 'TOOL_LOOP' WHERE id = ? AND failure_type != 'TOOL_LOOP'", (ids[3],))
        conn.execute("UPDATE signals SET detected_at = detected_at - 86400 * 3 WHERE id = ?", (ids[5],))
        conn.execute("UPDATE runs SET processed_at = processed_at + 7200.5 WHERE run_id = ?", (runs[1],))
        conn.execute("UPDATE runs SET agent_id = 'renamed-agent' WHERE run_id = ?", (runs[2],))
        conn.execute("UPDATE runs SET agent_version = 'v-edited', first_tool_step = 9 WHERE run_id = ?", (runs[4],))
        conn.execute("UPDATE runs SET input_hash = 'feedface' WHERE run_id = ?", (runs[6],))
        conn.execute("DELETE FROM signals WHERE id IN (?, ?)", (ids[7], ids[8]))
        conn.execute("DELETE FROM runs WHERE run_id = ?", (runs[9],))
        conn.execute("DELETE FROM signals WHERE run_id = ?", (runs[10],))
        conn.execute("DELETE FROM runs WHERE run_id = ?", (runs[10],))
        conn.execute("UPDATE signals SET shadow = 0 WHERE id = ?", (ids[0],))
        # half a millisecond either side of a midnight: SQLite's day (ms rounding) vs Python's (us rounding)
        midnight = (conn.execute("SELECT MAX(processed_at) FROM runs").fetchone()[0] // 86400) * 86400
        for run_id, at in zip(runs[11:15], (midnight - 0.0003, midnight - 0.0006, midnight + 0.0001, midnight - 0.0005)):
            conn.execute("UPDATE runs SET processed_at = ? WHERE run_id = ?", (at, run_id))
    conn.close()
    assert_triggers_equal_rebuild(db)
    assert assert_reads_equal_scans(db) > 100


def test_migration_from_v3_backfills_the_v4_aggregates(sdk_store: Path, tmp_path: Path) -> None:
    """A v3 store (no v4 tables or triggers) opened by this version gets them, filled from its rows."""
    from dunetrace_cli.local import schema

    db = tmp_path / "v3.db"
    shutil.copy(sdk_store, db)
    want = _v4_snapshot(sqlite3.connect(db))
    want_llm = sqlite3.connect(db).execute("SELECT run_id, live_types, live_first FROM run_llm ORDER BY 1").fetchall()
    assert any(types for _, types, _ in want_llm)
    conn = sqlite3.connect(db)
    with conn:
        for name, kind in conn.execute("SELECT name, type FROM sqlite_master WHERE name LIKE 'tr4_%'").fetchall():
            conn.execute(f"DROP {kind.upper()} {name}")
        for table in V4_TABLES:
            conn.execute(f"DROP TABLE {table}")
        conn.execute("DROP INDEX ix_run_llm_agent_cover")
        conn.execute("DROP INDEX ix_signals_live_agent_detected")
        conn.execute("CREATE INDEX ix_run_llm_agent ON run_llm(agent_id, first_received_at)")
        conn.execute("ALTER TABLE run_llm DROP COLUMN live_types")
        conn.execute("ALTER TABLE run_llm DROP COLUMN live_first")
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    conn.close()
    open_store(db, create=False).close()
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(schema.SCHEMA_VERSION)
    assert _v4_snapshot(conn) == want
    assert conn.execute("SELECT run_id, live_types, live_first FROM run_llm ORDER BY 1").fetchall() == want_llm
    conn.close()


def test_the_triggers_loop_types_are_the_domains() -> None:
    from dunetrace_cli.domain.loops import LOOP_TYPES
    from dunetrace_cli.local.schema import script

    quoted = "(" + ", ".join(f"'{t}'" for t in LOOP_TYPES) + ")"
    assert script(4).count(quoted) >= 6 and aggregates._LOOPS == quoted


@pytest.mark.slow
def test_generated_100k_store_reads_equal_the_scans(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from _gen_events import write_jsonl  # type: ignore[import-not-found]

    src = write_jsonl(tmp_path / "100k.jsonl", 100_000, now=1_780_000_000.0)
    db = tmp_path / "100k.db"
    store = open_store(db)
    try:
        ingest_sources(store, [str(src)], report=lambda p: None, finalize_stalled=True)
    finally:
        store.close()
    conn = sqlite3.connect(db)
    clocks = _clocks(conn)[:5]
    conn.close()
    assert assert_reads_equal_scans(db, clocks) >= 900  # 60 agents and an unknown one, 3 routes, 5 clocks
    assert_triggers_equal_rebuild(db)
