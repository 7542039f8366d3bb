"""Cross-run baselines of the local store: per-run metrics, P75 over earlier runs, and re-evaluation.

The latest backend gives a run P75 baselines over the newest 50 clean runs of the same agent and
agent_version processed before it (each metric needs at least 20 samples). Here "before" is by run
time, not arrival: a run's ``run_time`` is its end by its own events (the terminal event's timestamp,
else its last event), so the answer does not depend on the order the runs reached the store.

When a run reaches the baselines after later runs were already analysed (a late file, a slower SDK
client, a run that stalled), the later runs whose window now includes it are flagged
(``runs.needs_reeval``) and re-evaluated by the next sweep; a re-evaluation whose baselines did not
change is a no-op (``runs.baseline_key``).
"""

from __future__ import annotations

import json
import operator
import time
from collections import deque
from typing import Any

from dunetrace.models import EventType, RunState

MIN_BASELINE_RUNS = 20
BASELINE_LOOKBACK = 50

#: metric column -> RunState baseline field
BASELINE_FIELDS: dict[str, str] = {
    "steps": "baseline_p75_steps",
    "tool_latency_ms": "baseline_p75_latency_tool",
    "llm_latency_ms": "baseline_p75_latency_llm",
    "token_growth": "baseline_p75_token_growth",
    "llm_tool_ratio": "baseline_p75_llm_tool_ratio",
    "total_tokens": "baseline_p75_total_tokens",
    "duration_s": "baseline_p75_duration_s",
}
#: metric column -> key in the SDK's GET /v1/detector-config ``baselines``
BASELINE_CONFIG_KEYS: dict[str, str] = {
    "steps": "p75_steps",
    "tool_latency_ms": "p75_latency_tool_ms",
    "llm_latency_ms": "p75_latency_llm_ms",
    "token_growth": "p75_token_growth",
    "llm_tool_ratio": "p75_llm_tool_ratio",
    "total_tokens": "p75_total_tokens",
    "duration_s": "p75_duration_s",
}
METRICS = tuple(BASELINE_FIELDS)
_TOOL_CALLED = EventType.TOOL_CALLED
_LLM_CALLED = EventType.LLM_CALLED


def p75(values: list[float]) -> float | None:
    """Linear-interpolated 75th percentile (Postgres PERCENTILE_CONT(0.75))."""
    if not values:
        return None
    ordered = sorted(values)
    pos = 0.75 * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))


_replay_key = operator.attrgetter("step_index", "timestamp")  # (no Python call per event)


def run_metrics(state: RunState) -> dict[str, float | None]:
    """The per-run figures the baselines aggregate. None = the run does not qualify for that baseline
    (mirrors the guard of the detector the baseline feeds)."""
    calls = state.llm_calls
    total = sum((c.prompt_tokens or 0) + (c.completion_tokens or 0) + (c.reasoning_tokens or 0) for c in calls)
    events = state.events
    duration = None
    if len(events) >= 2:
        stamps = [e.timestamp for e in events]
        duration = max(stamps) - min(stamps)
    with_tokens = [c for c in calls if c.prompt_tokens is not None and c.prompt_tokens > 0]
    growth = None
    if len(with_tokens) >= 3:
        first, last = with_tokens[0].prompt_tokens or 0, with_tokens[-1].prompt_tokens or 0
        if first >= 10 and last >= 2000:
            growth = last / first
    ratio = len(calls) / max(len(state.tool_calls), 1) if len(calls) >= 5 else None
    # the gap after each tool.called / llm.called to the next event, in replay order (step, then time)
    ordered = sorted(events, key=_replay_key)
    tool_gaps: list[float] = []
    llm_gaps: list[float] = []
    for ev, nxt in zip(ordered, ordered[1:]):
        kind = ev.event_type
        gaps = tool_gaps if kind is _TOOL_CALLED else llm_gaps if kind is _LLM_CALLED else None
        if gaps is not None:
            gap = (nxt.timestamp - ev.timestamp) * 1000.0
            if gap >= 0:
                gaps.append(gap)
    return {
        "steps": float(max((e.step_index for e in events), default=0)),
        "tool_latency_ms": p75(tool_gaps),
        "llm_latency_ms": p75(llm_gaps),
        "token_growth": growth,
        "llm_tool_ratio": ratio,
        "total_tokens": float(total) if total > 0 else None,
        "duration_s": duration if (duration or 0) > 0 else None,
    }


def keyed_windows(
    conn: Any, agent_id: str, agent_version: str, *, exclude_run: str = "", before: tuple[float, str] | None = None,
    inclusive: bool = False,
) -> dict[str, list[tuple[tuple[float, str], float]]]:
    """Per metric, the newest 50 clean runs' ((run_time, run_id), value), oldest first, each read from its
    partial index."""
    out: dict[str, list[tuple[tuple[float, str], float]]] = {}
    for m in METRICS:
        sql = (
            f"SELECT run_time, run_id, {m} FROM run_metrics WHERE agent_id=? AND agent_version=? AND clean=1 "  # noqa: S608
            f"AND {m} IS NOT NULL AND run_id != ? "
        )
        params: list[Any] = [agent_id, agent_version, exclude_run]
        if before is not None:
            sql += f"AND (run_time < ? OR (run_time = ? AND run_id {'<=' if inclusive else '<'} ?)) "
            params += [before[0], before[0], before[1]]
        sql += "ORDER BY run_time DESC, run_id DESC LIMIT ?"
        rows = conn.execute(sql, [*params, BASELINE_LOOKBACK]).fetchall()
        out[m] = [((float(r[0]), r[1]), float(r[2])) for r in reversed(rows)]
    return out


def _windows(
    conn: Any, agent_id: str, agent_version: str, *, exclude_run: str = "", before: tuple[float, str] | None = None,
    inclusive: bool = False,
) -> dict[str, list[float]]:
    """Per metric, the newest 50 values of clean runs (oldest first): ``keyed_windows``' values."""
    keyed = keyed_windows(conn, agent_id, agent_version, exclude_run=exclude_run, before=before, inclusive=inclusive)
    return {m: [v for _, v in rows] for m, rows in keyed.items()}


def baselines_of(values: dict[str, list[float]], need: int = MIN_BASELINE_RUNS) -> dict[str, float | None]:
    """P75 per metric of these windows (None below ``need`` samples)."""
    return {m: (p75(v) if len(v) >= need else None) for m, v in values.items()}


def baselines(
    conn: Any,
    agent_id: str,
    agent_version: str,
    *,
    exclude_run: str = "",
    before: tuple[float, str] | None = None,
    min_runs: int | None = None,
) -> dict[str, float | None]:
    """P75 per metric over the newest clean runs of this agent version (None below ``min_runs`` samples).

    ``before=(run_time, run_id)``: only runs that ended earlier (ties by run id), as of that run.
    """
    need = MIN_BASELINE_RUNS if min_runs is None else min_runs
    return baselines_of(_windows(conn, agent_id, agent_version, exclude_run=exclude_run, before=before), need)


def baseline_key(values: dict[str, float | None]) -> str:
    return json.dumps([values[m] for m in METRICS], separators=(",", ":"))


class BaselineCache:
    """Baselines kept incrementally while a sweep detects runs in run-time order.

    Per (agent, version): the newest 50 clean values of each metric up to the newest run added (its
    ``tip``). A run after the tip gets its baselines from memory; an earlier run, or a group whose store
    already holds runs after the tip, is answered from the store.
    """

    def __init__(self) -> None:
        self._groups: dict[tuple[str, str], tuple[tuple[float, str], dict[str, deque[float]], bool]] = {}
        #: per group, the P75 of each window as it is now (a metric's is dropped when its window changes):
        #: a run that is not clean changes nothing, a clean one only the metrics it has
        self._values: dict[tuple[str, str], dict[str, float | None]] = {}
        self._keys: dict[tuple[str, str], str] = {}  # the baseline_key of a group's complete _values

    def get(self, conn: Any, agent_id: str, version: str, at: tuple[float, str]) -> dict[str, float | None]:
        return self.get_keyed(conn, agent_id, version, at)[0]

    def get_keyed(
        self, conn: Any, agent_id: str, version: str, at: tuple[float, str]
    ) -> tuple[dict[str, float | None], str]:
        """``get`` and its ``baseline_key`` (kept with the values while they do not change)."""
        key = (agent_id, version)
        group = self._groups.get(key)
        if group is None or not group[2] or at <= group[0]:
            base = baselines(conn, agent_id, version, before=at)
            return base, baseline_key(base)
        values = self._values.setdefault(key, {})
        if len(values) < len(METRICS):
            for m, w in group[1].items():
                if m not in values:
                    values[m] = p75(list(w)) if len(w) >= MIN_BASELINE_RUNS else None
            self._keys.pop(key, None)
        base = {m: values[m] for m in METRICS}
        text = self._keys.get(key)
        if text is None:
            text = self._keys[key] = baseline_key(base)
        return base, text

    def from_memory(self, agent_id: str, version: str, at: tuple[float, str]) -> bool | None:
        """True: ``get`` answers from memory; None: the group is new here (``get`` reads the store as it
        is); False: ``get`` would read runs of this group that this cache already saw from the store."""
        group = self._groups.get((agent_id, version))
        if group is None:
            return None
        return bool(group[2]) and at > group[0]

    def at_tip(self, agent_id: str, version: str, at: tuple[float, str]) -> bool:
        """The run is the newest of its group and the store held nothing later: no later run to flag."""
        return self.from_memory(agent_id, version, at) is True

    def add(
        self, conn: Any, agent_id: str, version: str, at: tuple[float, str], metrics: dict[str, Any] | None,
        clean: bool, *, run_id: str | None = None,
    ) -> None:  # fmt: skip
        """Record a just-detected run (``metrics=None``: not part of the baselines).

        A group new to the cache is loaded from the store as of just before the run (``run_id``: the
        run, whose own stored figures may be stale or not written yet), then the run is added."""
        key = (agent_id, version)
        group = self._groups.get(key)
        if group is not None and group[2] and at > group[0]:
            windows = group[1]
            values = self._values.get(key)
            for m in _append(windows, metrics, clean):
                if values is not None:
                    values.pop(m, None)
            self._groups[key] = (at, windows, True)
            return
        self._values.pop(key, None)
        later = conn.execute(
            "SELECT 1 FROM run_metrics WHERE agent_id=? AND agent_version=? "
            "AND (run_time > ? OR (run_time = ? AND run_id > ?)) LIMIT 1",
            (agent_id, version, at[0], at[0], at[1]),
        ).fetchone()
        loaded = _windows(conn, agent_id, version, exclude_run=run_id or at[1], before=at)
        windows = {m: deque(v, maxlen=BASELINE_LOOKBACK) for m, v in loaded.items()}
        _append(windows, metrics, clean)
        self._groups[key] = (at, windows, later is None)

    def late(self, agent_id: str, version: str, at: tuple[float, str]) -> bool:
        """The group is answered from memory, and a run at ``at`` would not be after its tip."""
        group = self._groups.get((agent_id, version))
        return group is not None and bool(group[2]) and at <= group[0]

    def refill(self, agent_id: str, version: str, windows: dict[str, list[float]]) -> None:
        """Replace a group's windows (a late run joined them), its tip kept."""
        key = (agent_id, version)
        tip = self._groups[key][0]
        self._groups[key] = (tip, {m: deque(v, maxlen=BASELINE_LOOKBACK) for m, v in windows.items()}, True)
        self._values.pop(key, None)
        self._keys.pop(key, None)

    def forget(self, agent_id: str, version: str) -> None:
        """Drop one agent version (another process evaluated its runs meanwhile: reloaded from the store)."""
        key = (agent_id, version)
        self._groups.pop(key, None)
        self._values.pop(key, None)
        self._keys.pop(key, None)

    def clear(self) -> None:
        self._groups.clear()
        self._values.clear()
        self._keys.clear()


def _append(windows: dict[str, deque[float]], metrics: dict[str, Any] | None, clean: bool) -> list[str]:
    """Add a run's figures to the windows; the metrics whose window changed."""
    changed = []
    if metrics is not None and clean:
        for m in METRICS:
            if metrics.get(m) is not None:
                windows[m].append(float(metrics[m]))
                changed.append(m)
    return changed


def flag_later_runs(
    conn: Any, agent_id: str, version: str, at: tuple[float, str], metrics: dict[str, Any]
) -> int:
    """Flag the analysed runs after ``at`` whose baseline window holds a run with these ``metrics``."""
    counts = {m: 0 for m in METRICS if metrics.get(m) is not None}
    if not counts:
        return 0
    flagged: list[str] = []
    offset, page = 0, 200
    done = False
    while not done:
        rows = conn.execute(
            f"SELECT run_id, clean, {','.join(METRICS)} FROM run_metrics WHERE agent_id=? AND agent_version=? "  # noqa: S608
            "AND (run_time > ? OR (run_time = ? AND run_id > ?)) ORDER BY run_time, run_id LIMIT ? OFFSET ?",
            (agent_id, version, at[0], at[0], at[1], page, offset),
        ).fetchall()
        for row in rows:
            if any(n < BASELINE_LOOKBACK for n in counts.values()):
                flagged.append(row[0])
            if row[1]:
                for i, m in enumerate(METRICS):
                    if m in counts and row[2 + i] is not None:
                        counts[m] += 1
            if all(n >= BASELINE_LOOKBACK for n in counts.values()):
                done = True
                break
        if len(rows) < page:
            break
        offset += page
    for i in range(0, len(flagged), 500):
        chunk = flagged[i : i + 500]
        conn.execute(
            f"UPDATE runs SET needs_reeval=1 WHERE run_id IN ({','.join('?' * len(chunk))})",  # noqa: S608
            chunk,
        )
    return len(flagged)


def detector_config(store: Any, agent_id: str, agent_version: str | None) -> dict[str, Any]:
    """The body of GET /v1/detector-config: no overrides, no packs, baselines when history allows."""
    base: dict[str, Any] | None = None
    version = agent_version
    try:
        conn = store.conn()
        if not version:
            row = conn.execute(
                "SELECT agent_version FROM run_metrics WHERE agent_id=? ORDER BY run_time DESC LIMIT 1",
                (agent_id,),
            ).fetchone()
            version = row[0] if row else None
        if version is not None:
            values = baselines(conn, agent_id, version)
            mapped = {BASELINE_CONFIG_KEYS[k]: v for k, v in values.items()}
            base = mapped if any(v is not None for v in mapped.values()) else None
    except Exception:  # noqa: BLE001 - the SDK fails open; never make a config poll fail
        base = None
    return {
        "schema_version": 1,
        "agent_id": agent_id,
        "agent_version": agent_version,
        "generated_at": time.time(),
        "ttl_s": 60,
        "detectors": {},
        "packs": [],
        "baselines": base,
    }
