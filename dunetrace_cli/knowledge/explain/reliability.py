"""Templates: context, latency, retries, empty responses, step inflation, cascading failures."""

from __future__ import annotations

from collections.abc import Mapping

from dunetrace_cli.knowledge.explain._shared import _policy_fix, _retry_budget_fix, _template, _trim_history_fix
from dunetrace_cli.knowledge.explain._text import (
    WHY,
    _c,
    _cap,
    _Ctx,
    _duration_ms,
    _Ev,
    _int,
    _list,
    _num,
    _Parts,
    _plural,
    _py,
    _sentence,
    _span,
    _text,
    _txt,
    fix_code,
)


@_template("CONTEXT_BLOAT")
def _context_bloat(ev: _Ev, ctx: _Ctx) -> _Parts:
    first, last = ev.int("first_tokens"), ev.int("last_tokens")
    growth = ev.num("growth_factor")
    if growth is None and first and last:
        growth = round(last / first, 2)
    threshold = ev.num("threshold_factor")
    calls = ev.int("llm_call_count")
    span = _span(ev.int("first_call_step"), ev.int("last_call_step"))
    seq_raw = ev.get("token_growth_sequence")
    seq: list[int] = []
    if isinstance(seq_raw, list):
        for item in seq_raw[:12]:
            t = _int(item.get("tokens")) if isinstance(item, Mapping) else _int(item)
            if t is not None:
                seq.append(t)
    title = "Context bloat: prompt grew" + (f" {_num(growth)}×" if growth else "") + (
        f" ({_num(first)} → {_num(last)} tokens)" if first and last else ""
    )
    what = (
        "The prompt grew"
        + (f" from {_num(first)} to {_num(last)} tokens" if first and last else "")
        + (f" over {_plural(calls, 'LLM call')}" if calls else "")
        + (f" ({span})" if span else "")
        + (f", {_num(growth)}× against a {_num(threshold)}× threshold" if growth and threshold else "")
        + ". Tool outputs and history are being carried forward without pruning."
    )
    why = WHY["CONTEXT_BLOAT"]
    baseline = ev.num("baseline_p75")
    summary = _sentence(
        [
            f"prompt tokens {' → '.join(_num(t) for t in seq)}" if len(seq) >= 2 else (
                f"prompt tokens grew from {_num(first)} to {_num(last)}" if first and last else None
            ),
            f"growth {_num(growth)}×" if growth else None,
            f"threshold {_num(threshold)}×" if threshold else None,
            f"this agent's usual growth is {_num(baseline)}×" if baseline else None,
        ]
    ) or "Prompt size grew sharply during the run."
    fixes = [
        _trim_history_fix(),
        _py(
            "With LangChain, trim messages to a token budget before each call",
            fix_code("context_bloat"),
        ),
        _txt(
            "Summarise instead of appending",
            "Replace raw tool outputs older than the last few turns with a short summary the "
            "model writes itself.",
        ),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("SLOW_STEP")
def _slow_step(ev: _Ev, ctx: _Ctx) -> _Parts:
    step = ev.int("step_index")
    if step is None:
        step = ctx.step
    dur, thr = ev.num("duration_ms"), ev.num("threshold_ms")
    label = ev.text("step_label") or "step"
    event_type = ev.text("event_type")
    ratio = ev.num("ratio")
    if ratio is None and dur and thr:
        ratio = round(dur / thr, 1)
    baseline = ev.num("baseline_p75")
    slow_steps = ev.mapping("all_slow_steps") or {}
    coincident: list[str] = []
    raw_sig = ev.get("coincident_signals")
    if isinstance(raw_sig, list):
        for sig in raw_sig[:3]:
            if isinstance(sig, Mapping):
                name = _text(sig.get("signal_name"))
                src = _text(sig.get("source"))
                if name:
                    coincident.append(name + (f" from {src}" if src else ""))
    at = f" at step {step}" if step is not None else ""
    title = f"Slow {label}{at}" + (f": {_duration_ms(dur)}" if dur is not None else "") + (
        f" (threshold {_duration_ms(thr)})" if thr else ""
    )
    what = (
        f"Step {step}" if step is not None else "One step"
    ) + (
        f" ({label}" + (f", started by {event_type}" if event_type else "") + ")"
    ) + (f" took {_duration_ms(dur)}" if dur is not None else " took unusually long") + (
        f", {_num(ratio)}× its {_duration_ms(thr)} threshold" if ratio and thr else ""
    ) + "."
    if coincident:
        what += f" It coincided with {_list(coincident, code=False)}."
    if len(slow_steps) > 1:
        what += f" {len(slow_steps)} steps in this run were over their thresholds."
    why = WHY["SLOW_STEP"]
    summary = _sentence(
        [
            f"{label}{at} took {_duration_ms(dur)}" if dur is not None else None,
            f"threshold {_duration_ms(thr)}" if thr else None,
            f"{_num(ratio)}× over" if ratio else None,
            f"usual duration (P75) {_duration_ms(baseline)}" if baseline else None,
            f"coincided with {_list(coincident, code=False)}" if coincident else None,
        ]
    ) or "One step of this run took much longer than expected."
    fixes = [
        _py(
            "Put a timeout around slow tool calls",
            fix_code("call_with_timeout"),
        ),
        _py(
            "Record infrastructure context so slow steps explain themselves",
            fix_code("slow_step"),
        ),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("RETRY_STORM")
def _retry_storm(ev: _Ev, ctx: _Ctx) -> _Parts:
    tool = ev.text("tool")
    n = ev.int("consecutive_fails")
    first = ev.int("first_fail_step")
    steps = ev.ints("step_indices")
    if first is None and steps:
        first = min(steps)
    identical = ev.flag("args_identical")
    reason = ev.text("failure_reason", limit=120)
    errors = [e for e in ev.names("errors", limit=5)]
    if not reason and errors and len(set(errors)) == 1 and (ev.flag("reason_identical") or len(errors) > 1):
        reason = errors[0]
    who = _c(tool) if tool else "a tool"
    title = f"Retry storm: {who} failed" + (f" {n} times in a row" if n else " repeatedly in a row")
    what = (
        f"{_cap(who)} failed"
        + (f" {_plural(n, 'consecutive time')}" if n else " again and again")
        + (f" starting at step {first}" if first is not None else "")
        + (" with identical arguments" if identical else (" with varying arguments" if identical is False else ""))
        + (f"; every attempt failed with \"{reason}\"" if reason else "")
        + ", and it never succeeded afterwards. The agent kept retrying a dependency that was not coming back."
    )
    why = WHY["RETRY_STORM"]
    summary = _sentence(
        [
            f"{who} failed {_plural(n, 'time')} in a row" if n else f"{who} failed repeatedly",
            f"at steps {', '.join(str(s) for s in steps)}" if steps else (f"from step {first}" if first is not None else None),
            "same arguments each time" if identical else None,
            f"error: \"{reason}\"" if reason else (
                "different errors on different attempts" if ev.flag("reason_identical") is False and errors else None
            ),
        ]
    )
    fixes = [
        _retry_budget_fix(tool),
        _policy_fix(
            "Stop the run after repeated tool failures (Dunetrace policy)",
            "stop after 3 tool errors",
            '{"trigger": "error_count", "operator": "gte", "value": 3}',
        ),
        _txt(
            "Surface the outage",
            f"When {tool or 'the tool'} keeps failing, stop and tell the user the service is "
            "unavailable instead of letting the model retry.",
        ),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("EMPTY_LLM_RESPONSE")
def _empty_response(ev: _Ev, ctx: _Ctx) -> _Parts:
    step = ev.int("first_step")
    n = ev.int("occurrences")
    at = f" at step {step}" if step is not None else ""
    title = f"Empty LLM response{at}" + (f" ({n} times in this run)" if n and n > 1 else "")
    what = (
        f"The model returned no text{at} with finish_reason 'stop'"
        + (f"; this happened {_plural(n, 'time')} in the run" if n and n > 1 else "")
        + ". Most agent frameworks do not handle a blank completion: they crash, loop or pass an empty answer on."
    )
    why = WHY["EMPTY_LLM_RESPONSE"]
    summary = _sentence(
        [
            f"{_plural(n, 'empty response')}" if n else "an empty response",
            f"first{at}" if step is not None else None,
            "finish_reason 'stop' with zero output length",
        ]
    )
    fixes = [
        _py(
            "Retry once when a completion comes back empty",
            fix_code("complete_non_empty"),
        ),
        _py(
            "Report the real output length when instrumenting by hand",
            fix_code("empty_response"),
        ),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("STEP_COUNT_INFLATION")
def _step_inflation(ev: _Ev, ctx: _Ctx) -> _Parts:
    cur = ev.int("current_steps")
    base = ev.num("baseline_p75")
    ratio = ev.num("inflation_ratio")
    factor = ev.num("threshold_factor")
    title = "Step count inflation" + (f": {cur} steps" if cur else "") + (
        f" against a usual {_num(round(base, 1))}" if base else ""
    )
    what = (
        "This run took "
        + (_plural(cur, "step") if cur else "far more steps than usual")
        + (f", {_num(ratio)}× the P75 of {_num(round(base, 1))} steps for this agent version" if ratio and base else "")
        + (f" (threshold {_num(factor)}×)" if factor else "")
        + "."
    )
    why = WHY["STEP_COUNT_INFLATION"]
    summary = _sentence(
        [
            f"{_plural(cur, 'step')}" if cur else None,
            f"usual (P75) {_num(round(base, 1))}" if base else None,
            f"{_num(ratio)}× the baseline" if ratio else None,
        ]
    ) or "The run took many more steps than this agent usually needs."
    fixes = [
        _py(
            "Cap the number of agent steps (LangGraph)",
            fix_code("step_inflation"),
        ),
        _txt(
            "Compare with the previous version",
            "Open a normal run and this one side by side and look for the first step where they "
            "diverge; prompt or tool changes in the new version are the usual cause.",
        ),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("CASCADING_TOOL_FAILURE")
def _cascading(ev: _Ev, ctx: _Ctx) -> _Parts:
    n = ev.int("consecutive_failures")
    tools = ev.names("distinct_tools", limit=6)
    first = ev.int("first_fail_step")
    title = "Cascading tool failure: " + (f"{n} failures in a row" if n else "consecutive failures") + (
        f" across {_list(tools)}" if tools else " across several tools"
    )
    what = (
        "The run ended with "
        + (_plural(n, "failed tool call") if n else "a series of failed tool calls")
        + " in a row"
        + (f" across {_list(tools)}" if tools else " across different tools")
        + (f", starting at step {first}" if first is not None else "")
        + ". When different tools fail together, a shared dependency (database, API gateway, "
        "credentials, network) is usually down."
    )
    why = WHY["CASCADING_TOOL_FAILURE"]
    summary = _sentence(
        [
            f"{_plural(n, 'consecutive failure')}" if n else None,
            f"tools: {_list(tools)}" if tools else None,
            f"from step {first}" if first is not None else None,
            "no successful tool call followed",
        ]
    )
    fixes = [
        _py(
            "Stop after several failures in a row, whatever the tool",
            fix_code("failurebreaker"),
        ),
        _txt(
            "Check the shared dependency",
            f"Look for what {_list(tools, code=False) or 'these tools'} have in common (service, "
            "database, credentials, network path) and check its health before retrying.",
        ),
    ]
    return _Parts(title, what, why, summary, fixes)
