"""get_agent_runs (a page of runs), get_run_detail (one run, step by step) and compare_runs."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from dunetrace_cli.mcp.views._base import (
    UNTRUSTED,
    Page,
    Step,
    Table,
    View,
    page_of,
    rounded,
    short_run,
    step,
    steps,
    text,
    when,
)
from dunetrace_cli.models.common import SEVERITY_RANK
from dunetrace_cli.models.runs import RunComparison, RunList, RunView

RUN_COLUMNS = ["run_id", "started_at", "duration_s", "steps", "signals"]  # tokens: get_run_detail, compare_runs


class RunPage(View):
    """The agent's newest processed runs (run ids as 12-character prefixes, accepted back)."""

    agent_id: str = Field(exclude=True)  # the caller's argument: in the text's heading, not repeated here
    filter: str | None = None  # failing or clean (absent: all runs)
    page: Page
    runs: Table  # RUN_COLUMNS
    next_steps: list[Step]


def run_page(result: RunList) -> RunPage:
    rows = [
        [short_run(r.run_id), when(r.started_at), rounded(r.duration_s, 1), r.step_count, r.signal_count]
        for r in result.runs
    ]
    shown = len(result.runs)
    plan = []
    failing = next((r for r in result.runs if r.signal_count), None)
    clean = next((r for r in result.runs if not r.signal_count), None)
    if failing is not None:
        plan.append(step("run", "newest failing run", run_id=failing.run_id[:12]))
        if clean is not None and result.total <= shown:  # a short list: compare here; else the run detail says how
            plan.append(step("compare", "failing vs clean", run_id_1=failing.run_id[:12], run_id_2=clean.run_id[:12]))
    page, paging = page_of("runs", offset=result.offset, shown=shown, total=result.total, size=result.limit,
                           agent_id=result.agent_id)
    return RunPage(
        agent_id=text(result.agent_id, 64), filter=None if result.filter == "all" else result.filter,
        page=page, runs=Table(columns=RUN_COLUMNS, rows=rows), next_steps=steps(plan + paging),
    )


# --------------------------------------------------------------------------- one run

MAX_TOOL_ROWS = 30
TOOL_COLUMNS = ["step", "tool", "ok", "latency_ms", "error"]
RUN_SIGNAL_COLUMNS = ["id", "severity", "failure_type", "step", "title"]


class Context(View):
    """Prompt tokens across the run's LLM calls (the context-bloat hint)."""

    first_tokens: int
    last_tokens: int
    growth_factor: float
    flagged: bool


class RunDetailView(View):
    """One run: outcome, signals, tool calls (ok/failed, latency), LLM totals, context growth."""

    run_id: str  # full id
    requested_id: str | None = None  # the prefix it was asked by, when it was one
    agent_id: str
    agent_version: str | None = None
    started_at: str | None = None
    duration_s: float | None = None
    exit_reason: str | None = None
    error: str | None = None
    steps: int
    tokens: int | None = None
    cost_usd: float | None = None
    signals: Table  # RUN_SIGNAL_COLUMNS
    tool_calls: Table  # TOOL_COLUMNS; ok is null when no response arrived
    counts: dict[str, int]  # tool_calls, failed_tool_calls, llm_calls, prompt_tokens, completion_tokens
    context: Context | None = None
    related_runs: dict[str, Any] | None = None  # parent: the run that started this one; children: runs it started
    notes: list[str] | None = None
    next_steps: list[Step]
    untrusted: str = UNTRUSTED


def run_detail(result: RunView) -> RunDetailView:
    run = result.run
    ordered = sorted(run.signals, key=lambda s: (SEVERITY_RANK.get(s.severity, 9), s.step_index, s.id))
    signals = [[s.id, text(s.severity, 16), text(s.failure_type, 64), s.step_index, text(s.title, 80)] for s in ordered]
    calls = result.tool_calls
    failed = [c for c in calls if c.success is False]
    # failed calls first (they are what went wrong), then the rest in step order, bounded
    chosen = sorted((failed + [c for c in calls if c.success is not False])[:MAX_TOOL_ROWS], key=lambda c: c.step_index)
    tool_rows = [
        [c.step_index, text(c.tool_name, 48), c.success, rounded(c.latency_ms, 0),
         text(c.error, 80) if c.error else None]
        for c in chosen
    ]
    growth = result.context_growth
    plan = []
    from dunetrace_cli.mcp.views.signals import worst_signal

    worst = worst_signal(run.signals)  # type: ignore[arg-type]
    if worst is not None:
        plan.append(step("signal", f"evidence and fix for {text(worst.failure_type, 64)}", signal_id=worst.id,
                         agent_id=run.agent_id or None))
        plan.append(step("runs", "a clean run to compare_runs with", agent_id=run.agent_id, limit=5))
    elif run.agent_id:
        plan.append(step("summary", "the agent's overall picture", agent_id=run.agent_id))
    return RunDetailView(
        run_id=text(run.run_id, 64), requested_id=text(result.requested_id, 64) if result.requested_id != run.run_id else None,
        agent_id=text(run.agent_id, 64), agent_version=text(run.agent_version, 64) or None,
        started_at=when(run.started_at), duration_s=rounded(run.duration_s, 1),
        exit_reason=text(result.sdk_exit_reason or run.exit_reason, 40) or None,
        error=text(result.error, 200) if result.error else None, steps=run.step_count, tokens=run.total_tokens,
        cost_usd=rounded(run.cost_usd, 4),
        signals=Table(columns=RUN_SIGNAL_COLUMNS, rows=signals),
        tool_calls=Table(columns=TOOL_COLUMNS, rows=tool_rows),
        counts={"tool_calls": len(calls), "failed_tool_calls": len(failed), "llm_calls": len(result.llm_calls),
                "prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens},
        context=Context(first_tokens=growth.first_tokens, last_tokens=growth.last_tokens,
                        growth_factor=round(growth.growth_factor, 1), flagged=growth.flagged) if growth else None,
        related_runs=_related(result),
        notes=[text(n, 200) for n in result.notes] or None,
        next_steps=steps(plan),
    )


def _related(result: RunView) -> dict[str, Any] | None:
    related: dict[str, Any] = {}
    if result.parent is not None:
        related["parent"] = short_run(result.parent.run_id)
    if result.children:
        related["children"] = [
            {"run_id": short_run(c.run_id), "agent_id": text(c.agent_id, 64), "signals": c.signal_count or 0}
            for c in result.children[:20]
        ]
    return related or None


# --------------------------------------------------------------------------- two runs

COMPARE_ROWS = ["agent_version", "exit_reason", "duration_s", "step_count", "event_count", "total_tokens", "cost_usd",
                "llm_calls", "tool_calls", "failed_tool_calls", "signal_types"]


class Comparison(View):
    """Two runs side by side: rows are [field, run 1, run 2, differs]."""

    run_id_1: str
    run_id_2: str
    agent_id: str
    rows: Table  # field, run_1, run_2, differs
    differences: list[str]
    next_steps: list[Step]


def _side(value: Any) -> Any:
    if isinstance(value, list):
        return " ".join(text(v, 64) for v in value) or None
    if isinstance(value, str):
        return text(value, 64)
    return value


def comparison(result: RunComparison) -> Comparison:
    a, b = result.left, result.right
    rows = []
    for name in COMPARE_ROWS:
        x, y = _side(getattr(a, name)), _side(getattr(b, name))
        rows.append([name, x, y, x != y])
    plan = []
    for side in (a, b):
        if side.signal_types:
            plan.append(step("run", "the signals and the fix on that run", run_id=side.run_id[:12]))
            break
    return Comparison(
        run_id_1=text(a.run_id, 64), run_id_2=text(b.run_id, 64), agent_id=text(a.agent_id, 64),
        rows=Table(columns=["field", "run_1", "run_2", "differs"], rows=rows),
        differences=[text(d, 200) for d in result.differences], next_steps=steps(plan),
    )
