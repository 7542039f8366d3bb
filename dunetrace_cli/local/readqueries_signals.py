"""GET /v1/agents/{id}/signals and GET /v1/signals. Conventions: :mod:`dunetrace_cli.local.readqueries`."""

from __future__ import annotations

import sqlite3
from typing import Any

from dunetrace_cli.local.readqueries import distinct_agents, loads_object, rows_by_key

_SIGNAL_COLUMNS = (
    "id, failure_type, severity, run_id, agent_id, agent_version, step_index, confidence, "
    "detected_at, evidence, alerted, shadow, co_signal_count"
)


def _signal_filters(
    agent_id: str | None, severity: str | None, failure_type: str | None, include_shadow: bool
) -> tuple[str, list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if agent_id is not None:
        where.append("agent_id = ?")
        params.append(agent_id)
    if not include_shadow:
        where.append("shadow = 0")
    if severity:
        # with an agent, keep the planner on the agent's (agent_id, detected_at) index
        where.append("+severity = ?" if agent_id is not None else "severity = ?")
        params.append(severity.upper())
    if failure_type:
        where.append("failure_type = ?")
        params.append(failure_type.upper())
    return (" AND ".join(where) or "1"), params


def list_signals(
    conn: sqlite3.Connection,
    *,
    agent_id: str | None,
    offset: int,
    limit: int,
    severity: str | None = None,
    failure_type: str | None = None,
    include_shadow: bool = False,
    per_agent_limit: int | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Signal rows by ``detected_at`` descending (optionally each agent's newest ``per_agent_limit``)."""
    if per_agent_limit is None:
        where, params = _signal_filters(agent_id, severity, failure_type, include_shadow)
        total = int(conn.execute(f"SELECT COUNT(*) FROM signals WHERE {where}", params).fetchone()[0])
        rows = conn.execute(
            f"SELECT {_SIGNAL_COLUMNS} FROM signals WHERE {where} "
            "ORDER BY detected_at DESC, id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
    else:
        agents = [agent_id] if agent_id is not None else distinct_agents(conn, "signals")
        candidates: list[tuple[float, int]] = []
        for agent in agents:
            where, params = _signal_filters(agent, severity, failure_type, include_shadow)
            candidates.extend(
                (row[1], row[0])
                for row in conn.execute(
                    f"SELECT id, detected_at FROM signals WHERE {where} ORDER BY detected_at DESC, id DESC LIMIT ?",
                    [*params, per_agent_limit],
                )
            )
        candidates.sort(reverse=True)
        total = len(candidates)
        wanted = [signal_id for _, signal_id in candidates[offset : offset + limit]]
        rows = rows_by_key(conn, f"SELECT {_SIGNAL_COLUMNS} FROM signals WHERE id IN ({{marks}})", wanted, "id")
    return [
        {
            "id": int(r["id"]),
            "failure_type": r["failure_type"],
            "severity": r["severity"],
            "run_id": r["run_id"],
            "agent_id": r["agent_id"],
            "agent_version": r["agent_version"] or "",
            "step_index": int(r["step_index"] or 0),
            "confidence": float(r["confidence"]),
            "detected_at": float(r["detected_at"]),
            "evidence": loads_object(r["evidence"]),
            "alerted": bool(r["alerted"]),
            "shadow": bool(r["shadow"]),
            "co_signal_count": int(r["co_signal_count"] or 0),
        }
        for r in rows
    ], total


