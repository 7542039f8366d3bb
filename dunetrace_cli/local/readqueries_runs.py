"""GET /v1/agents/{id}/runs, GET /v1/runs (with the local ``run_id_prefix`` lookup) and GET /v1/runs/{id}.

Conventions: :mod:`dunetrace_cli.local.readqueries`.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from dunetrace_cli.domain.pricing import estimate_cost
from dunetrace_cli.local.readqueries import (
    TERMINAL_TYPES,
    _as_int,
    as_float,
    distinct_agents,
    loads_object,
    placeholders,
    rows_by_key,
)

_PROMPT = "COALESCE(CAST(json_extract(payload, '$.prompt_tokens') AS INTEGER), 0)"
_COMPLETION = "COALESCE(CAST(json_extract(payload, '$.completion_tokens') AS INTEGER), 0)"


_LIVE_SIGNAL_EXISTS = "EXISTS (SELECT 1 FROM signals s WHERE s.run_id = runs.run_id AND s.shadow = 0)"


def prefix_range(prefix: str) -> tuple[str, str] | None:
    """``[low, high)`` of the strings starting with ``prefix`` in SQLite's BINARY order (UTF-8 bytes)."""
    if not prefix or ord(prefix[-1]) >= 0x10FFFF:
        return None
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _run_filters(
    agent_id: str | None, has_signals: bool | None, run_id_prefix: str | None = None
) -> tuple[str, list[Any]]:
    where = ["processed_at IS NOT NULL"]
    params: list[Any] = []
    if run_id_prefix:
        bounds = prefix_range(run_id_prefix)
        if bounds is None:
            where.append("substr(run_id, 1, ?) = ?")
            params += [len(run_id_prefix), run_id_prefix]
        else:  # a range of the primary key: one index seek
            where.append("run_id >= ? AND run_id < ?")
            params += list(bounds)
    if agent_id is not None:
        where.append("agent_id = ?")
        params.append(agent_id)
    if has_signals is True:
        where.append(_LIVE_SIGNAL_EXISTS)
    elif has_signals is False:
        where.append("NOT " + _LIVE_SIGNAL_EXISTS)
    return " AND ".join(where), params


def list_runs(
    conn: sqlite3.Connection,
    *,
    agent_id: str | None,
    offset: int,
    limit: int,
    has_signals: bool | None = None,
    per_agent_limit: int | None = None,
    run_id_prefix: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Processed runs by ``processed_at`` descending (optionally each agent's newest ``per_agent_limit``).

    ``run_id_prefix`` keeps the runs whose id starts with it (a primary-key range: the lookup of a
    run by a unique prefix, or the candidates of an ambiguous one).
    """
    if run_id_prefix:
        where, params = _run_filters(agent_id, has_signals, run_id_prefix)
        matches = conn.execute(
            f"SELECT run_id, agent_id, agent_version, trigger, processed_at FROM runs WHERE {where}", params
        ).fetchall()
        ordered = sorted(matches, key=lambda r: (r["processed_at"], r["run_id"]), reverse=True)
        return _run_summaries(conn, ordered[offset : offset + limit]), len(ordered)
    if per_agent_limit is None:
        where, params = _run_filters(agent_id, has_signals)
        total = int(conn.execute(f"SELECT COUNT(*) FROM runs WHERE {where}", params).fetchone()[0])
        page_rows = conn.execute(
            f"""
            SELECT run_id, agent_id, agent_version, trigger, processed_at
            FROM runs WHERE {where}
            ORDER BY processed_at DESC, run_id DESC
            LIMIT ? OFFSET ?
            """,
            [*params, limit, offset],
        ).fetchall()
    else:
        agents = [agent_id] if agent_id is not None else distinct_agents(conn, "runs")
        candidates: list[tuple[float, str]] = []
        for agent in agents:
            where, params = _run_filters(agent, has_signals)
            candidates.extend(
                (row[1], row[0])
                for row in conn.execute(
                    f"SELECT run_id, processed_at FROM runs WHERE {where} "
                    "ORDER BY processed_at DESC, run_id DESC LIMIT ?",
                    [*params, per_agent_limit],
                )
            )
        candidates.sort(reverse=True)
        total = len(candidates)
        wanted = [run_id for _, run_id in candidates[offset : offset + limit]]
        page_rows = rows_by_key(
            conn,
            "SELECT run_id, agent_id, agent_version, trigger, processed_at FROM runs WHERE run_id IN ({marks})",
            wanted,
            "run_id",
        )
    return _run_summaries(conn, page_rows), total


def _run_summaries(conn: sqlite3.Connection, page_rows: list[sqlite3.Row]) -> list[dict[str, Any]]:
    if not page_rows:
        return []
    ids = [r["run_id"] for r in page_rows]
    marks = placeholders(len(ids))
    figures = {
        row["run_id"]: row
        for row in conn.execute(
            f"""
            SELECT run_id,
                   MIN(CASE WHEN event_type = 'run.started' THEN timestamp END) AS started_at,
                   MIN(CASE WHEN event_type IN ('run.completed', 'run.errored') THEN timestamp END) AS completed_at,
                   MAX(step_index) AS step_count,
                   SUM(CASE WHEN event_type = 'llm.responded' THEN {_PROMPT} ELSE 0 END) AS prompt_responded,
                   SUM(CASE WHEN event_type = 'llm.called' THEN {_PROMPT} ELSE 0 END) AS prompt_called,
                   SUM(CASE WHEN event_type = 'llm.responded' THEN {_COMPLETION} ELSE 0 END) AS completion
            FROM events WHERE run_id IN ({marks})
            GROUP BY run_id
            """,
            ids,
        )
    }
    models: dict[str, str] = {}
    for row in conn.execute(
        f"""
        SELECT run_id, json_extract(payload, '$.model') AS model
        FROM events
        WHERE run_id IN ({marks}) AND event_type = 'llm.called' AND json_extract(payload, '$.model') IS NOT NULL
        ORDER BY seq
        """,
        ids,
    ):
        models.setdefault(row["run_id"], str(row["model"]))
    signal_counts = {
        row["run_id"]: int(row["n"])
        for row in conn.execute(
            f"SELECT run_id, COUNT(*) AS n FROM signals WHERE run_id IN ({marks}) AND shadow = 0 GROUP BY run_id",
            ids,
        )
    }
    out = []
    for r in page_rows:
        f = figures.get(r["run_id"])
        prompt = completion = 0
        if f is not None:
            prompt = int(f["prompt_responded"] or 0) or int(f["prompt_called"] or 0)
            completion = int(f["completion"] or 0)
        raw = estimate_cost(models.get(r["run_id"], ""), prompt, completion) if (prompt or completion) else None
        n_signals = signal_counts.get(r["run_id"], 0)
        out.append(
            {
                "run_id": r["run_id"],
                "agent_id": r["agent_id"],
                "agent_version": r["agent_version"] or "",
                "started_at": as_float(f["started_at"]) if f is not None else None,
                "completed_at": as_float(f["completed_at"]) if f is not None else None,
                "exit_reason": r["trigger"],
                "step_count": int(f["step_count"] or 0) if f is not None else 0,
                "total_tokens": prompt + completion,
                "cost_usd": round(raw, 6) if raw else None,
                "signal_count": n_signals,
                "has_signals": n_signals > 0,
            }
        )
    return out


# ---------------------------------------------------------------------------------------------
# GET /v1/runs/{run_id}


def run_detail(conn: sqlite3.Connection, run_id: str, *, include_shadow: bool = False) -> dict[str, Any] | None:
    """Run metadata, events (step order) and raw signal rows; None unless the run was processed.

    The signal rows carry ``failure_type``, ``evidence`` (dict) etc.; ``api.py`` adds the explanation.
    """
    run = conn.execute(
        "SELECT run_id, agent_id, agent_version, trigger FROM runs WHERE run_id = ? AND processed_at IS NOT NULL",
        (run_id,),
    ).fetchone()
    if run is None:
        return None
    events = []
    for row in conn.execute(
        """
        SELECT event_type, step_index, timestamp, payload, parent_run_id
        FROM events WHERE run_id = ?
        ORDER BY step_index ASC, timestamp IS NULL, timestamp ASC, seq ASC
        """,
        (run_id,),
    ):
        events.append(
            {
                "event_type": row["event_type"],
                "step_index": int(row["step_index"] or 0),
                "timestamp": as_float(row["timestamp"]),
                "payload": loads_object(row["payload"]),
                "parent_run_id": row["parent_run_id"],
            }
        )
    shadow_filter = "" if include_shadow else "AND shadow = 0"
    signals = [
        {
            "id": int(row["id"]),
            "failure_type": row["failure_type"],
            "severity": row["severity"],
            "step_index": int(row["step_index"] or 0),
            "confidence": float(row["confidence"]),
            "detected_at": float(row["detected_at"]),
            "evidence": loads_object(row["evidence"]),
            "shadow": bool(row["shadow"]),
        }
        for row in conn.execute(
            f"""
            SELECT id, failure_type, severity, step_index, confidence, detected_at, evidence, shadow
            FROM signals WHERE run_id = ? {shadow_filter}
            ORDER BY shadow ASC, step_index ASC, id ASC
            """,
            (run_id,),
        )
    ]

    started_at = next((e["timestamp"] for e in events if e["event_type"] == "run.started"), None)
    completed_at = next((e["timestamp"] for e in events if e["event_type"] in TERMINAL_TYPES), None)
    responded = [e["payload"] for e in events if e["event_type"] == "llm.responded"]
    called = [e["payload"] for e in events if e["event_type"] == "llm.called"]
    prompt = sum(_as_int(p.get("prompt_tokens") or 0) for p in responded) or sum(
        _as_int(p.get("prompt_tokens") or 0) for p in called
    )
    completion = sum(_as_int(p.get("completion_tokens") or 0) for p in responded)
    total_tokens = (prompt + completion) or None
    model = next((p.get("model") for p in called if p.get("model")), None)
    raw = estimate_cost(str(model or ""), prompt, completion) if total_tokens else None
    return {
        "run_id": run["run_id"],
        "agent_id": run["agent_id"],
        "agent_version": run["agent_version"] or "",
        "started_at": started_at,
        "completed_at": completed_at,
        "exit_reason": run["trigger"],
        "step_count": max((e["step_index"] for e in events), default=0),
        "total_tokens": total_tokens,
        "cost_usd": round(raw, 6) if raw else None,
        "events": events,
        "signals": signals,
        # The server's conversation_id is the id of its internal conversations table (an int); the
        # local store keeps only the SDK's conversation string, so there is nothing to point at.
        "conversation_id": None,
    }


