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
