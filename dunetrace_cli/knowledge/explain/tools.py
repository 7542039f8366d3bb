"""Templates: tool use: loops, thrashing, scattershot, avoidance, oversized arguments, goal abandonment."""

from __future__ import annotations

from dunetrace_cli.knowledge.explain._shared import _policy_fix, _template
from dunetrace_cli.knowledge.explain._text import (
    WHY,
    _c,
    _Ctx,
    _Ev,
    _ident,
    _list,
    _num,
    _Parts,
    _pct,
    _plural,
    _py,
    _sentence,
    _span,
    _txt,
    fix_code,
)


@_template("OVERSIZED_TOOL_ARGUMENTS")
def _oversized(ev: _Ev, ctx: _Ctx) -> _Parts:
    tool = ev.text("tool_name")
    length = ev.int("arg_length")
    threshold = ev.int("threshold")
    step = ev.int("step_index")
    who = _c(tool) if tool else "a tool"
    title = "Oversized tool arguments: " + (
        f"{who} received {_num(length)} characters" if length else f"{who} received a very large payload"
    )
    what = (
        (f"At step {step} the agent" if step is not None else "The agent")
        + f" passed {who} "
        + (f"{_num(length)} characters of arguments" if length else "an unusually large argument payload")
        + (f", above the {_num(threshold)}-character limit" if threshold else "")
        + ". It is stuffing a document or conversation into a single tool call."
    )
    why = WHY["OVERSIZED_TOOL_ARGUMENTS"]
    summary = _sentence(
        [
            f"{who} arguments: {_num(length)} characters" if length else None,
            f"limit {_num(threshold)}" if threshold else None,
            f"at step {step}" if step is not None else None,
        ]
    ) or "A tool call carried an unusually large argument payload."
    fixes = [
        _py(
            "Pass a reference instead of the content",
            fix_code("store_blob"),
        ),
        _txt(
            "Constrain the tool schema",
            "Give the tool narrow parameters (ids, short queries, field names) and a maxLength in "
            "its JSON schema so the model cannot pass whole documents.",
        ),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("TOOL_LOOP")
def _tool_loop(ev: _Ev, ctx: _Ctx) -> _Parts:
    tool = ev.text("tool")
    steps = ev.ints("step_indices")
    count = ev.int("count") or (len(steps) or None)
    first = ev.int("first_step") if ev.int("first_step") is not None else (min(steps) if steps else None)
    last = ev.int("last_step") if ev.int("last_step") is not None else (max(steps) if steps else None)
    span = _span(first, last)
    window = ev.int("window")
    identical, similar = ev.flag("args_identical"), ev.flag("args_similar")
    success_rate = ev.num("success_rate")
    wasted = ev.int("wasted_tokens")

    who = _c(tool) if tool else "the same tool"
    times = f" {_plural(count, 'time')}" if count else " repeatedly"
    title = f"Tool loop: {who} called{times}" + (f" in {span}" if span else "")
    if identical:
        args = " with identical arguments every time"
    elif similar:
        args = " with at most two different argument sets"
    elif identical is False:
        args = " with varying arguments"
    else:
        args = ""
    what = (
        f"The agent called {who}{times}"
        + (f" in {span}" if span else "")
        + f"{args}. It is repeating a call instead of using the results it already has "
        "or changing its approach."
    )
    why = WHY["TOOL_LOOP"]
    if wasted:
        why += f" About {_num(wasted)} prompt tokens were spent inside the loop."
    if success_rate is None:
        outcome = None
    elif success_rate >= 1:
        outcome = "every call succeeded, so the tool was not the problem"
    elif success_rate <= 0:
        outcome = "every call failed"
    else:
        outcome = f"{_pct(success_rate)} of the calls succeeded"
    summary = _sentence(
        [
            f"{who} was called{times}" + (f" in {span}" if span else ""),
            f"the detector looks at the last {window} tool calls" if window else None,
            "the arguments were identical" if identical else (
                "the arguments varied" if identical is False and not similar else None
            ),
            outcome,
            f"about {_num(wasted)} prompt tokens were spent inside the loop" if wasted else None,
        ]
    )
    fn = _ident(tool)
    fixes = [
        _py(
            f"Return the earlier result when {_c(tool) if tool else 'the tool'} is called again with the same arguments",
            f"""
import json

_{fn}_results: dict[str, object] = {{}}


def {fn}_once(**kwargs):
    key = json.dumps(kwargs, sort_keys=True, default=str)
    if key not in _{fn}_results:
        _{fn}_results[key] = {fn}(**kwargs)
    return _{fn}_results[key]
""",
        ),
        _policy_fix(
            "Stop the run as soon as the in-process detector sees the loop (Dunetrace policy)",
            "stop tool loops",
            '{"trigger": "signal", "operator": "contains", "value": "TOOL_LOOP"}',
        ),
        _txt(
            "Cap the agent loop",
            "Set an iteration limit (LangGraph: config={\"recursion_limit\": 25}; AgentExecutor: "
            "max_iterations=10) and tell the model in the system prompt not to repeat a call "
            "whose result it already has.",
        ),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("TOOL_THRASHING")
def _tool_thrashing(ev: _Ev, ctx: _Ctx) -> _Parts:
    a, b = ev.text("tool_a"), ev.text("tool_b")
    pattern = ev.names("pattern", limit=12)
    if (not a or not b) and pattern:
        distinct = list(dict.fromkeys(pattern))
        a = a or (distinct[0] if distinct else None)
        b = b or (distinct[1] if len(distinct) > 1 else None)
    count = ev.int("count") or (len(pattern) or None)
    pair = f"{_c(a)} and {_c(b)}" if a and b else "two tools"
    title = f"Tool thrashing between {pair}"
    what = (
        f"The last {_plural(count, 'tool call')} alternated between {pair}"
        if count
        else f"The agent kept alternating between {pair}"
    )
    what += ". It keeps switching sources instead of settling on one result, usually because the two disagree."
    why = WHY["TOOL_THRASHING"]
    summary = _sentence(
        [
            f"{_plural(count, 'consecutive tool call')} alternated strictly between {pair}" if count else f"Calls alternated between {pair}",
            f"sequence: {' → '.join(pattern)}" if pattern else None,
        ]
    )
    fixes = [
        _txt(
            "Say which source wins",
            f"Add to the system prompt: \"If {a or 'tool A'} and {b or 'tool B'} disagree, prefer "
            f"{a or 'tool A'} for <kind of question> and {b or 'tool B'} for <other kind>. Call each "
            "at most once more; if they still conflict, show both results to the user.\"",
        ),
        _py(
            "Break the oscillation in code",
            fix_code("guard_oscillation"),
        ),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("SCATTERSHOT_TOOL_USE")
def _scattershot(ev: _Ev, ctx: _Ctx) -> _Parts:
    distinct = ev.int("distinct_tool_count")
    total = ev.int("total_calls")
    ratio = ev.num("repeat_ratio")
    tools = ev.names("tools", limit=8)
    span = _span(ev.int("first_step"), ev.int("last_step"))
    if distinct and total:
        title = f"Scattershot tool use: {distinct} tools in {total} calls without converging"
    else:
        title = "Scattershot tool use without converging"
    what = (
        "The agent"
        + (f" called {_plural(distinct, 'different tool')}" if distinct else " called many different tools")
        + (f" {_plural(total, 'time')} in total" if total else "")
        + (f" ({_num(ratio)} calls per tool)" if ratio else "")
        + (f" across {span}" if span else "")
        + " and did not end with a final answer. It was trying approaches rather than following a plan."
    )
    why = WHY["SCATTERSHOT_TOOL_USE"]
    summary = _sentence(
        [
            f"{_plural(total, 'tool call')} over {_plural(distinct, 'distinct tool')}" if total and distinct else None,
            f"{_num(ratio)} calls per tool" if ratio else None,
            f"tools: {_list(tools)}" if tools else None,
            "the run did not end with a final answer",
            "only the most recent calls were scanned" if ev.flag("scan_truncated") else None,
        ]
    )
    fixes = [
        _txt(
            "Plan first, then execute",
            "Ask the model for a short plan naming the tools it will use before the first call, "
            "and have it revise the plan explicitly instead of trying another tool at random.",
        ),
        _txt(
            "Narrow the tool set",
            "Expose only the tools relevant to the task type (route first, then give the agent a "
            "small toolbox) and set an iteration limit.",
        ),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("TOOL_AVOIDANCE")
def _tool_avoidance(ev: _Ev, ctx: _Ctx) -> _Parts:
    tools = ev.names("available_tools", limit=5)
    llm_calls = ev.int("llm_calls")
    if len(tools) == 1:
        which = _c(tools[0])
    elif tools:
        which = f"any of its tools ({_list(tools)})"
    else:
        which = "any of its tools"
    title = f"Tool avoidance: answered without calling {which}"
    what = (
        "The agent produced a final answer"
        + (f" after {_plural(llm_calls, 'LLM call')}" if llm_calls else "")
        + f" without calling {which}, although the run declared "
        + ("it" if len(tools) == 1 else "them")
        + " as available."
    )
    why = WHY["TOOL_AVOIDANCE"]
    summary = _sentence(
        [
            "0 tool calls",
            f"{_plural(llm_calls, 'LLM call')}" if llm_calls else None,
            f"declared tools: {_list(tools)}" if tools else None,
            "the run ended with a final answer",
        ]
    )
    fixes = [
        _py(
            "Force at least one tool call where a lookup is required (OpenAI API)",
            fix_code("tool_avoidance"),
        ),
        _txt(
            "Declare only the tools the agent really calls",
            "For retrieval-only agents pass tools=[] to dt.run / the integration, so RAG runs are "
            "not reported as tool avoidance.",
        ),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("GOAL_ABANDONMENT")
def _goal_abandonment(ev: _Ev, ctx: _Ctx) -> _Parts:
    tool = ev.text("last_tool_used")
    last_tool_step = ev.int("last_tool_step")
    current = ev.int("current_step")
    since = ev.int("steps_since_last_tool")
    if since is None and current is not None and last_tool_step is not None:
        since = current - last_tool_step
    stall = ev.int("stall_steps")
    title = "Goal abandonment: the run stalled" + (f" after {_c(tool)}" if tool else "") + (
        f" at step {current}" if current is not None else ""
    )
    what = (
        "The run never finished: it sent no run.completed or run.errored. "
        + (
            f"After its last tool call ({_c(tool) if tool else 'a tool'}"
            + (f" at step {last_tool_step}" if last_tool_step is not None else "")
            + ") it only made LLM calls"
            + (f" up to step {current}" if current is not None else "")
            + ", then went silent."
        )
    )
    why = WHY["GOAL_ABANDONMENT"]
    summary = _sentence(
        [
            "no terminal event was received",
            f"last tool {_c(tool)}" + (f" at step {last_tool_step}" if last_tool_step is not None else "") if tool else None,
            f"{_plural(since, 'step')} of LLM-only activity followed" if since is not None else None,
            f"the detector fires after {stall} consecutive LLM events" if stall else None,
        ]
    )
    fixes = [
        _py(
            "Put timeouts on model calls so a hung request fails instead of stalling the run",
            fix_code("goal_abandonment"),
        ),
        _txt(
            "End every run explicitly",
            "Make every code path finish with a final answer or an error (the dt.run context "
            "manager does this when the block exits), and cap consecutive reasoning turns.",
        ),
    ]
    return _Parts(title, what, why, summary, fixes)
