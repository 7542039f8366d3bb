"""Simulated agents for `dunetrace demo`, driven through the real Dunetrace SDK (no LLM, no network).

Every event is produced by the official SDK (``dunetrace.Dunetrace`` with an in-process emitter), then
stored and analysed exactly as events from a real agent would be.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import threading
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


def _drive(dt: Any, seed: int) -> None:
    rng = random.Random(seed)
    questions = [
        "What are common failure modes of LLM agents?",
        "How do vector databases index embeddings?",
        "Summarise recent work on speculative decoding.",
        "What is retrieval-augmented generation?",
        "Compare OpenTelemetry GenAI conventions with OpenInference.",
    ]
    for i, q in enumerate(questions):
        _research(dt, rng, looping=False, question=q)
        if i < 3:
            _research(dt, rng, looping=True, question=f"Find benchmarks for agent reliability #{i + 1}")
    for i, mode in enumerate(["ok", "ok", "retry_storm", "ok", "retry_storm", "ok", "errored"]):
        with contextlib.suppress(PermissionError):
            _support(dt, rng, mode=mode, order=f"A-{61100 + i}")
    for i, empty in enumerate([False, True, False, True, False]):
        _docs_qa(dt, rng, empty=empty, question=["What regions support private networking?",
                                                   "What is the SLA for managed Postgres?"][i % 2])  # fmt: skip
    for i, bloated in enumerate([False, True, False, True]):
        _writer(dt, rng, bloated=bloated, topic=["edge inference", "agent observability"][i % 2])


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


def run_demo(db: Path, *, seed: int = 7) -> DemoResult:
    """Simulate the demo agents through the SDK into a fresh store at ``db`` and analyse every run."""
    from dunetrace import Dunetrace

    emitter, sink = _collector()
    with _no_remote_env():
        dt = Dunetrace(emitter=emitter, api_key="", endpoint="http://127.0.0.1:9", flush_interval_ms=50)
        try:
            _drive(dt, seed)
        finally:
            dt.shutdown(timeout=5.0)
    store = _prepare_db(db)
    try:
        events = [normalize_event(d) for d in sink]
        write_events(store, events)
        detect.sweep(store, finalize_stalled=True)
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
    finally:
        store.close()
    return DemoResult(db=db, agents=agents, runs=runs, events=len(events), signals=signals, by_type=by_type)
