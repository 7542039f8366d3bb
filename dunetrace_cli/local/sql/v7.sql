-- v7: the triggers a new runs row and a new run_llm row fire can be deferred the same way (agg_defer, v6) by a
-- writer that then applies the same changes set-based, once per batch (aggregates_defer.new_rows, used by
-- write_events): per new run the agent's run count and last arrival, its input's runs and failure types
-- (its processed-run parts find processed_at NULL in every row write_events inserts); per new run_llm row
-- its live signal types. Every other writer keeps the v3/v4 behaviour exactly; the bodies are v3's and v4's.
-- ix_run_metrics_version(agent_id, agent_version, processed_at) goes: no read uses it since v2 (the baselines
-- read by run_time), and every first detection wrote it.
DROP TRIGGER IF EXISTS tr_runs_insert;
CREATE TRIGGER IF NOT EXISTS tr_runs_insert AFTER INSERT ON runs
WHEN NOT EXISTS (SELECT 1 FROM agg_defer) BEGIN
    INSERT INTO agent_stats(agent_id, last_seen, run_count) VALUES (NEW.agent_id, NEW.last_received_at, 1)
    ON CONFLICT(agent_id) DO UPDATE SET run_count = run_count + 1,
        last_seen = MAX(COALESCE(last_seen, excluded.last_seen), COALESCE(excluded.last_seen, last_seen));
END;
DROP TRIGGER IF EXISTS tr4_runs_insert;
CREATE TRIGGER IF NOT EXISTS tr4_runs_insert AFTER INSERT ON runs
WHEN NOT EXISTS (SELECT 1 FROM agg_defer) BEGIN
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
DROP TRIGGER IF EXISTS tr4_run_llm_insert;
CREATE TRIGGER IF NOT EXISTS tr4_run_llm_insert AFTER INSERT ON run_llm
WHEN NOT EXISTS (SELECT 1 FROM agg_defer) BEGIN
    UPDATE run_llm SET
        live_types = (SELECT group_concat(failure_type, ',') FROM (SELECT s.failure_type FROM signals s
                      WHERE s.run_id = NEW.run_id AND +s.agent_id = NEW.agent_id AND s.shadow = 0 ORDER BY 1)),
        live_first = (SELECT MIN(s.detected_at) FROM signals s
                      WHERE s.run_id = NEW.run_id AND +s.agent_id = NEW.agent_id AND s.shadow = 0)
    WHERE run_id = NEW.run_id;
END;
DROP INDEX IF EXISTS ix_run_metrics_version;
