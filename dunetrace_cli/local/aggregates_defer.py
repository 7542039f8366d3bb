"""Aggregate triggers deferred by one writer and applied set-based, once per batch, inside its transaction.

While ``agg_defer`` holds a row (only inside that writer's transaction: the table is empty outside it), the
triggers guarded by it (schema v6: a first detection's; v7: a new runs / run_llm row's) do nothing, and the
statements here make the same changes over the batch's rows. ``tests/local/test_first_detections.py`` and
``tests/local/test_schema_v7.py`` hold them equal to the per-row triggers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dunetrace_cli.local.aggregates import _LIVE, _LOOPS, HOUR

# ── first detections, set-based (schema v6) ──────────────────────────────────────────────────────
# What the deferred triggers (local/sql/v6.sql) would have done for: live signals inserted for runs not yet
# processed, then those runs' processed_at set. Per signal (tr_signals_insert, tr4_signals_insert,
# tr4_signals_llm_insert): the per-agent signal counts, the signal days, the input's failure types and the
# run's live types; the run-side updates find no processed run then and do nothing. Per run (the ADD half of
# tr4_runs_update, its SUB half has no processed old row): the run's hour, version and tool-step buckets,
# against the run's live signals at that point, all of them inserted. One statement per table, per batch.
_NEW_LIVE = "FROM signals s NOT INDEXED WHERE s.id > ?1 AND s.shadow = 0"  # a rowid range, never a scan
_BATCH_RUNS = "FROM runs r WHERE r.run_id IN (SELECT run_id FROM temp.agg_batch) AND r.processed_at IS NOT NULL"
_RUN_FLAGS_BATCH = f"""SELECT r.*, EXISTS (SELECT 1 FROM signals s WHERE {_LIVE}) AS f,
        EXISTS (SELECT 1 FROM signals s WHERE {_LIVE} AND s.failure_type IN {_LOOPS}) AS l,
        (SELECT COUNT(*) FROM signals s WHERE {_LIVE}) AS n {_BATCH_RUNS}"""
FIRST_DETECTIONS = [
    f"""INSERT INTO agent_signal_types(agent_id, failure_type, severity, n)
    SELECT s.agent_id, s.failure_type, s.severity, COUNT(*) {_NEW_LIVE} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT(agent_id, failure_type, severity) DO UPDATE SET n = n + excluded.n""",
    f"""INSERT INTO agent_signal_days(agent_id, day, n)
    SELECT s.agent_id, CAST(s.detected_at / 86400 AS INTEGER), COUNT(*) {_NEW_LIVE} GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT(agent_id, day) DO UPDATE SET n = n + excluded.n""",
    f"""INSERT INTO signal_type_days(agent_id, day, failure_type, agent_version, n)
    SELECT s.agent_id, CAST(strftime('%s', s.detected_at, 'unixepoch') AS INTEGER) / 86400, s.failure_type,
           s.agent_version, COUNT(*) {_NEW_LIVE} GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT(agent_id, day, failure_type, agent_version) DO UPDATE SET n = n + excluded.n""",
    """INSERT INTO agent_input_types(agent_id, input_hash, failure_type, runs)
    SELECT r.agent_id, r.input_hash, s.failure_type, COUNT(*) FROM signals s NOT INDEXED
    JOIN runs r ON r.run_id = s.run_id AND +r.agent_id = s.agent_id AND r.input_hash IS NOT NULL
    WHERE s.id > ?1 AND s.shadow = 0 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT(agent_id, input_hash, failure_type) DO UPDATE SET runs = runs + excluded.runs""",
    f"""UPDATE run_llm SET
        live_types = (SELECT group_concat(failure_type, ',') FROM (SELECT s.failure_type FROM signals s
                      WHERE s.run_id = run_llm.run_id AND +s.agent_id = run_llm.agent_id AND s.shadow = 0 ORDER BY 1)),
        live_first = (SELECT MIN(s.detected_at) FROM signals s
                      WHERE s.run_id = run_llm.run_id AND +s.agent_id = run_llm.agent_id AND s.shadow = 0)
    WHERE run_id IN (SELECT s.run_id {_NEW_LIVE})""",
    # the batch's runs with their live-signal flags, computed once for run_hours and agent_versions
    "DELETE FROM temp.agg_flags",
    f"""INSERT INTO temp.agg_flags(agent_id, agent_version, processed_at, first_tool_step, f, l, n)
    SELECT agent_id, agent_version, processed_at, first_tool_step, f, l, n FROM ({_RUN_FLAGS_BATCH})""",
    f"""INSERT INTO run_hours(agent_id, hour, runs, failed, looped, tool_runs, tool_steps)
    SELECT agent_id, {HOUR('processed_at')}, COUNT(*), SUM(f), SUM(l), COUNT(first_tool_step),
           SUM(COALESCE(first_tool_step, 0)) FROM temp.agg_flags GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT(agent_id, hour) DO UPDATE SET runs = runs + excluded.runs, failed = failed + excluded.failed,
        looped = looped + excluded.looped, tool_runs = tool_runs + excluded.tool_runs,
        tool_steps = tool_steps + excluded.tool_steps""",
    f"""INSERT INTO run_type_hours(agent_id, hour, failure_type, runs, first_detected, last_detected)
    SELECT r.agent_id, {HOUR('r.processed_at')}, s.failure_type, COUNT(*), MIN(s.detected_at), MAX(s.detected_at)
    {_BATCH_RUNS.replace('FROM runs r', 'FROM runs r JOIN signals s ON ' + _LIVE)} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT(agent_id, hour, failure_type) DO UPDATE SET runs = runs + excluded.runs,
        first_detected = MIN(COALESCE(first_detected, excluded.first_detected), excluded.first_detected),
        last_detected = MAX(COALESCE(last_detected, excluded.last_detected), excluded.last_detected)""",
    """INSERT INTO agent_versions(agent_id, agent_version, runs, failed, signals)
    SELECT agent_id, agent_version, COUNT(*), SUM(f), SUM(n) FROM temp.agg_flags GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT(agent_id, agent_version) DO UPDATE SET runs = runs + excluded.runs, failed = failed + excluded.failed,
        signals = signals + excluded.signals""",
    f"""INSERT INTO agent_tool_steps(agent_id, step, runs)
    SELECT r.agent_id, r.first_tool_step, COUNT(*) {_BATCH_RUNS} AND r.first_tool_step IS NOT NULL
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT(agent_id, step) DO UPDATE SET runs = runs + excluded.runs""",
]


@contextmanager
def first_detections(conn: Any, run_ids: list[str]) -> Iterator[None]:
    """Inside the caller's write transaction: the body inserts the signals of ``run_ids`` and sets their
    ``processed_at`` (their first detection) and nothing else; their aggregate triggers are deferred and
    applied here set-based, once. When any run was processed already (or the store predates v6), the
    triggers run as usual."""
    pending = 0
    if run_ids and _has_defer(conn):
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS agg_batch (run_id TEXT PRIMARY KEY) WITHOUT ROWID")
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS agg_flags (agent_id, agent_version, processed_at, "
                     "first_tool_step, f, l, n)")  # fmt: skip
        conn.execute("DELETE FROM temp.agg_batch")
        conn.executemany("INSERT OR IGNORE INTO temp.agg_batch(run_id) VALUES (?)", [(r,) for r in run_ids])
        processed = conn.execute(
            "SELECT COUNT(*) FROM runs WHERE run_id IN (SELECT run_id FROM temp.agg_batch) AND processed_at IS NOT NULL"
        ).fetchone()[0]
        if processed == 0:
            pending = 1
    if not pending:
        yield
        return
    before = conn.execute("SELECT COALESCE(MAX(id), 0) FROM signals").fetchone()[0]
    conn.execute("INSERT INTO agg_defer(on_) VALUES (1)")
    try:
        yield
    finally:
        conn.execute("DELETE FROM agg_defer")
    for stmt in FIRST_DETECTIONS:
        conn.execute(stmt, (before,) if "?1" in stmt else ())
    conn.execute("DELETE FROM temp.agg_batch")
    conn.execute("DELETE FROM temp.agg_flags")


# ── new runs and run_llm rows, set-based (schema v7) ─────────────────────────────────────────────────────
# What tr_runs_insert and tr4_runs_insert do for the rows write_events inserts (processed_at NULL in every
# one: the processed-run buckets of tr4_runs_insert do nothing for them), and tr4_run_llm_insert for a new
# run_llm row; over the rows added (rowid > ?1: each table is a rowid table, a new row takes the largest
# rowid plus one; NOT INDEXED and CROSS JOIN keep the plan on that range, never a scan of a store-sized
# index), in the order the triggers would have created new keys in (agent_stats has rowids).
NEW_RUNS = [
    """INSERT INTO agent_stats(agent_id, last_seen, run_count)
    SELECT agent_id, MAX(last_received_at), COUNT(*) FROM runs NOT INDEXED WHERE rowid > ?1
    GROUP BY agent_id ORDER BY MIN(rowid)
    ON CONFLICT(agent_id) DO UPDATE SET run_count = run_count + excluded.run_count,
        last_seen = MAX(COALESCE(last_seen, excluded.last_seen), COALESCE(excluded.last_seen, last_seen))""",
    """INSERT INTO agent_inputs(agent_id, input_hash, runs)
    SELECT agent_id, input_hash, COUNT(*) FROM runs NOT INDEXED WHERE rowid > ?1 AND input_hash IS NOT NULL
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT(agent_id, input_hash) DO UPDATE SET runs = runs + excluded.runs""",
    """INSERT INTO agent_input_types(agent_id, input_hash, failure_type, runs)
    SELECT r.agent_id, r.input_hash, s.failure_type, COUNT(*) FROM runs r NOT INDEXED
    CROSS JOIN signals s ON s.run_id = r.run_id AND +s.agent_id = r.agent_id AND s.shadow = 0
    WHERE r.rowid > ?1 AND r.input_hash IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT(agent_id, input_hash, failure_type) DO UPDATE SET runs = runs + excluded.runs""",
]
#: A new run_llm row's live types: NULL (the trigger's value then) unless its run has a live signal already.
NEW_RUN_LLM = [
    """UPDATE run_llm SET
        live_types = (SELECT group_concat(failure_type, ',') FROM (SELECT s.failure_type FROM signals s
                      WHERE s.run_id = run_llm.run_id AND +s.agent_id = run_llm.agent_id AND s.shadow = 0 ORDER BY 1)),
        live_first = (SELECT MIN(s.detected_at) FROM signals s
                      WHERE s.run_id = run_llm.run_id AND +s.agent_id = run_llm.agent_id AND s.shadow = 0)
    WHERE rowid > ?1 AND EXISTS (SELECT 1 FROM signals s
                                 WHERE s.run_id = run_llm.run_id AND +s.agent_id = run_llm.agent_id AND s.shadow = 0)""",
]
_DEFER_SINCE = 7
_ROWID_ROOM = 2**62  # past it SQLite may pick a new rowid at random: the triggers run then


@contextmanager
def new_rows(conn: Any, table: str, apply: list[str]) -> Iterator[None]:
    """Inside the caller's write transaction: the body only INSERTs into ``table`` (``runs`` with processed_at
    NULL, or ``run_llm``); the AFTER INSERT triggers of those rows are deferred and ``apply`` (NEW_RUNS,
    NEW_RUN_LLM) makes the same changes set-based, once, over the rows added. A store before v7 keeps the
    triggers."""
    before = conn.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {table}").fetchone()[0]  # noqa: S608
    if before >= _ROWID_ROOM or _version(conn) < _DEFER_SINCE:
        yield
        return
    conn.execute("INSERT INTO agg_defer(on_) VALUES (1)")
    try:
        yield
    finally:
        conn.execute("DELETE FROM agg_defer")
    for stmt in apply:
        conn.execute(stmt, (before,))


def _version(conn: Any) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        return int(row[0]) if row is not None else 0
    except (TypeError, ValueError):
        return 0


def _has_defer(conn: Any) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'agg_defer'").fetchone() is not None
