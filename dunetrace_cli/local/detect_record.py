"""Recording one run's detection in the store: its signals, its ``runs`` row, its baseline figures.

:func:`record` is the write half of :func:`dunetrace_cli.local.detect.detect_in`; the other half (the
SDK's detectors and the baselines) may have run in another process (``local ingest``'s detection
process), so everything it needs arrives as values. A run detected for the first time has no signals and
no baseline row yet: its signals go in with one ``executemany`` and nothing is read back.
"""

from __future__ import annotations

import time
from typing import Any

from dunetrace_cli.local import aggregates_defer
from dunetrace_cli.local import baselines as bl

_INSERT_SIGNAL = (
    "INSERT OR IGNORE INTO signals(run_id, agent_id, agent_version, failure_type, severity, step_index, "
    "confidence, evidence, detected_at, alerted, shadow, co_signal_count, detector_severity, "
    "detector_confidence) VALUES (?,?,?,?,?,?,?,?,?,0,?,?,?,?)"
)
_UPSERT_METRICS = (
    "INSERT INTO run_metrics(run_id, agent_id, agent_version, processed_at, steps, tool_latency_ms, "
    "llm_latency_ms, token_growth, llm_tool_ratio, total_tokens, duration_s, clean, run_time) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(run_id) DO UPDATE SET processed_at=excluded.processed_at, "
    "steps=excluded.steps, tool_latency_ms=excluded.tool_latency_ms, llm_latency_ms=excluded.llm_latency_ms, "
    "token_growth=excluded.token_growth, llm_tool_ratio=excluded.llm_tool_ratio, "
    "total_tokens=excluded.total_tokens, duration_s=excluded.duration_s, clean=excluded.clean, "
    "run_time=excluded.run_time"
)
_UPDATE_RUN = (
    "UPDATE runs SET processed_at=?, trigger=?, processed_event_count=?, signal_count=?, "
    "needs_detection=CASE WHEN event_count > ? THEN 1 ELSE 0 END, needs_reeval=0, processing_error=?, "
    "baseline_key=? WHERE run_id=?"
)


def stamp_of(run: Any, at: tuple[float, str], *, now: float | None, replace: bool, stall_seconds: float) -> float:
    """When the run was processed: the backend's clock for server-stamped runs, the run's own for file input."""
    if replace:
        return float(run["processed_at"])
    if now is not None:
        return now
    if run["event_clock"]:
        stamp = float(run["last_received_at"] if run["last_received_at"] is not None else at[0])
        return stamp + stall_seconds if run["terminal_event_type"] is None else stamp
    return time.time()


def record(
    conn: Any,
    run: Any,
    result: Any,
    at: tuple[float, str],
    outcome: Any,
    key: str,
    seen_events: int,
    *,
    now: float | None,
    replace: bool,
    stall_seconds: float,
    cache: bl.BaselineCache | None,
    at_tip: bool = False,
    batch: Batch | None = None,
) -> None:
    """Write one run's detection (``outcome``: rows, metrics, error) inside the caller's write transaction.

    ``at_tip``: the run is the newest of its agent version in a store holding nothing later, so no later
    run can need a re-evaluation (the baseline cache knows it). ``batch``: a first detection at the tip
    only collects its rows there, written by ``batch.write`` (the caller's, before its commit).
    """
    run_id, agent, version = run["run_id"], run["agent_id"], run["agent_version"]
    result.error = outcome.error
    stamp = stamp_of(run, at, now=now, replace=replace, stall_seconds=stall_seconds)
    result.all_types = [r[0] for r in outcome.rows]
    first = run["processed_at"] is None and not replace
    if first and at_tip and batch is not None:
        batch.add(run_id, agent, version, outcome, stamp, result, key, seen_events, at)
        return
    if first:  # never detected: no signals, no baseline row yet
        conn.executemany(
            _INSERT_SIGNAL,
            [(run_id, agent, version, ft, sev, step, conf, evidence, stamp, shadow, co, det_sev, det_conf)
             for ft, sev, step, conf, evidence, shadow, co, det_sev, det_conf in outcome.rows],
        )  # fmt: skip
        result.new_signals.extend(result.all_types)
        live_count = sum(1 for r in outcome.rows if not r[5])
    else:
        _rewrite_signals(conn, run_id, agent, version, outcome.rows, stamp, replace, result)
        live_count = conn.execute("SELECT COUNT(*) FROM signals WHERE run_id=? AND shadow=0", (run_id,)).fetchone()[0]
    conn.execute(_UPDATE_RUN, (stamp, result.trigger, seen_events, live_count, seen_events, result.error, key, run_id))
    _record_metrics(conn, run, at, stamp, outcome.metrics, clean=live_count == 0, cache=cache, first=first,
                    at_tip=at_tip)  # fmt: skip


class Batch:
    """First detections at the tip, written with one ``executemany`` per table (see ``record``)."""

    def __init__(self) -> None:
        self.signals: list[tuple[Any, ...]] = []
        self.runs: list[tuple[Any, ...]] = []
        self.metrics: list[tuple[Any, ...]] = []

    def add(
        self, run_id: str, agent: str, version: str, outcome: Any, stamp: float, result: Any, key: str, seen: int,
        at: tuple[float, str],
    ) -> None:  # fmt: skip
        self.signals += [(run_id, agent, version, ft, sev, step, conf, evidence, stamp, shadow, co, det_sev, det_conf)
                         for ft, sev, step, conf, evidence, shadow, co, det_sev, det_conf in outcome.rows]  # fmt: skip
        result.new_signals.extend(result.all_types)
        live = sum(1 for r in outcome.rows if not r[5])
        self.runs.append((stamp, result.trigger, seen, live, seen, result.error, key, run_id))
        if outcome.metrics is not None:
            m = outcome.metrics
            self.metrics.append((run_id, agent, version, stamp, *[m[k] for k in bl.METRICS], 1 if live == 0 else 0, at[0]))

    def write(self, conn: Any) -> None:
        with aggregates_defer.first_detections(conn, [r[-1] for r in self.runs]):  # their triggers, set-based
            conn.executemany(_INSERT_SIGNAL, self.signals)
            conn.executemany(_UPDATE_RUN, self.runs)
        conn.executemany(_UPSERT_METRICS, self.metrics)
        self.signals, self.runs, self.metrics = [], [], []


def _rewrite_signals(
    conn: Any, run_id: str, agent: str, version: str, rows: list[tuple[Any, ...]], stamp: float, replace: bool,
    result: Any,
) -> None:  # fmt: skip
    """A run detected before: a re-evaluation replaces its signals exactly; late events only add new types."""
    if replace:
        old = {r[0] for r in conn.execute("SELECT failure_type FROM signals WHERE run_id=?", (run_id,))}
        gone = old - set(result.all_types)
        if gone:
            conn.execute(
                f"DELETE FROM signals WHERE run_id=? AND failure_type IN ({','.join('?' * len(gone))})",  # noqa: S608
                [run_id, *sorted(gone)],
            )
        for ft, sev, step, conf, evidence, shadow, co, det_sev, det_conf in rows:
            if ft in old:
                conn.execute(
                    "UPDATE signals SET severity=?, step_index=?, confidence=?, evidence=?, shadow=?, "
                    "co_signal_count=?, detector_severity=?, detector_confidence=? WHERE run_id=? AND failure_type=?",
                    (sev, step, conf, evidence, shadow, co, det_sev, det_conf, run_id, ft),
                )
    for ft, sev, step, conf, evidence, shadow, co, det_sev, det_conf in rows:
        cur = conn.execute(
            _INSERT_SIGNAL,
            (run_id, agent, version, ft, sev, step, conf, evidence, stamp, shadow, co, det_sev, det_conf),
        )
        if cur.rowcount == 1:
            result.new_signals.append(ft)


def _record_metrics(
    conn: Any, run: Any, at: tuple[float, str], stamp: float, metrics: dict[str, float | None] | None, *,
    clean: bool, cache: bl.BaselineCache | None, first: bool, at_tip: bool,
) -> None:  # fmt: skip
    """Upsert the run's baseline figures; flag later runs whose windows it enters or leaves."""
    run_id, agent, version = run["run_id"], run["agent_id"], run["agent_version"]
    prev = None
    if not first:
        prev = conn.execute(
            f"SELECT clean, {','.join(bl.METRICS)} FROM run_metrics WHERE run_id=?", (run_id,)  # noqa: S608
        ).fetchone()
    if metrics is not None:
        conn.execute(
            _UPSERT_METRICS,
            (run_id, agent, version, stamp, *[metrics[m] for m in bl.METRICS], 1 if clean else 0, at[0]),
        )
    elif prev is not None:
        conn.execute("DELETE FROM run_metrics WHERE run_id=?", (run_id,))
    before = None if prev is None or not prev[0] else {m: prev[1 + i] for i, m in enumerate(bl.METRICS)}
    after = metrics if (metrics is not None and clean) else None
    if before != after and not at_tip:
        union = {m: (after or {}).get(m) if (after or {}).get(m) is not None else (before or {}).get(m)
                 for m in bl.METRICS}  # fmt: skip
        bl.flag_later_runs(conn, agent, version, at, union)
    if cache is not None:
        cache.add(conn, agent, version, at, metrics, clean)


def cache_add_stored(
    conn: Any, cache: bl.BaselineCache, run_id: str, agent: str, version: str, at: tuple[float, str]
) -> None:
    """Feed the cache a run whose stored figures did not change (a re-evaluation that was a no-op)."""
    row = conn.execute(
        f"SELECT clean, {','.join(bl.METRICS)} FROM run_metrics WHERE run_id=?", (run_id,)  # noqa: S608
    ).fetchone()
    metrics = None if row is None else {m: row[1 + i] for i, m in enumerate(bl.METRICS)}
    cache.add(conn, agent, version, at, metrics, bool(row[0]) if row is not None else False)
