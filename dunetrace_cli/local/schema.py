"""SQLite schema of the embedded local store, and its forward migrations.

CONTRACT (the read side, ``dunetrace_cli/local/api.py``, codes against this). Columns and tables are only
ever ADDED by later versions, never renamed or removed. Open the database with
``dunetrace_cli.local.store.open_store(path)``, which applies the migrations below.

meta(key, value)                 'schema_version' -> str(SCHEMA_VERSION); 'demo_store' -> '1' in `dunetrace demo` stores
events                           one row per distinct SDK event (de-duplicated on event_id)
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
run_metrics (v2)                 run_time = the run's end by its own events (terminal event timestamp, else
                                 its last event): baselines are taken over runs that ended earlier

Times are epoch seconds (REAL). All JSON columns hold compact JSON text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

SCHEMA_VERSION = 3

_V1 = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT
);

CREATE TABLE IF NOT EXISTS events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT NOT NULL UNIQUE,
    run_id          TEXT NOT NULL,
    agent_id        TEXT NOT NULL,
    agent_version   TEXT NOT NULL DEFAULT '',
    event_type      TEXT NOT NULL,
    step_index      INTEGER NOT NULL DEFAULT 0,
    timestamp       REAL,
    parent_run_id   TEXT,
    trace_id        TEXT,
    conversation_id TEXT,
    payload         TEXT NOT NULL,
    received_at     REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_events_run ON events(run_id, step_index, timestamp);
CREATE INDEX IF NOT EXISTS ix_events_agent_received ON events(agent_id, received_at);
CREATE INDEX IF NOT EXISTS ix_events_agent_type_received ON events(agent_id, event_type, received_at);
CREATE INDEX IF NOT EXISTS ix_events_received ON events(received_at);

CREATE TABLE IF NOT EXISTS runs (
    run_id                TEXT PRIMARY KEY,
    agent_id              TEXT NOT NULL,
    agent_version         TEXT NOT NULL DEFAULT '',
    started_at            REAL,
    completed_at          REAL,
    first_received_at     REAL,
    last_received_at      REAL,
    event_count           INTEGER NOT NULL DEFAULT 0,
    max_step              INTEGER NOT NULL DEFAULT 0,
    parent_run_id         TEXT,
    processed_at          REAL,
    trigger               TEXT,
    prompt_tokens         INTEGER,
    completion_tokens     INTEGER,
    reasoning_tokens      INTEGER,
    model                 TEXT,
    input_text            TEXT,
    conversation_id       TEXT,
    trace_id              TEXT,
    terminal_event_type   TEXT,
    has_started           INTEGER NOT NULL DEFAULT 0,
    sdk_exit_reason       TEXT,
    dropped_events        INTEGER NOT NULL DEFAULT 0,
    processed_event_count INTEGER,
    input_hash            TEXT,
    first_tool_step       INTEGER,
    signal_count          INTEGER NOT NULL DEFAULT 0,
    needs_detection       INTEGER NOT NULL DEFAULT 0,
    processing_error      TEXT,
    -- internal token accumulators (exact llm.responded prompt sum vs llm.called estimate sum)
    llm_called_prompt_tokens    INTEGER NOT NULL DEFAULT 0,
    llm_responded_prompt_tokens INTEGER NOT NULL DEFAULT 0,
    has_llm_events              INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_runs_agent_processed ON runs(agent_id, processed_at);
CREATE INDEX IF NOT EXISTS ix_runs_processed ON runs(processed_at);
CREATE INDEX IF NOT EXISTS ix_runs_agent_version_processed ON runs(agent_id, agent_version, processed_at);
CREATE INDEX IF NOT EXISTS ix_runs_agent_received ON runs(agent_id, first_received_at);
CREATE INDEX IF NOT EXISTS ix_runs_parent ON runs(parent_run_id) WHERE parent_run_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_runs_pending ON runs(last_received_at) WHERE processed_at IS NULL;
CREATE INDEX IF NOT EXISTS ix_runs_needs_detection ON runs(last_received_at) WHERE needs_detection = 1;

CREATE TABLE IF NOT EXISTS signals (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id          TEXT NOT NULL,
    agent_id        TEXT NOT NULL,
    agent_version   TEXT NOT NULL DEFAULT '',
    failure_type    TEXT NOT NULL,
    severity        TEXT NOT NULL,
    step_index      INTEGER NOT NULL DEFAULT 0,
    confidence      REAL NOT NULL,
    evidence        TEXT NOT NULL,
    detected_at     REAL NOT NULL,
    alerted         INTEGER NOT NULL DEFAULT 0,
    shadow          INTEGER NOT NULL DEFAULT 0,
    co_signal_count INTEGER NOT NULL DEFAULT 0,
    detector_severity   TEXT,
    detector_confidence REAL,
    UNIQUE(run_id, failure_type)
);
CREATE INDEX IF NOT EXISTS ix_signals_agent_detected ON signals(agent_id, detected_at);
CREATE INDEX IF NOT EXISTS ix_signals_detected ON signals(detected_at);
CREATE INDEX IF NOT EXISTS ix_signals_type_detected ON signals(failure_type, detected_at);
CREATE INDEX IF NOT EXISTS ix_signals_agent_type ON signals(agent_id, failure_type);
CREATE INDEX IF NOT EXISTS ix_signals_severity_detected ON signals(severity, detected_at);

CREATE TABLE IF NOT EXISTS run_metrics (
    run_id          TEXT PRIMARY KEY,
    agent_id        TEXT NOT NULL,
    agent_version   TEXT NOT NULL DEFAULT '',
    processed_at    REAL NOT NULL,
    steps           REAL,
    tool_latency_ms REAL,
    llm_latency_ms  REAL,
    token_growth    REAL,
    llm_tool_ratio  REAL,
    total_tokens    REAL,
    duration_s      REAL,
    clean           INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS ix_run_metrics_version ON run_metrics(agent_id, agent_version, processed_at);
CREATE INDEX IF NOT EXISTS ix_rm_steps ON run_metrics(agent_id, agent_version, processed_at)
    WHERE clean = 1 AND steps IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_rm_tool_latency ON run_metrics(agent_id, agent_version, processed_at)
    WHERE clean = 1 AND tool_latency_ms IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_rm_llm_latency ON run_metrics(agent_id, agent_version, processed_at)
    WHERE clean = 1 AND llm_latency_ms IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_rm_token_growth ON run_metrics(agent_id, agent_version, processed_at)
    WHERE clean = 1 AND token_growth IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_rm_llm_tool_ratio ON run_metrics(agent_id, agent_version, processed_at)
    WHERE clean = 1 AND llm_tool_ratio IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_rm_total_tokens ON run_metrics(agent_id, agent_version, processed_at)
    WHERE clean = 1 AND total_tokens IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_rm_duration ON run_metrics(agent_id, agent_version, processed_at)
    WHERE clean = 1 AND duration_s IS NOT NULL;

CREATE TABLE IF NOT EXISTS deploy_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id    TEXT NOT NULL,
    version     TEXT NOT NULL DEFAULT '',
    meta        TEXT NOT NULL DEFAULT '{}',
    deployed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_deploy_agent ON deploy_events(agent_id, deployed_at);

CREATE TABLE IF NOT EXISTS policy_evaluations (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT NOT NULL UNIQUE,
    run_id          TEXT NOT NULL,
    agent_id        TEXT NOT NULL,
    agent_version   TEXT NOT NULL DEFAULT '',
    step_index      INTEGER NOT NULL DEFAULT 0,
    timestamp       REAL,
    payload         TEXT NOT NULL,
    received_at     REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_policy_eval_agent ON policy_evaluations(agent_id, received_at);
"""


def _statements(script: str) -> list[str]:
    """Split a DDL script (no triggers, no string literals holding ';') into statements."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [stmt.strip() for stmt in "\n".join(lines).split(";") if stmt.strip()]


def _migrate_to_1(conn: sqlite3.Connection) -> None:
    # Statement by statement: executescript() would COMMIT the surrounding migration transaction.
    for stmt in _statements(_V1):
        conn.execute(stmt)


_V2 = """
ALTER TABLE runs ADD COLUMN event_clock INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN last_event_at REAL;
ALTER TABLE runs ADD COLUMN last_write_at REAL;
ALTER TABLE runs ADD COLUMN needs_reeval INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN baseline_key TEXT;
ALTER TABLE run_metrics ADD COLUMN run_time REAL;
UPDATE runs SET last_event_at = (SELECT MAX(timestamp) FROM events e WHERE e.run_id = runs.run_id),
                last_write_at = last_received_at;
UPDATE run_metrics SET run_time = (SELECT COALESCE(r.completed_at, r.last_event_at, run_metrics.processed_at)
                                   FROM runs r WHERE r.run_id = run_metrics.run_id);
CREATE INDEX IF NOT EXISTS ix_runs_needs_reeval ON runs(run_id) WHERE needs_reeval = 1;
CREATE INDEX IF NOT EXISTS ix_run_metrics_run_time ON run_metrics(agent_id, agent_version, run_time, run_id);
DROP INDEX IF EXISTS ix_rm_steps;
CREATE INDEX IF NOT EXISTS ix_rm_steps_t ON run_metrics(agent_id, agent_version, run_time, run_id)
    WHERE clean = 1 AND steps IS NOT NULL;
DROP INDEX IF EXISTS ix_rm_tool_latency;
CREATE INDEX IF NOT EXISTS ix_rm_tool_latency_t ON run_metrics(agent_id, agent_version, run_time, run_id)
    WHERE clean = 1 AND tool_latency_ms IS NOT NULL;
DROP INDEX IF EXISTS ix_rm_llm_latency;
CREATE INDEX IF NOT EXISTS ix_rm_llm_latency_t ON run_metrics(agent_id, agent_version, run_time, run_id)
    WHERE clean = 1 AND llm_latency_ms IS NOT NULL;
DROP INDEX IF EXISTS ix_rm_token_growth;
CREATE INDEX IF NOT EXISTS ix_rm_token_growth_t ON run_metrics(agent_id, agent_version, run_time, run_id)
    WHERE clean = 1 AND token_growth IS NOT NULL;
DROP INDEX IF EXISTS ix_rm_llm_tool_ratio;
CREATE INDEX IF NOT EXISTS ix_rm_llm_tool_ratio_t ON run_metrics(agent_id, agent_version, run_time, run_id)
    WHERE clean = 1 AND llm_tool_ratio IS NOT NULL;
DROP INDEX IF EXISTS ix_rm_total_tokens;
CREATE INDEX IF NOT EXISTS ix_rm_total_tokens_t ON run_metrics(agent_id, agent_version, run_time, run_id)
    WHERE clean = 1 AND total_tokens IS NOT NULL;
DROP INDEX IF EXISTS ix_rm_duration;
CREATE INDEX IF NOT EXISTS ix_rm_duration_t ON run_metrics(agent_id, agent_version, run_time, run_id)
    WHERE clean = 1 AND duration_s IS NOT NULL
"""


def _migrate_to_2(conn: sqlite3.Connection) -> None:
    for stmt in _statements(_V2):
        conn.execute(stmt)


_V3 = """
CREATE TABLE IF NOT EXISTS agent_stats (
    agent_id   TEXT PRIMARY KEY,
    last_seen  REAL,
    run_count  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS agent_signal_types (
    agent_id     TEXT NOT NULL,
    failure_type TEXT NOT NULL,
    severity     TEXT NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (agent_id, failure_type, severity)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS agent_signal_days (
    agent_id TEXT NOT NULL,
    day      INTEGER NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (agent_id, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS agent_llm_days (
    agent_id    TEXT NOT NULL,
    day         INTEGER NOT NULL,
    prompt_sum  REAL NOT NULL DEFAULT 0,
    prompt_n    INTEGER NOT NULL DEFAULT 0,
    latency_sum REAL NOT NULL DEFAULT 0,
    latency_n   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run_llm (
    run_id            TEXT PRIMARY KEY,
    agent_id          TEXT NOT NULL,
    agent_version     TEXT NOT NULL DEFAULT '',
    model             TEXT,
    prompt_responded  INTEGER NOT NULL DEFAULT 0,
    prompt_called     INTEGER NOT NULL DEFAULT 0,
    completion        INTEGER NOT NULL DEFAULT 0,
    reasoning         INTEGER NOT NULL DEFAULT 0,
    first_received_at REAL
);
CREATE INDEX IF NOT EXISTS ix_run_llm_agent ON run_llm(agent_id, first_received_at);
CREATE TRIGGER IF NOT EXISTS tr_runs_insert AFTER INSERT ON runs BEGIN
    INSERT INTO agent_stats(agent_id, last_seen, run_count) VALUES (NEW.agent_id, NEW.last_received_at, 1)
    ON CONFLICT(agent_id) DO UPDATE SET run_count = run_count + 1,
        last_seen = MAX(COALESCE(last_seen, excluded.last_seen), COALESCE(excluded.last_seen, last_seen));
END;
CREATE TRIGGER IF NOT EXISTS tr_runs_seen AFTER UPDATE OF last_received_at ON runs
WHEN NEW.last_received_at IS NOT NULL AND NEW.agent_id = OLD.agent_id BEGIN
    UPDATE agent_stats SET last_seen = MAX(COALESCE(last_seen, NEW.last_received_at), NEW.last_received_at)
    WHERE agent_id = NEW.agent_id;
END;
CREATE TRIGGER IF NOT EXISTS tr_runs_agent AFTER UPDATE OF agent_id ON runs WHEN NEW.agent_id != OLD.agent_id BEGIN
    UPDATE agent_stats SET run_count = run_count - 1 WHERE agent_id = OLD.agent_id;
    INSERT INTO agent_stats(agent_id, last_seen, run_count) VALUES (NEW.agent_id, NEW.last_received_at, 1)
    ON CONFLICT(agent_id) DO UPDATE SET run_count = run_count + 1,
        last_seen = MAX(COALESCE(last_seen, excluded.last_seen), COALESCE(excluded.last_seen, last_seen));
END;
CREATE TRIGGER IF NOT EXISTS tr_signals_insert AFTER INSERT ON signals WHEN NEW.shadow = 0 BEGIN
    INSERT INTO agent_signal_types(agent_id, failure_type, severity, n) VALUES (NEW.agent_id, NEW.failure_type, NEW.severity, 1)
    ON CONFLICT(agent_id, failure_type, severity) DO UPDATE SET n = n + 1;
    INSERT INTO agent_signal_days(agent_id, day, n) VALUES (NEW.agent_id, CAST(NEW.detected_at / 86400 AS INTEGER), 1)
    ON CONFLICT(agent_id, day) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS tr_signals_delete AFTER DELETE ON signals WHEN OLD.shadow = 0 BEGIN
    UPDATE agent_signal_types SET n = n - 1
    WHERE agent_id = OLD.agent_id AND failure_type = OLD.failure_type AND severity = OLD.severity;
    UPDATE agent_signal_days SET n = n - 1 WHERE agent_id = OLD.agent_id AND day = CAST(OLD.detected_at / 86400 AS INTEGER);
END;
CREATE TRIGGER IF NOT EXISTS tr_signals_update_old AFTER UPDATE OF shadow, severity, detected_at, agent_id, failure_type ON signals
WHEN OLD.shadow = 0 BEGIN
    UPDATE agent_signal_types SET n = n - 1
    WHERE agent_id = OLD.agent_id AND failure_type = OLD.failure_type AND severity = OLD.severity;
    UPDATE agent_signal_days SET n = n - 1 WHERE agent_id = OLD.agent_id AND day = CAST(OLD.detected_at / 86400 AS INTEGER);
END;
CREATE TRIGGER IF NOT EXISTS tr_signals_update_new AFTER UPDATE OF shadow, severity, detected_at, agent_id, failure_type ON signals
WHEN NEW.shadow = 0 BEGIN
    INSERT INTO agent_signal_types(agent_id, failure_type, severity, n) VALUES (NEW.agent_id, NEW.failure_type, NEW.severity, 1)
    ON CONFLICT(agent_id, failure_type, severity) DO UPDATE SET n = n + 1;
    INSERT INTO agent_signal_days(agent_id, day, n) VALUES (NEW.agent_id, CAST(NEW.detected_at / 86400 AS INTEGER), 1)
    ON CONFLICT(agent_id, day) DO UPDATE SET n = n + 1;
END
"""


def _migrate_to_3(conn: sqlite3.Connection) -> None:
    from dunetrace_cli.local.aggregates import rebuild

    for stmt in _triggers_and_tables(_V3):
        conn.execute(stmt)
    rebuild(conn)


def _triggers_and_tables(script: str) -> list[str]:
    """Split a DDL script whose triggers hold ';' inside BEGIN ... END: statements end at a ';' that is
    not inside a trigger body."""
    out, buf, depth = [], [], 0
    for line in script.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        buf.append(line)
        if stripped.startswith("CREATE TRIGGER"):
            depth = 1
        if depth and (stripped == "END;" or stripped == "END"):
            depth = 0
            out.append("\n".join(buf).rstrip(";"))
            buf = []
        elif not depth and stripped.endswith(";"):
            out.append("\n".join(buf).rstrip(";"))
            buf = []
    if buf:
        out.append("\n".join(buf).rstrip(";"))
    return [s for s in out if s.strip()]


#: MIGRATIONS[n] brings a database at version n-1 to version n. Append only.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _migrate_to_1,
    2: _migrate_to_2,
    3: _migrate_to_3,
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
