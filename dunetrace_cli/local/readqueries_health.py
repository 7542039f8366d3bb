"""GET /v1/agents/{id}/health-score of the local store (customer-api.md §D.1).

The formula is ``dunetrace_cli.domain.health``'s. Its inputs come from ingest-time aggregates: the
window's LLM averages from the per-day sums of ``agent_llm_days`` (whole days), plus the raw events of
the window's first, partial day (an index range); run counts (all, with a live signal, with a loop
signal) from the v4 hour buckets plus the runs of the window's first, partial hour. The P75
baselines of the 30-90 day window are per-run averages over the raw events of that window (empty for
a store younger than 30 days).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from typing import Any

from dunetrace_cli.domain import health
from dunetrace_cli.local.aggregates import DAY
from dunetrace_cli.local.readqueries import percentile_cont, placeholders
from dunetrace_cli.local.readqueries_buckets import run_counts

BASELINE_MIN_RUNS_HEALTH = 20  # runs in the 30-90 day window before a P75 baseline is used


def llm_averages(conn: sqlite3.Connection, agent_id: str, since: float) -> tuple[float | None, float | None]:
    """Mean prompt tokens (llm.called + llm.responded) and mean llm.responded latency of the events
    received since ``since``: whole days from ``agent_llm_days``, the partial first day from the events."""
    first_full = math.floor(since / DAY) + 1
    row = conn.execute(
        "SELECT TOTAL(prompt_sum), TOTAL(prompt_n), TOTAL(latency_sum), TOTAL(latency_n) FROM agent_llm_days "
        "WHERE agent_id = ? AND day >= ?",
        (agent_id, first_full),
    ).fetchone()
    p_sum, p_n, l_sum, l_n = float(row[0]), float(row[1]), float(row[2]), float(row[3])
    edge = conn.execute(
        """
        SELECT TOTAL(CAST(json_extract(payload, '$.prompt_tokens') AS REAL)),
               COUNT(CAST(json_extract(payload, '$.prompt_tokens') AS REAL)),
               TOTAL(CASE WHEN event_type = 'llm.responded' THEN CAST(json_extract(payload, '$.latency_ms') AS REAL) END),
               COUNT(CASE WHEN event_type = 'llm.responded' THEN CAST(json_extract(payload, '$.latency_ms') AS REAL) END)
        FROM events
        WHERE agent_id = ? AND event_type IN ('llm.called', 'llm.responded') AND received_at >= ? AND received_at < ?
        """,
        (agent_id, since, first_full * DAY),
    ).fetchone()
    p_sum, p_n, l_sum, l_n = p_sum + float(edge[0]), p_n + float(edge[1]), l_sum + float(edge[2]), l_n + float(edge[3])
    return (p_sum / p_n if p_n else None), (l_sum / l_n if l_n else None)


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
    since = now - health.WINDOW_S
    total, failing, looping = run_counts(conn, agent_id, since)
    if total < health.MIN_RUNS:
        return {"agent_id": agent_id, "score": None, "components": {}, "sample_runs": total, "baseline_ready": False}
    failure_rate = failing / total
    loop_rate = looping / total

    llm_types = ("llm.called", "llm.responded")
    avg_tokens, avg_latency = llm_averages(conn, agent_id, since)
    p75_tokens = _event_baseline(conn, agent_id, llm_types, "prompt_tokens", now - 90 * DAY, since)
    p75_latency = _event_baseline(conn, agent_id, ("llm.responded",), "latency_ms", now - 90 * DAY, since)

    failure_score = health.failure_score(failure_rate)
    loop_score = health.loop_score(loop_rate)
    token_score = health.token_score(avg_tokens, p75_tokens)
    latency_score = health.latency_score(avg_latency, p75_latency)
    return {
        "agent_id": agent_id,
        "score": failure_score + loop_score + token_score + latency_score,
        "components": {
            "failure_rate": {
                "score": failure_score,
                "max": health.WEIGHTS["failure_rate"],
                "value": round(failure_rate * 100, 1),
                "label": "% runs with failures",
            },
            "loop_avoidance": {
                "score": loop_score,
                "max": health.WEIGHTS["loop_avoidance"],
                "value": round(loop_rate * 100, 1),
                "label": "% runs with loops",
            },
            "token_efficiency": {
                "score": token_score,
                "max": health.WEIGHTS["token_efficiency"],
                "value": round(avg_tokens) if avg_tokens is not None else None,
                "baseline": round(p75_tokens) if p75_tokens is not None else None,
                "label": "avg prompt tokens",
            },
            "latency": {
                "score": latency_score,
                "max": health.WEIGHTS["latency"],
                "value": round(avg_latency) if avg_latency is not None else None,
                "baseline": round(p75_latency) if p75_latency is not None else None,
                "label": "avg LLM latency ms",
            },
        },
        "sample_runs": total,
        "baseline_ready": total >= health.BASELINE_RUNS,
    }
