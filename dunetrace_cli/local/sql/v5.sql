-- v5: the events table without its global event_id index, which a store's size slowed every insert with.
-- An event is the same event when its run and its id match (UNIQUE(run_id, event_id)): the SDK's ids are
-- uuid4s, so one global index on them takes every insert to a random page of a tree as large as the store,
-- while (run_id, event_id) keeps the events of one run on the same pages and also serves the run lookups
-- ix_events_run(run_id, step_index, timestamp) served (those reads sort a run's events themselves).
-- ix_events_agent_received(agent_id, received_at) goes: every read of it also filters on event_type and
-- takes ix_events_agent_type_received. Rows keep their seq; the AUTOINCREMENT high-water mark is carried.
CREATE TABLE events_v5 (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT NOT NULL,
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
INSERT INTO events_v5(seq, event_id, run_id, agent_id, agent_version, event_type, step_index, timestamp,
                      parent_run_id, trace_id, conversation_id, payload, received_at)
    SELECT seq, event_id, run_id, agent_id, agent_version, event_type, step_index, timestamp,
           parent_run_id, trace_id, conversation_id, payload, received_at FROM events ORDER BY seq;
DELETE FROM sqlite_sequence WHERE name = 'events_v5';
INSERT INTO sqlite_sequence(name, seq) SELECT 'events_v5', seq FROM sqlite_sequence WHERE name = 'events';
DROP TABLE events;
ALTER TABLE events_v5 RENAME TO events;
CREATE UNIQUE INDEX IF NOT EXISTS ix_events_run_event ON events(run_id, event_id);
CREATE INDEX IF NOT EXISTS ix_events_agent_type_received ON events(agent_id, event_type, received_at);
CREATE INDEX IF NOT EXISTS ix_events_received ON events(received_at);
