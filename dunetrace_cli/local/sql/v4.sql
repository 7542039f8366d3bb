-- v4: the aggregates of the health, insights and token-stats routes (see local/aggregates.py).
-- A run counts in the buckets of its processed hour, HOUR(t) = CAST(strftime('%s', t, 'unixepoch') AS INTEGER)
-- / 3600: SQLite's own millisecond rounding, so hours and days agree with date() and strftime('%H') of the
-- reads. "Failed" = the run has a live signal of its own agent (s.agent_id = r.agent_id), as the reads join.
-- Every trigger computes its change against the current rows of the other table, so any order of run and
-- signal writes (ingest, detection, re-evaluation, plain SQL, deletes) keeps them equal to a rebuild.
CREATE TABLE IF NOT EXISTS run_hours (
    agent_id   TEXT NOT NULL,
    hour       INTEGER NOT NULL,
    runs       INTEGER NOT NULL DEFAULT 0,
    failed     INTEGER NOT NULL DEFAULT 0,
    looped     INTEGER NOT NULL DEFAULT 0,
    tool_runs  INTEGER NOT NULL DEFAULT 0,
    tool_steps INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, hour)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run_type_hours (
    agent_id       TEXT NOT NULL,
    hour           INTEGER NOT NULL,
    failure_type   TEXT NOT NULL,
    runs           INTEGER NOT NULL DEFAULT 0,
    first_detected REAL,
    last_detected  REAL,
    PRIMARY KEY (agent_id, hour, failure_type)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS agent_versions (
    agent_id      TEXT NOT NULL,
    agent_version TEXT NOT NULL,
    runs          INTEGER NOT NULL DEFAULT 0,
    failed        INTEGER NOT NULL DEFAULT 0,
    signals       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, agent_version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS agent_tool_steps (
    agent_id TEXT NOT NULL,
    step     INTEGER NOT NULL,
    runs     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, step)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS agent_inputs (
    agent_id   TEXT NOT NULL,
    input_hash TEXT NOT NULL,
    runs       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, input_hash)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_agent_inputs_repeated ON agent_inputs(agent_id) WHERE runs >= 2;
CREATE TABLE IF NOT EXISTS agent_input_types (
    agent_id     TEXT NOT NULL,
    input_hash   TEXT NOT NULL,
    failure_type TEXT NOT NULL,
    runs         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, input_hash, failure_type)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS signal_type_days (
    agent_id      TEXT NOT NULL,
    day           INTEGER NOT NULL,
    failure_type  TEXT NOT NULL,
    agent_version TEXT NOT NULL,
    n             INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, day, failure_type, agent_version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run_starts (
    run_id     TEXT NOT NULL,
    agent_id   TEXT NOT NULL,
    last_start REAL NOT NULL,
    input_hash TEXT,
    PRIMARY KEY (run_id, agent_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_run_starts_agent ON run_starts(agent_id, last_start, input_hash);

-- ── runs: a processed run's own contribution (SUB for the old row, ADD for the new) ──────────
CREATE TRIGGER IF NOT EXISTS tr4_runs_insert AFTER INSERT ON runs BEGIN
    INSERT INTO run_hours(agent_id, hour, runs, failed, looped, tool_runs, tool_steps)
    SELECT NEW.agent_id, CAST(strftime('%s', NEW.processed_at, 'unixepoch') AS INTEGER) / 3600, 1,
           EXISTS (SELECT 1 FROM signals s WHERE s.run_id = NEW.run_id AND +s.agent_id = NEW.agent_id AND s.shadow = 0),
           EXISTS (SELECT 1 FROM signals s WHERE s.run_id = NEW.run_id AND +s.agent_id = NEW.agent_id AND s.shadow = 0 AND s.failure_type IN ('TOOL_LOOP', 'TOOL_THRASHING', 'TOOL_AVOIDANCE', 'STEP_COUNT_INFLATION', 'LLM_TRUNCATION_LOOP')),
           NEW.first_tool_step IS NOT NULL, COALESCE(NEW.first_tool_step, 0)
    WHERE NEW.processed_at IS NOT NULL
    ON CONFLICT(agent_id, hour) DO UPDATE SET runs = runs + 1, failed = failed + excluded.failed,
        looped = looped + excluded.looped, tool_runs = tool_runs + excluded.tool_runs,
        tool_steps = tool_steps + excluded.tool_steps;
    INSERT INTO run_type_hours(agent_id, hour, failure_type, runs, first_detected, last_detected)
    SELECT NEW.agent_id, CAST(strftime('%s', NEW.processed_at, 'unixepoch') AS INTEGER) / 3600, s.failure_type, 1, s.detected_at, s.detected_at
    FROM signals s WHERE NEW.processed_at IS NOT NULL AND s.run_id = NEW.run_id AND +s.agent_id = NEW.agent_id AND s.shadow = 0
    ON CONFLICT(agent_id, hour, failure_type) DO UPDATE SET runs = runs + 1,
        first_detected = MIN(COALESCE(first_detected, excluded.first_detected), excluded.first_detected),
        last_detected = MAX(COALESCE(last_detected, excluded.last_detected), excluded.last_detected);
    INSERT INTO agent_versions(agent_id, agent_version, runs, failed, signals)
    SELECT NEW.agent_id, NEW.agent_version, 1, EXISTS (SELECT 1 FROM signals s WHERE s.run_id = NEW.run_id AND +s.agent_id = NEW.agent_id AND s.shadow = 0),
           (SELECT COUNT(*) FROM signals s WHERE s.run_id = NEW.run_id AND +s.agent_id = NEW.agent_id AND s.shadow = 0)
    WHERE NEW.processed_at IS NOT NULL
    ON CONFLICT(agent_id, agent_version) DO UPDATE SET runs = runs + 1, failed = failed + excluded.failed,
        signals = signals + excluded.signals;
    INSERT INTO agent_tool_steps(agent_id, step, runs) SELECT NEW.agent_id, NEW.first_tool_step, 1
    WHERE NEW.processed_at IS NOT NULL AND NEW.first_tool_step IS NOT NULL
    ON CONFLICT(agent_id, step) DO UPDATE SET runs = runs + 1;
    INSERT INTO agent_inputs(agent_id, input_hash, runs) SELECT NEW.agent_id, NEW.input_hash, 1
    WHERE NEW.input_hash IS NOT NULL
    ON CONFLICT(agent_id, input_hash) DO UPDATE SET runs = runs + 1;
    INSERT INTO agent_input_types(agent_id, input_hash, failure_type, runs)
    SELECT NEW.agent_id, NEW.input_hash, s.failure_type, 1 FROM signals s
    WHERE NEW.input_hash IS NOT NULL AND s.run_id = NEW.run_id AND +s.agent_id = NEW.agent_id AND s.shadow = 0
    ON CONFLICT(agent_id, input_hash, failure_type) DO UPDATE SET runs = runs + 1;
END;
CREATE TRIGGER IF NOT EXISTS tr4_runs_delete AFTER DELETE ON runs BEGIN
    UPDATE run_hours SET runs = runs - 1,
        failed = failed - EXISTS (SELECT 1 FROM signals s WHERE s.run_id = OLD.run_id AND +s.agent_id = OLD.agent_id AND s.shadow = 0),
        looped = looped - EXISTS (SELECT 1 FROM signals s WHERE s.run_id = OLD.run_id AND +s.agent_id = OLD.agent_id AND s.shadow = 0 AND s.failure_type IN ('TOOL_LOOP', 'TOOL_THRASHING', 'TOOL_AVOIDANCE', 'STEP_COUNT_INFLATION', 'LLM_TRUNCATION_LOOP')),
        tool_runs = tool_runs - (OLD.first_tool_step IS NOT NULL), tool_steps = tool_steps - COALESCE(OLD.first_tool_step, 0)
    WHERE OLD.processed_at IS NOT NULL AND agent_id = OLD.agent_id AND hour = CAST(strftime('%s', OLD.processed_at, 'unixepoch') AS INTEGER) / 3600;
    UPDATE run_type_hours SET runs = runs - 1,
        first_detected = (SELECT MIN(s.detected_at) FROM runs r JOIN signals s ON s.run_id = r.run_id
            AND +s.agent_id = r.agent_id AND s.shadow = 0 AND s.failure_type = run_type_hours.failure_type
            WHERE r.agent_id = run_type_hours.agent_id AND r.processed_at >= run_type_hours.hour * 3600 - 1
              AND r.processed_at < run_type_hours.hour * 3600 + 3601
              AND CAST(strftime('%s', r.processed_at, 'unixepoch') AS INTEGER) / 3600 = run_type_hours.hour),
        last_detected = (SELECT MAX(s.detected_at) FROM runs r JOIN signals s ON s.run_id = r.run_id
            AND +s.agent_id = r.agent_id AND s.shadow = 0 AND s.failure_type = run_type_hours.failure_type
            WHERE r.agent_id = run_type_hours.agent_id AND r.processed_at >= run_type_hours.hour * 3600 - 1
              AND r.processed_at < run_type_hours.hour * 3600 + 3601
              AND CAST(strftime('%s', r.processed_at, 'unixepoch') AS INTEGER) / 3600 = run_type_hours.hour)
    WHERE OLD.processed_at IS NOT NULL AND agent_id = OLD.agent_id AND hour = CAST(strftime('%s', OLD.processed_at, 'unixepoch') AS INTEGER) / 3600
      AND failure_type IN (SELECT s.failure_type FROM signals s
                           WHERE s.run_id = OLD.run_id AND +s.agent_id = OLD.agent_id AND s.shadow = 0);
    UPDATE agent_versions SET runs = runs - 1, failed = failed - EXISTS (SELECT 1 FROM signals s WHERE s.run_id = OLD.run_id AND +s.agent_id = OLD.agent_id AND s.shadow = 0),
        signals = signals - (SELECT COUNT(*) FROM signals s WHERE s.run_id = OLD.run_id AND +s.agent_id = OLD.agent_id AND s.shadow = 0)
    WHERE OLD.processed_at IS NOT NULL AND agent_id = OLD.agent_id AND agent_version = OLD.agent_version;
    UPDATE agent_tool_steps SET runs = runs - 1
    WHERE OLD.processed_at IS NOT NULL AND agent_id = OLD.agent_id AND step = OLD.first_tool_step;
    UPDATE agent_inputs SET runs = runs - 1 WHERE OLD.input_hash IS NOT NULL AND agent_id = OLD.agent_id
      AND input_hash = OLD.input_hash;
    UPDATE agent_input_types SET runs = runs - 1
    WHERE OLD.input_hash IS NOT NULL AND agent_id = OLD.agent_id AND input_hash = OLD.input_hash
      AND failure_type IN (SELECT s.failure_type FROM signals s
                           WHERE s.run_id = OLD.run_id AND +s.agent_id = OLD.agent_id AND s.shadow = 0);
    DELETE FROM run_starts WHERE run_id = OLD.run_id;
END;
CREATE TRIGGER IF NOT EXISTS tr4_runs_update AFTER UPDATE OF processed_at, agent_id, agent_version, first_tool_step ON runs
WHEN (OLD.processed_at IS NOT NULL OR NEW.processed_at IS NOT NULL) AND (OLD.processed_at IS NOT NEW.processed_at OR OLD.agent_id IS NOT NEW.agent_id OR OLD.agent_version IS NOT NEW.agent_version OR OLD.first_tool_step IS NOT NEW.first_tool_step) BEGIN
    UPDATE run_hours SET runs = runs - 1,
        failed = failed - EXISTS (SELECT 1 FROM signals s WHERE s.run_id = OLD.run_id AND +s.agent_id = OLD.agent_id AND s.shadow = 0),
        looped = looped - EXISTS (SELECT 1 FROM signals s WHERE s.run_id = OLD.run_id AND +s.agent_id = OLD.agent_id AND s.shadow = 0 AND s.failure_type IN ('TOOL_LOOP', 'TOOL_THRASHING', 'TOOL_AVOIDANCE', 'STEP_COUNT_INFLATION', 'LLM_TRUNCATION_LOOP')),
        tool_runs = tool_runs - (OLD.first_tool_step IS NOT NULL), tool_steps = tool_steps - COALESCE(OLD.first_tool_step, 0)
    WHERE OLD.processed_at IS NOT NULL AND agent_id = OLD.agent_id AND hour = CAST(strftime('%s', OLD.processed_at, 'unixepoch') AS INTEGER) / 3600;
    UPDATE run_type_hours SET runs = runs - 1,
        first_detected = (SELECT MIN(s.detected_at) FROM runs r JOIN signals s ON s.run_id = r.run_id
            AND +s.agent_id = r.agent_id AND s.shadow = 0 AND s.failure_type = run_type_hours.failure_type
            WHERE r.agent_id = run_type_hours.agent_id AND r.processed_at >= run_type_hours.hour * 3600 - 1
              AND r.processed_at < run_type_hours.hour * 3600 + 3601
              AND CAST(strftime('%s', r.processed_at, 'unixepoch') AS INTEGER) / 3600 = run_type_hours.hour),
        last_detected = (SELECT MAX(s.detected_at) FROM runs r JOIN signals s ON s.run_id = r.run_id
            AND +s.agent_id = r.agent_id AND s.shadow = 0 AND s.failure_type = run_type_hours.failure_type
            WHERE r.agent_id = run_type_hours.agent_id AND r.processed_at >= run_type_hours.hour * 3600 - 1
              AND r.processed_at < run_type_hours.hour * 3600 + 3601
              AND CAST(strftime('%s', r.processed_at, 'unixepoch') AS INTEGER) / 3600 = run_type_hours.hour)
    WHERE OLD.processed_at IS NOT NULL AND agent_id = OLD.agent_id AND hour = CAST(strftime('%s', OLD.processed_at, 'unixepoch') AS INTEGER) / 3600
      AND failure_type IN (SELECT s.failure_type FROM signals s
                           WHERE s.run_id = OLD.run_id AND +s.agent_id = OLD.agent_id AND s.shadow = 0);
    UPDATE agent_versions SET runs = runs - 1, failed = failed - EXISTS (SELECT 1 FROM signals s WHERE s.run_id = OLD.run_id AND +s.agent_id = OLD.agent_id AND s.shadow = 0),
        signals = signals - (SELECT COUNT(*) FROM signals s WHERE s.run_id = OLD.run_id AND +s.agent_id = OLD.agent_id AND s.shadow = 0)
    WHERE OLD.processed_at IS NOT NULL AND agent_id = OLD.agent_id AND agent_version = OLD.agent_version;
    UPDATE agent_tool_steps SET runs = runs - 1
    WHERE OLD.processed_at IS NOT NULL AND agent_id = OLD.agent_id AND step = OLD.first_tool_step;
    INSERT INTO run_hours(agent_id, hour, runs, failed, looped, tool_runs, tool_steps)
    SELECT NEW.agent_id, CAST(strftime('%s', NEW.processed_at, 'unixepoch') AS INTEGER) / 3600, 1,
           EXISTS (SELECT 1 FROM signals s WHERE s.run_id = NEW.run_id AND +s.agent_id = NEW.agent_id AND s.shadow = 0),
           EXISTS (SELECT 1 FROM signals s WHERE s.run_id = NEW.run_id AND +s.agent_id = NEW.agent_id AND s.shadow = 0 AND s.failure_type IN ('TOOL_LOOP', 'TOOL_THRASHING', 'TOOL_AVOIDANCE', 'STEP_COUNT_INFLATION', 'LLM_TRUNCATION_LOOP')),
           NEW.first_tool_step IS NOT NULL, COALESCE(NEW.first_tool_step, 0)
    WHERE NEW.processed_at IS NOT NULL
    ON CONFLICT(agent_id, hour) DO UPDATE SET runs = runs + 1, failed = failed + excluded.failed,
        looped = looped + excluded.looped, tool_runs = tool_runs + excluded.tool_runs,
        tool_steps = tool_steps + excluded.tool_steps;
    INSERT INTO run_type_hours(agent_id, hour, failure_type, runs, first_detected, last_detected)
    SELECT NEW.agent_id, CAST(strftime('%s', NEW.processed_at, 'unixepoch') AS INTEGER) / 3600, s.failure_type, 1, s.detected_at, s.detected_at
    FROM signals s WHERE NEW.processed_at IS NOT NULL AND s.run_id = NEW.run_id AND +s.agent_id = NEW.agent_id AND s.shadow = 0
    ON CONFLICT(agent_id, hour, failure_type) DO UPDATE SET runs = runs + 1,
        first_detected = MIN(COALESCE(first_detected, excluded.first_detected), excluded.first_detected),
        last_detected = MAX(COALESCE(last_detected, excluded.last_detected), excluded.last_detected);
    INSERT INTO agent_versions(agent_id, agent_version, runs, failed, signals)
    SELECT NEW.agent_id, NEW.agent_version, 1, EXISTS (SELECT 1 FROM signals s WHERE s.run_id = NEW.run_id AND +s.agent_id = NEW.agent_id AND s.shadow = 0),
           (SELECT COUNT(*) FROM signals s WHERE s.run_id = NEW.run_id AND +s.agent_id = NEW.agent_id AND s.shadow = 0)
    WHERE NEW.processed_at IS NOT NULL
    ON CONFLICT(agent_id, agent_version) DO UPDATE SET runs = runs + 1, failed = failed + excluded.failed,
        signals = signals + excluded.signals;
    INSERT INTO agent_tool_steps(agent_id, step, runs) SELECT NEW.agent_id, NEW.first_tool_step, 1
    WHERE NEW.processed_at IS NOT NULL AND NEW.first_tool_step IS NOT NULL
    ON CONFLICT(agent_id, step) DO UPDATE SET runs = runs + 1;
END;
CREATE TRIGGER IF NOT EXISTS tr4_runs_input AFTER UPDATE OF input_hash, agent_id ON runs
WHEN OLD.input_hash IS NOT NEW.input_hash OR (OLD.agent_id IS NOT NEW.agent_id AND NEW.input_hash IS NOT NULL) BEGIN
    UPDATE agent_inputs SET runs = runs - 1 WHERE OLD.input_hash IS NOT NULL AND agent_id = OLD.agent_id
      AND input_hash = OLD.input_hash;
    UPDATE agent_input_types SET runs = runs - 1
    WHERE OLD.input_hash IS NOT NULL AND agent_id = OLD.agent_id AND input_hash = OLD.input_hash
      AND failure_type IN (SELECT s.failure_type FROM signals s
                           WHERE s.run_id = OLD.run_id AND +s.agent_id = OLD.agent_id AND s.shadow = 0);
    INSERT INTO agent_inputs(agent_id, input_hash, runs) SELECT NEW.agent_id, NEW.input_hash, 1
    WHERE NEW.input_hash IS NOT NULL
    ON CONFLICT(agent_id, input_hash) DO UPDATE SET runs = runs + 1;
    INSERT INTO agent_input_types(agent_id, input_hash, failure_type, runs)
    SELECT NEW.agent_id, NEW.input_hash, s.failure_type, 1 FROM signals s
    WHERE NEW.input_hash IS NOT NULL AND s.run_id = NEW.run_id AND +s.agent_id = NEW.agent_id AND s.shadow = 0
    ON CONFLICT(agent_id, input_hash, failure_type) DO UPDATE SET runs = runs + 1;
    UPDATE run_starts SET input_hash = NEW.input_hash WHERE run_id = NEW.run_id;
END;

-- ── signals: a live signal's contribution (the run's flags change only when it is the first/last) ──
CREATE TRIGGER IF NOT EXISTS tr4_signals_insert AFTER INSERT ON signals WHEN NEW.shadow = 0 BEGIN
    UPDATE run_hours SET failed = failed + NOT EXISTS (SELECT 1 FROM signals o WHERE o.run_id = NEW.run_id AND +o.agent_id = NEW.agent_id AND o.shadow = 0 AND o.id != NEW.id),
        looped = looped + (NEW.failure_type IN ('TOOL_LOOP', 'TOOL_THRASHING', 'TOOL_AVOIDANCE', 'STEP_COUNT_INFLATION', 'LLM_TRUNCATION_LOOP') AND NOT EXISTS (SELECT 1 FROM signals o WHERE o.run_id = NEW.run_id AND +o.agent_id = NEW.agent_id AND o.shadow = 0 AND o.id != NEW.id AND o.failure_type IN ('TOOL_LOOP', 'TOOL_THRASHING', 'TOOL_AVOIDANCE', 'STEP_COUNT_INFLATION', 'LLM_TRUNCATION_LOOP')))
    WHERE NEW.shadow = 0 AND agent_id = NEW.agent_id AND hour = (SELECT CAST(strftime('%s', r.processed_at, 'unixepoch') AS INTEGER) / 3600 FROM runs r WHERE r.run_id = NEW.run_id AND +r.agent_id = NEW.agent_id AND r.processed_at IS NOT NULL);
    UPDATE agent_versions SET failed = failed + NOT EXISTS (SELECT 1 FROM signals o WHERE o.run_id = NEW.run_id AND +o.agent_id = NEW.agent_id AND o.shadow = 0 AND o.id != NEW.id), signals = signals + 1
    WHERE NEW.shadow = 0 AND agent_id = NEW.agent_id AND agent_version = (SELECT r.agent_version FROM runs r WHERE r.run_id = NEW.run_id AND +r.agent_id = NEW.agent_id AND r.processed_at IS NOT NULL);
    INSERT INTO run_type_hours(agent_id, hour, failure_type, runs, first_detected, last_detected)
    SELECT r.agent_id, CAST(strftime('%s', r.processed_at, 'unixepoch') AS INTEGER) / 3600, NEW.failure_type, 1, NEW.detected_at, NEW.detected_at
    FROM runs r WHERE NEW.shadow = 0 AND r.run_id = NEW.run_id AND +r.agent_id = NEW.agent_id AND r.processed_at IS NOT NULL
    ON CONFLICT(agent_id, hour, failure_type) DO UPDATE SET runs = runs + 1,
        first_detected = MIN(COALESCE(first_detected, excluded.first_detected), excluded.first_detected),
        last_detected = MAX(COALESCE(last_detected, excluded.last_detected), excluded.last_detected);
    INSERT INTO agent_input_types(agent_id, input_hash, failure_type, runs)
    SELECT r.agent_id, r.input_hash, NEW.failure_type, 1
    FROM runs r WHERE NEW.shadow = 0 AND r.run_id = NEW.run_id AND +r.agent_id = NEW.agent_id AND r.input_hash IS NOT NULL
    ON CONFLICT(agent_id, input_hash, failure_type) DO UPDATE SET runs = runs + 1;
    INSERT INTO signal_type_days(agent_id, day, failure_type, agent_version, n)
    SELECT NEW.agent_id, CAST(strftime('%s', NEW.detected_at, 'unixepoch') AS INTEGER) / 86400, NEW.failure_type, NEW.agent_version, 1 WHERE NEW.shadow = 0
    ON CONFLICT(agent_id, day, failure_type, agent_version) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS tr4_signals_delete AFTER DELETE ON signals WHEN OLD.shadow = 0 BEGIN
    UPDATE run_hours SET failed = failed - NOT EXISTS (SELECT 1 FROM signals o WHERE o.run_id = OLD.run_id AND +o.agent_id = OLD.agent_id AND o.shadow = 0 AND o.id != OLD.id),
        looped = looped - (OLD.failure_type IN ('TOOL_LOOP', 'TOOL_THRASHING', 'TOOL_AVOIDANCE', 'STEP_COUNT_INFLATION', 'LLM_TRUNCATION_LOOP') AND NOT EXISTS (SELECT 1 FROM signals o WHERE o.run_id = OLD.run_id AND +o.agent_id = OLD.agent_id AND o.shadow = 0 AND o.id != OLD.id AND o.failure_type IN ('TOOL_LOOP', 'TOOL_THRASHING', 'TOOL_AVOIDANCE', 'STEP_COUNT_INFLATION', 'LLM_TRUNCATION_LOOP')))
    WHERE OLD.shadow = 0 AND agent_id = OLD.agent_id AND hour = (SELECT CAST(strftime('%s', r.processed_at, 'unixepoch') AS INTEGER) / 3600 FROM runs r WHERE r.run_id = OLD.run_id AND +r.agent_id = OLD.agent_id AND r.processed_at IS NOT NULL);
    UPDATE agent_versions SET failed = failed - NOT EXISTS (SELECT 1 FROM signals o WHERE o.run_id = OLD.run_id AND +o.agent_id = OLD.agent_id AND o.shadow = 0 AND o.id != OLD.id), signals = signals - 1
    WHERE OLD.shadow = 0 AND agent_id = OLD.agent_id AND agent_version = (SELECT r.agent_version FROM runs r WHERE r.run_id = OLD.run_id AND +r.agent_id = OLD.agent_id AND r.processed_at IS NOT NULL);
    UPDATE run_type_hours SET runs = runs - 1,
        first_detected = (SELECT MIN(s.detected_at) FROM runs r JOIN signals s ON s.run_id = r.run_id
            AND +s.agent_id = r.agent_id AND s.shadow = 0 AND s.failure_type = run_type_hours.failure_type
            WHERE r.agent_id = run_type_hours.agent_id AND r.processed_at >= run_type_hours.hour * 3600 - 1
              AND r.processed_at < run_type_hours.hour * 3600 + 3601
              AND CAST(strftime('%s', r.processed_at, 'unixepoch') AS INTEGER) / 3600 = run_type_hours.hour),
        last_detected = (SELECT MAX(s.detected_at) FROM runs r JOIN signals s ON s.run_id = r.run_id
            AND +s.agent_id = r.agent_id AND s.shadow = 0 AND s.failure_type = run_type_hours.failure_type
            WHERE r.agent_id = run_type_hours.agent_id AND r.processed_at >= run_type_hours.hour * 3600 - 1
              AND r.processed_at < run_type_hours.hour * 3600 + 3601
              AND CAST(strftime('%s', r.processed_at, 'unixepoch') AS INTEGER) / 3600 = run_type_hours.hour)
    WHERE OLD.shadow = 0 AND agent_id = OLD.agent_id AND failure_type = OLD.failure_type
      AND hour = (SELECT CAST(strftime('%s', r.processed_at, 'unixepoch') AS INTEGER) / 3600 FROM runs r WHERE r.run_id = OLD.run_id AND +r.agent_id = OLD.agent_id AND r.processed_at IS NOT NULL);
    UPDATE agent_input_types SET runs = runs - 1
    WHERE OLD.shadow = 0 AND agent_id = OLD.agent_id AND failure_type = OLD.failure_type
      AND input_hash = (SELECT r.input_hash FROM runs r WHERE r.run_id = OLD.run_id AND +r.agent_id = OLD.agent_id);
    UPDATE signal_type_days SET n = n - 1
    WHERE OLD.shadow = 0 AND agent_id = OLD.agent_id AND day = CAST(strftime('%s', OLD.detected_at, 'unixepoch') AS INTEGER) / 86400
      AND failure_type = OLD.failure_type AND agent_version = OLD.agent_version;
END;
CREATE TRIGGER IF NOT EXISTS tr4_signals_update AFTER UPDATE OF shadow, agent_id, failure_type, detected_at, agent_version, run_id ON signals
WHEN (OLD.shadow = 0 OR NEW.shadow = 0) AND (OLD.shadow IS NOT NEW.shadow OR OLD.agent_id IS NOT NEW.agent_id OR OLD.failure_type IS NOT NEW.failure_type OR OLD.detected_at IS NOT NEW.detected_at OR OLD.agent_version IS NOT NEW.agent_version OR OLD.run_id IS NOT NEW.run_id) BEGIN
    UPDATE run_hours SET failed = failed - NOT EXISTS (SELECT 1 FROM signals o WHERE o.run_id = OLD.run_id AND +o.agent_id = OLD.agent_id AND o.shadow = 0 AND o.id != OLD.id),
        looped = looped - (OLD.failure_type IN ('TOOL_LOOP', 'TOOL_THRASHING', 'TOOL_AVOIDANCE', 'STEP_COUNT_INFLATION', 'LLM_TRUNCATION_LOOP') AND NOT EXISTS (SELECT 1 FROM signals o WHERE o.run_id = OLD.run_id AND +o.agent_id = OLD.agent_id AND o.shadow = 0 AND o.id != OLD.id AND o.failure_type IN ('TOOL_LOOP', 'TOOL_THRASHING', 'TOOL_AVOIDANCE', 'STEP_COUNT_INFLATION', 'LLM_TRUNCATION_LOOP')))
    WHERE OLD.shadow = 0 AND agent_id = OLD.agent_id AND hour = (SELECT CAST(strftime('%s', r.processed_at, 'unixepoch') AS INTEGER) / 3600 FROM runs r WHERE r.run_id = OLD.run_id AND +r.agent_id = OLD.agent_id AND r.processed_at IS NOT NULL);
    UPDATE agent_versions SET failed = failed - NOT EXISTS (SELECT 1 FROM signals o WHERE o.run_id = OLD.run_id AND +o.agent_id = OLD.agent_id AND o.shadow = 0 AND o.id != OLD.id), signals = signals - 1
    WHERE OLD.shadow = 0 AND agent_id = OLD.agent_id AND agent_version = (SELECT r.agent_version FROM runs r WHERE r.run_id = OLD.run_id AND +r.agent_id = OLD.agent_id AND r.processed_at IS NOT NULL);
    UPDATE run_type_hours SET runs = runs - 1,
        first_detected = (SELECT MIN(s.detected_at) FROM runs r JOIN signals s ON s.run_id = r.run_id
            AND +s.agent_id = r.agent_id AND s.shadow = 0 AND s.failure_type = run_type_hours.failure_type
            WHERE r.agent_id = run_type_hours.agent_id AND r.processed_at >= run_type_hours.hour * 3600 - 1
              AND r.processed_at < run_type_hours.hour * 3600 + 3601
              AND CAST(strftime('%s', r.processed_at, 'unixepoch') AS INTEGER) / 3600 = run_type_hours.hour),
        last_detected = (SELECT MAX(s.detected_at) FROM runs r JOIN signals s ON s.run_id = r.run_id
            AND +s.agent_id = r.agent_id AND s.shadow = 0 AND s.failure_type = run_type_hours.failure_type
            WHERE r.agent_id = run_type_hours.agent_id AND r.processed_at >= run_type_hours.hour * 3600 - 1
              AND r.processed_at < run_type_hours.hour * 3600 + 3601
              AND CAST(strftime('%s', r.processed_at, 'unixepoch') AS INTEGER) / 3600 = run_type_hours.hour)
    WHERE OLD.shadow = 0 AND agent_id = OLD.agent_id AND failure_type = OLD.failure_type
      AND hour = (SELECT CAST(strftime('%s', r.processed_at, 'unixepoch') AS INTEGER) / 3600 FROM runs r WHERE r.run_id = OLD.run_id AND +r.agent_id = OLD.agent_id AND r.processed_at IS NOT NULL);
    UPDATE agent_input_types SET runs = runs - 1
    WHERE OLD.shadow = 0 AND agent_id = OLD.agent_id AND failure_type = OLD.failure_type
      AND input_hash = (SELECT r.input_hash FROM runs r WHERE r.run_id = OLD.run_id AND +r.agent_id = OLD.agent_id);
    UPDATE signal_type_days SET n = n - 1
    WHERE OLD.shadow = 0 AND agent_id = OLD.agent_id AND day = CAST(strftime('%s', OLD.detected_at, 'unixepoch') AS INTEGER) / 86400
      AND failure_type = OLD.failure_type AND agent_version = OLD.agent_version;
    UPDATE run_hours SET failed = failed + NOT EXISTS (SELECT 1 FROM signals o WHERE o.run_id = NEW.run_id AND +o.agent_id = NEW.agent_id AND o.shadow = 0 AND o.id != NEW.id),
        looped = looped + (NEW.failure_type IN ('TOOL_LOOP', 'TOOL_THRASHING', 'TOOL_AVOIDANCE', 'STEP_COUNT_INFLATION', 'LLM_TRUNCATION_LOOP') AND NOT EXISTS (SELECT 1 FROM signals o WHERE o.run_id = NEW.run_id AND +o.agent_id = NEW.agent_id AND o.shadow = 0 AND o.id != NEW.id AND o.failure_type IN ('TOOL_LOOP', 'TOOL_THRASHING', 'TOOL_AVOIDANCE', 'STEP_COUNT_INFLATION', 'LLM_TRUNCATION_LOOP')))
    WHERE NEW.shadow = 0 AND agent_id = NEW.agent_id AND hour = (SELECT CAST(strftime('%s', r.processed_at, 'unixepoch') AS INTEGER) / 3600 FROM runs r WHERE r.run_id = NEW.run_id AND +r.agent_id = NEW.agent_id AND r.processed_at IS NOT NULL);
    UPDATE agent_versions SET failed = failed + NOT EXISTS (SELECT 1 FROM signals o WHERE o.run_id = NEW.run_id AND +o.agent_id = NEW.agent_id AND o.shadow = 0 AND o.id != NEW.id), signals = signals + 1
    WHERE NEW.shadow = 0 AND agent_id = NEW.agent_id AND agent_version = (SELECT r.agent_version FROM runs r WHERE r.run_id = NEW.run_id AND +r.agent_id = NEW.agent_id AND r.processed_at IS NOT NULL);
    INSERT INTO run_type_hours(agent_id, hour, failure_type, runs, first_detected, last_detected)
    SELECT r.agent_id, CAST(strftime('%s', r.processed_at, 'unixepoch') AS INTEGER) / 3600, NEW.failure_type, 1, NEW.detected_at, NEW.detected_at
    FROM runs r WHERE NEW.shadow = 0 AND r.run_id = NEW.run_id AND +r.agent_id = NEW.agent_id AND r.processed_at IS NOT NULL
    ON CONFLICT(agent_id, hour, failure_type) DO UPDATE SET runs = runs + 1,
        first_detected = MIN(COALESCE(first_detected, excluded.first_detected), excluded.first_detected),
        last_detected = MAX(COALESCE(last_detected, excluded.last_detected), excluded.last_detected);
    INSERT INTO agent_input_types(agent_id, input_hash, failure_type, runs)
    SELECT r.agent_id, r.input_hash, NEW.failure_type, 1
    FROM runs r WHERE NEW.shadow = 0 AND r.run_id = NEW.run_id AND +r.agent_id = NEW.agent_id AND r.input_hash IS NOT NULL
    ON CONFLICT(agent_id, input_hash, failure_type) DO UPDATE SET runs = runs + 1;
    INSERT INTO signal_type_days(agent_id, day, failure_type, agent_version, n)
    SELECT NEW.agent_id, CAST(strftime('%s', NEW.detected_at, 'unixepoch') AS INTEGER) / 86400, NEW.failure_type, NEW.agent_version, 1 WHERE NEW.shadow = 0
    ON CONFLICT(agent_id, day, failure_type, agent_version) DO UPDATE SET n = n + 1;
END;

-- ── token stats and insights' cost: one covering-index range per read, no table rows ─────────────
-- run_llm carries its run's live signal types (of the run's own agent, sorted) and their first detection,
-- kept by the triggers below, so a read needs no signal lookup per run.
ALTER TABLE run_llm ADD COLUMN live_types TEXT;
ALTER TABLE run_llm ADD COLUMN live_first REAL;
DROP INDEX IF EXISTS ix_run_llm_agent;
CREATE INDEX IF NOT EXISTS ix_run_llm_agent_cover ON run_llm(agent_id, first_received_at, agent_version, model,
    prompt_responded, prompt_called, completion, reasoning, live_types, live_first, run_id);
CREATE INDEX IF NOT EXISTS ix_signals_live_agent_detected ON signals(agent_id, detected_at, run_id, failure_type)
    WHERE shadow = 0;
CREATE TRIGGER IF NOT EXISTS tr4_run_llm_insert AFTER INSERT ON run_llm BEGIN
    UPDATE run_llm SET
        live_types = (SELECT group_concat(failure_type, ',') FROM (SELECT s.failure_type FROM signals s
                      WHERE s.run_id = NEW.run_id AND +s.agent_id = NEW.agent_id AND s.shadow = 0 ORDER BY 1)),
        live_first = (SELECT MIN(s.detected_at) FROM signals s
                      WHERE s.run_id = NEW.run_id AND +s.agent_id = NEW.agent_id AND s.shadow = 0)
    WHERE run_id = NEW.run_id;
END;
CREATE TRIGGER IF NOT EXISTS tr4_signals_llm_insert AFTER INSERT ON signals WHEN NEW.shadow = 0 BEGIN
    UPDATE run_llm SET
        live_types = (SELECT group_concat(failure_type, ',') FROM (SELECT s.failure_type FROM signals s
                      WHERE s.run_id = run_llm.run_id AND +s.agent_id = run_llm.agent_id AND s.shadow = 0 ORDER BY 1)),
        live_first = (SELECT MIN(s.detected_at) FROM signals s
                      WHERE s.run_id = run_llm.run_id AND +s.agent_id = run_llm.agent_id AND s.shadow = 0)
    WHERE run_id = NEW.run_id;
END;
CREATE TRIGGER IF NOT EXISTS tr4_signals_llm_delete AFTER DELETE ON signals WHEN OLD.shadow = 0 BEGIN
    UPDATE run_llm SET
        live_types = (SELECT group_concat(failure_type, ',') FROM (SELECT s.failure_type FROM signals s
                      WHERE s.run_id = run_llm.run_id AND +s.agent_id = run_llm.agent_id AND s.shadow = 0 ORDER BY 1)),
        live_first = (SELECT MIN(s.detected_at) FROM signals s
                      WHERE s.run_id = run_llm.run_id AND +s.agent_id = run_llm.agent_id AND s.shadow = 0)
    WHERE run_id = OLD.run_id;
END;
CREATE TRIGGER IF NOT EXISTS tr4_signals_llm_update AFTER UPDATE OF shadow, agent_id, failure_type, detected_at, run_id
ON signals WHEN (OLD.shadow = 0 OR NEW.shadow = 0) AND (OLD.shadow IS NOT NEW.shadow OR OLD.agent_id IS NOT NEW.agent_id
    OR OLD.failure_type IS NOT NEW.failure_type OR OLD.detected_at IS NOT NEW.detected_at OR OLD.run_id IS NOT NEW.run_id) BEGIN
    UPDATE run_llm SET
        live_types = (SELECT group_concat(failure_type, ',') FROM (SELECT s.failure_type FROM signals s
                      WHERE s.run_id = run_llm.run_id AND +s.agent_id = run_llm.agent_id AND s.shadow = 0 ORDER BY 1)),
        live_first = (SELECT MIN(s.detected_at) FROM signals s
                      WHERE s.run_id = run_llm.run_id AND +s.agent_id = run_llm.agent_id AND s.shadow = 0)
    WHERE run_id IN (OLD.run_id, NEW.run_id);
END;
