"""A late run's baselines in the detection process (``late_runs``): the store's plus the results not written
yet give exactly what one store holding all of them gives (``baselines._windows``), as of any run time."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from dunetrace_cli.local import baselines as bl
from dunetrace_cli.local import late_runs
from dunetrace_cli.local.store import open_store

GROUP = ("support-bot", "v1")


def _runs(n: int, seed: int) -> list[tuple[tuple[float, str], bool, dict[str, Any]]]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        metrics = {m: (None if rnd.random() < 0.2 else round(rnd.uniform(1, 100), 3)) for m in bl.METRICS}
        out.append(((1000.0 + rnd.randrange(0, 400) / 2, f"run-{i:04d}"), rnd.random() < 0.8, metrics))
    return out


def _insert(conn: Any, runs: list[tuple[tuple[float, str], bool, dict[str, Any]]]) -> None:
    cols = ",".join(bl.METRICS)
    for at, clean, metrics in runs:
        conn.execute(
            f"INSERT INTO run_metrics (run_id, agent_id, agent_version, processed_at, run_time, clean, {cols}) "
            f"VALUES (?,?,?,?,?,?,{','.join('?' * len(bl.METRICS))})",
            (at[1], *GROUP, at[0], at[0], int(clean), *(metrics[m] for m in bl.METRICS)),
        )


def test_the_store_and_the_results_not_written_give_one_stores_windows(tmp_path: Path) -> None:
    runs = _runs(160, seed=7)
    written, unwritten = runs[:110], runs[110:]
    # a result both written and kept, as the store has it after a re-evaluation (the store's figures win)
    changed = (written[-1][0], not written[-1][1], {m: 1.5 for m in bl.METRICS})
    whole, part = open_store(tmp_path / "whole.db"), open_store(tmp_path / "part.db")
    try:
        with whole.write() as conn:
            _insert(conn, [*written[:-1], changed, *unwritten])
        with part.write() as conn:
            _insert(conn, [*written[:-1], changed])
        recent = late_runs.Recent()
        for at, clean, metrics in sorted(written[-30:] + unwritten, key=lambda r: r[1]):  # arrival order
            recent.add(GROUP, at, metrics, clean)
        conn_w, conn_p = whole.conn(), part.conn()
        befores = [None, runs[0][0], written[-1][0], unwritten[5][0], (1100.0, "run-0000"), (9999.0, "z")]
        for before in befores:
            got = recent.windows(conn_p, GROUP, before)
            want = bl._windows(conn_w, *GROUP, before=before)
            assert got == want, before
        assert any(len(v) == bl.BASELINE_LOOKBACK for v in want.values())  # the 50-run window is full
        full = recent.windows(conn_p, GROUP, None)
        assert bl.baselines_of(full) == bl.baselines(conn_w, *GROUP)
        recent.forget(GROUP)
        assert recent.windows(conn_p, GROUP, None) == bl._windows(conn_p, *GROUP)  # the store's alone
    finally:
        whole.close()
        part.close()


def test_the_newest_in_order_results_are_kept_and_late_ones_until_written(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(late_runs, "RECENT_RUNS", 3)
    recent = late_runs.Recent()
    for i in (1, 2, 3, 4, 5):
        recent.add(GROUP, (float(i), f"r{i}"), {"steps": float(i)}, True)
    recent.add(GROUP, (2.5, "late"), {"steps": 2.5}, True)  # sent after r5: kept whatever comes in order
    recent.add(GROUP, (6.0, "r6"), {"steps": 6.0}, True)
    recent.add(GROUP, (9.0, "none"), None, True)  # not part of the baselines: not kept
    store = open_store(tmp_path / "s.db")
    try:
        assert recent.windows(store.conn(), GROUP, None)["steps"] == [2.5, 4.0, 5.0, 6.0]
        assert recent.windows(store.conn(), GROUP, (4.0, "r4"))["steps"] == [2.5]
        with store.write() as conn:  # the late run written (the store's figures are its)
            _insert(conn, [((2.5, "late"), True, {m: 7.0 for m in bl.METRICS})])
        assert recent.windows(store.conn(), GROUP, None)["steps"] == [7.0, 4.0, 5.0, 6.0]  # in run-time order
        assert recent._late[GROUP] == []  # seen written: not kept any more
    finally:
        store.close()

def test_after_the_store_changed_elsewhere_the_detection_process_reads_it_again(tmp_path: Path) -> None:
    """An idle sweep of `local serve` re-evaluated or detected runs in-process (``StreamDetector.store_changed``):
    the detection process forgets every agent version, so its next run's baselines are the store's."""
    import json
    import sys
    import time

    from dunetrace_cli.local import detect_proc, streaming
    from dunetrace_cli.local.detect import run_time
    from dunetrace_cli.local.load import ingest_sources

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from _gen_events import clone_events

    src = tmp_path / "all.jsonl"
    events = clone_events(4 * 648, agents_per_family=1, span_days=2, now=time.time() - 3600)
    src.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    store = open_store(tmp_path / "s.db")
    try:
        ingest_sources(store, [str(src)], report=lambda p: None, detect_process=False)
        conn = store.conn()
        group = conn.execute(
            "SELECT agent_id, agent_version FROM run_metrics GROUP BY 1, 2 ORDER BY COUNT(*) DESC LIMIT 1"
        ).fetchone()
        ids = [r[0] for r in conn.execute(
            "SELECT run_id FROM run_metrics WHERE agent_id=? AND agent_version=? ORDER BY run_time, run_id", tuple(group)
        )]  # fmt: skip
        rows = streaming._rows(conn, ids[-2:])
        first, last = rows[ids[-2]], rows[ids[-1]]
        read = lambda row: detect_proc.read_events(conn, [row["run_id"]], None)[row["run_id"]]  # noqa: E731
        with store.write() as w:  # the last run not detected yet
            w.execute("DELETE FROM run_metrics WHERE run_id=?", (last["run_id"],))
        told, untold = detect_proc._Evaluator(conn), detect_proc._Evaluator(conn)
        for ev in (told, untold):
            ev.one(first, read(first))  # the version in memory
        with store.write() as w:  # a sweep here: the clean runs before them now count ten times the steps
            w.execute("UPDATE run_metrics SET steps = steps * 10 WHERE agent_id=? AND agent_version=? AND clean=1",
                      tuple(group))  # fmt: skip
        want = bl.baseline_key(bl.baselines(conn, *group, before=run_time(last)))
        told.forget(None)
        got, stale = told.one(last, read(last)), untold.one(last, read(last))
        assert got is not None and got[0] == want
        assert stale is not None and stale[0] != want  # what the process answered from memory before
    finally:
        store.close()
