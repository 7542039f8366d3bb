"""The latest server's issue, failure-pattern, fix, call and listing routes, derived from the dataset.

None of these routes was captured (the March server has none of them: its
``probe-*.json`` captures are 404 ``Not Found``). Their shapes follow the
upstream code read with the search tools (see ``tests/data/README.md`` for the
commits): ``routers/issues.py``, ``routers/failure_patterns.py``,
``routers/calls.py``, ``routers/policies.py``, ``routers/custom_detectors.py``
and the Pydantic models in ``schemas.py``. The values are derived from the
stored dataset wherever the server would derive them:

* **Issues** are one per (agent, failure type) over the non-shadow signals,
  replayed through the server's lifecycle over the agent's processed runs
  (oldest first): opened on the first hit, ``resolved`` after
  ``CLEAN_RUNS_THRESHOLD`` (5) consecutive runs without that type, ``reopened``
  on a hit after that. ``affected_runs`` counts distinct runs, ``first_seen`` /
  ``last_seen`` are the min/max ``detected_at``, ``clean_runs_since`` counts the
  runs after the last hit. Ids are 1.. in order of ``first_seen``.
* **Failure-pattern detail** computes ``agent_failure_pattern``'s seven parts
  (overview, step percentiles, evidence aggregates grouped by ``tool`` /
  ``index_name``, a zero-filled 14-day trend, co-occurring types over 30 days,
  the 5 top runs by confidence) from the signals and ``_processed_at``.
* **Fixes** and **calls**: the dataset has no applied fix and no conversation,
  so the server answers empty lists; tests add rows to ``fake.fixes`` /
  ``fake.calls`` (schema-shaped) to exercise the renderers.

"Now" for the 14/30-day windows is ``fake.now``: by default one hour after the
dataset's newest ``last_seen`` (the tests' ``FIXED_NOW``), so the windows hold
the captured runs the way they did on the capture day.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

CLEAN_RUNS_THRESHOLD = 5
ISSUE_STATUSES = ("open", "resolved", "reopened")
COMPLETION_STATUSES = ("natural", "dropped", "escalated")
COST_BUCKETS = ("low", "medium", "high")
CALLS_AGGREGATED = 200  # list_calls only aggregates the 200 most recent calls

_EVIDENCE_AVERAGES = (
    ("count", "avg_count", 1),
    ("consecutive_fails", "avg_consecutive_fails", 1),
    ("growth_factor", "avg_growth_factor", 2),
    ("first_tokens", "avg_first_tokens", 0),
    ("last_tokens", "avg_last_tokens", 0),
    ("duration_ms", "avg_duration_ms", 0),
    ("threshold_ms", "avg_threshold_ms", 0),
    ("ratio", "avg_ratio", 2),
    ("top_score", "avg_top_score", 3),
    ("result_count", "avg_result_count", 1),
    ("inflation_ratio", "avg_inflation_ratio", 2),
    ("baseline_p75", "avg_baseline_p75", 1),
    ("stall_steps", "avg_stall_steps", 1),
)


def default_now(data: dict) -> float:
    newest = max((a.get("last_seen") or 0.0 for a in data.get("agents", [])), default=0.0)
    return (newest or 0.0) + 3600.0


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d")


def _live(signals: list[dict]) -> list[dict]:
    return [s for s in signals if not s.get("shadow")]


def derive_issues(data: dict) -> list[dict]:
    """Every agent's issues, ids 1.. by first_seen (ties: agent, type)."""
    processed = data["_processed_at"]
    found: list[dict] = []
    for agent_id, signals in data["signals"].items():
        runs = sorted(data["runs"].get(agent_id, []), key=lambda r: processed.get(r["run_id"], 0.0))
        by_type: dict[str, list[dict]] = {}
        for s in _live(signals):
            by_type.setdefault(s["failure_type"], []).append(s)
        for failure_type, hits in by_type.items():
            found.append(_replay(agent_id, failure_type, hits, runs, processed))
    found.sort(key=lambda i: (i["first_seen"], i["agent_id"], i["failure_type"]))
    for n, issue in enumerate(found, start=1):
        issue["id"] = n
    return found


def _replay(agent_id: str, failure_type: str, hits: list[dict], runs: list[dict], processed: dict) -> dict:
    hit_runs = {s["run_id"] for s in hits}
    status: str | None = None
    clean = 0
    resolved_at = None
    for run in runs:
        if run["run_id"] in hit_runs:
            status = "reopened" if status == "resolved" else (status or "open")
            clean = 0
            resolved_at = None
        elif status is not None:
            clean += 1
            if clean == CLEAN_RUNS_THRESHOLD and status != "resolved":
                status, resolved_at = "resolved", processed.get(run["run_id"])
    times = [s["detected_at"] for s in hits]
    return {
        "id": 0,
        "agent_id": agent_id,
        "failure_type": failure_type,
        "status": status or "open",
        "first_seen": min(times),
        "last_seen": max(times),
        "resolved_at": resolved_at,
        "affected_runs": len(hit_runs),
        "clean_runs_since": clean,
        "resolution_notes": None,
        "manually_resolved": False,
    }


def _percentile(values: list[float], q: float) -> float | None:
    """PERCENTILE_CONT: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))


def _avg(values: list[float], digits: int) -> float | None:
    return round(sum(values) / len(values), digits) if values else None


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


def _evidence_aggregates(signals: list[dict]) -> list[dict]:
    groups: dict[tuple[Any, Any], list[dict]] = {}
    for s in signals:
        ev = s.get("evidence") or {}
        key = (ev.get("tool"), ev.get("index_name"))
        groups.setdefault(key, []).append(ev)
    rows = []
    for (tool, index_name), evs in groups.items():
        row: dict[str, Any] = {"tool": tool}
        for source, name, digits in _EVIDENCE_AVERAGES:
            numbers = [n for e in evs if (n := _number(e.get(source))) is not None]
            row[name] = _avg(numbers, digits)
        identical = [1.0 if str(e.get("args_identical")).lower() == "true" else 0.0 for e in evs]
        row["args_identical_rate"] = _avg(identical, 2)
        row["index_name"] = index_name
        row["sample_count"] = len(evs)
        rows.append({k: v for k, v in row.items() if v is not None})
    rows.sort(key=lambda r: -r["sample_count"])
    return rows[:10]


def failure_pattern(data: dict, agent_id: str, failure_type: str, now: float) -> dict:
    """agent_failure_pattern for one agent and type."""
    processed = data["_processed_at"]
    signals = [s for s in _live(data["signals"].get(agent_id, [])) if s["failure_type"] == failure_type]
    runs = data["runs"].get(agent_id, [])
    total_runs = len({r["run_id"] for r in runs})
    affected = len({s["run_id"] for s in signals})
    times = [s["detected_at"] for s in signals]
    steps = [float(s["step_index"]) for s in signals]
    today = datetime.fromtimestamp(now, tz=UTC).date()
    days = [(today - timedelta(days=k)).isoformat() for k in range(13, -1, -1)]
    cutoff14, cutoff30 = now - 14 * 86400, now - 30 * 86400
    trend = []
    for day in days:
        hit = {s["run_id"] for s in signals if s["detected_at"] >= cutoff14 and _day(s["detected_at"]) == day}
        total = {
            r["run_id"] for r in runs
            if processed.get(r["run_id"], 0.0) >= cutoff14 and _day(processed.get(r["run_id"], 0.0)) == day
        }
        rate = round(len(hit) / len(total), 3) if total else 0.0
        trend.append({"day": day, "affected_runs": len(hit), "total_runs": len(total), "rate": float(rate)})
    recent = {s["run_id"] for s in signals if s["detected_at"] >= cutoff30}
    co: dict[str, set[str]] = {}
    for s in _live(data["signals"].get(agent_id, [])):
        if s["failure_type"] != failure_type and s["run_id"] in recent:
            co.setdefault(s["failure_type"], set()).add(s["run_id"])
    co_rows = [
        {"failure_type": t, "co_count": len(r), "co_rate": round(len(r) / len(recent), 3)} for t, r in co.items()
    ]
    co_rows.sort(key=lambda c: -c["co_rate"])
    top = sorted(signals, key=lambda s: (-s["confidence"], -s["detected_at"]))[:5]
    severity = {name: sum(1 for s in signals if s["severity"] == name) for name in ("CRITICAL", "HIGH", "MEDIUM", "LOW")}
    return {
        "failure_type": failure_type,
        "overview": {
            "affected_runs": affected,
            "total_runs": total_runs,
            "rate": round(affected / total_runs, 3) if total_runs else 0.0,
            "avg_confidence": round(sum(s["confidence"] for s in signals) / len(signals), 3) if signals else 0.0,
            "first_seen": min(times) if times else None,
            "last_seen": max(times) if times else None,
            "severity_breakdown": severity,
        },
        "step_distribution": {
            "p25": _percentile(steps, 0.25),
            "p50": _percentile(steps, 0.50),
            "p75": _percentile(steps, 0.75),
            "avg_step": _avg(steps, 1),
        },
        "evidence_aggregates": _evidence_aggregates(signals),
        "daily_trend": trend,
        "co_occurring": co_rows[:8],
        "top_runs": [
            {
                "run_id": s["run_id"],
                "confidence": s["confidence"],
                "severity": s["severity"],
                "step_index": s["step_index"],
                "detected_at": s["detected_at"],
                "evidence": s.get("evidence") or {},
            }
            for s in top
        ],
    }


def cost_bucket(cost: float) -> str:
    return "low" if cost < 0.10 else ("medium" if cost <= 1.0 else "high")


def issue_detail(issue: dict, pattern: dict, explained: dict | None) -> dict:
    """IssueDetail: the issue's fields, its affected runs (the pattern's top runs), root cause and fix."""
    body = {k: v for k, v in issue.items() if k != "affected_runs"}
    body["affected_runs_count"] = issue["affected_runs"]
    body["affected_runs"] = [
        {k: r[k] for k in ("run_id", "detected_at", "step_index", "confidence")} for r in pattern["top_runs"]
    ]
    body["root_cause"] = explained.get("root_cause") if explained else None
    body["suggested_fix"] = (explained.get("fix_content") or explained.get("suggested_policy")) if explained else None
    body["code_references"] = []
    return body
