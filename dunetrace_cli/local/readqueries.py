"""Read-side SQL of the local Customer API (``api.py`` stays a thin HTTP layer over these functions).

This module holds the shared helpers and the list/detail endpoints; the per-agent analytics (health
score, token stats, insights) are in :mod:`dunetrace_cli.local.readqueries_health`, ``_tokens`` and ``_insights``; the price
table in :mod:`dunetrace_cli.domain.pricing`.

Every function takes an open ``sqlite3.Connection`` (rows as ``sqlite3.Row``) and, where a time
window is involved, ``now`` (epoch seconds) so that callers control the clock. They return plain
dicts and lists already in the JSON shape of the latest-generation Customer API (customer-api.md
§B), computed with the server's formulas (§D), except for the explainer prose, which ``api.py``
adds at read time.

Fidelity notes (see docs/local-fidelity.md for the whole comparison):

* Only runs with ``processed_at`` (detection ran: completed, errored or stalled) are listed.
* Ordering ties (rows with the same ``processed_at`` / ``detected_at``) are broken by
  ``run_id`` / ``id`` descending; the server leaves them to the planner.
* Ratios the server rounds in SQL (``ROUND(numeric, n)``: half away from zero) are rounded with
  :func:`ratio`; figures the server rounds in Python (health score, token stats) use ``round``.
* Queries are driven by the indexes of ``schema.py``: list endpoints read one index range and then
  only the rows of the requested page; the per-agent windows (``per_agent_limit``) walk the
  distinct agents with a loose index scan and take each agent's newest N from its own index range.
"""

from __future__ import annotations

import datetime as _dt
import json
import sqlite3
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dunetrace_cli.domain.pricing import estimate_cost

DAY = 86400.0
TERMINAL_TYPES = ("run.completed", "run.errored")

_PROMPT = "COALESCE(CAST(json_extract(payload, '$.prompt_tokens') AS INTEGER), 0)"
_COMPLETION = "COALESCE(CAST(json_extract(payload, '$.completion_tokens') AS INTEGER), 0)"


# ---------------------------------------------------------------------------------------------
# small helpers


def ratio(numerator: float, denominator: float, digits: int) -> float:
    """``ROUND(numerator::numeric / denominator, digits)`` as Postgres computes it (half away from zero).

    0.0 when the denominator is 0 (the server's ``NULLIF`` then ``or 0``).
    """
    if not denominator:
        return 0.0
    value = Decimal(numerator) / Decimal(denominator)
    return float(value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def avg_rounded(values: Sequence[float], digits: int) -> float | None:
    """``ROUND(AVG(x), digits)`` over integers, Postgres-style; None for no values."""
    if not values:
        return None
    value = Decimal(sum(values)) / Decimal(len(values))
    return float(value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def percentile_cont(values: Iterable[float], q: float) -> float | None:
    """Linear-interpolation percentile (Postgres ``PERCENTILE_CONT``); None for no values."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return None
    rank = q * (n - 1)
    lo = int(rank)
    hi = min(lo + 1, n - 1)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo))


def utc_day(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, tz=_dt.UTC).date().isoformat()


def placeholders(n: int) -> str:
    return ",".join("?" * n)


def loads_object(text: Any) -> dict[str, Any]:
    """A stored JSON column as a dict (``{}`` for empty, null or non-object values)."""
    if text is None or text == "":
        return {}
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8", "replace")
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return {}
    return dict(value) if isinstance(value, dict) else {}


def as_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _as_int(value: Any) -> int:
    if value is None or isinstance(value, bool):
        return int(bool(value))
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return 0


def distinct_agents(conn: sqlite3.Connection, table: str) -> list[str]:
    """Distinct ``agent_id`` of ``events``, ``runs`` or ``signals`` by a loose index scan.

    Each step is one index seek (``MIN(agent_id) WHERE agent_id > previous``), so the cost grows with
    the number of agents, not the number of rows.
    """
    if table not in ("events", "runs", "signals"):
        raise ValueError(table)
    sql = f"""
        WITH RECURSIVE a(id) AS (
            SELECT (SELECT MIN(agent_id) FROM {table})
            UNION ALL
            SELECT (SELECT MIN(agent_id) FROM {table} WHERE agent_id > a.id) FROM a WHERE a.id IS NOT NULL
        )
        SELECT id FROM a WHERE id IS NOT NULL
    """
    return [row[0] for row in conn.execute(sql)]


def page_dict(total: int, offset: int, limit: int) -> dict[str, Any]:
    return {"total": total, "offset": offset, "limit": limit, "has_more": (offset + limit) < total}


# ---------------------------------------------------------------------------------------------
# GET /v1/agents


def list_agents(conn: sqlite3.Connection, *, now: float, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Agents by ``last_seen`` descending, with their signal figures, from the ingest-time aggregates
    (``agent_stats``, ``agent_signal_types``, ``agent_signal_days``: see ``aggregates.py``)."""
    rows = conn.execute("SELECT agent_id, last_seen, run_count FROM agent_stats WHERE run_count > 0").fetchall()
    agents = sorted(
        rows,
        # last_seen descending (NULLs first, as Postgres sorts them), ties by agent_id
        key=lambda r: (-(r["last_seen"] if r["last_seen"] is not None else float("inf")), r["agent_id"]),
    )
    total = len(agents)
    page = agents[offset : offset + limit]
    if not page:
        return [], total
    ids = [r["agent_id"] for r in page]
    marks = placeholders(len(ids))

    counts: dict[str, dict[str, Any]] = {
        a: {"signal_count": 0, "critical_count": 0, "high_count": 0, "failure_types": {}} for a in ids
    }
    for row in conn.execute(
        f"SELECT agent_id, failure_type, severity, n FROM agent_signal_types WHERE agent_id IN ({marks}) AND n > 0",
        ids,
    ):
        entry = counts[row["agent_id"]]
        n = int(row["n"])
        entry["signal_count"] += n
        if row["severity"] == "CRITICAL":
            entry["critical_count"] += n
        elif row["severity"] == "HIGH":
            entry["high_count"] += n
        types = entry["failure_types"]
        types[row["failure_type"]] = types.get(row["failure_type"], 0) + n

    # Sparkline: 7 daily live-signal counts (UTC days, oldest first) for agents with signals in 7 days.
    today = int(now // DAY)
    day_counts: dict[str, dict[int, int]] = {}
    for row in conn.execute(
        f"SELECT agent_id, day, n FROM agent_signal_days WHERE agent_id IN ({marks}) AND day >= ? AND n > 0",
        [*ids, today - 6],
    ):
        day_counts.setdefault(row["agent_id"], {})[int(row["day"])] = int(row["n"])
    quiet = [a for a in ids if a not in day_counts]
    if quiet:  # a signal in the 7-day window but before the first of the 7 days still shows the zeros
        for row in conn.execute(
            f"SELECT DISTINCT agent_id FROM signals WHERE agent_id IN ({placeholders(len(quiet))}) AND shadow = 0 "
            "AND detected_at >= ? AND detected_at < ?",
            [*quiet, now - 7 * DAY, (today - 6) * DAY],
        ):
            day_counts[row[0]] = {}

    out = []
    for r in page:
        entry = counts[r["agent_id"]]
        days = day_counts.get(r["agent_id"])
        out.append(
            {
                "agent_id": r["agent_id"],
                "last_seen": as_float(r["last_seen"]),
                "run_count": int(r["run_count"] or 0),
                "signal_count": entry["signal_count"],
                "critical_count": entry["critical_count"],
                "high_count": entry["high_count"],
                "sparkline": [days.get(day, 0) for day in range(today - 6, today + 1)] if days is not None else [],
                "failure_types": entry["failure_types"],
            }
        )
    return out, total


# ---------------------------------------------------------------------------------------------
# GET /v1/agents/{id}/runs, GET /v1/runs


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
        page_rows = _rows_by_key(
            conn,
            "SELECT run_id, agent_id, agent_version, trigger, processed_at FROM runs WHERE run_id IN ({marks})",
            wanted,
            "run_id",
        )
    return _run_summaries(conn, page_rows), total


def _rows_by_key(conn: sqlite3.Connection, sql: str, keys: list[Any], key: str) -> list[sqlite3.Row]:
    """Fetch rows for ``keys`` and return them in the order of ``keys``."""
    if not keys:
        return []
    by_key = {row[key]: row for row in conn.execute(sql.format(marks=placeholders(len(keys))), keys)}
    return [by_key[k] for k in keys if k in by_key]


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


# ---------------------------------------------------------------------------------------------
# GET /v1/agents/{id}/signals, GET /v1/signals

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
        rows = _rows_by_key(conn, f"SELECT {_SIGNAL_COLUMNS} FROM signals WHERE id IN ({{marks}})", wanted, "id")
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


def check_db(conn: sqlite3.Connection) -> str:
    """``"ok"`` when the database answers, else the error text (the server's /health ``db`` field)."""
    try:
        conn.execute("SELECT 1").fetchone()
    except sqlite3.Error as exc:
        return str(exc)
    return "ok"
