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
