"""SQL and arithmetic behind the store's issue and failure-pattern routes.

The latest server keeps an ``issues`` table that its worker updates after every processed run; the
store derives the same rows at read time from its signals and runs (``routes_issues.py`` serves them):

* one issue per (agent, failure type) with at least one non-shadow signal;
* its lifecycle replayed over the agent's processed runs, oldest ``processed_at`` first: opened by the
  first run with that type, ``resolved`` after ``CLEAN_RUNS_THRESHOLD`` (5) consecutive runs without it
  (``resolved_at`` = the fifth one's ``processed_at``), ``reopened`` by a hit after that, open again
  while it recurs; ``clean_runs_since`` counts the runs after the last hit;
* ``affected_runs`` distinct runs, ``first_seen``/``last_seen`` the min/max ``detected_at``;
* ids 1.. in order of ``first_seen`` (ties: agent, type), as the server numbers issues as they open.

``failure_pattern`` is ``agent_failure_pattern`` of the server's ``db/queries.py``: overview, step
percentiles, evidence aggregates grouped by ``tool``/``index_name``, a zero-filled 14-day trend,
co-occurring types over 30 days and the 5 top runs by confidence.
"""

from __future__ import annotations

import datetime as _dt
import sqlite3
from typing import Any

from dunetrace_cli.local.readqueries import DAY, avg_rounded, loads_object, percentile_cont, ratio, utc_day

CLEAN_RUNS_THRESHOLD = 5
ISSUE_STATUSES = ("open", "resolved", "reopened")
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")

# (evidence key, aggregate name, digits) in the order of the server's SELECT list
_EVIDENCE_AVERAGES = (
    ("count", "avg_count", 1),
    ("consecutive_fails", "avg_consecutive_fails", 1),
    ("args_identical", "args_identical_rate", 2),
    ("growth_factor", "avg_growth_factor", 2),
    ("first_tokens", "avg_first_tokens", 0),
    ("last_tokens", "avg_last_tokens", 0),
    ("duration_ms", "avg_duration_ms", 0),
    ("threshold_ms", "avg_threshold_ms", 0),
    ("ratio", "avg_ratio", 2),
    ("index_name", "index_name", None),
    ("top_score", "avg_top_score", 3),
    ("result_count", "avg_result_count", 1),
    ("inflation_ratio", "avg_inflation_ratio", 2),
    ("baseline_p75", "avg_baseline_p75", 1),
    ("stall_steps", "avg_stall_steps", 1),
)


# ---------------------------------------------------------------------------------------------
# issues


def all_issues(conn: sqlite3.Connection, agent_id: str | None = None) -> list[dict[str, Any]]:
    """Every issue (of one agent, or all), with the server's ids; unordered beyond id order."""
    hits: dict[tuple[str, str], dict[str, Any]] = {}
    for r in conn.execute(
        "SELECT agent_id, failure_type, run_id, detected_at FROM signals WHERE shadow = 0"
    ):
        entry = hits.setdefault((r["agent_id"], r["failure_type"]), {"runs": set(), "times": []})
        entry["runs"].add(r["run_id"])
        entry["times"].append(float(r["detected_at"]))
    runs_by_agent: dict[str, list[str]] = {}
    processed_at: dict[str, float] = {}
    for r in conn.execute(
        "SELECT agent_id, run_id, processed_at FROM runs WHERE processed_at IS NOT NULL "
        "ORDER BY agent_id, processed_at, run_id"
    ):
        runs_by_agent.setdefault(r["agent_id"], []).append(r["run_id"])
        processed_at[r["run_id"]] = float(r["processed_at"])
    issues = [
        _replay(agent, ftype, entry["runs"], entry["times"], runs_by_agent.get(agent, []), processed_at)
        for (agent, ftype), entry in hits.items()
    ]
    issues.sort(key=lambda i: (i["first_seen"], i["agent_id"], i["failure_type"]))
    for number, issue in enumerate(issues, start=1):
        issue["id"] = number
    if agent_id is not None:
        issues = [i for i in issues if i["agent_id"] == agent_id]
    return issues


def _replay(
    agent_id: str, failure_type: str, hit_runs: set[str], times: list[float], runs: list[str], processed_at: dict[str, float]
) -> dict[str, Any]:
    status: str | None = None
    clean = 0
    resolved_at: float | None = None
    for run_id in runs:
        if run_id in hit_runs:
            status = "reopened" if status == "resolved" else (status or "open")
            clean, resolved_at = 0, None
        elif status is not None:
            clean += 1
            if clean == CLEAN_RUNS_THRESHOLD and status != "resolved":
                status, resolved_at = "resolved", processed_at[run_id]
    return {
        "id": 0,
        "agent_id": agent_id,
        "failure_type": failure_type,
        "status": status or "open",  # hits on runs not processed yet still open the issue
        "first_seen": min(times),
        "last_seen": max(times),
        "resolved_at": resolved_at,
        "affected_runs": len(hit_runs),
        "clean_runs_since": clean,
        "resolution_notes": None,
        "manually_resolved": False,
    }


def agent_issues(conn: sqlite3.Connection, agent_id: str, status: str | None) -> list[dict[str, Any]]:
    """``list_issues``: exact status match (``all`` matches nothing, as on the server); open, reopened,
    resolved, then newest ``last_seen`` first."""
    issues = all_issues(conn, agent_id)
    if status is not None:
        issues = [i for i in issues if i["status"] == status.lower()]
    rank = {"open": 0, "reopened": 1}
    issues.sort(key=lambda i: (rank.get(i["status"], 2), -i["last_seen"], i["id"]))
    return issues


def search_issues(
    conn: sqlite3.Connection,
    *,
    q: str,
    status: str | None,
    agent_id: str | None,
    failure_type: str | None,
    offset: int,
    limit: int,
) -> tuple[list[dict[str, Any]], int]:
    """``search_issues``: case-insensitive substring over agent id, failure type and notes; newest first."""
    needle = q.lower()
    rows = []
    for issue in all_issues(conn, agent_id):
        text = " ".join((issue["agent_id"], issue["failure_type"], issue["resolution_notes"] or "")).lower()
        if needle and needle not in text:
            continue
        if status is not None and issue["status"] != status.lower():
            continue
        if failure_type is not None and issue["failure_type"] != failure_type.upper():
            continue
        rows.append(issue)
    rows.sort(key=lambda i: (-i["last_seen"], i["id"]))
    return rows[offset : offset + limit], len(rows)


def issue_by_id(conn: sqlite3.Connection, issue_id: int) -> dict[str, Any] | None:
    return next((i for i in all_issues(conn) if i["id"] == issue_id), None)


# ---------------------------------------------------------------------------------------------
# failure-pattern detail


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _evidence_aggregates(evidences: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for ev in evidences:
        key = (_text(ev.get("tool")), _text(ev.get("index_name")))
        groups.setdefault(key, []).append(ev)
    rows = []
    for (tool, index_name), evs in groups.items():
        row: dict[str, Any] = {"tool": tool}
        for source, name, digits in _EVIDENCE_AVERAGES:
            if digits is None:
                row[name] = index_name
                continue
            if source == "args_identical":
                numbers = [1.0 if str(e.get(source)).lower() == "true" else 0.0 for e in evs]
            else:
                numbers = [n for e in evs if (n := _number(e.get(source))) is not None]
            value = avg_rounded(numbers, digits)
            row[name] = int(value) if value is not None and digits == 0 else value
        row["sample_count"] = len(evs)
        rows.append({k: v for k, v in row.items() if v is not None})
    rows.sort(key=lambda r: -r["sample_count"])
    return rows[:10]


def _text(value: Any) -> str | None:
    """``evidence->>'key'``: JSON text of the value (strings bare), None when absent."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    import json

    return json.dumps(value, separators=(", ", ": "))


def failure_pattern(conn: sqlite3.Connection, agent_id: str, failure_type: str, *, now: float) -> dict[str, Any]:
    signals = conn.execute(
        "SELECT run_id, confidence, severity, step_index, detected_at, evidence FROM signals "
        "WHERE agent_id = ? AND failure_type = ? AND shadow = 0",
        (agent_id, failure_type),
    ).fetchall()
    total_runs = conn.execute(
        "SELECT COUNT(*) FROM runs WHERE agent_id = ? AND processed_at IS NOT NULL", (agent_id,)
    ).fetchone()[0]
    affected = {r["run_id"] for r in signals}
    times = [float(r["detected_at"]) for r in signals]
    steps = [float(r["step_index"]) for r in signals]
    evidences = [loads_object(r["evidence"]) for r in signals]

    today = _dt.datetime.fromtimestamp(now, tz=_dt.UTC).date()
    days = [(today - _dt.timedelta(days=back)).isoformat() for back in range(13, -1, -1)]
    since14 = now - 14 * DAY
    hit_by_day: dict[str, set[str]] = {}
    for r in signals:
        if float(r["detected_at"]) >= since14:
            hit_by_day.setdefault(utc_day(float(r["detected_at"])), set()).add(r["run_id"])
    total_by_day: dict[str, int] = {}
    for r in conn.execute(
        "SELECT processed_at FROM runs WHERE agent_id = ? AND processed_at >= ?", (agent_id, since14)
    ):
        day = utc_day(float(r["processed_at"]))
        total_by_day[day] = total_by_day.get(day, 0) + 1
    trend = [
        {
            "day": day,
            "affected_runs": len(hit_by_day.get(day, ())),
            "total_runs": total_by_day.get(day, 0),
            "rate": ratio(len(hit_by_day.get(day, ())), total_by_day.get(day, 0), 3),
        }
        for day in days
    ]

    recent = sorted({r["run_id"] for r in signals if float(r["detected_at"]) >= now - 30 * DAY})
    co: dict[str, set[str]] = {}
    for chunk_start in range(0, len(recent), 500):
        chunk = recent[chunk_start : chunk_start + 500]
        marks = ",".join("?" * len(chunk))
        for r in conn.execute(
            f"SELECT failure_type, run_id FROM signals WHERE agent_id = ? AND failure_type != ? "  # noqa: S608
            f"AND shadow = 0 AND run_id IN ({marks})",
            (agent_id, failure_type, *chunk),
        ):
            co.setdefault(r["failure_type"], set()).add(r["run_id"])
    ranked = sorted(co.items(), key=lambda item: (-ratio(len(item[1]), len(recent), 3), item[0]))
    co_rows = [
        {"failure_type": t, "co_count": len(runs), "co_rate": ratio(len(runs), len(recent), 3)} for t, runs in ranked
    ]

    top = sorted(signals, key=lambda r: (-float(r["confidence"]), -float(r["detected_at"])))[:5]
    return {
        "failure_type": failure_type,
        "overview": {
            "affected_runs": len(affected),
            "total_runs": total_runs,
            "rate": ratio(len(affected), total_runs, 3),
            "avg_confidence": avg_rounded([float(r["confidence"]) for r in signals], 3) or 0.0,
            "first_seen": min(times) if times else None,
            "last_seen": max(times) if times else None,
            "severity_breakdown": {s: sum(1 for r in signals if r["severity"] == s) for s in SEVERITIES},
        },
        "step_distribution": {
            "p25": percentile_cont(steps, 0.25),
            "p50": percentile_cont(steps, 0.50),
            "p75": percentile_cont(steps, 0.75),
            "avg_step": avg_rounded(steps, 1),
        },
        "evidence_aggregates": _evidence_aggregates(evidences),
        "daily_trend": trend,
        "co_occurring": co_rows[:8],
        "top_runs": [
            {
                "run_id": r["run_id"],
                "confidence": float(r["confidence"]),
                "severity": r["severity"],
                "step_index": int(r["step_index"]),
                "detected_at": float(r["detected_at"]),
                "evidence": loads_object(r["evidence"]),
            }
            for r in top
        ],
    }


def signal_exists(conn: sqlite3.Connection, signal_id: int) -> bool:
    return conn.execute("SELECT 1 FROM signals WHERE id = ?", (signal_id,)).fetchone() is not None
