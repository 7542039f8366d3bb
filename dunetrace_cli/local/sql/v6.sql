-- v6: the aggregate triggers a first detection fires (a live signal inserted, a run's processed_at set) can
-- be deferred by a writer that then applies the same changes set-based, once per batch
-- (aggregates_defer.first_detections): while agg_defer holds a row, inside that writer's transaction only, these
-- four triggers do nothing. Every other writer (no row: the table is empty outside that transaction) keeps
-- the v3/v4 behaviour exactly; the bodies below are v3's and v4's, unchanged.
CREATE TABLE IF NOT EXISTS agg_defer (on_ INTEGER NOT NULL);
DROP TRIGGER IF EXISTS tr_signals_insert;
CREATE TRIGGER IF NOT EXISTS tr_signals_insert AFTER INSERT ON signals
WHEN NOT EXISTS (SELECT 1 FROM agg_defer) AND (NEW.shadow = 0) BEGIN
    INSERT INTO agent_signal_types(agent_id, failure_type, severity, n) VALUES (NEW.agent_id, NEW.failure_type, NEW.severity, 1)
    ON CONFLICT(agent_id, failure_type, severity) DO UPDATE SET n = n + 1;
    INSERT INTO agent_signal_days(agent_id, day, n) VALUES (NEW.agent_id, CAST(NEW.detected_at / 86400 AS INTEGER), 1)
    ON CONFLICT(agent_id, day) DO UPDATE SET n = n + 1;
END;
DROP TRIGGER IF EXISTS tr4_signals_insert;
CREATE TRIGGER IF NOT EXISTS tr4_signals_insert AFTER INSERT ON signals
WHEN NOT EXISTS (SELECT 1 FROM agg_defer) AND (NEW.shadow = 0) BEGIN
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
DROP TRIGGER IF EXISTS tr4_signals_llm_insert;
CREATE TRIGGER IF NOT EXISTS tr4_signals_llm_insert AFTER INSERT ON signals
WHEN NOT EXISTS (SELECT 1 FROM agg_defer) AND (NEW.shadow = 0) BEGIN
    UPDATE run_llm SET
        live_types = (SELECT group_concat(failure_type, ',') FROM (SELECT s.failure_type FROM signals s
                      WHERE s.run_id = run_llm.run_id AND +s.agent_id = run_llm.agent_id AND s.shadow = 0 ORDER BY 1)),
        live_first = (SELECT MIN(s.detected_at) FROM signals s
                      WHERE s.run_id = run_llm.run_id AND +s.agent_id = run_llm.agent_id AND s.shadow = 0)
    WHERE run_id = NEW.run_id;
END;
DROP TRIGGER IF EXISTS tr4_runs_update;
CREATE TRIGGER IF NOT EXISTS tr4_runs_update AFTER UPDATE OF processed_at, agent_id, agent_version, first_tool_step ON runs
WHEN NOT EXISTS (SELECT 1 FROM agg_defer) AND ((OLD.processed_at IS NOT NULL OR NEW.processed_at IS NOT NULL) AND (OLD.processed_at IS NOT NEW.processed_at OR OLD.agent_id IS NOT NEW.agent_id OR OLD.agent_version IS NOT NEW.agent_version OR OLD.first_tool_step IS NOT NEW.first_tool_step)) BEGIN
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
END
