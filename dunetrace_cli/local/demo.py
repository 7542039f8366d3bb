"""Simulated agents for `dunetrace demo`, driven through the real Dunetrace SDK (no LLM, no network).

Every event is produced by the official SDK (``dunetrace.Dunetrace`` with an in-process emitter), then
backdated into the last seven days (``_backdate``: each run at its slot, ids made reproducible) and
stored and analysed exactly as a file of a real agent's events would be (``event_clock``). The week:
research-agent loops more every day until TOOL_LOOP is systemic, support-bot has retry storms and one
errored run, report-writer bloats its context, docs-qa stays clean.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dunetrace_cli.errors import UsageError
from dunetrace_cli.local import detect
from dunetrace_cli.local.ingest import normalize_event, write_events
from dunetrace_cli.local.store import Store, open_store

LOOPING_AGENT = "research-agent"

_DEMO_MARK = "demo_store"


@dataclass
class DemoResult:
    db: Path
    agents: list[str]
    runs: int
    events: int
    signals: int
    by_type: dict[str, int] = field(default_factory=dict)
    #: (UTC day, the looping agent's 30-day health score at that day's end), oldest first
    health_trend: list[tuple[str, int | None]] = field(default_factory=list)


def _collector() -> tuple[Any, list[dict[str, Any]]]:
    """An SDK BatchingEmitter that keeps the shipped event dicts in memory."""
    from dunetrace.emitters import BatchingEmitter, ShipOutcome

    sink: list[dict[str, Any]] = []
    lock = threading.Lock()

    class MemoryEmitter(BatchingEmitter):
        def ship(self, batch):  # type: ignore[no-untyped-def]
            dicts = [json.loads(json.dumps(e.to_dict(), default=str)) for e in batch]
            with lock:
                sink.extend(dicts)
            return ShipOutcome.DELIVERED

    return MemoryEmitter(), sink


@contextlib.contextmanager
def _no_remote_env() -> Iterator[None]:
    """The SDK reads a key/OTel settings from the environment; the demo must stay offline."""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k in ("DUNETRACE_API_KEY", "DUNETRACE_OTEL_ENABLED")}
    try:
        yield
    finally:
        os.environ.update(saved)


# ── the simulated agents ──────────────────────────────────────────────────────────────────────
def _research(dt: Any, rng: random.Random, *, looping: bool, question: str) -> None:
    tools = ["web_search", "fetch_page"]
    with dt.run(
        LOOPING_AGENT, user_input=question, system_prompt="You are a careful research assistant.",
        model="gpt-4o-mini", tools=tools,
    ) as run:  # fmt: skip
        tokens = 420
        run.llm_called("gpt-4o-mini", prompt_tokens=tokens)
        run.llm_responded(completion_tokens=6, latency_ms=rng.randint(120, 260), output="Let me search for this.",
                          output_length=23)  # fmt: skip
        searches = 6 if looping else 1
        for _ in range(searches):
            run.tool_called("web_search", {"query": question})
            found = '[{"title": "A survey", "url": "https://example.org/survey"}]'
            run.tool_responded("web_search", success=True, output="[]" if looping else found,
                               output_length=2 if looping else len(found), latency_ms=rng.randint(40, 95))  # fmt: skip
            tokens += 110
            run.llm_called("gpt-4o-mini", prompt_tokens=tokens)
            text = "No useful results yet; I should search again." if looping else "Found a good source."
            run.llm_responded(completion_tokens=12, latency_ms=rng.randint(120, 260), output=text,
                              output_length=len(text))  # fmt: skip
        if not looping:
            run.tool_called("fetch_page", {"url": "https://example.org/survey"})
            run.tool_responded("fetch_page", success=True, output="Survey text ...", output_length=1800,
                               latency_ms=rng.randint(60, 140))  # fmt: skip
            run.llm_called("gpt-4o-mini", prompt_tokens=tokens + 450)
            run.llm_responded(completion_tokens=60, latency_ms=rng.randint(200, 400), output="Answer: ...",
                              output_length=240)  # fmt: skip
        run.final_answer()


def _support(dt: Any, rng: random.Random, *, mode: str, order: str) -> None:
    tools = ["lookup_order", "issue_refund", "escalate_to_human"]
    with dt.run(
        "support-bot",
        user_input=f"Please refund 120 for order {order}" if mode == "errored" else f"Where is my order {order}?", system_prompt="You help customers with orders.",
        model="claude-3-5-haiku", tools=tools,
    ) as run:  # fmt: skip
        tokens = 390
        run.llm_called("claude-3-5-haiku", prompt_tokens=tokens)
        run.llm_responded(completion_tokens=6, latency_ms=rng.randint(120, 240), output="Let me look that up.",
                          output_length=20)  # fmt: skip
        if mode == "retry_storm":
            for _ in range(4):
                run.tool_called("lookup_order", {"order_id": order})
                run.tool_responded("lookup_order", success=False, output="", output_length=0,
                                   latency_ms=rng.randint(50, 100), error="orders-api: request timed out")  # fmt: skip
                tokens += 60
                run.llm_called("claude-3-5-haiku", prompt_tokens=tokens)
                run.llm_responded(completion_tokens=9, latency_ms=rng.randint(120, 240),
                                  output="The lookup timed out; retrying.", output_length=31)  # fmt: skip
        elif mode == "errored":
            run.tool_called("issue_refund", {"order_id": order, "amount": 120})
            run.tool_responded("issue_refund", success=False, output="", output_length=0,
                               latency_ms=rng.randint(50, 100), error="PermissionError: refunds need approval")  # fmt: skip
            raise PermissionError("refunds over 100 need a human")
        else:
            run.tool_called("lookup_order", {"order_id": order})
            run.tool_responded("lookup_order", success=True, output='{"status": "shipped"}', output_length=21,
                               latency_ms=rng.randint(50, 100))  # fmt: skip
            run.llm_called("claude-3-5-haiku", prompt_tokens=tokens + 80)
            run.llm_responded(completion_tokens=18, latency_ms=rng.randint(120, 240),
                              output="Your order has shipped.", output_length=23)  # fmt: skip
        run.final_answer()


def _docs_qa(dt: Any, rng: random.Random, *, empty: bool, question: str) -> None:
    with dt.run(
        "docs-qa", user_input=question, system_prompt="Answer from the product docs only.", model="gpt-4o", tools=[],
    ) as run:  # fmt: skip
        run.retrieval_called("product-docs", query=question)
        if empty:
            run.retrieval_responded("product-docs", result_count=0, top_score=None, latency_ms=rng.randint(30, 60))
        else:
            run.retrieval_responded("product-docs", result_count=4, top_score=round(rng.uniform(0.72, 0.9), 2),
                                    latency_ms=rng.randint(30, 60), content="Relevant excerpt ...")  # fmt: skip
        run.llm_called("gpt-4o", prompt_tokens=640)
        run.llm_responded(completion_tokens=40, latency_ms=rng.randint(200, 400), output="Answer ...",
                          output_length=180)  # fmt: skip
        run.final_answer()


def _writer(dt: Any, rng: random.Random, *, bloated: bool, topic: str) -> None:
    with dt.run(
        "report-writer", user_input=f"Write a briefing on {topic}", system_prompt="You write concise briefings.",
        model="gpt-4o-mini", tools=["web_search", "fetch_page"],
    ) as run:  # fmt: skip
        tokens = 780
        run.llm_called("gpt-4o-mini", prompt_tokens=tokens)
        run.llm_responded(completion_tokens=8, latency_ms=rng.randint(120, 260), output="Searching.", output_length=10)
        pages = 3 if bloated else 1
        urls = [f"https://example.org/{topic.replace(' ', '-')}/{i}" for i in range(pages)]
        listing = json.dumps([{"url": u} for u in urls])
        run.tool_called("web_search", {"query": topic})
        run.tool_responded("web_search", success=True, output=listing, output_length=len(listing),
                           latency_ms=rng.randint(40, 95))  # fmt: skip
        for i in range(pages):
            run.tool_called("fetch_page", {"url": urls[i]})
            size = 5600 if bloated else 900
            run.tool_responded("fetch_page", success=True, output="Article text ...", output_length=size,
                               latency_ms=rng.randint(60, 140))  # fmt: skip
            tokens += (size // 4) if bloated else 150
            run.llm_called("gpt-4o-mini", prompt_tokens=tokens)
            run.llm_responded(completion_tokens=20, latency_ms=rng.randint(150, 300), output="Noted.", output_length=6)
        run.final_answer()


#: The week the demo simulates: per agent, per day (oldest first), the runs of each kind.
DAYS = 7
RESEARCH_LOOPS = (0, 1, 1, 2, 3, 4, 5)  # a loop that escalates until it is systemic
RESEARCH_RUNS = 6
SUPPORT_RUNS = 5
SUPPORT_STORMS = {2: 1, 5: 2}  # day -> retry storms
SUPPORT_ERRORED_DAY = 6  # one run errors today
WRITER_RUNS = 3
WRITER_BLOATED = {1, 4, 6}  # days with a context-bloat run
DOCS_RUNS = 4  # docs-qa: the clean agent

_QUESTIONS = (
    "What are common failure modes of LLM agents?",
    "How do vector databases index embeddings?",
    "Summarise recent work on speculative decoding.",
    "What is retrieval-augmented generation?",
    "Compare OpenTelemetry GenAI conventions with OpenInference.",
    "Which benchmarks measure tool-use reliability?",
)
_DOCS_QUESTIONS = (
    "What regions support private networking?",
    "What is the SLA for managed Postgres?",
    "How do I rotate an API key?",
    "Which plans include audit logs?",
)


def _drive(dt: Any, seed: int) -> list[tuple[int, int]]:
    """Run the week's agents through the SDK; returns (day, runs started) marks in the order they ran."""
    rng = random.Random(seed)
    marks: list[tuple[int, int]] = []
    for day in range(DAYS):
        count = 0
        for i in range(RESEARCH_RUNS):
            looping = i < RESEARCH_LOOPS[day]
            question = f"Find benchmarks for agent reliability #{day}{i}" if looping else _QUESTIONS[(day + i) % 6]
            _research(dt, rng, looping=looping, question=question)
            count += 1
        storms = SUPPORT_STORMS.get(day, 0)
        for i in range(SUPPORT_RUNS):
            mode = "retry_storm" if i < storms else "ok"
            if day == SUPPORT_ERRORED_DAY and i == SUPPORT_RUNS - 1:
                mode = "errored"
            with contextlib.suppress(PermissionError):
                _support(dt, rng, mode=mode, order=f"A-{61100 + day * 10 + i}")
            count += 1
        for i in range(WRITER_RUNS):
            bloated = day in WRITER_BLOATED and i == 0
            _writer(dt, rng, bloated=bloated, topic=("edge inference", "agent observability", "GPU pricing")[i])
            count += 1
        for i in range(DOCS_RUNS):
            _docs_qa(dt, rng, empty=False, question=_DOCS_QUESTIONS[(day + i) % 4])
            count += 1
        marks.append((day, count))
    return marks


def _backdate(sink: list[dict[str, Any]], marks: list[tuple[int, int]], *, now: float, seed: int) -> list[dict[str, Any]]:
    """The SDK's events, re-timed into the last seven UTC days and given reproducible ids.

    Runs keep their order and their events' order; each run starts at its slot in its day and its
    events are spaced by the latencies the SDK recorded. Today's runs all end before ``now``.
    """
    rng = random.Random(seed * 7919 + 1)
    by_run: dict[str, list[dict[str, Any]]] = {}
    for event in sink:
        by_run.setdefault(event["run_id"], []).append(event)
    runs = list(by_run.values())  # insertion order = the order the runs started
    day_of: list[int] = [day for day, count in marks for _ in range(count)]
    today = _dt.datetime.fromtimestamp(now, tz=_dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    midnight = today.timestamp()
    ids = {run[0]["run_id"]: str(uuid.UUID(int=rng.getrandbits(128), version=4)) for run in runs}
    out: list[dict[str, Any]] = []
    per_day: dict[int, list[list[dict[str, Any]]]] = {}
    for run, day in zip(runs, day_of, strict=True):
        per_day.setdefault(day, []).append(run)
    for day, day_runs in per_day.items():
        start = midnight - (DAYS - 1 - day) * 86400.0
        end = min(start + 86400.0, now - 120.0)
        if end - start < 60.0:  # just after midnight: today's runs go in the last minutes of yesterday
            start, end = end - 3600.0, end
        step = (end - start) / (len(day_runs) + 1)
        slots = list(range(1, len(day_runs) + 1))
        rng.shuffle(slots)  # the agents' runs interleave through the day
        for n, run in zip(slots, day_runs, strict=True):
            t = start + n * step
            for event in sorted(run, key=lambda e: (e["timestamp"], e["step_index"])):
                shifted = dict(event)
                shifted["timestamp"] = round(t, 6)
                shifted["run_id"] = ids[event["run_id"]]
                shifted["event_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                if shifted.get("parent_run_id"):
                    shifted["parent_run_id"] = ids.get(shifted["parent_run_id"], shifted["parent_run_id"])
                latency = (event.get("payload") or {}).get("latency_ms")
                t += (float(latency) if isinstance(latency, (int, float)) else 15.0) / 1000.0 + 0.01
                out.append(shifted)
    return out


def _prepare_db(db: Path) -> Store:
    if db.exists():
        probe = open_store(db)
        try:
            row = probe.conn().execute("SELECT value FROM meta WHERE key=?", (_DEMO_MARK,)).fetchone()
            has_events = probe.conn().execute("SELECT 1 FROM events LIMIT 1").fetchone() is not None
        finally:
            probe.close()
        if row is None and has_events:
            raise UsageError(
                f"{db} already holds a store that is not a demo store; pass --db with a new path so it is not overwritten."
            )
        for p in Store(db).files():
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
    store = open_store(db)
    with store.write() as conn:
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, '1')", (_DEMO_MARK,))
    return store


def run_demo(db: Path, *, seed: int = 7, now: float | None = None) -> DemoResult:
    """Simulate a week of the demo agents through the SDK into a fresh store at ``db``, analyse every run.

    The same ``seed`` gives the same runs, ids, signals and order; ``now`` (default: the clock) is where
    the week ends.
    """
    from dunetrace import Dunetrace

    emitter, sink = _collector()
    with _no_remote_env():
        dt = Dunetrace(emitter=emitter, api_key="", endpoint="http://127.0.0.1:9", flush_interval_ms=50)
        try:
            marks = _drive(dt, seed)
        finally:
            dt.shutdown(timeout=5.0)
    dated = _backdate(sink, marks, now=time.time() if now is None else now, seed=seed)
    store = _prepare_db(db)
    try:
        events = [normalize_event(d) for d in dated]
        write_events(store, events, event_clock=True)
        detect.sweep(store, finalize_stalled=True, settled=True)
        conn = store.conn()
        by_type = {
            r[0]: r[1]
            for r in conn.execute(
                "SELECT failure_type, COUNT(*) FROM signals WHERE shadow=0 GROUP BY failure_type ORDER BY 2 DESC, 1"
            )
        }
        agents = [r[0] for r in conn.execute("SELECT DISTINCT agent_id FROM runs ORDER BY agent_id")]
        runs = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        signals = sum(by_type.values())
        trend = health_trend(conn, LOOPING_AGENT, now=time.time() if now is None else now)
    finally:
        store.close()
    return DemoResult(
        db=db, agents=agents, runs=runs, events=len(events), signals=signals, by_type=by_type, health_trend=trend
    )


def health_trend(conn: Any, agent_id: str, *, now: float) -> list[tuple[str, int | None]]:
    """The agent's health score (the server's 30-day formula) as it stood at the end of each of the 7 days.

    Computed on an in-memory copy of the store cut back to each day's end, newest day first.
    """
    import sqlite3

    from dunetrace_cli.local.aggregates import rebuild
    from dunetrace_cli.local.readqueries_health import health_score

    today = _dt.datetime.fromtimestamp(now, tz=_dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    days = [today - _dt.timedelta(days=back) for back in range(DAYS - 1, -1, -1)]
    copy = sqlite3.connect(":memory:")
    try:
        conn.backup(copy)
        copy.row_factory = sqlite3.Row
        points: list[tuple[str, int | None]] = []
        for day in reversed(days):
            at = min((day + _dt.timedelta(days=1)).timestamp(), now)
            copy.execute("DELETE FROM signals WHERE run_id IN (SELECT run_id FROM runs WHERE processed_at > ?)", (at,))
            copy.execute("DELETE FROM runs WHERE processed_at > ?", (at,))
            copy.execute("DELETE FROM events WHERE received_at > ?", (at,))
            rebuild(copy)  # the ingest-time aggregates of what is left
            score = health_score(copy, agent_id, now=at).get("score")
            points.append((day.date().isoformat(), score if isinstance(score, int) else None))
    finally:
        copy.close()
    return points[::-1]
