"""The pieces detection was made cheaper with (issue 11) answer exactly what they replaced.

The parent's handoff context read from the store (only the events that can contribute), the baseline
cache's remembered P75s and keys, the per-run batch decode of payloads in the detection process, and
the counter that stands in for the SDK's ``uuid4`` there.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from dunetrace.models import EventType

from dunetrace_cli.local import baselines as bl
from dunetrace_cli.local import crossrun, detect_proc


# ── the parent's context ──────────────────────────────────────────────────────────────────────
def _events_db(rows: list[tuple[Any, ...]]) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, run_id TEXT, event_type TEXT, step_index INTEGER, "
        "timestamp REAL, payload TEXT)"
    )
    conn.executemany("INSERT INTO events(run_id, event_type, step_index, timestamp, payload) VALUES (?,?,?,?,?)", rows)
    return conn


def _parent(run: str = "p") -> list[tuple[Any, ...]]:
    return [
        (run, "run.started", 0, 10.0, json.dumps({"input_text": "plan the trip"})),
        (run, "llm.called", 1, 11.0, json.dumps({"model": "m"})),
        (run, "llm.responded", 1, 12.0, json.dumps({"output": "book Lisbon"})),
        (run, "tool.responded", 2, 13.0, json.dumps({"output": ["not", "text"]})),
        (run, "tool.responded", 3, 14.0, "not json"),
        (run, "llm.responded", 4, 20.0, json.dumps({"output": "after the child started"})),
    ]


def test_the_parent_context_is_what_its_events_before_the_cutoff_say() -> None:
    conn = _events_db(_parent())
    assert crossrun.parent_context(conn, "p", 15.0) == "plan the trip\nbook Lisbon"
    assert crossrun.parent_context(conn, "p", float("inf")) == "plan the trip\nbook Lisbon\nafter the child started"
    # a parent with events but none that count before the cutoff: an empty context, not "no parent"
    assert crossrun.parent_context(conn, "p", 5.0) == ""
    assert crossrun.parent_context(conn, "nobody", 15.0) is None


def test_the_parent_context_sees_only_the_events_stored_by_max_seq() -> None:
    conn = _events_db(_parent())
    assert crossrun.parent_context(conn, "p", 15.0, max_seq=1) == "plan the trip"
    assert crossrun.parent_context(conn, "p", 15.0, max_seq=0) is None  # nothing of it stored then
    assert crossrun.parent_context(conn, "p", 15.0, max_seq=3) == "plan the trip\nbook Lisbon"


def test_the_handoff_is_judged_on_what_the_parent_said_before_the_child_started() -> None:
    rich = "Book Lisbon Marriott for Alice Johnson on March 14 via Expedia, flight TAP 1234 from Boston Logan"
    conn = _events_db([
        ("p", "run.started", 0, 10.0, json.dumps({"input_text": "help"})),
        ("p", "llm.responded", 1, 30.0, json.dumps({"output": rich})),
    ])  # fmt: skip
    conn.execute("CREATE TABLE runs (run_id TEXT, agent_id TEXT, parent_run_id TEXT)")
    conn.execute("INSERT INTO runs VALUES ('p', 'planner', NULL)")
    run = {"run_id": "c", "agent_id": "booker", "agent_version": "1", "parent_run_id": "p"}

    def handoffs(started_at: float) -> list[Any]:
        started = {"event_type": "run.started", "timestamp": started_at, "payload": {"input_text": "book it"}}
        return [s for s in crossrun.cross_run_signals(conn, run, [started]) if s.failure_type.value == "HANDOFF_CONTEXT_LOSS"]

    late = handoffs(40.0)  # the parent had said it all: the child's input lost it
    assert len(late) == 1 and late[0].evidence["missing_entities"] == ["1234"]
    assert handoffs(20.0) == []  # the parent had only said "help" by then


# ── the baseline cache ────────────────────────────────────────────────────────────────────────
@pytest.fixture
def metrics_db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    cols = ", ".join(f"{m} REAL" for m in bl.METRICS)
    conn.execute(
        f"CREATE TABLE run_metrics (run_id TEXT PRIMARY KEY, agent_id TEXT, agent_version TEXT, {cols}, "
        "clean INTEGER, run_time REAL)"
    )
    return conn


def _metrics(i: int) -> dict[str, float | None]:
    return {"steps": float(i % 7 + 1), "tool_latency_ms": 10.0 * i if i % 3 else None, "llm_latency_ms": 5.0 + i,
            "token_growth": None, "llm_tool_ratio": 1.5 if i % 2 else None, "total_tokens": 100.0 * i,
            "duration_s": 0.5 * i}  # fmt: skip


def test_the_cache_answers_what_the_store_answers(metrics_db: sqlite3.Connection) -> None:
    cache = bl.BaselineCache()
    for i in range(1, 90):
        at = (float(i), f"r{i:03d}")
        got, key = cache.get_keyed(metrics_db, "a", "1", at)
        want = bl.baselines(metrics_db, "a", "1", before=at)
        assert got == want and key == bl.baseline_key(want), i
        assert list(got) == list(bl.METRICS)
        clean = i % 5 != 0  # every fifth run had a live signal: not part of the baselines
        m = _metrics(i)
        metrics_db.execute(
            f"INSERT INTO run_metrics VALUES (?,?,?,{','.join('?' * len(bl.METRICS))},?,?)",
            (at[1], "a", "1", *[m[k] for k in bl.METRICS], 1 if clean else 0, at[0]),
        )
        cache.add(metrics_db, "a", "1", at, m, clean, run_id=at[1])
    assert got["steps"] is not None and got["token_growth"] is None  # the windows did fill (or not)


def test_the_remembered_p75_is_dropped_with_its_window(metrics_db: sqlite3.Connection) -> None:
    cache = bl.BaselineCache()
    for i in range(1, 30):
        cache.add(metrics_db, "a", "1", (float(i), f"r{i:03d}"), {**dict.fromkeys(bl.METRICS), "steps": 1.0}, True)
    before, key = cache.get_keyed(metrics_db, "a", "1", (100.0, "z"))
    assert before["steps"] == 1.0
    cache.add(metrics_db, "a", "1", (101.0, "z1"), {**dict.fromkeys(bl.METRICS)}, True)  # nothing to add
    assert cache.get_keyed(metrics_db, "a", "1", (102.0, "z2")) == (before, key)
    for i in range(40):
        cache.add(metrics_db, "a", "1", (200.0 + i, f"s{i:03d}"), {**dict.fromkeys(bl.METRICS), "steps": 9.0}, True)
    after, key2 = cache.get_keyed(metrics_db, "a", "1", (300.0, "z"))
    assert after["steps"] == 9.0 and key2 == bl.baseline_key(after) != key


def test_run_metrics_measure_the_gaps_after_calls_in_replay_order() -> None:
    def ev(kind: str, step: int, ts: float) -> Any:
        return SimpleNamespace(event_type=EventType(kind), step_index=step, timestamp=ts)

    # arrival order is not replay order: the llm.called at step 1 is followed (in replay) by step 2
    events = [ev("run.started", 0, 0.0), ev("tool.called", 2, 1.0), ev("llm.called", 1, 0.5),
              ev("tool.responded", 3, 1.25), ev("run.completed", 4, 2.0)]  # fmt: skip
    state = SimpleNamespace(events=events, llm_calls=[], tool_calls=[])
    got = bl.run_metrics(state)  # type: ignore[arg-type]
    assert got["llm_latency_ms"] == 500.0 and got["tool_latency_ms"] == 250.0
    assert got["steps"] == 4.0 and got["duration_s"] == 2.0 and got["total_tokens"] is None


# ── the detection process ─────────────────────────────────────────────────────────────────────
def _tuple(payload_text: str) -> tuple[Any, ...]:
    return ("tool.called", "a", "1", 1, 2.0, payload_text, "parent")


def test_payloads_decode_as_one_by_one_would() -> None:
    texts = ['{"a":1}', '{"b":[1,2]}', "{}"]
    assert detect_proc._payloads(texts) == [{"a": 1}, {"b": [1, 2]}, {}]
    assert detect_proc._payloads([]) == []
    # not the importer's own JSON: each decoded alone, anything but an object is {}
    odd = ['{"a":1', '"b":2}', '{"x":1},{"y":2}', "[1]", "oops"]
    assert detect_proc._payloads(odd) == [{}, {}, {}, {}, {}]
    got = detect_proc.event_dicts("r", [_tuple('{"tool_name":"search"}'), _tuple("7")])
    assert [d["payload"] for d in got] == [{"tool_name": "search"}, {}]
    assert got[0]["run_id"] == "r" and got[0]["parent_run_id"] == "parent" and got[0]["step_index"] == 1


def test_the_counted_ids_stand_in_for_uuid4_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import dunetrace.models as models

    monkeypatch.setattr(models, "uuid", uuid)
    detect_proc._counted_event_ids()
    detect_proc._counted_event_ids()  # once is enough: not wrapped twice
    assert isinstance(models.uuid, detect_proc._CountedIds) and models.uuid._real is uuid
    ids = [models.AgentEvent(EventType.RUN_STARTED, "r", "a", "1", 0).event_id for _ in range(3)]
    assert len(set(ids)) == 3 and all(i.isdigit() for i in ids)
    assert models.uuid.UUID(int=5) == uuid.UUID(int=5)  # everything else is the real module
