"""Rolling windows over the v4 hour buckets (local/aggregates.py): whole hours from the buckets, the
window's first, partial hour exactly from the agent's runs of that hour (an index range).

A run is in bucket ``HOUR(processed_at)`` (SQLite's millisecond rounding, the same as ``date()`` and
``strftime('%H')`` of the scans), and that is monotonic in ``processed_at``; so "``processed_at >= since``"
is exactly: every bucket after ``HOUR(since)``, plus the runs of bucket ``HOUR(since)`` at or after ``since``.
"""

from __future__ import annotations

import datetime as _dt
import sqlite3
from collections.abc import Iterable
from typing import Any

from dunetrace_cli.domain.loops import LOOP_TYPES
from dunetrace_cli.local.aggregates import HOUR
from dunetrace_cli.local.readqueries import placeholders

HOUR_S = 3600
LIVE = "s.run_id = r.run_id AND +s.agent_id = r.agent_id AND s.shadow = 0"
_LOOPS = placeholders(len(LOOP_TYPES))


def hour_of(conn: sqlite3.Connection, ts: float) -> int:
    """The bucket of ``ts``, as SQLite computes it (so a read and the triggers never disagree)."""
    return int(conn.execute(f"SELECT {HOUR('?')}", (ts,)).fetchone()[0])


def day_text(day: int) -> str:
    """``date(day * 86400, 'unixepoch')`` for a whole day number."""
    return (_dt.date(1970, 1, 1) + _dt.timedelta(days=day)).isoformat()


def edge_runs_where(alias: str = "r") -> str:
    """The runs of one agent in bucket ``h0`` at or after ``since`` (params: ``edge_params``)."""
    return (
        f"{alias}.agent_id = ? AND {alias}.processed_at >= ? AND {alias}.processed_at < ? "
        f"AND {HOUR(alias + '.processed_at')} = ?"
    )


def edge_params(agent_id: str, since: float, h0: int) -> list[object]:
    return [agent_id, since, (h0 + 1) * HOUR_S + 1, h0]


def run_counts(conn: sqlite3.Connection, agent_id: str, since: float) -> tuple[int, int, int]:
    """Processed runs since ``since``, those with a live signal, those with a loop signal."""
    h0 = hour_of(conn, since)
    full = conn.execute(
        "SELECT TOTAL(runs), TOTAL(failed), TOTAL(looped) FROM run_hours WHERE agent_id = ? AND hour > ?",
        (agent_id, h0),
    ).fetchone()
    edge = conn.execute(
        f"""SELECT COUNT(*), TOTAL(EXISTS (SELECT 1 FROM signals s WHERE {LIVE})),
                   TOTAL(EXISTS (SELECT 1 FROM signals s WHERE {LIVE} AND s.failure_type IN ({_LOOPS})))
            FROM runs r WHERE {edge_runs_where()}""",
        [*LOOP_TYPES, *edge_params(agent_id, since, h0)],
    ).fetchone()
    return int(full[0] + edge[0]), int(full[1] + edge[1]), int(full[2] + edge[2])


_KEYS = {"hour": ("hour", lambda h: h), "day": ("hour / 24", lambda h: h // 24), "hour_of_day": ("hour % 24", lambda h: h % 24)}


def hour_rows(
    conn: sqlite3.Connection, agent_id: str, since: float, columns: Iterable[str], by: str = "hour"
) -> dict[int, list[int]]:
    """Sums of ``run_hours`` columns over the runs processed since ``since``, per ``by`` (``hour``,
    ``day`` or ``hour_of_day`` of the bucket): whole hours summed in SQL, the edge hour exact."""
    cols = list(columns)
    key_sql, key_of = _KEYS[by]
    h0 = hour_of(conn, since)
    out: dict[int, list[int]] = {
        int(row[0]): [int(v) for v in row[1:]]
        for row in conn.execute(
            f"SELECT {key_sql} AS k, {', '.join(f'SUM({c})' for c in cols)} FROM run_hours "  # noqa: S608
            "WHERE agent_id = ? AND hour > ? AND runs > 0 GROUP BY k",
            (agent_id, h0),
        )
    }
    exact = {
        "runs": "COUNT(*)",
        "failed": f"TOTAL(EXISTS (SELECT 1 FROM signals s WHERE {LIVE}))",
        "looped": f"TOTAL(EXISTS (SELECT 1 FROM signals s WHERE {LIVE} AND s.failure_type IN ({_LOOPS})))",
        "tool_runs": "COUNT(r.first_tool_step)",
        "tool_steps": "TOTAL(r.first_tool_step)",
    }
    params = [*LOOP_TYPES] if "looped" in cols else []
    edge = conn.execute(
        f"SELECT {', '.join(exact[c] for c in cols)} FROM runs r WHERE {edge_runs_where()}",  # noqa: S608
        [*params, *edge_params(agent_id, since, h0)],
    ).fetchone()
    if edge[0]:
        into = out.setdefault(key_of(h0), [0] * len(cols))
        for i, v in enumerate(edge):
            into[i] += int(v)
    return out


def type_rows(
    conn: sqlite3.Connection, agent_id: str, since: float, by: str = "hour"
) -> dict[tuple[int, str], list[Any]]:
    """Per ``by`` key (as ``hour_rows``) and failure type of the runs processed since ``since``: [runs
    with the type, first detection, last detection of those signals], the edge hour exact."""
    key_sql, key_of = _KEYS[by] if by != "all" else ("0", lambda h: 0)
    h0 = hour_of(conn, since)
    out: dict[tuple[int, str], list[Any]] = {
        (int(r[0]), r[1]): [int(r[2]), r[3], r[4]]
        for r in conn.execute(
            f"SELECT {key_sql} AS k, failure_type, SUM(runs), MIN(first_detected), MAX(last_detected) "  # noqa: S608
            "FROM run_type_hours WHERE agent_id = ? AND hour > ? AND runs > 0 GROUP BY k, failure_type",
            (agent_id, h0),
        )
    }
    for ft, n, first, last in conn.execute(
        f"""SELECT s.failure_type, COUNT(*), MIN(s.detected_at), MAX(s.detected_at)
            FROM runs r JOIN signals s ON {LIVE} WHERE {edge_runs_where()} GROUP BY s.failure_type""",
        edge_params(agent_id, since, h0),
    ):
        e = out.setdefault((key_of(h0), ft), [0, None, None])
        e[0] += int(n)
        e[1] = first if e[1] is None or (first is not None and first < e[1]) else e[1]
        e[2] = last if e[2] is None or (last is not None and last > e[2]) else e[2]
    return out
