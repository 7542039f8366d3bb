"""`local ingest`'s detection process gives exactly the store one process gives (issue 11).

Six clones of the SDK 0.5.7 fixture (bench/_gen_events.py, one agent per family so the cross-run
baselines fill up), ingested with the detection process forced on and forced off: in time order, with the
clones reversed (every agent version's runs arrive newest first), into a store that already holds the
newer half (the process hands those agent versions back), and with the process killed mid-file (the
importer detects what was in flight and carries on alone). Signals, processing times, triggers and the
baseline figures must be identical.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from dunetrace_cli.local import detect_proc
from dunetrace_cli.local.load import ingest_sources
from dunetrace_cli.local.store import open_store

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from _gen_events import clone_events  # noqa: E402

CLONES = 6
PER_CLONE = 648


def _clones() -> list[list[dict[str, Any]]]:
    events = list(clone_events(CLONES * PER_CLONE, agents_per_family=1, span_days=2, now=time.time() - 3600))
    return [events[k * PER_CLONE : (k + 1) * PER_CLONE] for k in range(CLONES)]


def _file(path: Path, events: list[dict[str, Any]]) -> str:
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(e) + "\n" for e in events)
    return str(path)


def _ingest(db: Path, files: list[str], *, proc: bool, commit_every: int = 500) -> dict[str, Any]:
    store = open_store(db)
    try:
        summary = None
        for f in files:
            summary = ingest_sources(store, [f], report=lambda p: None, detect_process=proc, commit_every=commit_every)
    finally:
        store.close()
    assert summary is not None
    return summary.as_dict()


def _state(db: Path) -> dict[str, Any]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {
            "signals": sorted(conn.execute(
                "SELECT run_id, failure_type, severity, shadow, ROUND(confidence, 6), evidence, detected_at, "
                "co_signal_count FROM signals"
            ).fetchall()),
            "runs": sorted(conn.execute(
                "SELECT run_id, processed_at, trigger, signal_count, needs_detection, needs_reeval, processed_event_count, "
                "baseline_key FROM runs"
            ).fetchall()),
            "metrics": sorted(conn.execute("SELECT * FROM run_metrics").fetchall()),
        }  # fmt: skip
    finally:
        conn.close()


@pytest.mark.parametrize("order", ["time", "reversed", "newer-half-first"])
def test_the_detection_process_gives_the_store_one_process_gives(tmp_path: Path, order: str) -> None:
    clones = _clones()
    if order == "time":
        files = [_file(tmp_path / "all.jsonl", [e for c in clones for e in c])]
    elif order == "reversed":
        files = [_file(tmp_path / "rev.jsonl", [e for c in reversed(clones) for e in c])]
    else:
        files = [_file(tmp_path / "new.jsonl", [e for c in clones[3:] for e in c]),
                 _file(tmp_path / "old.jsonl", [e for c in clones[:3] for e in c])]  # fmt: skip
    one = _ingest(tmp_path / "one.db", files, proc=False)
    two = _ingest(tmp_path / "two.db", files, proc=True)
    want, got = _state(tmp_path / "one.db"), _state(tmp_path / "two.db")
    assert len(want["signals"]) > CLONES * 30 and len(want["metrics"]) > CLONES * 40
    for key in ("signals", "runs", "metrics"):
        assert got[key] == want[key], (order, key, set(got[key]) ^ set(want[key]))
    assert got["runs"] and all(r[1] is not None for r in got["runs"])  # every run analysed
    assert {k: v for k, v in two.items() if k not in ("db", "seconds")} == {
        k: v for k, v in one.items() if k not in ("db", "seconds")
    }


def test_a_dead_detection_process_costs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events = [e for c in _clones() for e in c]
    src = _file(tmp_path / "all.jsonl", events)
    _ingest(tmp_path / "one.db", [src], proc=False)
    started: list[detect_proc.DetectionProcess] = []
    original = detect_proc.DetectionProcess.submit

    def submit(self: detect_proc.DetectionProcess, jobs: list[detect_proc.Job]) -> None:
        original(self, jobs)
        started.append(self)
        if len(started) == 3:  # the third batch: the child dies with work in flight
            os.kill(self._proc.pid, signal.SIGKILL)
            self._proc.join(10)

    monkeypatch.setattr(detect_proc.DetectionProcess, "submit", submit)
    summary = _ingest(tmp_path / "two.db", [src], proc=True)
    assert len(started) >= 3 and started[0].failed is not None  # it did die, and was noticed
    assert summary["runs_pending"] == 0 and not summary["detection_errors"]
    want, got = _state(tmp_path / "one.db"), _state(tmp_path / "two.db")
    for key in ("signals", "runs", "metrics"):
        assert got[key] == want[key], (key, set(got[key]) ^ set(want[key]))


@pytest.mark.parametrize("order", ["time", "late-terminals"])
def test_results_written_several_batches_at_once_give_the_same_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, order: str
) -> None:
    """`local ingest` writes the detection process's results once ``RECORD_EVERY`` runs are back; a run whose
    result is back but not written yet counts as in flight (a late event detects it here, after it)."""
    from dunetrace_cli.local import load

    events = [e for c in _clones() for e in c]
    if order == "late-terminals":  # 25 runs end at the end of the file: stalled first, then completed
        ends = [i for i, e in enumerate(events) if e["event_type"] == "run.completed"][::10][:25]
        moved = [events[i] for i in ends]
        events = [e for i, e in enumerate(events) if i not in set(ends)] + moved
    src = _file(tmp_path / "all.jsonl", events)
    one = _ingest(tmp_path / "one.db", [src], proc=False)
    written: list[int] = []
    original, handed = load.StreamDetector._record, load.StreamDetector._childs

    def record(self: Any, results: list[Any], **kw: Any) -> None:
        written.append(len(results))
        original(self, results, **kw)

    def childs(self: Any, held: list[Any]) -> bool:  # the ones the detection process writes (detect_write)
        mine = handed(self, held)
        if mine:
            written.append(len(held))
        return mine

    monkeypatch.setattr(load, "RECORD_EVERY", 37)
    monkeypatch.setattr(load.StreamDetector, "_record", record)
    monkeypatch.setattr(load.StreamDetector, "_childs", childs)
    two = _ingest(tmp_path / "two.db", [src], proc=True, commit_every=200)
    assert len(written) > 3 and max(written) >= 37  # several batches' results in one transaction
    want, got = _state(tmp_path / "one.db"), _state(tmp_path / "two.db")
    for key in ("signals", "runs", "metrics"):
        assert got[key] == want[key], (order, key, set(got[key]) ^ set(want[key]))
    if order == "late-terminals":
        assert two["runs_redetected"] >= 20 and one["runs_redetected"] == two["runs_redetected"]
    assert two["runs_pending"] == 0


@pytest.mark.parametrize(("child", "recent"), [("keeps-up", True), ("slow", True), ("keeps-up", False), ("slow", False)])
def test_a_late_run_leaves_its_agent_version_with_the_detection_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, child: str, recent: bool
) -> None:
    """A run that arrives after later runs of its agent version were detected: the child evaluates it
    itself, from the store and the results it has not seen written yet (``late_runs``), and the runs after
    it flagged for re-evaluation when it is written. Without those results at hand (``recent`` off), the
    child hands the version back: the run is detected here, and once none of the version's runs is in
    flight the version goes back to the child, its re-evaluations done first. A slow child (its newest
    batch always in flight) has some of the version's runs in flight all along: its later runs wait until
    it is back, instead of all coming here. Either way the runs after it are the child's, and the store is
    one process's."""
    from dunetrace_cli.local import late_runs, load

    if not recent:
        monkeypatch.setattr(late_runs, "RECENT_RUNS", 0)

    clones = _clones()
    # a clean run (no signal: it joins the baselines) of the agent with the most runs (17 a clone)
    sizes: dict[str, int] = {}
    for e in clones[2]:
        if e["agent_id"].startswith("web-researcher"):
            sizes[e["run_id"]] = sizes.get(e["run_id"], 0) + 1
    late_run = min(sizes, key=lambda r: (sizes[r], r))  # its shortest run: one without signals
    late = [e for e in clones[2] if e["run_id"] == late_run]
    agent = late[0]["agent_id"]
    events = [e for c in clones[:4] for e in c if e["run_id"] != late_run] + late + [e for c in clones[4:] for e in c]
    src = _file(tmp_path / "all.jsonl", events)
    one = _ingest(tmp_path / "one.db", [src], proc=False)
    results: list[tuple[str, bool]] = []  # (run_id, the child's result written) of the agent's runs, in order
    original = load.StreamDetector._record

    def record(self: Any, held: list[Any], **kw: Any) -> None:
        taken = set(self.taken)  # as the batch came (detecting one here takes its version)
        results.extend((job[0]["run_id"], child and res is not None
                        and (job[0]["agent_id"], job[0]["agent_version"]) not in taken)
                       for job, child, res in held if job[0]["agent_id"] == agent)  # fmt: skip
        original(self, held, **kw)

    monkeypatch.setattr(load, "RECORD_EVERY", 5)
    monkeypatch.setattr(load.StreamDetector, "_childs", lambda self, held: False)  # every result through _record
    monkeypatch.setattr(load.StreamDetector, "_record", record)
    collect = detect_proc.DetectionProcess.collect
    if child == "keeps-up":  # every batch back before the next is sent, however loaded the machine

        def keeping_up(self: detect_proc.DetectionProcess, *, block: bool) -> list[Any]:
            return collect(self, block=True)

        monkeypatch.setattr(detect_proc.DetectionProcess, "collect", keeping_up)
    else:

        def lagging(self: detect_proc.DetectionProcess, *, block: bool) -> list[Any]:
            if block:
                return collect(self, block=True)
            newest = list(self.inflight)[1:]  # the newest batch stays in flight
            for _ in newest:
                self.inflight.pop()
            try:
                return collect(self, block=True) if self.inflight and newest else []
            finally:
                self.inflight.extend(newest)

        monkeypatch.setattr(detect_proc.DetectionProcess, "collect", lagging)
    two = _ingest(tmp_path / "two.db", [src], proc=True, commit_every=200)
    order = [r for r, _ in results]
    assert late_run in order and dict(results)[late_run] is recent  # by the child, or here
    after = [by_child for _, by_child in results[order.index(late_run) + 1 :]]
    assert len(after) >= 10 and all(after[-5:])  # the runs after it: the child's again
    want, got = _state(tmp_path / "one.db"), _state(tmp_path / "two.db")
    for key in ("signals", "runs", "metrics"):
        assert got[key] == want[key], (key, set(got[key]) ^ set(want[key]))
    assert two["runs_reevaluated"] > 0 and two["runs_pending"] == 0
    assert {k: v for k, v in two.items() if k not in ("db", "seconds")} == {
        k: v for k, v in one.items() if k not in ("db", "seconds")
    }


def test_results_written_behind_the_import_give_the_same_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`local ingest` writes the results back on a thread of its own while it parses the next batch (every
    other use of the store waits for it), when the detection process does not write them itself
    (tests/local/test_detect_write.py): the same store as one process."""
    from dunetrace_cli.local import load

    src = _file(tmp_path / "all.jsonl", [e for c in _clones() for e in c])
    one = _ingest(tmp_path / "one.db", [src], proc=False)
    behind: list[bool] = []
    original, poll = load.StreamDetector._record, load.StreamDetector._poll
    monkeypatch.setattr(load.StreamDetector, "_childs", lambda self, held: False)

    def record(self: Any, results: list[Any], **kw: Any) -> None:
        behind.append(threading.current_thread().name.startswith("dunetrace-record"))
        original(self, results, **kw)

    def waiting_poll(self: Any, *, block: bool) -> None:
        poll(self, block=True)  # every result back before the batch ends: each batch has some to write behind

    monkeypatch.setattr(load, "RECORD_EVERY", 5)
    monkeypatch.setattr(load.StreamDetector, "_record", record)
    monkeypatch.setattr(load.StreamDetector, "_poll", waiting_poll)
    two = _ingest(tmp_path / "two.db", [src], proc=True, commit_every=200)
    assert sum(behind) >= 3
    want, got = _state(tmp_path / "one.db"), _state(tmp_path / "two.db")
    for key in ("signals", "runs", "metrics"):
        assert got[key] == want[key], (key, set(got[key]) ^ set(want[key]))
    assert one["signals_found"] == two["signals_found"] > 0 and two["runs_pending"] == 0


def test_the_child_reads_the_runs_events_as_the_importer_had_stored_them(tmp_path: Path) -> None:
    """The importer sends the detection process rows, no events: it reads each run's events from the store,
    only those stored when the run was picked (``_max_seq``), in the replay order the buffered events had."""
    from dunetrace_cli.local.ingest import parse_line

    events = [e for c in _clones()[:2] for e in c]
    src = _file(tmp_path / "all.jsonl", events)
    sent: list[detect_proc.Job] = []
    original = detect_proc.DetectionProcess.submit

    def submit(self: detect_proc.DetectionProcess, jobs: list[tuple[detect_proc.Job, bool]]) -> None:
        sent.extend(job for job, _child in jobs)
        original(self, jobs)

    mp = pytest.MonkeyPatch()
    mp.setattr(detect_proc.DetectionProcess, "submit", submit)
    try:
        _ingest(tmp_path / "two.db", [src], proc=True)
    finally:
        mp.undo()
    assert len(sent) > 50 and all(job[2] is None and job[0]["_max_seq"] for job in sent)
    by_run: dict[str, list[Any]] = {}
    for e in events:
        for ev in parse_line(json.dumps(e)):
            by_run.setdefault(ev.run_id, []).append(ev)
    conn = sqlite3.connect(f"file:{tmp_path / 'two.db'}?mode=ro", uri=True)
    try:
        run_ids = sorted(by_run)[:40]
        got = detect_proc.read_events(conn, run_ids, None)
        for run_id in run_ids:  # what the importer used to send: its buffered events, in replay order
            assert got[run_id] == detect_proc.event_dicts(run_id, detect_proc.event_tuples(by_run[run_id]))
        first, last = conn.execute("SELECT MIN(seq), MAX(seq) FROM events WHERE run_id=?", (run_ids[0],)).fetchone()
        cut = detect_proc.read_events(conn, [run_ids[0]], first)[run_ids[0]]
        assert len(cut) == 1 and last > first  # a later event of the run is not read
        assert detect_proc.read_events(conn, ["no-such-run"], None) == {"no-such-run": []}
    finally:
        conn.close()
