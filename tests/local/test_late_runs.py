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
        assert late_runs.baselines_of(full) == bl.baselines(conn_w, *GROUP)
        recent.forget(GROUP)
        assert recent.windows(conn_p, GROUP, None) == bl._windows(conn_p, *GROUP)  # the store's alone
    finally:
        whole.close()
        part.close()


def test_only_the_newest_results_are_kept(monkeypatch: Any) -> None:
    monkeypatch.setattr(late_runs, "RECENT_RUNS", 3)
    recent = late_runs.Recent()
    for i in (5, 1, 4, 2, 3):
        recent.add(GROUP, (float(i), f"r{i}"), {"steps": float(i)}, True)
    recent.add(GROUP, (9.0, "none"), None, True)  # not part of the baselines: not kept
    assert [e[0] for e in recent._runs[GROUP]] == [(3.0, "r3"), (4.0, "r4"), (5.0, "r5")]
