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

from dunetrace_cli.lazy import lazy_exports

DAY = 86400.0
TERMINAL_TYPES = ("run.completed", "run.errored")



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


def rows_by_key(conn: sqlite3.Connection, sql: str, keys: list[Any], key: str) -> list[sqlite3.Row]:
    """Fetch rows for ``keys`` and return them in the order of ``keys``."""
    if not keys:
        return []
    by_key = {row[key]: row for row in conn.execute(sql.format(marks=placeholders(len(keys))), keys)}
    return [by_key[k] for k in keys if k in by_key]


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


def check_db(conn: sqlite3.Connection) -> str:
    """``"ok"`` when the database answers, else the error text (the server's /health ``db`` field)."""
    try:
        conn.execute("SELECT 1").fetchone()
    except sqlite3.Error as exc:
        return str(exc)
    return "ok"


# The run and signal routes live in their own modules, which build on the helpers above; they are
# re-exported here lazily (``rq.list_runs`` etc.), so neither module imports the other while loading.
_ROUTES = {"list_runs": "readqueries_runs", "prefix_range": "readqueries_runs", "run_detail": "readqueries_runs",
           "list_signals": "readqueries_signals"}
__getattr__ = lazy_exports("dunetrace_cli.local", _ROUTES, globals())

__all__ = [
    "DAY", "TERMINAL_TYPES", "as_float", "avg_rounded", "check_db", "distinct_agents", "list_agents", "loads_object", "page_dict", "percentile_cont", "placeholders", "ratio", "utc_day",
]  # fmt: skip
