"""GET /v1/agents/{id}/token-stats of the local store (customer-api.md §D.3).

Per run, the token figures come from ``run_llm`` (kept at ingest: the exact llm.responded prompt count
overrides the llm.called estimate, never both; the largest model name; the first LLM event's arrival),
so the route reads one row per run of the window instead of every LLM event. A run belongs to a window
by its first LLM event's arrival. Windows: ``dunetrace_cli.domain.tokens``; prices:
``dunetrace_cli.domain.pricing``.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from dunetrace_cli.domain.pricing import estimate_cost
from dunetrace_cli.domain.tokens import LONGEST_WINDOW_S, WINDOWS
from dunetrace_cli.local.aggregates import DAY
from dunetrace_cli.local.readqueries import percentile_cont

TOKEN_BASELINE_MIN_RUNS = 3


def run_token_rows(conn: sqlite3.Connection, agent_id: str, since: float) -> list[sqlite3.Row]:
    """Per run whose first LLM event arrived since ``since``: version, model, token sums, that arrival."""
    return conn.execute(
        """
        SELECT run_id, agent_version, model, prompt_responded, prompt_called, completion, reasoning,
               first_received_at AS run_start
        FROM run_llm WHERE agent_id = ? AND first_received_at >= ?
        ORDER BY run_id  -- the order the per-run costs are summed in (as the server groups them)
        """,
        (agent_id, since),
    ).fetchall()


def run_failure_types(conn: sqlite3.Connection, agent_id: str, since: float) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for row in conn.execute(
        "SELECT run_id, failure_type FROM signals WHERE agent_id = ? AND shadow = 0 AND detected_at >= ?",
        (agent_id, since),
    ):
        out.setdefault(row["run_id"], set()).add(row["failure_type"])
    return out


def token_stats(conn: sqlite3.Connection, agent_id: str, *, now: float) -> dict[str, Any]:
    """Token usage, failed-run / excess / prevented spend per 1d/7d/30d window (customer-api.md §D.3)."""
    since = now - LONGEST_WINDOW_S
    token_rows = run_token_rows(conn, agent_id, since)
    run_types = run_failure_types(conn, agent_id, since)
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

    runs: list[dict[str, Any]] = []
    for row in token_rows:
        prompt = int(row["prompt_responded"] or 0) or int(row["prompt_called"] or 0)
        completion = int(row["completion"] or 0)
        reasoning = int(row["reasoning"] or 0)
        runs.append(
            {
                "run_id": row["run_id"],
                "agent_version": row["agent_version"] or "",
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion + reasoning,
                "cost": estimate_cost(row["model"] or "unknown", prompt, completion, reasoning),
                "ts": float(row["run_start"]) if row["run_start"] is not None else 0.0,
                "failure_types": run_types.get(row["run_id"], set()),
                "blocked": row["run_id"] in blocked,
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

    cutoffs = {name: now - seconds for name, seconds in WINDOWS.items()}
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
