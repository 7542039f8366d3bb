"""Schema v5: events de-duplicated per (run_id, event_id), no global event_id index; the v4 -> v5 rebuild; the
bulk-import write settings (load.bulk_writes)."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from dunetrace_cli.local import schema
from dunetrace_cli.local.detect import load_events
from dunetrace_cli.local.ingest import normalize_event, write_events
from dunetrace_cli.local.store import open_store

COLUMNS = ("seq, event_id, run_id, agent_id, agent_version, event_type, step_index, timestamp, parent_run_id, "
           "trace_id, conversation_id, payload, received_at")  # fmt: skip


def _event(run_id: str, event_type: str, step: int, ts: float, event_id: str | None = None) -> object:
    return normalize_event({
        "event_type": event_type, "run_id": run_id, "agent_id": "agent-a", "agent_version": "v1",
        "step_index": step, "timestamp": ts, "payload": {"prompt_tokens": 7} if event_type == "llm.called" else {},
        "parent_run_id": None, "trace_id": None, "conversation_id": None,
        "event_id": event_id or str(uuid.uuid4()),
    })  # fmt: skip


def _indexes(conn: sqlite3.Connection) -> dict[str, str | None]:
    return {r[0]: r[1] for r in conn.execute("SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name='events'")}


def _v4_store(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for version in range(1, 5):
        schema.MIGRATIONS[version](conn)
    conn.execute("INSERT INTO meta(key, value) VALUES('schema_version', '4')")
    conn.execute("COMMIT")
    return conn


def test_a_new_store_has_no_global_event_id_index(tmp_path: Path) -> None:
    store = open_store(tmp_path / "new.db")
    try:
        ix = _indexes(store.conn())
    finally:
        store.close()
    assert sorted(ix) == ["ix_events_agent_type_received", "ix_events_received", "ix_events_run_event"]
    assert ix["ix_events_run_event"] == "CREATE UNIQUE INDEX ix_events_run_event ON events(run_id, event_id)"


def test_an_event_is_the_same_event_when_its_run_and_id_match(tmp_path: Path) -> None:
    store = open_store(tmp_path / "dedupe.db")
    try:
        shared = str(uuid.uuid4())
        a = [_event("run-a", "run.started", 0, 10.0, shared), _event("run-a", "llm.called", 1, 11.0)]
        first = write_events(store, a)
        again = write_events(store, [*a, a[0]])  # a retried batch, one event twice in it
        other = write_events(store, [_event("run-b", "run.started", 0, 12.0, shared), a[1]])
        rows = store.conn().execute("SELECT run_id, event_id FROM events ORDER BY seq").fetchall()
        counts = dict(store.conn().execute("SELECT run_id, event_count FROM runs").fetchall())
    finally:
        store.close()
    assert (first.new, first.duplicate) == (2, 0)
    assert (again.new, again.duplicate) == (0, 3)
    assert (other.new, other.duplicate) == (1, 1)  # the same id in another run is another event
    assert [tuple(r) for r in rows] == [("run-a", shared), ("run-a", a[1].event_id), ("run-b", shared)]
    assert counts == {"run-a": 2, "run-b": 1}


def test_v4_to_v5_keeps_every_row_its_seq_and_the_autoincrement_mark(tmp_path: Path) -> None:
    db = tmp_path / "v4.db"
    conn = _v4_store(db)
    assert "sqlite_autoindex_events_1" in _indexes(conn)  # the global UNIQUE(event_id) of v1
    for i in range(6):
        conn.execute(
            "INSERT INTO events(event_id, run_id, agent_id, agent_version, event_type, step_index, timestamp, "
            "payload, received_at) VALUES (?, ?, 'agent-a', 'v1', 'tool.called', ?, ?, '{\"i\":1}', ?)",
            (f"e{i}", f"r{i % 2}", i, 100.0 + i, 200.0 + i),
        )
    conn.execute("DELETE FROM events WHERE seq >= 5")  # the high-water mark (6) must survive the rebuild
    want = conn.execute(f"SELECT {COLUMNS} FROM events ORDER BY seq").fetchall()  # noqa: S608
    conn.close()

    store = open_store(db, create=False)
    try:
        c = store.conn()
        assert schema.current_version(c) == schema.SCHEMA_VERSION >= 5
        assert c.execute("PRAGMA temp_store").fetchone()[0] == 2  # the store's MEMORY, back after the rebuild's FILE
        assert [tuple(r) for r in c.execute(f"SELECT {COLUMNS} FROM events ORDER BY seq")] == want  # noqa: S608
        assert sorted(_indexes(c)) == ["ix_events_agent_type_received", "ix_events_received", "ix_events_run_event"]
        write_events(store, [_event("r9", "run.started", 0, 300.0)])
        assert c.execute("SELECT MAX(seq) FROM events").fetchone()[0] == 7
        assert [e["event_id"] for e in load_events(c, "r1")] == ["e1", "e3"]
    finally:
        store.close()


def test_the_reads_of_events_take_an_index(tmp_path: Path) -> None:
    """EXPLAIN QUERY PLAN of the reads that filter events: run lookups (detection, run detail) and the
    health / token-stats edges (agent, type, received time) each search an index, none scans the table."""
    store = open_store(tmp_path / "plans.db")
    try:
        c = store.conn()
        plans = {
            "run": "SELECT * FROM events WHERE run_id = ? ORDER BY step_index, COALESCE(timestamp, 0), seq",
            "runs": "SELECT * FROM events WHERE run_id IN (?, ?) ORDER BY run_id, step_index, seq",
            "health edge": "SELECT COUNT(*) FROM events WHERE agent_id = ? AND event_type IN ('llm.called', "
                           "'llm.responded') AND received_at >= ? AND received_at < ?",
            "blocking": "SELECT DISTINCT run_id FROM events WHERE agent_id = ? AND event_type IN "
                        "('policy.triggered', 'approval.denied') AND received_at >= ?",
        }  # fmt: skip
        got = {
            name: " | ".join(r[3] for r in c.execute(f"EXPLAIN QUERY PLAN {sql}", [None] * sql.count("?")))  # noqa: S608
            for name, sql in plans.items()
        }
    finally:
        store.close()
    assert "SEARCH events USING INDEX ix_events_run_event (run_id=?)" in got["run"]
    assert "SEARCH events USING INDEX ix_events_run_event (run_id=?)" in got["runs"]
    for name in ("health edge", "blocking"):
        assert "INDEX ix_events_agent_type_received (agent_id=? AND event_type=? AND received_at>?" in got[name]
    assert not any("SCAN events" in plan for plan in got.values()), got


def test_bulk_writes_sets_the_import_settings_and_puts_them_back(tmp_path: Path) -> None:
    from dunetrace_cli.local import load

    store = open_store(tmp_path / "bulk.db")
    try:
        c = store.conn()
        pragmas = ("synchronous", "wal_autocheckpoint", "cache_size")
        before = {p: c.execute(f"PRAGMA {p}").fetchone()[0] for p in pragmas}
        with load.bulk_writes(store):
            inside = {p: c.execute(f"PRAGMA {p}").fetchone()[0] for p in pragmas}
        after = {p: c.execute(f"PRAGMA {p}").fetchone()[0] for p in pragmas}
    finally:
        store.close()
    assert inside == {"synchronous": 1, "wal_autocheckpoint": load.FILE_CHECKPOINT_PAGES,
                      "cache_size": -load.BULK_CACHE_KIB}  # fmt: skip
    assert load.FILE_CHECKPOINT_PAGES == 64_000 and load.BULK_CHECKPOINT_PAGES == 16_000
    assert after == before == {"synchronous": 2, "wal_autocheckpoint": 1000, "cache_size": -16000}
