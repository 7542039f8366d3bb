"""Per-agent analytics of the local Customer API: health score, token stats, insights.

Same conventions as :mod:`dunetrace_cli.local.readqueries` (an open connection in, JSON-shaped dicts
out, ``now`` passed in). These endpoints aggregate one agent's history, so their cost grows with that
agent's events in the window (as on the server); every query still starts from the agent's own index
range, and per-run probes into ``signals`` go through its ``(run_id, failure_type)`` key.

Formulas: customer-api.md §D.1 (health score), §D.2 (insights), §D.3 (token stats and cost model).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from dunetrace_cli.local.readqueries import (
    DAY,
    as_float,
    loads_object,
    placeholders,
    avg_rounded,
    percentile_cont,
    ratio,
    utc_day,
)
from dunetrace_cli.domain.loops import LOOP_TYPES
from dunetrace_cli.domain.pricing import estimate_cost
from dunetrace_cli.domain.systemic import SYSTEMIC_RATE

BASELINE_MIN_RUNS_HEALTH = 20  # runs in the 30-90 day window before a P75 baseline is used
HEALTH_BASELINE_READY_RUNS = 30
TOKEN_BASELINE_MIN_RUNS = 3

_PROMPT = "COALESCE(CAST(json_extract(payload, '$.prompt_tokens') AS INTEGER), 0)"
_COMPLETION = "COALESCE(CAST(json_extract(payload, '$.completion_tokens') AS INTEGER), 0)"
_REASONING = "COALESCE(CAST(json_extract(payload, '$.reasoning_tokens') AS INTEGER), 0)"


# ---------------------------------------------------------------------------------------------
# GET /v1/agents/{id}/health-score


def _scaled_score(
    avg: float | None, baseline: float | None, *, full: int, neutral: int, abs_ok: float, abs_bad: float
) -> int:
    """One token/latency component: neutral without data, relative to a P75 baseline, else absolute."""
    if avg is None:
        return neutral
    if baseline is not None:
        healthy, penalty = baseline * 1.5, baseline * 4.0
        if avg <= healthy:
            return full
        if avg >= penalty:
            return 0
        return round(full * (1.0 - (avg - healthy) / (penalty - healthy)))
    return max(0, min(full, round(full * (1.0 - max(0.0, avg - abs_ok) / (abs_bad - abs_ok)))))


def _event_average(
    conn: sqlite3.Connection, agent_id: str, types: Sequence[str], key: str, since: float
) -> float | None:
    marks = placeholders(len(types))
    row = conn.execute(
        f"""
        SELECT AVG(CAST(json_extract(payload, '$.{key}') AS REAL))
        FROM events
        WHERE agent_id = ? AND event_type IN ({marks}) AND received_at >= ?
          AND json_extract(payload, '$.{key}') IS NOT NULL
        """,
        [agent_id, *types, since],
    ).fetchone()
    return as_float(row[0])


def _event_baseline(
    conn: sqlite3.Connection, agent_id: str, types: Sequence[str], key: str, since: float, until: float
) -> float | None:
    """P75 of per-run averages of ``key`` in [since, until), if at least 20 runs have data."""
    marks = placeholders(len(types))
    per_run = [
        float(row[0])
        for row in conn.execute(
            f"""
            SELECT AVG(CAST(json_extract(payload, '$.{key}') AS REAL))
            FROM events
            WHERE agent_id = ? AND event_type IN ({marks}) AND received_at >= ? AND received_at < ?
              AND json_extract(payload, '$.{key}') IS NOT NULL
            GROUP BY run_id
            """,
            [agent_id, *types, since, until],
        )
        if row[0] is not None
    ]
    if len(per_run) < BASELINE_MIN_RUNS_HEALTH:
        return None
    return percentile_cont(per_run, 0.75)


def health_score(conn: sqlite3.Connection, agent_id: str, *, now: float) -> dict[str, Any]:
    """0-100 health score over the last 30 days (customer-api.md §D.1)."""
    since = now - 30 * DAY
    total = int(
        conn.execute(
            "SELECT COUNT(*) FROM runs WHERE agent_id = ? AND processed_at >= ?", (agent_id, since)
        ).fetchone()[0]
    )
    if total < 3:
        return {"agent_id": agent_id, "score": None, "components": {}, "sample_runs": total, "baseline_ready": False}

    loop_marks = placeholders(len(LOOP_TYPES))
    row = conn.execute(
        f"""
        SELECT
            SUM(EXISTS (SELECT 1 FROM signals s
                        WHERE s.run_id = r.run_id AND +s.agent_id = r.agent_id AND s.shadow = 0)),
            SUM(EXISTS (SELECT 1 FROM signals s
                        WHERE s.run_id = r.run_id AND +s.agent_id = r.agent_id AND s.shadow = 0
                          AND s.failure_type IN ({loop_marks})))
        FROM runs r
        WHERE r.agent_id = ? AND r.processed_at >= ?
        """,
        [*LOOP_TYPES, agent_id, since],
    ).fetchone()
    failure_rate = int(row[0] or 0) / total
    loop_rate = int(row[1] or 0) / total

    llm_types = ("llm.called", "llm.responded")
    avg_tokens = _event_average(conn, agent_id, llm_types, "prompt_tokens", since)
    avg_latency = _event_average(conn, agent_id, ("llm.responded",), "latency_ms", since)
    p75_tokens = _event_baseline(conn, agent_id, llm_types, "prompt_tokens", now - 90 * DAY, since)
    p75_latency = _event_baseline(conn, agent_id, ("llm.responded",), "latency_ms", now - 90 * DAY, since)

    failure_score = round((1.0 - failure_rate) * 40)
    loop_score = round((1.0 - loop_rate) * 25)
    token_score = _scaled_score(avg_tokens, p75_tokens, full=20, neutral=15, abs_ok=500, abs_bad=4000)
    latency_score = _scaled_score(avg_latency, p75_latency, full=15, neutral=10, abs_ok=1000, abs_bad=8000)
    return {
        "agent_id": agent_id,
        "score": failure_score + loop_score + token_score + latency_score,
        "components": {
            "failure_rate": {
                "score": failure_score,
                "max": 40,
                "value": round(failure_rate * 100, 1),
                "label": "% runs with failures",
            },
            "loop_avoidance": {
                "score": loop_score,
                "max": 25,
                "value": round(loop_rate * 100, 1),
                "label": "% runs with loops",
            },
            "token_efficiency": {
                "score": token_score,
                "max": 20,
                "value": round(avg_tokens) if avg_tokens is not None else None,
                "baseline": round(p75_tokens) if p75_tokens is not None else None,
                "label": "avg prompt tokens",
            },
            "latency": {
                "score": latency_score,
                "max": 15,
                "value": round(avg_latency) if avg_latency is not None else None,
                "baseline": round(p75_latency) if p75_latency is not None else None,
                "label": "avg LLM latency ms",
            },
        },
        "sample_runs": total,
        "baseline_ready": total >= HEALTH_BASELINE_READY_RUNS,
    }


# ---------------------------------------------------------------------------------------------
# GET /v1/agents/{id}/token-stats


def _run_token_rows(conn: sqlite3.Connection, agent_id: str, since: float) -> list[sqlite3.Row]:
    """Per run: tokens of the LLM events received since ``since`` (the exact llm.responded prompt
    count overrides the llm.called estimate, never both), model, first receipt time."""
    return conn.execute(
        f"""
        SELECT run_id,
               MAX(agent_version) AS agent_version,
               MAX(CASE WHEN event_type = 'llm.called'
                        THEN CAST(json_extract(payload, '$.model') AS TEXT) END) AS model,
               SUM(CASE WHEN event_type = 'llm.responded' THEN {_PROMPT} ELSE 0 END) AS prompt_responded,
               SUM(CASE WHEN event_type = 'llm.called' THEN {_PROMPT} ELSE 0 END) AS prompt_called,
               SUM(CASE WHEN event_type = 'llm.responded' THEN {_COMPLETION} ELSE 0 END) AS completion,
               SUM(CASE WHEN event_type = 'llm.responded' THEN {_REASONING} ELSE 0 END) AS reasoning,
               MIN(received_at) AS run_start
        FROM events
        WHERE agent_id = ? AND event_type IN ('llm.called', 'llm.responded') AND received_at >= ?
        GROUP BY run_id
        """,
        (agent_id, since),
    ).fetchall()


def _run_failure_types(conn: sqlite3.Connection, agent_id: str, since: float) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for row in conn.execute(
        "SELECT run_id, failure_type FROM signals WHERE agent_id = ? AND shadow = 0 AND detected_at >= ?",
        (agent_id, since),
    ):
        out.setdefault(row["run_id"], set()).add(row["failure_type"])
    return out


def token_stats(conn: sqlite3.Connection, agent_id: str, *, now: float) -> dict[str, Any]:
    """Token usage, failed-run / excess / prevented spend per 1d/7d/30d window (customer-api.md §D.3)."""
    since = now - 30 * DAY
    token_rows = _run_token_rows(conn, agent_id, since)
    run_types = _run_failure_types(conn, agent_id, since)
    blocked = {
        row[0]
        for row in conn.execute(
            """
            SELECT DISTINCT run_id FROM events
            WHERE agent_id = ? AND event_type IN ('policy.triggered', 'approval.denied', 'approval.timeout')
              AND received_at >= ?
              AND (event_type != 'policy.triggered' OR json_extract(payload, '$.action_type') = 'stop')
            """,
            (agent_id, since),
        )
    }

    runs = []
    for r in token_rows:
        prompt = int(r["prompt_responded"] or 0) or int(r["prompt_called"] or 0)
        completion = int(r["completion"] or 0)
        reasoning = int(r["reasoning"] or 0)
        runs.append(
            {
                "run_id": r["run_id"],
                "agent_version": r["agent_version"] or "",
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion + reasoning,
                "cost": estimate_cost(r["model"] or "unknown", prompt, completion, reasoning),
                "ts": float(r["run_start"]) if r["run_start"] is not None else 0.0,
                "failure_types": run_types.get(r["run_id"], set()),
                "blocked": r["run_id"] in blocked,
            }
        )

    # Healthy baselines: P75 of clean runs of the version (>= 3), else P75 of all clean runs (>= 3),
    # else the median of all runs (>= 3).
    clean_by_version: dict[str, list[int]] = {}
    clean_all: list[int] = []
    for r in runs:
        if not r["failure_types"]:
            clean_by_version.setdefault(r["agent_version"], []).append(r["total_tokens"])
            clean_all.append(r["total_tokens"])
    version_baseline = {
        version: percentile_cont(tokens, 0.75)
        for version, tokens in clean_by_version.items()
        if len(tokens) >= TOKEN_BASELINE_MIN_RUNS
    }
    agent_baseline = percentile_cont(clean_all, 0.75) if len(clean_all) >= TOKEN_BASELINE_MIN_RUNS else None
    all_tokens = [r["total_tokens"] for r in runs]
    fallback_baseline = percentile_cont(all_tokens, 0.50) if len(all_tokens) >= TOKEN_BASELINE_MIN_RUNS else None

    def baseline_for(version: str) -> float | None:
        for candidate in (version_baseline.get(version), agent_baseline, fallback_baseline):
            if candidate is not None:
                return candidate
        return None

    all_tok = sum(r["total_tokens"] for r in runs)
    avg_rate = (sum(r["cost"] for r in runs) / all_tok) if all_tok else 0.0

    def excess(r: dict[str, Any]) -> tuple[int, float]:
        if not r["failure_types"]:
            return 0, 0.0
        base = baseline_for(r["agent_version"])
        tokens = r["total_tokens"]
        if base is None or tokens <= base:
            return 0, 0.0
        extra = tokens - base
        rate = (r["cost"] / tokens) if tokens else avg_rate
        return int(extra), rate * extra

    reported_baseline = agent_baseline if agent_baseline is not None else fallback_baseline

    def aggregate(selected: list[dict[str, Any]]) -> dict[str, Any]:
        total_tokens = prompt_tokens = completion_tokens = 0
        failed_tokens = excess_tokens = prevented_tokens = 0
        total_cost = failed_cost = excess_cost = prevented_cost = 0.0
        failed_runs = blocked_runs = 0
        for r in selected:
            tokens = r["total_tokens"]
            total_tokens += tokens
            prompt_tokens += r["prompt_tokens"]
            completion_tokens += r["completion_tokens"]
            total_cost += r["cost"]
            rate = (r["cost"] / tokens) if tokens else avg_rate
            base = baseline_for(r["agent_version"])
            if r["failure_types"]:
                failed_tokens += tokens
                failed_cost += r["cost"]
                failed_runs += 1
                extra_tokens, extra_cost = excess(r)
                excess_tokens += extra_tokens
                excess_cost += extra_cost
            if r["blocked"]:
                blocked_runs += 1
                if base is not None and base - tokens > 0:
                    prevented_tokens += int(base - tokens)
                    prevented_cost += (rate or avg_rate) * (base - tokens)
        failed_pct = round(failed_cost / total_cost, 3) if total_cost else 0.0
        return {
            "total_tokens": total_tokens,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_cost_usd": round(total_cost, 4),
            "run_count": len(selected),
            "failed_run_tokens": failed_tokens,
            "failed_run_cost_usd": round(failed_cost, 4),
            "failed_run_count": failed_runs,
            "failed_pct": failed_pct,
            "excess_tokens": excess_tokens,
            "excess_cost_usd": round(excess_cost, 4),
            "baseline_tokens": round(reported_baseline) if reported_baseline is not None else None,
            "prevented_tokens": prevented_tokens,
            "prevented_cost_usd": round(prevented_cost, 4),
            "blocked_run_count": blocked_runs,
            "projected_monthly_excess_tokens": 0,
            "projected_monthly_excess_cost_usd": 0.0,
            "wasted_tokens": failed_tokens,
            "wasted_cost_usd": round(failed_cost, 4),
            "wasted_pct": failed_pct,
            "wasted_run_count": failed_runs,
        }

    cutoffs = {"1d": now - DAY, "7d": now - 7 * DAY, "30d": now - 30 * DAY}
    windows = {name: aggregate([r for r in runs if r["ts"] >= cut]) for name, cut in cutoffs.items()}

    # Projection: avoidable spend of the last 7 days as a 30-day rate, over at least 3 observed days.
    recent = [r for r in runs if r["ts"] >= cutoffs["7d"]]
    recent_tokens = 0
    recent_cost = 0.0
    for r in recent:
        extra_tokens, extra_cost = excess(r)
        recent_tokens += extra_tokens
        recent_cost += extra_cost
    stamps = [r["ts"] for r in recent if r["ts"] > 0]
    observed_days = min(7.0, max(3.0, (now - min(stamps)) / DAY)) if stamps else 7.0
    scale = 30.0 / observed_days
    for window in windows.values():
        window["projected_monthly_excess_tokens"] = int(recent_tokens * scale)
        window["projected_monthly_excess_cost_usd"] = round(recent_cost * scale, 4)

    by_type: dict[str, dict[str, Any]] = {}
    for r in runs:
        for ft in r["failure_types"]:
            entry = by_type.setdefault(ft, {"tokens": 0, "cost": 0.0, "runs": set()})
            entry["tokens"] += r["total_tokens"]
            entry["cost"] += r["cost"]
            entry["runs"].add(r["run_id"])
    waste = sorted(
        (
            {
                "failure_type": ft,
                "wasted_tokens": v["tokens"],
                "wasted_cost_usd": round(v["cost"], 4),
                "affected_runs": len(v["runs"]),
            }
            for ft, v in by_type.items()
        ),
        key=lambda x: (-x["wasted_cost_usd"], x["failure_type"]),
    )
    return {"agent_id": agent_id, "windows": windows, "waste_by_failure_type": waste}


# ---------------------------------------------------------------------------------------------
# GET /v1/agents/{id}/insights


def _input_patterns(conn: sqlite3.Connection, agent_id: str) -> list[dict[str, Any]]:
    totals = {
        row[0]: int(row[1])
        for row in conn.execute(
            """
            SELECT input_hash, COUNT(*) FROM runs
            WHERE agent_id = ? AND input_hash IS NOT NULL
            GROUP BY input_hash HAVING COUNT(*) >= 2
            """,
            (agent_id,),
        )
    }
    if not totals:
        return []
    rows = conn.execute(
        """
        SELECT r.input_hash, s.failure_type, COUNT(DISTINCT s.run_id) AS n
        FROM runs r JOIN signals s ON s.run_id = r.run_id
        WHERE r.agent_id = ? AND r.input_hash IS NOT NULL AND s.agent_id = ? AND s.shadow = 0
        GROUP BY r.input_hash, s.failure_type
        """,
        (agent_id, agent_id),
    ).fetchall()
    patterns = [
        {
            "input_hash": row["input_hash"],
            "failure_type": row["failure_type"],
            "triggered_count": int(row["n"]),
            "total_runs": totals[row["input_hash"]],
            "rate": ratio(int(row["n"]), totals[row["input_hash"]], 2),
        }
        for row in rows
        if row["input_hash"] in totals
    ]
    patterns.sort(key=lambda p: (-p["rate"], -p["triggered_count"], p["input_hash"], p["failure_type"]))
    return patterns[:20]


def _signal_trends(conn: sqlite3.Connection, agent_id: str, now: float) -> list[dict[str, Any]]:
    return [
        {"failure_type": row[0], "agent_version": row[1], "day": row[2], "count": int(row[3])}
        for row in conn.execute(
            """
            SELECT failure_type, agent_version, date(detected_at, 'unixepoch') AS day, COUNT(*)
            FROM signals
            WHERE agent_id = ? AND shadow = 0 AND detected_at >= ?
            GROUP BY failure_type, agent_version, day
            ORDER BY day DESC, failure_type, agent_version
            LIMIT 300
            """,
            (agent_id, now - 30 * DAY),
        )
    ]


def _versions(conn: sqlite3.Connection, agent_id: str) -> list[dict[str, Any]]:
    out = []
    for row in conn.execute(
        """
        SELECT r.agent_version,
               COUNT(DISTINCT r.run_id) AS run_count,
               COUNT(DISTINCT s.run_id) AS runs_with_signals,
               COUNT(s.id) AS signal_count,
               MIN(r.processed_at) AS first_seen,
               MAX(r.processed_at) AS last_seen
        FROM runs r
        LEFT JOIN signals s ON s.run_id = r.run_id AND +s.agent_id = r.agent_id AND s.shadow = 0
        WHERE r.agent_id = ? AND r.processed_at IS NOT NULL
        GROUP BY r.agent_version
        ORDER BY MAX(r.processed_at) DESC
        LIMIT 10
        """,
        (agent_id,),
    ):
        run_count = int(row["run_count"])
        with_signals = int(row["runs_with_signals"])
        out.append(
            {
                "agent_version": row["agent_version"] or "",
                "run_count": run_count,
                "runs_with_signals": with_signals,
                "signal_count": int(row["signal_count"]),
                "signal_rate": ratio(with_signals, run_count, 3),
                "first_seen": as_float(row["first_seen"]),
                "last_seen": as_float(row["last_seen"]),
            }
        )
    return out


def _time_to_tool(conn: sqlite3.Connection, agent_id: str, now: float) -> dict[str, Any]:
    rows = conn.execute(
        "SELECT processed_at, first_tool_step FROM runs WHERE agent_id = ? AND processed_at IS NOT NULL",
        (agent_id,),
    ).fetchall()
    steps = [int(r["first_tool_step"]) for r in rows if r["first_tool_step"] is not None]
    since = now - 14 * DAY
    daily: dict[str, list[Any]] = {}
    for r in rows:
        if r["processed_at"] >= since:
            daily.setdefault(utc_day(r["processed_at"]), []).append(r["first_tool_step"])
    return {
        "p25": percentile_cont(steps, 0.25),
        "p50": percentile_cont(steps, 0.50),
        "p75": percentile_cont(steps, 0.75),
        "avg_steps": avg_rounded(steps, 1),
        "runs_with_tool": len(steps),
        "total_runs": len(rows),
        "daily_trend": [
            {
                "day": day,
                "run_count": len(values),
                "runs_with_tool": sum(1 for v in values if v is not None),
                "avg_first_tool_step": avg_rounded([int(v) for v in values if v is not None], 1),
            }
            for day, values in sorted(daily.items())
        ],
    }


_RUN_HAS_LIVE_SIGNAL = (
    "EXISTS (SELECT 1 FROM signals s WHERE s.run_id = r.run_id AND +s.agent_id = r.agent_id AND s.shadow = 0)"
)


def _hourly_pattern(conn: sqlite3.Connection, agent_id: str, now: float) -> list[dict[str, Any]]:
    out = []
    for row in conn.execute(
        f"""
        SELECT CAST(strftime('%H', r.processed_at, 'unixepoch') AS INTEGER) AS hour,
               COUNT(*) AS runs, SUM({_RUN_HAS_LIVE_SIGNAL}) AS with_signals
        FROM runs r
        WHERE r.agent_id = ? AND r.processed_at >= ?
        GROUP BY hour ORDER BY hour
        """,
        (agent_id, now - 30 * DAY),
    ):
        runs, with_signals = int(row["runs"]), int(row["with_signals"] or 0)
        out.append(
            {
                "hour_of_day": int(row["hour"]),
                "run_count": runs,
                "signal_count": with_signals,
                "signal_rate": ratio(with_signals, runs, 3),
            }
        )
    return out


def _failure_rates(conn: sqlite3.Connection, agent_id: str, now: float) -> list[dict[str, Any]]:
    since = now - 30 * DAY
    per_day = {
        row[0]: int(row[1])
        for row in conn.execute(
            """
            SELECT date(processed_at, 'unixepoch') AS day, COUNT(*) FROM runs
            WHERE agent_id = ? AND processed_at >= ? GROUP BY day
            """,
            (agent_id, since),
        )
    }
    rows = []
    for row in conn.execute(
        """
        SELECT date(r.processed_at, 'unixepoch') AS day, s.failure_type, COUNT(DISTINCT s.run_id) AS affected
        FROM runs r JOIN signals s ON s.run_id = r.run_id AND +s.agent_id = r.agent_id AND s.shadow = 0
        WHERE r.agent_id = ? AND r.processed_at >= ?
        GROUP BY day, s.failure_type
        """,
        (agent_id, since),
    ):
        total = per_day.get(row["day"], 0)
        affected = int(row["affected"])
        rows.append(
            {
                "failure_type": row["failure_type"],
                "day": row["day"],
                "total_runs": total,
                "affected_runs": affected,
                "rate": ratio(affected, total, 3),
            }
        )
    # newest day first, then most affected runs; ties by failure type (the server leaves them open)
    rows.sort(key=lambda x: (_desc_key(x["day"]), -x["affected_runs"], x["failure_type"]))
    return rows[:300]


def _desc_key(day: str) -> tuple[int, ...]:
    return tuple(-int(part) for part in day.split("-"))


def _systemic_patterns(conn: sqlite3.Connection, agent_id: str, now: float) -> list[dict[str, Any]]:
    since = now - 7 * DAY
    total = int(
        conn.execute(
            "SELECT COUNT(*) FROM runs WHERE agent_id = ? AND processed_at >= ?", (agent_id, since)
        ).fetchone()[0]
    )
    out = []
    for row in conn.execute(
        """
        SELECT s.failure_type, COUNT(DISTINCT s.run_id) AS affected,
               MIN(s.detected_at) AS first_seen, MAX(s.detected_at) AS last_seen
        FROM signals s JOIN runs r ON r.run_id = s.run_id
        WHERE s.agent_id = ? AND s.shadow = 0 AND r.agent_id = ? AND r.processed_at >= ?
        GROUP BY s.failure_type
        """,
        (agent_id, agent_id, since),
    ):
        affected = int(row["affected"])
        rate = ratio(affected, total, 3)
        out.append(
            {
                "failure_type": row["failure_type"],
                "total_runs": total,
                "affected_runs": affected,
                "rate": rate,
                "first_seen": as_float(row["first_seen"]),
                "last_seen": as_float(row["last_seen"]),
                "is_systemic": rate >= SYSTEMIC_RATE,
            }
        )
    out.sort(key=lambda x: (-x["affected_runs"], x["failure_type"]))
    return out


def _deploy_events(conn: sqlite3.Connection, agent_id: str, now: float) -> list[dict[str, Any]]:
    return [
        {
            "id": int(row["id"]),
            "version": row["version"] or "",
            "deployed_at": float(row["deployed_at"]),
            "meta": loads_object(row["meta"]),
        }
        for row in conn.execute(
            """
            SELECT id, version, deployed_at, meta FROM deploy_events
            WHERE agent_id = ? AND deployed_at >= ? ORDER BY deployed_at ASC, id ASC
            """,
            (agent_id, now - 90 * DAY),
        )
    ]


def _cost_stats(conn: sqlite3.Connection, agent_id: str, now: float) -> dict[str, Any] | None:
    """30-day cost and the share on runs with a live signal; None when the rounded total is 0."""
    since = now - 30 * DAY
    run_types = _run_failure_types(conn, agent_id, since)
    total_cost = wasted_cost = 0.0
    per_type: dict[str, dict[str, Any]] = {}
    for r in _run_token_rows(conn, agent_id, since):
        prompt = int(r["prompt_responded"] or 0) or int(r["prompt_called"] or 0)
        cost = estimate_cost(r["model"] or "unknown", prompt, int(r["completion"] or 0))
        total_cost += cost
        types = run_types.get(r["run_id"])
        if types:
            wasted_cost += cost
            for ft in types:
                entry = per_type.setdefault(ft, {"usd": 0.0, "runs": set()})
                entry["usd"] += cost
                entry["runs"].add(r["run_id"])
    stats = {
        "total_cost_usd": round(total_cost, 4),
        "wasted_cost_usd": round(wasted_cost, 4),
        "wasted_pct": round(wasted_cost / total_cost, 3) if total_cost else 0.0,
        "cost_by_failure_type": sorted(
            (
                {"failure_type": ft, "wasted_usd": round(v["usd"], 4), "affected_runs": len(v["runs"])}
                for ft, v in per_type.items()
            ),
            key=lambda x: (-x["wasted_usd"], x["failure_type"]),
        ),
    }
    return stats if stats["total_cost_usd"] > 0 else None


def _deploy_regressions(conn: sqlite3.Connection, agent_id: str, now: float) -> list[dict[str, Any]]:
    deploys = conn.execute(
        """
        SELECT id, version, deployed_at FROM deploy_events
        WHERE agent_id = ? AND deployed_at >= ? ORDER BY deployed_at DESC LIMIT 10
        """,
        (agent_id, now - 7 * DAY),
    ).fetchall()
    out = []
    for d in deploys:
        at = float(d["deployed_at"])
        counts = {"before": [0, 0], "after": [0, 0]}
        for row in conn.execute(
            """
            SELECT r.processed_at < ? AS is_before, COUNT(*) AS runs,
                   SUM(EXISTS (SELECT 1 FROM signals s
                               WHERE s.run_id = r.run_id AND +s.agent_id = ? AND s.shadow = 0)) AS with_signals
            FROM runs r
            WHERE r.agent_id = ? AND r.processed_at >= ? AND r.processed_at <= ?
            GROUP BY is_before
            """,
            (at, agent_id, agent_id, at - 7200, at + 7200),
        ):
            counts["before" if row["is_before"] else "after"] = [int(row["runs"]), int(row["with_signals"] or 0)]
        (before_runs, before_sig), (after_runs, after_sig) = counts["before"], counts["after"]
        if before_runs < 3 or after_runs < 3:
            continue
        before_rate, after_rate = before_sig / before_runs, after_sig / after_runs
        delta = after_rate - before_rate
        out.append(
            {
                "deploy_id": int(d["id"]),
                "version": d["version"] or "",
                "deployed_at": at,
                "before_runs": before_runs,
                "before_signals": before_sig,
                "before_rate": round(before_rate, 3),
                "after_runs": after_runs,
                "after_signals": after_sig,
                "after_rate": round(after_rate, 3),
                "delta_rate": round(delta, 3),
                "is_regression": delta > 0.15,
            }
        )
    out.sort(key=lambda x: x["deployed_at"], reverse=True)
    return out


def _user_impact(conn: sqlite3.Connection, agent_id: str, now: float) -> list[dict[str, Any]]:
    since = now - 30 * DAY
    run_hash = {
        row[0]: row[1]
        for row in conn.execute(
            """
            SELECT e.run_id, r.input_hash
            FROM events e JOIN runs r ON r.run_id = e.run_id
            WHERE e.agent_id = ? AND e.event_type = 'run.started' AND e.received_at >= ? AND r.input_hash IS NOT NULL
            """,
            (agent_id, since),
        )
    }
    if not run_hash:
        return []
    total_users = len(set(run_hash.values()))
    affected: dict[str, set[str]] = {}
    for row in conn.execute(
        "SELECT run_id, failure_type FROM signals WHERE agent_id = ? AND shadow = 0 AND detected_at >= ?",
        (agent_id, since),
    ):
        digest = run_hash.get(row["run_id"])
        if digest is not None:
            affected.setdefault(row["failure_type"], set()).add(digest)
    out = [
        {
            "failure_type": ft,
            "affected_users": len(users),
            "total_users": total_users,
            "user_impact_rate": ratio(len(users), total_users, 3),
        }
        for ft, users in affected.items()
    ]
    out.sort(key=lambda x: (-x["affected_users"], x["failure_type"]))
    return out


def insights(conn: sqlite3.Connection, agent_id: str, *, now: float) -> dict[str, Any]:
    """Cross-run analytics for one agent (customer-api.md §B.8, §D.2)."""
    return {
        "input_patterns": _input_patterns(conn, agent_id),
        "signal_trends": _signal_trends(conn, agent_id, now),
        "versions": _versions(conn, agent_id),
        "time_to_tool": _time_to_tool(conn, agent_id, now),
        "hourly_pattern": _hourly_pattern(conn, agent_id, now),
        "failure_rates": _failure_rates(conn, agent_id, now),
        "systemic_patterns": _systemic_patterns(conn, agent_id, now),
        "deploy_events": _deploy_events(conn, agent_id, now),
        "cost_stats": _cost_stats(conn, agent_id, now),
        "deploy_regressions": _deploy_regressions(conn, agent_id, now),
        "user_impact": _user_impact(conn, agent_id, now),
    }
