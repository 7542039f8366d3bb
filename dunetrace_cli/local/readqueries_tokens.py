"""GET /v1/agents/{id}/token-stats of the local store (customer-api.md §D.3).

Per run, the token figures come from ``run_llm`` (kept at ingest: the exact llm.responded prompt count
overrides the llm.called estimate, never both; the largest model name; the first LLM event's arrival).
The route reads them, with the run's live signal types (``run_llm.live_types``, kept by triggers), from
one covering index (no table rows) as one string in run_id order, folded into profiles (everything a
figure depends on: version, model, token sums, failure types, blocked, windows). Python works per profile;
the cost sums, floats whose last bits depend on the order of the additions (and costs are exact decimals,
so another order moves a 4th decimal), are added run by run in run_id order, as the scan added them,
by one C-level ``reduce`` over the positions (``ordered_sum``). A run belongs to a window
by its first LLM event's arrival. Windows: ``dunetrace_cli.domain.tokens``; prices:
``dunetrace_cli.domain.pricing``.
"""

from __future__ import annotations

import json
import operator
import sqlite3
from collections.abc import Sequence
from functools import reduce
from typing import Any

from dunetrace_cli.domain.pricing import estimate_cost
from dunetrace_cli.domain.tokens import LONGEST_WINDOW_S, WINDOWS
from dunetrace_cli.local.aggregates import DAY
from dunetrace_cli.local.readqueries import percentile_cont

TOKEN_BASELINE_MIN_RUNS = 3


_BLOCKING = """
    SELECT DISTINCT run_id FROM events
    WHERE agent_id = ? AND event_type IN ('policy.triggered', 'approval.denied', 'approval.timeout')
      AND received_at >= ?
      AND (event_type != 'policy.triggered' OR json_extract(payload, '$.action_type') = 'stop')
"""

# One string: each run of the window as a JSON array of everything a figure depends on, in run_id order
# (the order the scan added the costs in), from one covering index (run_llm carries the run's live
# types). A run whose first live signal was detected before the window starts gets its types exactly.
_SEQUENCE = """
    SELECT group_concat(k, char(10)), COUNT(*) FROM (
        SELECT json_array(agent_version, model, prompt_responded, prompt_called, completion, reasoning,
                   CASE WHEN live_first IS NULL OR live_first >= :since THEN COALESCE(live_types, '')
                        ELSE COALESCE((SELECT group_concat(failure_type, ',') FROM signals s
                                       WHERE s.run_id = l.run_id AND +s.agent_id = :agent AND s.shadow = 0
                                         AND s.detected_at >= :since), '') END,
                   run_id IN (SELECT value FROM json_each(:blocked)),
                   first_received_at >= :cut1, first_received_at >= :cut7) AS k
        FROM run_llm l WHERE agent_id = :agent AND first_received_at >= :since ORDER BY run_id
    )
"""


class Profiles:
    """The runs of a window folded into profiles; ``order`` = each run's profile, in run_id order."""

    def __init__(self, rows: list[dict[str, Any]], order: list[int]) -> None:
        self.rows, self.order = rows, order

    def ordered_sum(self, values: Sequence[float]) -> float:
        """``total = 0.0; for run in runs (run_id order): total += values[its profile]``, in C."""
        if not any(values):
            return 0.0  # +0.0 added to a sum that starts at 0.0 changes nothing
        return float(reduce(operator.add, map(values.__getitem__, self.order), 0.0))


def token_profiles(
    conn: sqlite3.Connection, agent_id: str, since: float, cuts: tuple[float, float] = (0.0, 0.0),
    *, blocking: bool = True,
) -> Profiles:  # fmt: skip
    """The runs whose first LLM event arrived since ``since``, folded into profiles: version, model,
    token sums, live failure types detected since ``since``, blocked or not, in the windows starting
    at ``cuts`` or not; ``n`` runs per profile."""
    blocked = [r[0] for r in conn.execute(_BLOCKING, (agent_id, since))] if blocking else []
    params = {"agent": agent_id, "since": since, "blocked": json.dumps(blocked), "cut1": cuts[0], "cut7": cuts[1]}
    text, count = conn.execute(_SEQUENCE, params).fetchone()
    ids: dict[str, int] = {}
    order = [ids.setdefault(key, len(ids)) for key in text.split("\n")] if count else []
    counts = [0] * len(ids)
    for i in order:
        counts[i] += 1
    rows: list[dict[str, Any]] = []
    for key, n in zip(ids, counts):
        version, model, responded, called, completion, reasoning, types, is_blocked, in1, in7 = json.loads(key)
        prompt = int(responded or 0) or int(called or 0)
        completion, reasoning = int(completion or 0), int(reasoning or 0)
        rows.append(
            {
                "agent_version": version or "",
                "model": model or "unknown",
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion + reasoning,
                "reasoning_tokens": reasoning,
                "failure_types": frozenset(types.split(",")) if types else frozenset(),
                "blocked": bool(is_blocked),
                "in": (bool(in1), bool(in7), True),
                "n": n,
            }
        )
    return Profiles(rows, order)


def first_arrival(conn: sqlite3.Connection, agent_id: str, since: float) -> float | None:
    """The earliest first-LLM arrival (> 0) of the agent's runs since ``since``."""
    row = conn.execute(
        "SELECT MIN(first_received_at) FROM run_llm WHERE agent_id = ? AND first_received_at >= ? "
        "AND first_received_at > 0",
        (agent_id, since),
    ).fetchone()
    return float(row[0]) if row[0] is not None else None


def token_stats(conn: sqlite3.Connection, agent_id: str, *, now: float) -> dict[str, Any]:
    """Token usage, failed-run / excess / prevented spend per 1d/7d/30d window (customer-api.md §D.3)."""
    since = now - LONGEST_WINDOW_S
    cutoffs = {name: now - seconds for name, seconds in WINDOWS.items()}
    prof = token_profiles(conn, agent_id, since, (cutoffs["1d"], cutoffs["7d"]))
    runs = prof.rows
    for r in runs:
        r["cost"] = estimate_cost(r["model"], r["prompt_tokens"], r["completion_tokens"], r["reasoning_tokens"])
    costs = [r["cost"] for r in runs]

    # Healthy baselines: P75 of clean runs of the version (>= 3), else P75 of all clean runs (>= 3),
    # else the median of all runs (>= 3).
    clean_by_version: dict[str, list[int]] = {}
    clean_all: list[int] = []
    for r in runs:
        if not r["failure_types"]:
            clean_by_version.setdefault(r["agent_version"], []).extend([r["total_tokens"]] * r["n"])
            clean_all.extend([r["total_tokens"]] * r["n"])
    version_baseline = {
        version: percentile_cont(tokens, 0.75)
        for version, tokens in clean_by_version.items()
        if len(tokens) >= TOKEN_BASELINE_MIN_RUNS
    }
    agent_baseline = percentile_cont(clean_all, 0.75) if len(clean_all) >= TOKEN_BASELINE_MIN_RUNS else None
    all_tokens = [t for r in runs for t in [r["total_tokens"]] * r["n"]]
    fallback_baseline = percentile_cont(all_tokens, 0.50) if len(all_tokens) >= TOKEN_BASELINE_MIN_RUNS else None

    def baseline_for(version: str) -> float | None:
        for candidate in (version_baseline.get(version), agent_baseline, fallback_baseline):
            if candidate is not None:
                return candidate
        return None

    all_tok = sum(r["total_tokens"] * r["n"] for r in runs)
    avg_rate = (prof.ordered_sum(costs) / all_tok) if all_tok else 0.0

    def excess(r: dict[str, Any]) -> tuple[int, float]:
        """One run's tokens above its baseline, and their cost."""
        if not r["failure_types"]:
            return 0, 0.0
        base = baseline_for(r["agent_version"])
        tokens = r["total_tokens"]
        if base is None or tokens <= base:
            return 0, 0.0
        extra = tokens - base
        rate = (r["cost"] / tokens) if tokens else avg_rate
        return int(extra), rate * extra

    def prevented(r: dict[str, Any]) -> tuple[int, float]:
        base, tokens = baseline_for(r["agent_version"]), r["total_tokens"]
        if not r["blocked"] or base is None or base - tokens <= 0:
            return 0, 0.0
        rate = (r["cost"] / tokens) if tokens else avg_rate
        return int(base - tokens), (rate or avg_rate) * (base - tokens)

    extras = [excess(r) for r in runs]
    saves = [prevented(r) for r in runs]
    reported_baseline = agent_baseline if agent_baseline is not None else fallback_baseline

    def aggregate(w: int) -> dict[str, Any]:
        inside = [r["in"][w] for r in runs]
        failed = [inside[i] and bool(r["failure_types"]) for i, r in enumerate(runs)]
        pick = [r for i, r in enumerate(runs) if inside[i]]
        total_cost = prof.ordered_sum([c if inside[i] else 0.0 for i, c in enumerate(costs)])
        failed_cost = prof.ordered_sum([c if failed[i] else 0.0 for i, c in enumerate(costs)])
        failed_tokens = sum(r["total_tokens"] * r["n"] for i, r in enumerate(runs) if failed[i])
        failed_runs = sum(r["n"] for i, r in enumerate(runs) if failed[i])
        failed_pct = round(failed_cost / total_cost, 3) if total_cost else 0.0
        return {
            "total_tokens": sum(r["total_tokens"] * r["n"] for r in pick),
            "prompt_tokens": sum(r["prompt_tokens"] * r["n"] for r in pick),
            "completion_tokens": sum(r["completion_tokens"] * r["n"] for r in pick),
            "total_cost_usd": round(total_cost, 4),
            "run_count": sum(r["n"] for r in pick),
            "failed_run_tokens": failed_tokens,
            "failed_run_cost_usd": round(failed_cost, 4),
            "failed_run_count": failed_runs,
            "failed_pct": failed_pct,
            "excess_tokens": sum(extras[i][0] * r["n"] for i, r in enumerate(runs) if failed[i]),
            "excess_cost_usd": round(prof.ordered_sum([e[1] if failed[i] else 0.0 for i, e in enumerate(extras)]), 4),
            "baseline_tokens": round(reported_baseline) if reported_baseline is not None else None,
            "prevented_tokens": sum(saves[i][0] * r["n"] for i, r in enumerate(runs) if inside[i]),
            "prevented_cost_usd": round(prof.ordered_sum([p[1] if inside[i] else 0.0 for i, p in enumerate(saves)]), 4),
            "blocked_run_count": sum(r["n"] for r in pick if r["blocked"]),
            "projected_monthly_excess_tokens": 0,
            "projected_monthly_excess_cost_usd": 0.0,
            "wasted_tokens": failed_tokens,
            "wasted_cost_usd": round(failed_cost, 4),
            "wasted_pct": failed_pct,
            "wasted_run_count": failed_runs,
        }

    windows = {name: aggregate(i) for i, name in enumerate(WINDOWS)}

    # Projection: avoidable spend of the last 7 days as a 30-day rate, over at least 3 observed days.
    recent_tokens = sum(extras[i][0] * r["n"] for i, r in enumerate(runs) if r["in"][1])
    recent_cost = prof.ordered_sum([e[1] if runs[i]["in"][1] else 0.0 for i, e in enumerate(extras)])
    first = first_arrival(conn, agent_id, cutoffs["7d"])
    observed_days = min(7.0, max(3.0, (now - first) / DAY)) if first is not None else 7.0
    scale = 30.0 / observed_days
    for window in windows.values():
        window["projected_monthly_excess_tokens"] = int(recent_tokens * scale)
        window["projected_monthly_excess_cost_usd"] = round(recent_cost * scale, 4)

    waste = []
    for ft in sorted({ft for r in runs for ft in r["failure_types"]}):
        has = [ft in r["failure_types"] for r in runs]
        waste.append(
            {
                "failure_type": ft,
                "wasted_tokens": sum(r["total_tokens"] * r["n"] for i, r in enumerate(runs) if has[i]),
                "wasted_cost_usd": round(prof.ordered_sum([c if has[i] else 0.0 for i, c in enumerate(costs)]), 4),
                "affected_runs": sum(r["n"] for i, r in enumerate(runs) if has[i]),
            }
        )
    waste.sort(key=lambda x: (-x["wasted_cost_usd"], x["failure_type"]))
    return {"agent_id": agent_id, "windows": windows, "waste_by_failure_type": waste}
