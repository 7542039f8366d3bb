"""SQLite schema of the embedded local store, and its forward migrations.

CONTRACT (the read side, ``dunetrace_cli/local/api.py``, codes against this). Columns and tables are only
ever ADDED by later versions, never renamed or removed. Open the database with
``dunetrace_cli.local.store.open_store(path)``, which applies the migrations below (their DDL: local/sql/vN.sql).

meta(key, value)                 'schema_version' -> str(SCHEMA_VERSION); 'demo_store' -> '1' in `dunetrace demo` stores
events                           one row per distinct SDK event (de-duplicated on (run_id, event_id), v5)
    seq                          insertion order (INTEGER PRIMARY KEY AUTOINCREMENT): replay order
    event_id                     SDK uuid4; when absent, sha256 of the canonical event JSON
    run_id, agent_id, agent_version ('' if absent), event_type, step_index (0 if absent)
    timestamp                    SDK epoch float (ingest time when the event had none, as the server does)
    parent_run_id, trace_id, conversation_id
    payload                      JSON object text (the raw SDK payload)
    received_at                  server time.time() at ingest (health/token windows use this)
    policy.evaluated events are NOT stored here (they go to policy_evaluations, as the latest backend does).
runs                             one row per run_id seen (in flight or processed)
    agent_id, agent_version      from run.started when seen, else from the first event received
    started_at                   SDK timestamp of run.started
    completed_at                 SDK timestamp of the first terminal event received (NULL if stalled)
    first_received_at, last_received_at, event_count, max_step
    parent_run_id                from run.started (a child's terminal event carries null), else any event
    processed_at                 NULL while in flight. Set when detection ran (completed or stalled),
                                 refreshed on re-detection. The Customer API shows only runs with
                                 processed_at IS NOT NULL.
    trigger                      'run.completed' | 'run.errored' | 'stalled'  (the API's exit_reason)
    prompt_tokens                exact llm.responded prompt_tokens sum if non-zero, else llm.called estimate sum
    completion_tokens, reasoning_tokens (sums over llm.responded), model (first llm.called model)
                                 -- all four NULL when the run has no llm.called/llm.responded event
    input_text                   run.started payload input_text
    -- additions (v1):
    conversation_id, trace_id    first non-null value seen
    terminal_event_type          event_type of the first terminal event received (NULL if none yet)
    has_started                  1 once run.started was received
    sdk_exit_reason              terminal payload exit_reason (completed/final_answer/policy_violation) or 'error'
    dropped_events               terminal payload dropped_events (0 if absent)
    processed_event_count        event_count at the last detection (late events => re-detection)
    input_hash                   md5 hex of input_text (NULL when no input_text); the L server's input hash
    first_tool_step              smallest step_index of a tool.called event (NULL if none)
    signal_count                 number of non-shadow signals stored for the run (kept in sync by detection)
    needs_detection              1 when the run is complete (or processed) and has events detection has not seen
    processing_error             set when rebuilding/detecting the run raised (the run is still processed)
    llm_called_prompt_tokens, llm_responded_prompt_tokens, has_llm_events: ingest accumulators (internal)
signals                          one row per (run_id, failure_type); raw detector output, explanations are
                                 produced at read time
    severity                     'LOW'|'MEDIUM'|'HIGH'|'CRITICAL'; evidence = JSON object text
    detected_at                  server time.time() when the signal was first written
    alerted (always 0 locally), shadow (0 = live), co_signal_count (>=2 when signals co-fired, else 0)
    severity/confidence are after the server's post-processing (risk-engine override, co-occurrence
    boost, incomplete-run caps); additions (v1): detector_severity, detector_confidence = the raw
    values the SDK detector returned
run_metrics                      per processed run: the figures used for cross-run P75 baselines
    steps, tool_latency_ms, llm_latency_ms, token_growth, llm_tool_ratio, total_tokens, duration_s,
    clean (1 = no live signal)
deploy_events                    POST /v1/deploy (id, agent_id, version, meta JSON, deployed_at)
policy_evaluations               policy.evaluated events (same columns as events, no seq contract)

    -- additions (v2):
    event_clock                  1 when the run came from file input (``local ingest``): its received and
                                 processed times are taken from its own events (docs/local-fidelity.md)
    last_event_at                largest SDK timestamp among the run's events
    last_write_at                server time.time() of the last write to the run (the stall rule's
                                 "silence" for live input; equals last_received_at for HTTP ingest)
    needs_reeval                 1 when an earlier run (in run time) reached the baselines after this
                                 run was analysed: re-evaluated so detection does not depend on arrival order
    baseline_key                 the baselines the last analysis used (JSON), to skip no-op re-evaluations
v3: the read aggregates, see dunetrace_cli/local/aggregates.py (agent_stats, agent_signal_types,
agent_signal_days kept by triggers; agent_llm_days and run_llm kept by ingest, rebuilt by the migration)
v4: the health, insights and token-stats aggregates (run_hours, run_type_hours, agent_versions,
agent_tool_steps, agent_inputs, agent_input_types, signal_type_days), kept by triggers, rebuilt by the
migration; see dunetrace_cli/local/aggregates.py
v5: events rebuilt without the global UNIQUE(event_id): UNIQUE(run_id, event_id) (ix_events_run_event)
instead, which also serves the run lookups (ix_events_run goes, and ix_events_agent_received, which no
read needed); same columns and seq values
v6: the table agg_defer (empty outside one writer's transaction) lets a batch of first detections defer
the aggregate triggers they fire and apply the same changes set-based (aggregates_defer.first_detections)
v7: the same for the triggers of a new runs / run_llm row while ``write_events`` inserts them
(aggregates_defer.new_rows); ix_run_metrics_version, which no read used since v2, goes
run_metrics (v2)                 run_time = the run's end by its own events (terminal event timestamp, else
                                 its last event): baselines are taken over runs that ended earlier

Times are epoch seconds (REAL). All JSON columns hold compact JSON text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from importlib.resources import files

SCHEMA_VERSION = 7

def script(version: int) -> str:
    """The DDL of one schema version (local/sql/vN.sql, shipped in the package)."""
    return files("dunetrace_cli.local").joinpath(f"sql/v{version}.sql").read_text(encoding="utf-8")


def statements(ddl: str) -> list[str]:
    """Split a DDL script into statements: ``--`` comments dropped, a statement ends at a ``;`` that is
    not inside a trigger's BEGIN ... END (no string literal in these scripts holds ``;`` or ``--``)."""
    out: list[str] = []
    buf: list[str] = []
    in_trigger = False
    for line in (raw.split("--", 1)[0].rstrip() for raw in ddl.splitlines()):
        stripped = line.strip()
        if not stripped:
            continue
        buf.append(line)
        if stripped.startswith("CREATE TRIGGER"):
            in_trigger = True
        if in_trigger and stripped in ("END;", "END"):
            in_trigger = False
        elif in_trigger or not stripped.endswith(";"):
            continue
        out.append("\n".join(buf).strip().rstrip(";").strip())
        buf = []
    if buf:
        out.append("\n".join(buf).strip().rstrip(";").strip())
    return [stmt for stmt in out if stmt]


def _migrate_to_1(conn: sqlite3.Connection) -> None:
    # Statement by statement: executescript() would COMMIT the surrounding migration transaction.
    for stmt in statements(script(1)):
        conn.execute(stmt)


def _migrate_to_2(conn: sqlite3.Connection) -> None:
    for stmt in statements(script(2)):
        conn.execute(stmt)


def _migrate_to_3(conn: sqlite3.Connection) -> None:
    from dunetrace_cli.local.aggregates import REBUILD

    for stmt in statements(script(3)):
        conn.execute(stmt)
    for stmt in REBUILD:  # the v3 aggregates only: the v4 tables come next
        conn.execute(stmt)


def _migrate_to_4(conn: sqlite3.Connection) -> None:
    from dunetrace_cli.local.aggregates import rebuild

    for stmt in statements(script(4)):
        conn.execute(stmt)
    rebuild(conn, only_v4=True)


def _migrate_to_5(conn: sqlite3.Connection) -> None:
    for stmt in statements(script(5)):
        conn.execute(stmt)


def _migrate_to_6(conn: sqlite3.Connection) -> None:
    for stmt in statements(script(6)):  # the same triggers, deferrable: no aggregate changes
        conn.execute(stmt)


def _migrate_to_7(conn: sqlite3.Connection) -> None:
    for stmt in statements(script(7)):  # the same triggers, deferrable; one unused index dropped
        conn.execute(stmt)


#: MIGRATIONS[n] brings a database at version n-1 to version n. Append only.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _migrate_to_1,
    2: _migrate_to_2,
    3: _migrate_to_3,
    4: _migrate_to_4,
    5: _migrate_to_5,
    6: _migrate_to_6,
    7: _migrate_to_7,
}


class SchemaTooNewError(Exception):
    """The database was written by a newer version of this tool."""

    def __init__(self, found: int) -> None:
        super().__init__(f"schema version {found} is newer than this tool's {SCHEMA_VERSION}")
        self.found = found


def current_version(conn: sqlite3.Connection) -> int:
    """Schema version recorded in ``meta`` (0 for an empty database)."""
    row = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
    if row is None:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    if row is None or row[0] is None:
        return 0
    try:
        return int(row[0])
    except ValueError:
        return 0


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every pending forward migration in one write transaction; return the resulting version.

    Safe to call concurrently from several processes: the version is re-read under the write lock.
    """
    if current_version(conn) == SCHEMA_VERSION:
        return SCHEMA_VERSION
    # A rebuild (v5's events) sorts every row once per new index: in temporary files, not in memory, where
    # the store's temp_store=MEMORY would hold them (300k events: 231 MiB peak against 49 MiB, and slower).
    # The setting can only change outside a transaction.
    temp_store = int(conn.execute("PRAGMA temp_store").fetchone()[0])
    conn.execute("PRAGMA temp_store=FILE")
    try:
        return _migrate_locked(conn)
    finally:
        conn.execute(f"PRAGMA temp_store={temp_store}")


def _migrate_locked(conn: sqlite3.Connection) -> int:
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = current_version(conn)
        if version > SCHEMA_VERSION:
            raise SchemaTooNewError(version)
        for target in range(version + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[target](conn)
            conn.execute(
                "INSERT INTO meta(key, value) VALUES('schema_version', ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (str(target),),
            )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION
