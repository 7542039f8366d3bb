"""Store, schema, ingest bookkeeping and detection rules."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from dunetrace_cli.errors import ConfigError
from dunetrace_cli.local import detect, schema
from dunetrace_cli.local.ingest import (
    ValidationFailed,
    normalize_event,
    parse_line,
    validate_batch,
    write_events,
)
from dunetrace_cli.local.paths import default_db_path, resolve_db_path
from dunetrace_cli.local.store import open_store


# ── helpers ───────────────────────────────────────────────────────────────────────────────────
def ev(run_id: str, event_type: str, step: int, ts: float, payload: dict | None = None, **kw) -> dict:
    base = {
        "event_type": event_type,
        "run_id": run_id,
        "agent_id": kw.pop("agent_id", "agent-a"),
        "agent_version": kw.pop("agent_version", "v1"),
        "step_index": step,
        "timestamp": ts,
        "payload": payload or {},
        "parent_run_id": kw.pop("parent_run_id", None),
        "trace_id": None,
        "conversation_id": None,
        "event_id": kw.pop("event_id", str(uuid.uuid4())),
    }
    base.update(kw)
    return base


def looping_run(run_id: str, t0: float = 1000.0, *, repeats: int = 6, terminal: bool = True, **kw) -> list[dict]:
    out = [ev(run_id, "run.started", 0, t0, {"input_text": "q", "tools": ["web_search"], "model": "m"}, **kw)]
    step = 0
    for i in range(repeats):
        step += 1
        out.append(ev(run_id, "llm.called", step, t0 + step, {"model": "m", "prompt_tokens": 100, "call_id": i}, **kw))
        out.append(ev(run_id, "llm.responded", step, t0 + step + 0.1,
                      {"completion_tokens": 5, "latency_ms": 100, "output_length": 5, "finish_reason": "stop", "call_id": i}, **kw))  # fmt: skip
        step += 1
        out.append(ev(run_id, "tool.called", step, t0 + step, {"tool_name": "web_search", "args": '{"q": "x"}'}, **kw))
        out.append(ev(run_id, "tool.responded", step, t0 + step + 0.1,
                      {"tool_name": "web_search", "success": True, "output_length": 2, "latency_ms": 50, "output": "[]"}, **kw))  # fmt: skip
    if terminal:
        out.append(ev(run_id, "run.completed", step, t0 + step + 1,
                      {"total_steps": step, "exit_reason": "final_answer", "tool_call_count": repeats}, **kw))  # fmt: skip
    return out


def clean_run(run_id: str, t0: float = 1000.0, **kw) -> list[dict]:
    return looping_run(run_id, t0, repeats=1, **kw)


def store_events(store, dicts: list[dict], received_at: float | None = None):
    return write_events(store, [normalize_event(d) for d in dicts], received_at=received_at)


def types_of(store, run_id: str) -> set[str]:
    return {r[0] for r in store.conn().execute("SELECT failure_type FROM signals WHERE run_id=?", (run_id,))}


# ── store and paths ───────────────────────────────────────────────────────────────────────────
def test_open_store_sets_wal_and_records_the_schema_version(store, db_file: Path) -> None:
    conn = store.conn()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 10_000
    assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(schema.SCHEMA_VERSION)
    store.close()
    again = open_store(db_file)  # migrations are idempotent
    assert schema.current_version(again.conn()) == schema.SCHEMA_VERSION
    again.close()


def test_contract_columns_exist(store) -> None:
    conn = store.conn()

    def cols(table: str) -> set[str]:
        return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}

    assert {"seq", "event_id", "run_id", "agent_id", "agent_version", "event_type", "step_index", "timestamp",
            "parent_run_id", "trace_id", "conversation_id", "payload", "received_at"} <= cols("events")  # fmt: skip
    assert {"run_id", "agent_id", "agent_version", "started_at", "completed_at", "first_received_at",
            "last_received_at", "event_count", "max_step", "parent_run_id", "processed_at", "trigger",
            "prompt_tokens", "completion_tokens", "reasoning_tokens", "model", "input_text"} <= cols("runs")  # fmt: skip
    assert {"id", "run_id", "agent_id", "agent_version", "failure_type", "severity", "step_index", "confidence",
            "evidence", "detected_at", "alerted", "shadow", "co_signal_count"} <= cols("signals")  # fmt: skip


def test_newer_schema_is_refused(db_file: Path) -> None:
    s = open_store(db_file)
    with s.write() as conn:
        conn.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    s.close()
    with pytest.raises(ConfigError, match="upgrade dunetrace-cli"):
        open_store(db_file)


def test_not_a_database_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(ConfigError, match="is not a Dunetrace local store"):
        open_store(bad)


def test_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DUNETRACE_HOME", str(tmp_path / "home"))
    assert default_db_path() == tmp_path / "home" / "local.db"
    assert resolve_db_path(None) == default_db_path()
    assert resolve_db_path("local") == default_db_path()
    assert resolve_db_path(f"local:{tmp_path}/x.db") == tmp_path / "x.db"
    assert resolve_db_path(str(tmp_path / "y.db")) == tmp_path / "y.db"
    assert resolve_db_path(str(tmp_path)) == tmp_path / "local.db"  # a directory means the local.db inside


# ── ingest bookkeeping ────────────────────────────────────────────────────────────────────────
def test_duplicates_are_skipped_by_event_id(store) -> None:
    events = clean_run("r1")
    first = store_events(store, events)
    again = store_events(store, events + events[:2])  # a retried batch, plus in-batch duplicates
    assert (first.new, first.duplicate) == (len(events), 0)
    assert (again.new, again.duplicate) == (0, len(events) + 2)
    assert store.conn().execute("SELECT event_count FROM runs WHERE run_id='r1'").fetchone()[0] == len(events)


def test_event_without_id_gets_a_stable_content_hash(store) -> None:
    e = ev("r1", "run.started", 0, 5.0)
    del e["event_id"]
    a, b = normalize_event(dict(e)), normalize_event(dict(e))
    assert a.event_id == b.event_id and len(a.event_id) == 64
    store_events(store, [e, e])
    assert store.conn().execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1


def test_run_bookkeeping_and_token_rules(store) -> None:
    rid = "r-tokens"
    events = [
        ev(rid, "run.started", 0, 10.0, {"input_text": "hello", "model": "gpt-4o"}, parent_run_id="parent-1"),
        ev(rid, "llm.called", 1, 11.0, {"model": "gpt-4o-mini", "prompt_tokens": 100, "call_id": 0}),
        ev(rid, "llm.responded", 1, 11.5, {"completion_tokens": 7, "reasoning_tokens": 3, "call_id": 0}),
        ev(rid, "llm.called", 2, 12.0, {"model": "other", "prompt_tokens": 50, "call_id": 1}),
        ev(rid, "llm.responded", 2, 12.5, {"completion_tokens": 5, "call_id": 1}),
        ev(rid, "tool.called", 3, 13.0, {"tool_name": "t", "args": "{}"}),
        ev(rid, "run.completed", 3, 14.0, {"exit_reason": "final_answer"}),  # a child's terminal: no parent
    ]
    store_events(store, events, received_at=500.0)
    r = store.conn().execute("SELECT * FROM runs WHERE run_id=?", (rid,)).fetchone()
    assert (r["started_at"], r["completed_at"], r["max_step"], r["event_count"]) == (10.0, 14.0, 3, 7)
    assert (r["prompt_tokens"], r["completion_tokens"], r["reasoning_tokens"], r["model"]) == (150, 12, 3, "gpt-4o-mini")
    assert r["parent_run_id"] == "parent-1" and r["input_text"] == "hello" and r["first_tool_step"] == 3
    assert (r["first_received_at"], r["last_received_at"]) == (500.0, 500.0)
    assert r["terminal_event_type"] == "run.completed" and r["processed_at"] is None
    # An exact llm.responded prompt count replaces the llm.called estimate sum (not both).
    store_events(store, [ev(rid, "llm.responded", 3, 13.5, {"prompt_tokens": 400, "completion_tokens": 1})])
    r = store.conn().execute("SELECT prompt_tokens, completion_tokens FROM runs WHERE run_id=?", (rid,)).fetchone()
    assert tuple(r) == (400, 13)


def test_run_without_llm_events_has_null_tokens(store) -> None:
    store_events(store, [ev("r0", "run.started", 0, 1.0), ev("r0", "run.completed", 0, 2.0)])
    r = store.conn().execute("SELECT prompt_tokens, completion_tokens, model FROM runs").fetchone()
    assert tuple(r) == (None, None, None)


def test_batches_mix_runs_and_agents(store) -> None:
    a = clean_run("ra", agent_id="alpha")
    b = clean_run("rb", agent_id="beta")
    mixed = [x for pair in zip(a, b) for x in pair]
    store_events(store, mixed)
    rows = dict(store.conn().execute("SELECT run_id, agent_id FROM runs").fetchall())
    assert rows == {"ra": "alpha", "rb": "beta"}


def test_policy_evaluated_goes_to_its_own_table(store) -> None:
    store_events(store, [ev("r1", "policy.evaluated", 1, 2.0, {"policy_name": "p"})])
    conn = store.conn()
    assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM policy_evaluations").fetchone()[0] == 1
    assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0


def test_lone_surrogates_in_payload_are_stored_safely(store) -> None:
    [event] = parse_line(json.dumps(ev("r1", "run.started", 0, 1.0, {"input_text": "bad \ud800 text"})))
    store_events(store, [event.to_sdk_dict()])
    text = store.conn().execute("SELECT payload FROM events").fetchone()[0]
    text.encode("utf-8")  # storable and readable as UTF-8


# ── detection ─────────────────────────────────────────────────────────────────────────────────
def test_terminal_event_first_then_late_events_redetect_additively(store) -> None:
    events = looping_run("r1")
    terminal, early, rest = events[-1:], events[:5], events[5:-1]
    store_events(store, terminal + early)  # the terminal overtakes most of its run
    first = detect.sweep(store)
    assert first.runs_completed == 1
    row = store.conn().execute("SELECT processed_at, trigger, signal_count FROM runs").fetchone()
    assert row["trigger"] == "run.completed" and row["processed_at"] is not None
    assert "TOOL_LOOP" not in types_of(store, "r1")
    before = {r[0]: r[1] for r in store.conn().execute("SELECT failure_type, id FROM signals")}
    out = store_events(store, rest)  # late events re-open detection
    assert out.ready_runs == {"r1"}
    second = detect.sweep(store)
    assert second.runs_redetected == 1 and second.signals_found >= 1
    after = {r[0]: r[1] for r in store.conn().execute("SELECT failure_type, id FROM signals")}
    assert "TOOL_LOOP" in after
    assert all(after[k] == v for k, v in before.items())  # earlier rows untouched, only new types added
    assert detect.sweep(store).runs_redetected == 0  # nothing new: nothing to do


def test_stall_rule(store) -> None:
    events = looping_run("stuck", terminal=False)
    store_events(store, events, received_at=1_000.0)
    assert detect.sweep(store, now=lambda: 1_050.0, stall_seconds=90).runs_stalled == 0
    summary = detect.sweep(store, now=lambda: 1_091.0, stall_seconds=90)
    assert summary.runs_stalled == 1
    r = store.conn().execute("SELECT trigger, completed_at FROM runs").fetchone()
    assert (r["trigger"], r["completed_at"]) == ("stalled", None)
    # A run with neither run.started nor a terminal event is never picked up (as on the servers).
    store_events(store, [ev("orphan", "llm.called", 1, 5.0, {"model": "m"})], received_at=1.0)
    assert detect.sweep(store, finalize_stalled=True).runs_stalled == 0


def test_stalled_run_that_finishes_later_takes_the_terminal_trigger(store) -> None:
    events = looping_run("late", terminal=True)
    store_events(store, events[:-1], received_at=1.0)
    detect.sweep(store, finalize_stalled=True)
    store_events(store, events[-1:])
    detect.sweep(store)
    r = store.conn().execute("SELECT trigger, completed_at FROM runs").fetchone()
    assert r["trigger"] == "run.completed" and r["completed_at"] is not None


def test_cross_run_baselines_fire_step_count_inflation(store) -> None:
    for i in range(detect.MIN_BASELINE_RUNS):
        store_events(store, clean_run(f"c{i}", t0=1000.0 + i * 100))
        detect.sweep(store)
    base = detect.baselines(store.conn(), "agent-a", "v1")
    assert base["steps"] == 2.0  # P75 of max step over the 20 clean runs
    big = looping_run("big", t0=9000.0, repeats=6)
    # vary the arguments so this is a long run, not a tool loop
    for i, e in enumerate(big):
        if e["event_type"] == "tool.called":
            e["payload"]["args"] = json.dumps({"q": f"query {i}"})
    store_events(store, big)
    detect.sweep(store)
    assert "STEP_COUNT_INFLATION" in types_of(store, "big")
    # ... and a version with less history gets no baseline
    assert detect.baselines(store.conn(), "agent-a", "v2")["steps"] is None


def test_one_signal_per_type_and_co_signal_count(store) -> None:
    events = looping_run("r1")
    store_events(store, events)
    detect.sweep(store)
    detect.detect_run(store, "r1")  # running again inserts nothing
    rows = store.conn().execute("SELECT failure_type, co_signal_count FROM signals WHERE run_id='r1'").fetchall()
    assert len(rows) == len({r[0] for r in rows})


def test_dropped_events_make_every_signal_shadow(store) -> None:
    events = looping_run("shed")
    events[-1]["payload"]["dropped_events"] = 12
    store_events(store, events)
    detect.sweep(store)
    rows = store.conn().execute("SELECT shadow, confidence, severity, evidence FROM signals").fetchall()
    assert rows and all(r["shadow"] == 1 and r["confidence"] <= 0.5 and r["severity"] != "HIGH" for r in rows)
    assert all("incomplete_data" in json.loads(r["evidence"]) for r in rows)
    assert store.conn().execute("SELECT signal_count FROM runs").fetchone()[0] == 0


def test_detector_config_answers_the_sdk_shape(store) -> None:
    cfg = detect.detector_config(store, "agent-a", None)
    assert cfg["schema_version"] == 1 and cfg["detectors"] == {} and cfg["packs"] == [] and cfg["baselines"] is None


# ── body validation ───────────────────────────────────────────────────────────────────────────
def test_validate_batch_rules() -> None:
    good = clean_run("r1")
    assert len(validate_batch({"api_key": "", "agent_id": "a", "events": good})) == len(good)
    cases = [
        ({"agent_id": "a", "events": []}, "too_short"),
        ({"agent_id": "a", "events": [good[0]] * 501}, "too_long"),
        ({"events": good}, "missing"),
        ({"agent_id": "a", "events": [dict(good[0], event_type="bogus")]}, "enum"),
        ({"agent_id": "a", "events": [dict(good[0], step_index=-1)]}, "greater_than_equal"),
        ({"agent_id": "a", "events": [dict(good[0], run_id="")]}, "string_too_short"),
        ({"agent_id": "a", "events": [dict(good[0], payload=[1])]}, "dict_type"),
        ({"agent_id": "a", "events": [dict(good[0], timestamp="soon")]}, "float_parsing"),
        ({"agent_id": "a", "events": "nope"}, "list_type"),
        ([1, 2], "model_attributes_type"),
    ]
    for body, kind in cases:
        with pytest.raises(ValidationFailed) as info:
            validate_batch(body)
        assert info.value.errors[0]["type"] == kind, body
        assert "loc" in info.value.errors[0] and "msg" in info.value.errors[0]


def test_progress_hook_sees_every_byte(store, sdk_events: Path) -> None:
    from dunetrace_cli.local.load import ingest_sources

    src = sdk_events / "events-mixed.jsonl"
    seen: list[tuple[int, int | None]] = []

    def progress(name: str, total: int | None):
        assert name == str(src) and total == src.stat().st_size
        return lambda _n, done, tot: seen.append((done, tot))

    ingest_sources(store, [str(src)], report=lambda p: None, progress=progress)
    assert seen and seen[-1] == (src.stat().st_size, src.stat().st_size)


def test_the_gc_runs_rarely_during_an_import_and_as_before_after(store, sdk_events: Path) -> None:
    import gc

    from dunetrace_cli.local.load import IMPORT_GC_THRESHOLD, ingest_sources

    src = sdk_events / "events-mixed.jsonl"
    during: list[tuple[int, ...]] = []
    before = gc.get_threshold()
    assert before != IMPORT_GC_THRESHOLD
    ingest_sources(store, [str(src)], report=lambda p: None,
                   progress=lambda _name, _total: lambda *_: during.append(gc.get_threshold()))  # fmt: skip
    assert during and set(during) == {IMPORT_GC_THRESHOLD}
    assert gc.get_threshold() == before
    with pytest.raises(OSError):  # restored when the import fails too
        ingest_sources(store, [str(sdk_events / "no-such-file.jsonl")], report=lambda p: None)
    assert gc.get_threshold() == before
