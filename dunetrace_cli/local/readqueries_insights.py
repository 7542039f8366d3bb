"""GET /v1/agents/{id}/insights of the local store (customer-api.md §B.8, §D.2).

Run-based parts (versions, time to tool, hourly pattern, failure rates, systemic patterns, input
patterns) and signal trends answer from the v4 aggregates (``local/aggregates.py``): whole hours or days
from the buckets, the window's first, partial hour or day exactly from the agent's rows of it
(``readqueries_buckets``). The cost figures read ``run_llm`` (see ``readqueries_tokens``). The systemic
rule is ``dunetrace_cli.domain.systemic``'s. ``tests/local/scan_reference`` keeps the scans these replaced.
"""

from __future__ import annotations

import math
import sqlite3
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dunetrace_cli.domain.pricing import estimate_cost
from dunetrace_cli.domain.systemic import SYSTEMIC_RATE, SYSTEMIC_WINDOW_S
from dunetrace_cli.local.aggregates import DAY, HOUR
from dunetrace_cli.local.readqueries import as_float, loads_object, ratio, utc_day
from dunetrace_cli.local.readqueries_buckets import day_text, hour_rows, run_counts, type_rows
from dunetrace_cli.local.readqueries_tokens import token_profiles


def _input_patterns(conn: sqlite3.Connection, agent_id: str) -> list[dict[str, Any]]:
    totals = {
        row[0]: int(row[1])
        for row in conn.execute(
            "SELECT input_hash, runs FROM agent_inputs WHERE agent_id = ? AND runs >= 2", (agent_id,)
        )
    }
    if not totals:
        return []
    patterns = [
        {
            "input_hash": digest,
            "failure_type": ft,
            "triggered_count": int(n),
            "total_runs": totals[digest],
            "rate": ratio(int(n), totals[digest], 2),
        }
        for digest, ft, n in conn.execute(
            "SELECT input_hash, failure_type, runs FROM agent_input_types WHERE agent_id = ? AND runs > 0",
            (agent_id,),
        )
        if digest in totals
    ]
    patterns.sort(key=lambda p: (-p["rate"], -p["triggered_count"], p["input_hash"], p["failure_type"]))
    return patterns[:20]


def _signal_trends(conn: sqlite3.Connection, agent_id: str, now: float) -> list[dict[str, Any]]:
    """Live signals per UTC day of detection, type and version over 30 days: whole days from
    ``signal_type_days``, the first, partial day from the agent's signals of that day."""
    since = now - 30 * DAY
    d0 = int(conn.execute(f"SELECT {HOUR('?')} / 24", (since,)).fetchone()[0])
    counts = {
        (day_text(int(day)), ft, version): int(n)
        for day, ft, version, n in conn.execute(
            "SELECT day, failure_type, agent_version, n FROM signal_type_days WHERE agent_id = ? AND day > ? AND n > 0",
            (agent_id, d0),
        )
    }
    for ft, version, n in conn.execute(
        f"""SELECT failure_type, agent_version, COUNT(*) FROM signals
            WHERE agent_id = ? AND shadow = 0 AND detected_at >= ? AND detected_at < ? AND {HOUR('detected_at')} / 24 = ?
            GROUP BY failure_type, agent_version""",
        (agent_id, since, (d0 + 1) * DAY + 1, d0),
    ):
        counts[(day_text(d0), ft, version)] = int(n)
    rows = sorted(counts.items(), key=lambda kv: (_desc_key(kv[0][0]), kv[0][1], kv[0][2]))[:300]
    return [{"failure_type": ft, "agent_version": v, "day": day, "count": n} for (day, ft, v), n in rows]


def _versions(conn: sqlite3.Connection, agent_id: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for version, run_count, with_signals, signal_count in conn.execute(
        "SELECT agent_version, runs, failed, signals FROM agent_versions WHERE agent_id = ? AND runs > 0",
        (agent_id,),
    ):
        first, last = conn.execute(
            """SELECT (SELECT MIN(processed_at) FROM runs WHERE agent_id = ?1 AND agent_version = ?2 AND processed_at IS NOT NULL),
                      (SELECT MAX(processed_at) FROM runs WHERE agent_id = ?1 AND agent_version = ?2)""",
            (agent_id, version),
        ).fetchone()
        out.append(
            {
                "agent_version": version or "",
                "run_count": int(run_count),
                "runs_with_signals": int(with_signals),
                "signal_count": int(signal_count),
                "signal_rate": ratio(int(with_signals), int(run_count), 3),
                "first_seen": as_float(first),
                "last_seen": as_float(last),
            }
        )
    out.sort(key=lambda v: -(v["last_seen"] or 0.0))
    return out[:10]


def _histogram_percentile(hist: list[tuple[int, int]], q: float) -> float | None:
    """``percentile_cont`` of the values a sorted (value, count) histogram holds."""
    n = sum(c for _, c in hist)
    if n == 0:
        return None
    rank = q * (n - 1)
    lo = int(rank)
    hi = min(lo + 1, n - 1)

    def nth(k: int) -> int:
        seen = 0
        for value, count in hist:
            seen += count
            if k < seen:
                return value
        return hist[-1][0]

    a, b = nth(lo), nth(hi)
    return float(a + (b - a) * (rank - lo))


def _time_to_tool(conn: sqlite3.Connection, agent_id: str, now: float) -> dict[str, Any]:
    hist = [
        (int(step), int(n))
        for step, n in conn.execute(
            "SELECT step, runs FROM agent_tool_steps WHERE agent_id = ? AND runs > 0 ORDER BY step", (agent_id,)
        )
    ]
    with_tool = sum(n for _, n in hist)
    total = int(
        conn.execute("SELECT TOTAL(runs) FROM agent_versions WHERE agent_id = ?", (agent_id,)).fetchone()[0]
    )
    since = now - 14 * DAY
    daily = {
        day_text(day): sums
        for day, sums in hour_rows(conn, agent_id, since, ("runs", "tool_runs", "tool_steps"), by="day").items()
    }
    _python_day_edges(conn, agent_id, since, now, daily)
    return {
        "p25": _histogram_percentile(hist, 0.25),
        "p50": _histogram_percentile(hist, 0.50),
        "p75": _histogram_percentile(hist, 0.75),
        "avg_steps": _avg(sum(v * n for v, n in hist), with_tool),
        "runs_with_tool": with_tool,
        "total_runs": total,
        "daily_trend": [
            {"day": day, "run_count": runs, "runs_with_tool": tool_runs, "avg_first_tool_step": _avg(steps, tool_runs)}
            for day, (runs, tool_runs, steps) in sorted(daily.items())
            if runs
        ],
    }


def _avg(total: int, n: int) -> float | None:
    """``avg_rounded`` from a sum and a count."""
    if not n:
        return None
    return float((Decimal(total) / Decimal(n)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _python_day_edges(
    conn: sqlite3.Connection, agent_id: str, since: float, now: float, daily: dict[str, list[int]]
) -> None:
    """The daily trend groups by Python's UTC day (microsecond rounding), the buckets by SQLite's
    (millisecond rounding): move the runs processed within a millisecond of a midnight that the two
    place on different days."""
    first = math.floor(since / DAY)
    for midnight in range(first * int(DAY), int(now + 2 * DAY), int(DAY)):
        for at, step, sqlite_day in conn.execute(
            f"""SELECT processed_at, first_tool_step, {HOUR('processed_at')} / 24 FROM runs
                WHERE agent_id = ? AND processed_at >= ? AND processed_at >= ? AND processed_at < ?""",
            (agent_id, since, midnight - 0.001, midnight + 0.001),
        ):
            want, have = utc_day(at), day_text(int(sqlite_day))
            if want != have:
                for day, sign in ((have, -1), (want, 1)):
                    d = daily.setdefault(day, [0, 0, 0])
                    d[0] += sign
                    if step is not None:
                        d[1] += sign
                        d[2] += sign * int(step)


def _hourly_pattern(conn: sqlite3.Connection, agent_id: str, now: float) -> list[dict[str, Any]]:
    by_hour = hour_rows(conn, agent_id, now - 30 * DAY, ("runs", "failed"), by="hour_of_day")
    return [
        {"hour_of_day": hour, "run_count": runs, "signal_count": failed, "signal_rate": ratio(failed, runs, 3)}
        for hour, (runs, failed) in sorted(by_hour.items())
    ]


def _failure_rates(conn: sqlite3.Connection, agent_id: str, now: float) -> list[dict[str, Any]]:
    since = now - 30 * DAY
    per_day = {day: sums[0] for day, sums in hour_rows(conn, agent_id, since, ("runs",), by="day").items()}
    affected = {key: v[0] for key, v in type_rows(conn, agent_id, since, by="day").items()}
    rows: list[dict[str, Any]] = [
        {
            "failure_type": ft,
            "day": day_text(day),
            "total_runs": per_day.get(day, 0),
            "affected_runs": n,
            "rate": ratio(n, per_day.get(day, 0), 3),
        }
        for (day, ft), n in affected.items()
    ]
    # newest day first, then most affected runs; ties by failure type (the server leaves them open)
    rows.sort(key=lambda x: (_desc_key(x["day"]), -x["affected_runs"], x["failure_type"]))
    return rows[:300]


def _desc_key(day: str) -> tuple[int, ...]:
    return tuple(-int(part) for part in day.split("-"))


def _systemic_patterns(conn: sqlite3.Connection, agent_id: str, now: float) -> list[dict[str, Any]]:
    since = now - SYSTEMIC_WINDOW_S
    total, _failed, _looped = run_counts(conn, agent_id, since)
    out = []
    for (_all, ft), (affected, first, last) in type_rows(conn, agent_id, since, by="all").items():
        rate = ratio(affected, total, 3)
        out.append(
            {
                "failure_type": ft,
                "total_runs": total,
                "affected_runs": affected,
                "rate": rate,
                "first_seen": as_float(first),
                "last_seen": as_float(last),
                "is_systemic": rate >= SYSTEMIC_RATE,  # the rounded rate, as the server compares it
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
    prof = token_profiles(conn, agent_id, now - 30 * DAY, blocking=False)
    costs = [estimate_cost(r["model"], r["prompt_tokens"], r["completion_tokens"]) for r in prof.rows]
    total_cost = prof.ordered_sum(costs)
    wasted_cost = prof.ordered_sum([c if r["failure_types"] else 0.0 for r, c in zip(prof.rows, costs)])
    per_type = [
        {
            "failure_type": ft,
            "wasted_usd": round(prof.ordered_sum([c if ft in r["failure_types"] else 0.0 for r, c in zip(prof.rows, costs)]), 4),
            "affected_runs": sum(r["n"] for r in prof.rows if ft in r["failure_types"]),
        }
        for ft in {ft for r in prof.rows for ft in r["failure_types"]}
    ]
    stats = {
        "total_cost_usd": round(total_cost, 4),
        "wasted_cost_usd": round(wasted_cost, 4),
        "wasted_pct": round(wasted_cost / total_cost, 3) if total_cost else 0.0,
        "cost_by_failure_type": sorted(per_type, key=lambda x: (-float(x["wasted_usd"]), str(x["failure_type"]))),
    }
    return stats if total_cost > 0 and stats["total_cost_usd"] else None


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
    """Distinct input hashes ("users") of the runs started in 30 days, and per failure type those of the
    runs with a live signal detected in the window: two covering-index reads, counted in SQL."""
    since = now - 30 * DAY
    total_users = int(
        conn.execute(
            "SELECT COUNT(DISTINCT input_hash) FROM run_starts WHERE agent_id = ? AND last_start >= ?",
            (agent_id, since),
        ).fetchone()[0]
    )
    if not total_users:
        return []
    affected = conn.execute(
        """SELECT s.failure_type, COUNT(DISTINCT rs.input_hash)
           FROM signals s INDEXED BY ix_signals_live_agent_detected
           JOIN run_starts rs ON rs.run_id = s.run_id AND rs.agent_id = s.agent_id
           WHERE s.agent_id = ?1 AND s.shadow = 0 AND s.detected_at >= ?2 AND rs.last_start >= ?2
             AND rs.input_hash IS NOT NULL
           GROUP BY s.failure_type""",
        (agent_id, since),
    ).fetchall()
    out = [
        {
            "failure_type": ft,
            "affected_users": int(n),
            "total_users": total_users,
            "user_impact_rate": ratio(int(n), total_users, 3),
        }
        for ft, n in affected
    ]
    out.sort(key=lambda x: (-int(x["affected_users"]), str(x["failure_type"])))
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
