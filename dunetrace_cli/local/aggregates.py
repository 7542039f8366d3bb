"""Aggregates the read routes need, kept at ingest so reads do not scan events (schema v3).

* ``agent_stats`` (``last_seen``, ``run_count``) and the live-signal counts per agent, type and severity
  (``agent_signal_types``) and per agent and UTC day (``agent_signal_days``): kept by triggers on
  ``runs`` and ``signals`` (see schema.py), so every writer keeps them right;
* per agent and UTC day of arrival, the LLM figures of the health score (``agent_llm_days``: prompt
  tokens of llm.called/llm.responded, latency of llm.responded, sums and counts);
* per run, the token figures of token stats and insights (``run_llm``: exact llm.responded prompt
  tokens, the llm.called estimate, completion, reasoning, the largest model name, first LLM arrival).

Schema v4 adds the inputs of health, insights and token stats, kept by triggers (local/sql/v4.sql) on
``runs`` and ``signals``, per agent and processed hour (``HOUR``: SQLite's own rounding, as ``date()``):

* ``run_hours``: processed runs, runs with a live signal, with a loop signal, with a tool call and the sum
  of their first tool steps; ``run_type_hours``: runs per failure type, with the first/last detection;
* ``agent_versions`` (runs, failed runs, live signals per version), ``agent_tool_steps`` (a histogram of
  first tool steps), ``agent_inputs`` / ``agent_input_types`` (runs per input hash, and per failure
  type), all over every processed run (inputs: every run); ``signal_type_days``: live signals per UTC
  day of detection, failure type and version; ``run_starts`` (kept by the ingest hook): the latest
  ``run.started`` arrival per run and event agent, with the run's input hash; ``run_llm.live_types`` /
  ``live_first``: the run's live signal types (of its own agent) and their first detection.

The LLM aggregates are added in Python by ``write_events`` (one upsert per key and batch);
``rebuild(conn)`` recomputes all of them from the stored rows in SQL (the migration's backfill, and
stores built by plain SQL). The two must agree: ``tests/local/test_reads.py`` holds them to it, and
``tests/local/test_aggregate_reads.py`` holds the routes to the scans they replaced.
Values follow SQLite's ``CAST(json_extract(payload, '$.key') AS REAL/INTEGER)``, as the reads did.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from dunetrace_cli.local.multirow import insert_rows

DAY = 86400.0
LLM_TYPES = ("llm.called", "llm.responded")
_REAL_PREFIX = re.compile(r"\s*([+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?))")
_INT_PREFIX = re.compile(r"\s*([+-]?\d+)")
_INT64 = 2**63 - 1


def day_of(ts: float) -> int:
    return int(math.floor(ts / DAY))


def sql_real(value: Any) -> float | None:
    """``CAST(json_extract(payload, '$.key') AS REAL)`` for a parsed JSON value (None = SQL NULL)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        m = _REAL_PREFIX.match(value)
        return float(m.group(1)) if m else 0.0
    return 0.0  # an object or array: its JSON text, which starts with no number


def sql_int(value: Any) -> int:
    """``COALESCE(CAST(json_extract(payload, '$.key') AS INTEGER), 0)``."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return max(-_INT64 - 1, min(_INT64, value))
    if isinstance(value, float):
        if not math.isfinite(value):
            return 0
        return max(-_INT64 - 1, min(_INT64, int(value)))
    if isinstance(value, str):
        m = _INT_PREFIX.match(value)
        return max(-_INT64 - 1, min(_INT64, int(m.group(1)))) if m else 0
    return 0


def sql_text(value: Any) -> str | None:
    """``CAST(json_extract(payload, '$.model') AS TEXT)`` (None for null/absent)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    import json

    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class LlmBatch:
    """The LLM aggregates of one write batch, folded per key before they are upserted."""

    def __init__(self) -> None:
        self.days: dict[tuple[str, int], list[float]] = {}  # (agent, day) -> [prompt_sum, n, latency_sum, n]
        self.runs: dict[str, list[Any]] = {}  # run -> [agent, version, model, p_resp, p_called, compl, reas, first]

    def add(self, run_id: str, agent_id: str, version: str, event_type: str, payload: dict[str, Any],
            received_at: float) -> None:  # fmt: skip
        prompt = payload.get("prompt_tokens")
        responded = event_type == "llm.responded"
        day_key = (agent_id, day_of(received_at))
        d = self.days.get(day_key)
        if d is None:
            d = self.days[day_key] = [0.0, 0, 0.0, 0]
        p = float(prompt) if type(prompt) is int else sql_real(prompt)
        if p is not None:
            d[0] += p
            d[1] += 1
        if responded:
            lat = payload.get("latency_ms")
            lat = lat if type(lat) is float else sql_real(lat)
            if lat is not None:
                d[2] += lat
                d[3] += 1
        r = self.runs.get(run_id)
        if r is None:
            r = self.runs[run_id] = [agent_id, version, None, 0, 0, 0, 0, received_at]
        elif version > r[1]:
            r[1] = version
        prompt_int = prompt if type(prompt) is int and -_INT64 - 1 <= prompt <= _INT64 else sql_int(prompt)
        if responded:
            r[3] += prompt_int
            for i, key in ((5, "completion_tokens"), (6, "reasoning_tokens")):
                value = payload.get(key)
                if value is not None:
                    r[i] += value if type(value) is int and -_INT64 - 1 <= value <= _INT64 else sql_int(value)
        else:
            r[4] += prompt_int
            model = sql_text(payload.get("model"))
            if model is not None and (r[2] is None or model > r[2]):
                r[2] = model
        if received_at < r[7]:
            r[7] = received_at

    def write(self, conn: Any) -> None:
        if self.days:
            insert_rows(
                conn,
                "INSERT INTO agent_llm_days(agent_id, day, prompt_sum, prompt_n, latency_sum, latency_n) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT(agent_id, day) DO UPDATE SET "
                "prompt_sum=prompt_sum+excluded.prompt_sum, prompt_n=prompt_n+excluded.prompt_n, "
                "latency_sum=latency_sum+excluded.latency_sum, latency_n=latency_n+excluded.latency_n",
                [(a, day, *v) for (a, day), v in self.days.items()],
            )
        if self.runs:
            insert_rows(conn, _UPSERT_RUN_LLM, [(run_id, *v) for run_id, v in self.runs.items()])


_UPSERT_RUN_LLM = (
    "INSERT INTO run_llm(run_id, agent_id, agent_version, model, prompt_responded, prompt_called, "
    "completion, reasoning, first_received_at) VALUES (?,?,?,?,?,?,?,?,?) "
    "ON CONFLICT(run_id) DO UPDATE SET "
    "agent_version=MAX(agent_version, excluded.agent_version), "
    "model=CASE WHEN model IS NULL OR excluded.model > model THEN COALESCE(excluded.model, model) "
    "ELSE model END, "
    "prompt_responded=prompt_responded+excluded.prompt_responded, "
    "prompt_called=prompt_called+excluded.prompt_called, completion=completion+excluded.completion, "
    "reasoning=reasoning+excluded.reasoning, "
    "first_received_at=MIN(first_received_at, excluded.first_received_at)"
)

_PROMPT_REAL = "CAST(json_extract(payload, '$.prompt_tokens') AS REAL)"
_INT = "COALESCE(CAST(json_extract(payload, '$.{key}') AS INTEGER), 0)"

REBUILD = [
    "DELETE FROM agent_stats",
    "INSERT INTO agent_stats(agent_id, last_seen, run_count) "
    "SELECT agent_id, MAX(last_received_at), COUNT(*) FROM runs GROUP BY agent_id",
    "DELETE FROM agent_signal_types",
    "INSERT INTO agent_signal_types(agent_id, failure_type, severity, n) "
    "SELECT agent_id, failure_type, severity, COUNT(*) FROM signals WHERE shadow = 0 GROUP BY 1, 2, 3",
    "DELETE FROM agent_signal_days",
    "INSERT INTO agent_signal_days(agent_id, day, n) "
    "SELECT agent_id, CAST(detected_at / 86400 AS INTEGER), COUNT(*) FROM signals WHERE shadow = 0 GROUP BY 1, 2",
    "DELETE FROM agent_llm_days",
    f"""INSERT INTO agent_llm_days(agent_id, day, prompt_sum, prompt_n, latency_sum, latency_n)
    SELECT agent_id, CAST(received_at / 86400 AS INTEGER),
           TOTAL({_PROMPT_REAL}), COUNT({_PROMPT_REAL}),
           TOTAL(CASE WHEN event_type = 'llm.responded' THEN CAST(json_extract(payload, '$.latency_ms') AS REAL) END),
           COUNT(CASE WHEN event_type = 'llm.responded' THEN CAST(json_extract(payload, '$.latency_ms') AS REAL) END)
    FROM events WHERE event_type IN ('llm.called', 'llm.responded') GROUP BY 1, 2""",
    "DELETE FROM run_llm",
    f"""INSERT INTO run_llm(run_id, agent_id, agent_version, model, prompt_responded, prompt_called, completion,
                         reasoning, first_received_at)
    SELECT run_id, MIN(agent_id), MAX(agent_version),
           MAX(CASE WHEN event_type = 'llm.called' THEN CAST(json_extract(payload, '$.model') AS TEXT) END),
           SUM(CASE WHEN event_type = 'llm.responded' THEN {_INT.format(key='prompt_tokens')} ELSE 0 END),
           SUM(CASE WHEN event_type = 'llm.called' THEN {_INT.format(key='prompt_tokens')} ELSE 0 END),
           SUM(CASE WHEN event_type = 'llm.responded' THEN {_INT.format(key='completion_tokens')} ELSE 0 END),
           SUM(CASE WHEN event_type = 'llm.responded' THEN {_INT.format(key='reasoning_tokens')} ELSE 0 END),
           MIN(received_at)
    FROM events WHERE event_type IN ('llm.called', 'llm.responded') GROUP BY run_id""",
]


_UPSERT_START = (
    "INSERT INTO run_starts(run_id, agent_id, last_start, input_hash) "
    "SELECT ?1, ?2, ?3, (SELECT input_hash FROM runs WHERE run_id = ?1) WHERE true "
    "ON CONFLICT(run_id, agent_id) DO UPDATE SET last_start = MAX(last_start, excluded.last_start), "
    "input_hash = excluded.input_hash"
)


def batch_written(conn: Any, events: Iterable[Any], *, stamp: float, event_clock: bool) -> None:
    """THE ingest hook: the aggregates of one written batch (``events`` = the newly stored ones, their
    runs already written), folded per key and upserted with one ``executemany`` per table: the LLM
    figures (``agent_llm_days``, ``run_llm``) and the latest ``run.started`` arrival per run and agent
    with the run's input hash (``run_starts``, for insights' user impact)."""
    llm = LlmBatch()
    starts: dict[tuple[str, str], float] = {}
    for ev in events:
        et = ev.event_type
        if et in LLM_TYPES:
            llm.add(ev.run_id, ev.agent_id, ev.agent_version, et, ev.payload, ev.timestamp if event_clock else stamp)
        elif et == "run.started":
            at = ev.timestamp if event_clock else stamp
            key = (ev.run_id, ev.agent_id)
            if key not in starts or at > starts[key]:
                starts[key] = at
    llm.write(conn)
    if starts:
        conn.executemany(_UPSERT_START, [(run_id, agent, at) for (run_id, agent), at in starts.items()])


def HOUR(column: str) -> str:
    """The SQL of a time's bucket hour (the triggers' and the reads' one definition)."""
    return f"CAST(strftime('%s', {column}, 'unixepoch') AS INTEGER) / 3600"


_LOOPS = "('TOOL_LOOP', 'TOOL_THRASHING', 'TOOL_AVOIDANCE', 'STEP_COUNT_INFLATION', 'LLM_TRUNCATION_LOOP')"
_LIVE = "s.run_id = r.run_id AND +s.agent_id = r.agent_id AND s.shadow = 0"
_RUN_FLAGS = f"""SELECT r.*, EXISTS (SELECT 1 FROM signals s WHERE {_LIVE}) AS f,
        EXISTS (SELECT 1 FROM signals s WHERE {_LIVE} AND s.failure_type IN {_LOOPS}) AS l,
        (SELECT COUNT(*) FROM signals s WHERE {_LIVE}) AS n
    FROM runs r WHERE r.processed_at IS NOT NULL"""

REBUILD_V4 = [
    "DELETE FROM run_hours",
    f"""INSERT INTO run_hours(agent_id, hour, runs, failed, looped, tool_runs, tool_steps)
    SELECT agent_id, {HOUR('processed_at')}, COUNT(*), SUM(f), SUM(l), COUNT(first_tool_step),
           TOTAL(first_tool_step) FROM ({_RUN_FLAGS}) GROUP BY 1, 2""",
    "DELETE FROM run_type_hours",
    f"""INSERT INTO run_type_hours(agent_id, hour, failure_type, runs, first_detected, last_detected)
    SELECT r.agent_id, {HOUR('r.processed_at')}, s.failure_type, COUNT(*), MIN(s.detected_at), MAX(s.detected_at)
    FROM runs r JOIN signals s ON {_LIVE} WHERE r.processed_at IS NOT NULL GROUP BY 1, 2, 3""",
    "DELETE FROM agent_versions",
    f"""INSERT INTO agent_versions(agent_id, agent_version, runs, failed, signals)
    SELECT agent_id, agent_version, COUNT(*), SUM(f), SUM(n) FROM ({_RUN_FLAGS}) GROUP BY 1, 2""",
    "DELETE FROM agent_tool_steps",
    """INSERT INTO agent_tool_steps(agent_id, step, runs) SELECT agent_id, first_tool_step, COUNT(*) FROM runs
    WHERE processed_at IS NOT NULL AND first_tool_step IS NOT NULL GROUP BY 1, 2""",
    "DELETE FROM agent_inputs",
    """INSERT INTO agent_inputs(agent_id, input_hash, runs) SELECT agent_id, input_hash, COUNT(*) FROM runs
    WHERE input_hash IS NOT NULL GROUP BY 1, 2""",
    "DELETE FROM agent_input_types",
    f"""INSERT INTO agent_input_types(agent_id, input_hash, failure_type, runs)
    SELECT r.agent_id, r.input_hash, s.failure_type, COUNT(*) FROM runs r JOIN signals s ON {_LIVE}
    WHERE r.input_hash IS NOT NULL GROUP BY 1, 2, 3""",
    "DELETE FROM signal_type_days",
    """UPDATE run_llm SET
        live_types = (SELECT group_concat(failure_type, ',') FROM (SELECT s.failure_type FROM signals s
                      WHERE s.run_id = run_llm.run_id AND +s.agent_id = run_llm.agent_id AND s.shadow = 0 ORDER BY 1)),
        live_first = (SELECT MIN(s.detected_at) FROM signals s
                      WHERE s.run_id = run_llm.run_id AND +s.agent_id = run_llm.agent_id AND s.shadow = 0)""",
    "DELETE FROM run_starts",
    """INSERT INTO run_starts(run_id, agent_id, last_start, input_hash)
    SELECT e.run_id, e.agent_id, MAX(e.received_at), MIN(r.input_hash)
    FROM events e JOIN runs r ON r.run_id = e.run_id WHERE e.event_type = 'run.started' GROUP BY e.run_id, e.agent_id""",
    """INSERT INTO signal_type_days(agent_id, day, failure_type, agent_version, n)
    SELECT agent_id, CAST(strftime('%s', detected_at, 'unixepoch') AS INTEGER) / 86400, failure_type, agent_version,
           COUNT(*) FROM signals WHERE shadow = 0 GROUP BY 1, 2, 3, 4""",
]


def rebuild(conn: Any, *, only_v4: bool = False) -> None:
    """Recompute every aggregate (or only the v4 ones) from the stored rows (inside the caller's transaction)."""
    for stmt in ([] if only_v4 else REBUILD) + REBUILD_V4:
        conn.execute(stmt)
