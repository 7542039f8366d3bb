"""GET /v1/agents/{id}/insights of the local store (customer-api.md §B.8, §D.2).

Every part starts from the agent's own index range (runs, signals, deploys), so its cost grows with that
agent's runs, not with the store; the cost figures read ``run_llm`` (see ``readqueries_tokens``). The
systemic rule is ``dunetrace_cli.domain.systemic``'s.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from dunetrace_cli.domain.pricing import estimate_cost
from dunetrace_cli.domain.systemic import SYSTEMIC_RATE, SYSTEMIC_WINDOW_S
from dunetrace_cli.local.aggregates import DAY
from dunetrace_cli.local.readqueries import as_float, avg_rounded, loads_object, percentile_cont, ratio, utc_day
from tests.local.scan_reference.tokens_scan import run_failure_types, run_token_rows


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
    since = now - SYSTEMIC_WINDOW_S
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
    since = now - 30 * DAY
    run_types = run_failure_types(conn, agent_id, since)
    total_cost = wasted_cost = 0.0
    per_type: dict[str, dict[str, Any]] = {}
    for r in run_token_rows(conn, agent_id, since):
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
            key=lambda x: (-float(x["wasted_usd"]), str(x["failure_type"])),
        ),
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
    out.sort(key=lambda x: (-len(affected[str(x["failure_type"])]), str(x["failure_type"])))
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
