"""The events' own clock (issue 11): file input keeps the time it ran at; the stall rule and the
read-side stall sweep.

Built on the SDK 0.5.7 fixture (tests/data/sdk-events/events-mixed.jsonl: 53 runs of 6 agents written
on 2026-11-24, two of them unfinished), shifted in time where a rule needs "recent" or "future" events.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from dunetrace_cli.local import detect
from dunetrace_cli.local.api import create_api_app
from dunetrace_cli.local.ingest import normalize_event, write_events
from dunetrace_cli.local.load import ingest_sources
from dunetrace_cli.local.paths import DEFAULT_STALL_SECONDS
from dunetrace_cli.local.stall import has_due_work
from dunetrace_cli.local.store import open_store

TERMINAL = {"run.completed", "run.errored"}


def _fixture(sdk_events: Path) -> list[dict[str, Any]]:
    with open(sdk_events / "events-mixed.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _write(path: Path, events: list[dict[str, Any]], shift: float = 0.0) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for e in events:
            fh.write(json.dumps(dict(e, timestamp=e["timestamp"] + shift)) + "\n")
    return path


def _unfinished(events: list[dict[str, Any]]) -> dict[str, float]:
    """run_id -> last event time of the runs with no terminal event."""
    last: dict[str, float] = {}
    done = set()
    for e in events:
        last[e["run_id"]] = max(last.get(e["run_id"], 0.0), e["timestamp"])
        if e["event_type"] in TERMINAL:
            done.add(e["run_id"])
    return {r: t for r, t in last.items() if r not in done}


def _ingest(db: Path, src: Path, **kw: Any) -> Any:
    store = open_store(db)
    try:
        return ingest_sources(store, [str(src)], report=lambda p: None, **kw)
    finally:
        store.close()


def _day(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).date().isoformat()


def test_file_input_keeps_its_own_clock(tmp_path: Path, sdk_events: Path) -> None:
    events = _fixture(sdk_events)
    src = _write(tmp_path / "old.jsonl", events)
    summary = _ingest(tmp_path / "s.db", src)
    assert (summary.runs_completed, summary.runs_stalled, summary.runs_pending) == (51, 2, 0)
    newest_by_agent: dict[str, float] = {}
    for e in events:
        newest_by_agent[e["agent_id"]] = max(newest_by_agent.get(e["agent_id"], 0.0), e["timestamp"])
    newest = max(newest_by_agent.values())
    now = newest + 3600.0  # read an hour after the file's newest event
    with TestClient(create_api_app(tmp_path / "s.db", clock=lambda: now)) as client:
        agents = client.get("/v1/agents").json()["agents"]
        # last_seen is each agent's newest event, and the order is newest activity first
        assert {a["agent_id"]: a["last_seen"] for a in agents} == pytest.approx(newest_by_agent)
        assert [a["agent_id"] for a in agents] == sorted(newest_by_agent, key=lambda a: -newest_by_agent[a])
        # sparklines: every signal falls on the file's own day (the last of the 7 buckets)
        for a in agents:
            if a["signal_count"]:
                assert a["sparkline"][-1] == a["signal_count"] and sum(a["sparkline"][:-1]) == 0
        runs = client.get("/v1/runs", params={"limit": 100}).json()["runs"]
        assert len(runs) == 53
        # processed when it ended by its own events; ordered newest first by that time
        by_id = {r["run_id"]: r for r in runs}
        unfinished = _unfinished(events)
        store = open_store(tmp_path / "s.db", create=False)
        rows = {r["run_id"]: r for r in store.conn().execute("SELECT * FROM runs")}
        signals = store.conn().execute("SELECT run_id, detected_at FROM signals").fetchall()
        store.close()
        for run_id, row in rows.items():
            last = max(e["timestamp"] for e in events if e["run_id"] == run_id)
            if run_id in unfinished:
                assert row["trigger"] == "stalled" and by_id[run_id]["exit_reason"] == "stalled"
                assert row["processed_at"] == pytest.approx(last + DEFAULT_STALL_SECONDS)
            else:
                assert row["processed_at"] == pytest.approx(last)
            assert (row["first_received_at"], row["last_received_at"]) == pytest.approx(
                (min(e["timestamp"] for e in events if e["run_id"] == run_id), last)
            )
        assert signals and all(detected == rows[run_id]["processed_at"] for run_id, detected in signals)
        insights = client.get("/v1/agents/web-researcher/insights").json()
        version = insights["versions"][0]
        assert _day(version["first_seen"]) == _day(newest) and version["last_seen"] <= newest + DEFAULT_STALL_SECONDS
        assert {r["day"] for r in insights["failure_rates"]} == {_day(newest)}


def test_a_live_file_leaves_its_unfinished_runs_pending(tmp_path: Path, sdk_events: Path) -> None:
    events = _fixture(sdk_events)
    newest = max(e["timestamp"] for e in events)
    src = _write(tmp_path / "live.jsonl", events, shift=time.time() - 5.0 - newest)  # written 5 s ago
    summary = _ingest(tmp_path / "s.db", src)
    assert (summary.runs_completed, summary.runs_stalled, summary.runs_pending) == (51, 0, 2)


def test_stall_is_relative_to_the_newest_event_of_the_input(tmp_path: Path, sdk_events: Path) -> None:
    """Events from a clock ahead of ours: a run silent for the stall timeout before the input's newest
    event is stalled; the runs at the end of the input are not (yet)."""
    events = _fixture(sdk_events)
    newest = max(e["timestamp"] for e in events)
    shift = time.time() + 86400.0 - newest  # the whole input lies a day ahead
    late = [dict(e, run_id=e["run_id"][:-4] + "late", event_id=e["event_id"][:-4] + "late",
                 timestamp=e["timestamp"] + 600.0)  # fmt: skip
            for e in events if e["agent_id"] == "doc-qa"]
    src = _write(tmp_path / "ahead.jsonl", events + late, shift=shift)
    summary = _ingest(tmp_path / "s.db", src)
    unfinished = _unfinished(events + late)
    assert len(unfinished) == 3  # the two of the fixture, and the late copy of doc-qa's
    assert (summary.runs_stalled, summary.runs_pending) == (2, 1)
    store = open_store(tmp_path / "s.db", create=False)
    pending = [r[0] for r in store.conn().execute("SELECT run_id FROM runs WHERE processed_at IS NULL")]
    store.close()
    assert pending == [r for r in unfinished if r.endswith("late")]


def test_live_sweeps_wait_while_a_file_is_still_being_read(tmp_path: Path, sdk_events: Path) -> None:
    """A run written just now from a file stalls by the events' clock only once its writer is done
    (``settled``) or nothing was written to it for the stall timeout (a server's worker, a reader)."""
    everything = _fixture(sdk_events)
    hung = _unfinished(everything)
    events = [e for e in everything if e["run_id"] in hung]
    store = open_store(tmp_path / "s.db")
    try:
        write_events(store, [normalize_event(e) for e in events], event_clock=True)
        assert detect.sweep(store).runs_stalled == 0  # last write: now
        assert detect.sweep(store, now=lambda: time.time() + DEFAULT_STALL_SECONDS + 1).runs_stalled == 2
    finally:
        store.close()
    store = open_store(tmp_path / "t.db")
    try:
        write_events(store, [normalize_event(e) for e in events], event_clock=True)
        assert detect.sweep(store, settled=True).runs_stalled == 2
    finally:
        store.close()


def test_in_process_reads_run_the_due_stall_sweep(tmp_path: Path, sdk_events: Path) -> None:
    events = [e for e in _fixture(sdk_events) if e["agent_id"] == "web-researcher"]
    hung = next(iter(_unfinished(events)))
    store = open_store(tmp_path / "s.db")
    arrived = 2_000_000_000.0
    try:  # as over HTTP: server arrival times, detection of the completed runs, the hung run pending
        write_events(store, [normalize_event(e) for e in events], received_at=arrived)
        detect.sweep(store, now=lambda: arrived, stall_seconds=DEFAULT_STALL_SECONDS)
        conn = store.conn()
        assert conn.execute("SELECT processed_at FROM runs WHERE run_id=?", (hung,)).fetchone()[0] is None
        assert not has_due_work(conn, now=arrived + 10, stall_seconds=DEFAULT_STALL_SECONDS)
        assert has_due_work(conn, now=arrived + DEFAULT_STALL_SECONDS + 1, stall_seconds=DEFAULT_STALL_SECONDS)
    finally:
        store.close()
    soon = arrived + 10
    with TestClient(create_api_app(tmp_path / "s.db", clock=lambda: soon)) as client:
        assert client.get(f"/v1/runs/{hung}").status_code == 404  # nothing due yet: still running
    later = arrived + DEFAULT_STALL_SECONDS + 1
    with TestClient(create_api_app(tmp_path / "s.db", clock=lambda: later)) as client:
        detail = client.get(f"/v1/runs/{hung}").json()
        assert detail["exit_reason"] == "stalled" and detail["completed_at"] is None
    with TestClient(create_api_app(tmp_path / "s.db", clock=lambda: later, stall_seconds=None)) as client:
        assert client.get(f"/v1/runs/{hung}").status_code == 200  # stays analysed
