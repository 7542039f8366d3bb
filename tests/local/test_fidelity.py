"""Fidelity: the SDK fixture events, ingested into the local store, give the signals the SDK's own
detectors give (expected-signals.json), run by run.

Documented differences (all deliberate; the local store reproduces the LATEST backend's worker, which
adds cross-run detectors and post-processing on top of ``run_detectors``):

* ``EXTRA_LOCAL`` -- signals the store adds that ``run_detectors`` alone cannot produce:
  - PROMPT_INJECTION_SIGNAL on the support-bot injection run: built from the ``injection_signal``
    evidence the SDK put in ``run.started`` (the older real backend produced it too, CRITICAL).
  - HANDOFF_CONTEXT_LOSS on the three hotel-search child runs: a cross-run detector (it compares the
    parent's accumulated context with the child's input) that only the latest backend evaluates. The
    parents' outputs mention dates and ids ("2026", "189") the child input drops.
* Confidence: the store applies the latest backend's co-occurrence boost (x1.15 / x1.30 / x1.40 when 2 /
  3 / 4+ live signals fire on a run, ``co_signal_count`` = n). The SDK detector's own value is kept in
  ``signals.detector_confidence`` and equals expected-signals.json exactly.

Against the older real backend (backend-signals.json, dunetrace@962099b), documented in
``test_difference_with_older_backend``:
* UNREAD_TOOL_ERROR x5 is produced locally (SDK detector) but that backend has no such detector.
* TOOL_LOOP ``step_index``: that backend reports the run's last step (+1); we report the SDK's value.
* Confidences: that backend used fixed values (0.95 / 0.92 / 0.80 / 0.70) stored as float32.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from dunetrace_cli.local import detect
from dunetrace_cli.local.ingest import parse_line, write_events

INJECTION_RUN = "7e6fed72"
HANDOFF_CHILDREN = {"5e2dea38", "d8c5c8fb", "98bdb0de"}  # hotel-search runs (parent_run_id set explicitly)


def _extra_local(run_id: str) -> set[str]:
    extra: set[str] = set()
    if run_id.startswith(INJECTION_RUN):
        extra.add("PROMPT_INJECTION_SIGNAL")
    if run_id[:8] in HANDOFF_CHILDREN:
        extra.add("HANDOFF_CONTEXT_LOSS")
    return extra


def _load(sdk_events: Path) -> list:
    events = []
    with open(sdk_events / "events-mixed.jsonl", encoding="utf-8") as fh:
        for line in fh:
            events.extend(parse_line(line))
    return events


def _signals_by_run(store) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = {}
    for r in store.conn().execute("SELECT * FROM signals"):
        out.setdefault(r["run_id"], {})[r["failure_type"]] = dict(r)
    return out


@pytest.fixture
def expected(sdk_events: Path) -> dict[str, list[dict]]:
    return json.loads((sdk_events / "expected-signals.json").read_text())


@pytest.fixture
def ingested(store, sdk_events: Path):
    write_events(store, _load(sdk_events))
    summary = detect.sweep(store, finalize_stalled=True)
    assert summary.errors == []
    assert (summary.runs_completed, summary.runs_stalled) == (51, 2)
    return store


def test_every_run_gets_the_sdk_failure_types(ingested, expected: dict[str, list[dict]]) -> None:
    got = _signals_by_run(ingested)
    assert len(expected) == 53
    mismatches = {}
    for run_id, sigs in expected.items():
        want = {s["failure_type"] for s in sigs} | _extra_local(run_id)
        have = set(got.get(run_id, {}))
        if want != have:
            mismatches[run_id] = (sorted(want), sorted(have))
    assert mismatches == {}
    # Per-run agreement with the SDK alone, differences named above: 49 of 53 runs identical.
    same = sum(1 for rid in expected if not _extra_local(rid))
    assert same == 49


def test_detector_fields_match_the_sdk_exactly(ingested, expected: dict[str, list[dict]]) -> None:
    got = _signals_by_run(ingested)
    for run_id, sigs in expected.items():
        for s in sigs:
            row = got[run_id][s["failure_type"]]
            assert row["detector_confidence"] == s["confidence"]
            assert row["detector_severity"] == s["severity"]
            assert row["step_index"] == s["step_index"]
            # No RiskEngine hard rule fires on these runs, so severities are the detectors' own.
            assert row["severity"] == s["severity"]
            assert row["shadow"] == 0


def test_co_occurrence_boost_as_the_latest_backend(ingested) -> None:
    factors = {2: 1.15, 3: 1.30}
    by_run = _signals_by_run(ingested)
    boosted = 0
    for sigs in by_run.values():
        n = len([s for s in sigs.values() if s["shadow"] == 0])
        for s in sigs.values():
            if n >= 2:
                boosted += 1
                assert s["co_signal_count"] == n
                want = round(min(1.0, s["detector_confidence"] * factors.get(n, 1.40)), 4)
                assert math.isclose(s["confidence"], want)
            else:
                assert s["co_signal_count"] == 0
                assert s["confidence"] == s["detector_confidence"]
    assert boosted > 0


def test_injection_and_stalled_runs(ingested) -> None:
    conn = ingested.conn()
    inj = conn.execute(
        "SELECT severity, confidence, step_index, evidence FROM signals WHERE failure_type='PROMPT_INJECTION_SIGNAL'"
    ).fetchall()
    assert len(inj) == 1
    assert inj[0]["severity"] == "CRITICAL" and inj[0]["step_index"] == 0
    assert inj[0]["confidence"] == 0.5  # 0.5 + 0.4 x (matched patterns - 1), one pattern matched
    stalled = conn.execute("SELECT run_id, completed_at FROM runs WHERE trigger='stalled'").fetchall()
    assert len(stalled) == 2 and all(r["completed_at"] is None for r in stalled)
    types = {
        r[0] for r in conn.execute("SELECT failure_type FROM signals WHERE run_id IN (SELECT run_id FROM runs WHERE trigger='stalled')")
    }
    assert types == {"GOAL_ABANDONMENT"}


def test_arrival_order_does_not_matter(store, sdk_events: Path, expected: dict[str, list[dict]]) -> None:
    """SDK-sized batches (100) posted newest first: terminal events arrive before their runs' starts."""
    events = _load(sdk_events)
    batches = [events[i : i + 100] for i in range(0, len(events), 100)]
    for batch in reversed(batches):
        write_events(store, batch)
    detect.sweep(store, finalize_stalled=True)
    got = _signals_by_run(store)
    for run_id, sigs in expected.items():
        assert set(got.get(run_id, {})) == {s["failure_type"] for s in sigs} | _extra_local(run_id)


def test_detection_after_every_batch_like_serve(store, sdk_events: Path, expected: dict[str, list[dict]]) -> None:
    """As `local serve` does: detect as soon as each batch is committed, in file order."""
    events = _load(sdk_events)
    for i in range(0, len(events), 100):
        write_events(store, events[i : i + 100])
        detect.sweep(store, stall_seconds=None)
    detect.sweep(store, finalize_stalled=True)
    got = _signals_by_run(store)
    for run_id, sigs in expected.items():
        assert set(got.get(run_id, {})) == {s["failure_type"] for s in sigs} | _extra_local(run_id)


def test_difference_with_older_backend(ingested, sdk_events: Path) -> None:
    backend = json.loads((sdk_events / "backend-signals.json").read_text())["runs"]
    got = _signals_by_run(ingested)
    only_local: dict[str, int] = {}
    only_backend: dict[str, int] = {}
    for run_id, run in backend.items():
        theirs = {s["failure_type"]: s for s in run["signals"]}
        ours = got.get(run_id, {})
        for ft in set(ours) - set(theirs):
            only_local[ft] = only_local.get(ft, 0) + 1
        for ft in set(theirs) - set(ours):
            only_backend[ft] = only_backend.get(ft, 0) + 1
        for ft in set(ours) & set(theirs):
            assert ours[ft]["severity"] == theirs[ft]["severity"]
            if ft == "TOOL_LOOP":
                assert theirs[ft]["step_index"] == ours[ft]["step_index"] + 1
            else:
                assert theirs[ft]["step_index"] == ours[ft]["step_index"]
        # exit_reason is the detector trigger on both sides
        row = ingested.conn().execute("SELECT trigger FROM runs WHERE run_id=?", (run_id,)).fetchone()
        assert row["trigger"] == run["exit_reason"]
    assert only_backend == {}
    assert only_local == {"UNREAD_TOOL_ERROR": 5, "HANDOFF_CONTEXT_LOSS": 3}
