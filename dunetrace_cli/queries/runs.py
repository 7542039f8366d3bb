"""Runs: lists, the paired run view, and run comparison (prefix resolution: ``run_ids``)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from dunetrace_cli.client import ApiClient
from dunetrace_cli.errors import UsageError
from dunetrace_cli.models.runs import (
    ContextGrowth,
    LlmCall,
    RunComparison,
    RunComparisonSide,
    RunDetail,
    RunEvent,
    RunList,
    RunSummary,
    RunView,
    ToolCall,
)
from dunetrace_cli.queries._common import (
    check_agent_id,
    check_agent_if_empty,
    page_all,
    seg,
)
from dunetrace_cli.queries.run_ids import fetch_run_body

RunFilter = Literal["all", "failing", "clean"]
# The SDK's CONTEXT_BLOAT defaults: >= 3 calls, last/first >= 3.0, last prompt >= 2,000 tokens.
CONTEXT_BLOAT_FACTOR = 3.0
CONTEXT_BLOAT_MIN_CALLS = 3
CONTEXT_BLOAT_MIN_LAST = 2000


async def list_runs(
    client: ApiClient, *, agent_id: str, limit: int = 20, status: RunFilter = "all", offset: int | None = 0
) -> RunList:
    """The newest runs of an agent (ordered by when the detector processed them); ``offset`` (MCP
    paging) skips that many of them (the first ``offset + limit`` are fetched and sliced)."""
    if limit < 1:
        raise UsageError(f"invalid --limit {limit}: it must be at least 1.")
    params: dict[str, Any] = {}
    if status == "failing":
        params["has_signals"] = True
    elif status == "clean":
        params["has_signals"] = False
    check_agent_id(agent_id)
    offset = offset or 0
    rows, total = await page_all(
        client, f"/v1/agents/{seg(agent_id)}/runs", "runs", params, max_rows=offset + limit
    )
    await check_agent_if_empty(client, agent_id, total == 0)
    runs = [RunSummary.model_validate(row) for row in rows[offset:offset + limit]]
    return RunList(agent_id=agent_id, filter=status, runs=runs, total=total, limit=limit, offset=offset)


async def fetch_run(client: ApiClient, run_id: str, *, agent_id: str | None = None) -> RunDetail:
    """GET /v1/runs/{id}, resolving a unique prefix (:mod:`dunetrace_cli.queries.run_ids`)."""
    body = await fetch_run_body(client, run_id, agent_id=agent_id)
    if isinstance(body, dict) and isinstance(body.get("run"), dict) and "run_id" not in body:
        body = {**body["run"], **{k: v for k, v in body.items() if k != "run"}}  # tolerate a nested shape
    return RunDetail.model_validate(detail_counts(body))


def detail_counts(body: Any) -> Any:
    """Give a run detail the counts the run list has, computed the list's way.

    The detail route carries no ``signal_count``/``has_signals`` (they defaulted to 0/false while
    ``signals`` was not empty), and the March 2026 server's detail ``step_count`` is the number of
    events while its list says max step + 1 (18 vs 36 for one run). A March detail is the one
    without ``total_tokens`` (customer-api.md C.1); the latest server's detail and list agree.
    """
    if not isinstance(body, dict):
        return body
    fixed = dict(body)
    signals = body.get("signals") or []
    if "signal_count" not in body:
        fixed["signal_count"] = len(signals)
    if "has_signals" not in body:
        fixed["has_signals"] = bool(signals)
    indexes = [e.get("step_index") for e in body.get("events") or [] if isinstance(e, dict)]
    steps = [s for s in indexes if isinstance(s, int) and not isinstance(s, bool)]
    if "total_tokens" not in body and steps:
        fixed["step_count"] = max(steps) + 1
    return fixed


async def get_run(client: ApiClient, *, run_id: str, agent_id: str | None = None, links: bool = False) -> RunView:
    """A run with tool calls and LLM calls paired, token totals, and the context-growth hint.

    The parent run id comes free with the events; ``links`` also looks up the parent's summary and
    the child runs (run_links.py: a scan of the runs started while this one was open).
    """
    from dunetrace_cli.queries.run_links import find_links, parent_of

    detail = await fetch_run(client, run_id, agent_id=agent_id)
    view = analyse_run(detail, requested_id=run_id)
    if links:
        view.parent, view.children, view.notes = await find_links(client, detail)
    elif (parent := parent_of(detail)) is not None:
        from dunetrace_cli.models.runs import RunLink

        view.parent = RunLink(run_id=parent)
    return view


def analyse_run(detail: RunDetail, *, requested_id: str) -> RunView:
    tools = pair_tool_calls(detail.events)
    llms = pair_llm_calls(detail.events)
    sdk_exit = None
    error = None
    for event in detail.events:
        if event.event_type == "run.completed":
            sdk_exit = _str(event.payload.get("exit_reason")) or "completed"
        elif event.event_type == "run.errored":
            sdk_exit = _str(event.payload.get("exit_reason")) or "error"
            error = _str(event.payload.get("error")) or _str(event.payload.get("error_type"))
    return RunView(
        run=detail,
        requested_id=requested_id,
        tool_calls=tools,
        llm_calls=llms,
        retrievals=sum(1 for e in detail.events if e.event_type == "retrieval.called"),
        prompt_tokens=sum(c.prompt_tokens or 0 for c in llms),
        completion_tokens=sum(c.completion_tokens or 0 for c in llms),
        context_growth=context_growth(llms),
        sdk_exit_reason=sdk_exit,
        error=error,
    )


def _str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _int(value: Any) -> int | None:
    number = _num(value)
    return None if number is None else int(number)


def pair_tool_calls(events: list[RunEvent]) -> list[ToolCall]:
    """Match each tool.responded to the latest unmatched tool.called of the same tool (as the SDK's run builder).

    The step index cannot be used: the SDK's context-manager API advances the step on
    every call, so a call and its response land on different steps.
    """
    calls: list[ToolCall] = []
    pending: list[int] = []  # indexes into calls, unmatched
    for event in events:
        payload = event.payload
        if event.event_type == "tool.called":
            args = payload.get("args")
            if args is None:
                args = payload.get("args_hash")
            calls.append(
                ToolCall(
                    step_index=event.step_index,
                    tool_name=_str(payload.get("tool_name")) or "?",
                    called_at=event.timestamp,
                    args=None if args is None else str(args)[:500],
                )
            )
            pending.append(len(calls) - 1)
        elif event.event_type == "tool.responded":
            name = _str(payload.get("tool_name"))
            match = next((i for i in reversed(pending) if calls[i].tool_name == name), None)
            if match is None and pending:
                match = pending[-1]
            if match is None:
                continue
            pending.remove(match)
            call = calls[match]
            latency = _num(payload.get("latency_ms"))
            if latency is None and call.called_at is not None and event.timestamp is not None:
                latency = round((event.timestamp - call.called_at) * 1000, 1)
            success = payload.get("success")
            call.success = bool(success) if isinstance(success, bool) else None
            call.latency_ms = latency
            call.error = _str(payload.get("error")) or _str(payload.get("error_hash"))
            call.output_length = _int(payload.get("output_length"))
    return calls


def pair_llm_calls(events: list[RunEvent]) -> list[LlmCall]:
    """Match llm.responded to llm.called by call_id when both carry one, else first-in first-out."""
    calls: list[LlmCall] = []
    ids: list[Any] = []
    pending: list[int] = []
    for event in events:
        payload = event.payload
        if event.event_type == "llm.called":
            calls.append(
                LlmCall(
                    step_index=event.step_index,
                    model=_str(payload.get("model")),
                    called_at=event.timestamp,
                    prompt_tokens=_int(payload.get("prompt_tokens")),
                    prompt_tokens_estimated=bool(payload.get("prompt_tokens_estimated", False)),
                )
            )
            ids.append(payload.get("call_id"))
            pending.append(len(calls) - 1)
        elif event.event_type == "llm.responded":
            call_id = payload.get("call_id")
            match = None
            if call_id is not None:
                match = next((i for i in pending if ids[i] == call_id), None)
            if match is None and pending:
                match = pending[0]
            if match is None:
                continue
            pending.remove(match)
            call = calls[match]
            exact = _int(payload.get("prompt_tokens"))
            if exact:
                call.prompt_tokens = exact
                call.prompt_tokens_estimated = False
            call.completion_tokens = _int(payload.get("completion_tokens"))
            latency = _num(payload.get("latency_ms"))
            if latency is None and call.called_at is not None and event.timestamp is not None:
                latency = round((event.timestamp - call.called_at) * 1000, 1)
            call.latency_ms = latency
            call.finish_reason = _str(payload.get("finish_reason"))
            call.responded = True
    return calls


def context_growth(llms: list[LlmCall]) -> ContextGrowth | None:
    sequence = [c.prompt_tokens for c in llms if c.prompt_tokens]
    if len(sequence) < 2:
        return None
    first, last = sequence[0], sequence[-1]
    factor = round(last / first, 2) if first else 0.0
    flagged = (
        len(sequence) >= CONTEXT_BLOAT_MIN_CALLS
        and first >= 10
        and last >= CONTEXT_BLOAT_MIN_LAST
        and last / first >= CONTEXT_BLOAT_FACTOR
    )
    return ContextGrowth(
        first_tokens=first, last_tokens=last, growth_factor=factor, llm_call_count=len(sequence),
        flagged=flagged, sequence=sequence,
    )


def _side(view: RunView) -> RunComparisonSide:
    run = view.run
    return RunComparisonSide(
        run_id=run.run_id,
        agent_id=run.agent_id,
        agent_version=run.agent_version,
        exit_reason=run.exit_reason,
        duration_s=run.duration_s,
        step_count=run.step_count,
        event_count=len(run.events),
        total_tokens=run.total_tokens if run.total_tokens is not None else (view.prompt_tokens + view.completion_tokens or None),
        cost_usd=run.cost_usd,
        tool_calls=len(view.tool_calls),
        failed_tool_calls=sum(1 for c in view.tool_calls if c.success is False),
        llm_calls=len(view.llm_calls),
        signal_types=sorted({s.failure_type for s in run.signals}),
    )


async def compare_runs(
    client: ApiClient, *, run_id_1: str, run_id_2: str, agent_id: str | None = None
) -> RunComparison:
    """Two runs side by side: duration, steps, tokens, tool calls, signals."""
    one, two = await asyncio.gather(
        fetch_run(client, run_id_1, agent_id=agent_id), fetch_run(client, run_id_2, agent_id=agent_id)
    )
    a, b = _side(analyse_run(one, requested_id=run_id_1)), _side(analyse_run(two, requested_id=run_id_2))
    diffs: list[str] = []
    if a.agent_version != b.agent_version:
        diffs.append(f"agent version differs: {a.agent_version} vs {b.agent_version}")
    for label, x, y in (
        ("steps", a.step_count, b.step_count),
        ("tool calls", a.tool_calls, b.tool_calls),
        ("failed tool calls", a.failed_tool_calls, b.failed_tool_calls),
        ("LLM calls", a.llm_calls, b.llm_calls),
        ("tokens", a.total_tokens, b.total_tokens),
    ):
        if x is not None and y is not None and x != y:
            diffs.append(f"{label}: {x} vs {y} ({y - x:+d})")
    only_a = sorted(set(a.signal_types) - set(b.signal_types))
    only_b = sorted(set(b.signal_types) - set(a.signal_types))
    if only_a:
        diffs.append(f"only run 1 has: {', '.join(only_a)}")
    if only_b:
        diffs.append(f"only run 2 has: {', '.join(only_b)}")
    if a.exit_reason != b.exit_reason:
        diffs.append(f"exit: {a.exit_reason} vs {b.exit_reason}")
    return RunComparison(left=a, right=b, differences=diffs)
