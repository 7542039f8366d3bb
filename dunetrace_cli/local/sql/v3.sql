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
