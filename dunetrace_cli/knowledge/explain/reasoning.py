"""Templates: first-step failure, reasoning stalls, cost and session latency, premature endings, unread errors, fabrication, retrieved injection."""

from __future__ import annotations

from dunetrace_cli.knowledge.explain._shared import (
    _approval_fix,
    _policy_fix,
    _template,
    _tool_error_message_fix,
    _trim_history_fix,
)
from dunetrace_cli.knowledge.explain._text import (
    WHY,
    _c,
    _cap,
    _Ctx,
    _Ev,
    _num,
    _Parts,
    _plural,
    _py,
    _seconds,
    _sentence,
    _txt,
    fix_code,
)


@_template("FIRST_STEP_FAILURE")
def _first_step(ev: _Ev, ctx: _Ctx) -> _Parts:
    trigger = ev.text("trigger")
    step = ev.int("failed_step")
    if step is None:
        step = ctx.step
    tool = ev.text("tool")
    at = f" at step {step}" if step is not None else ""
    if trigger == "tool_failure":
        title = "First-step failure: " + (f"{_c(tool)} failed" if tool else "a tool failed") + at
        what = (f"{_c(tool)}" if tool else "A tool") + f" failed{at}, right at the start of the run."
    elif trigger == "empty_llm_response":
        title = f"First-step failure: empty LLM response{at}"
        what = f"The model returned an empty reply{at}, right at the start of the run."
    elif trigger == "run_errored":
        title = f"First-step failure: the run errored{at}"
        what = f"The run raised an error{at}, before the agent had done any real work."
    else:
        title = f"First-step failure{at}"
        what = f"The run failed{at}, right at the start."
    why = WHY["FIRST_STEP_FAILURE"]
    summary = _sentence(
        [
            {"tool_failure": "trigger: tool failure", "empty_llm_response": "trigger: empty LLM response",
             "run_errored": "trigger: the run errored"}.get(trigger or "", None),
            f"tool {_c(tool)}" if tool else None,
            f"failed{at}" if step is not None else None,
            f"early failures are those by step {ev.int('max_step')}" if ev.int("max_step") is not None else None,
        ]
    ) or "The run failed in its first steps."
    fixes = [
        _py(
            "Check configuration before starting the agent",
            fix_code("first_step"),
        ),
        _txt(
            "Reproduce with the same input",
            "Re-run the failing input locally with the same model and tool configuration; the "
            "error in run.errored (or the tool's error) usually names the cause.",
        ),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("REASONING_STALL")
def _reasoning_stall(ev: _Ev, ctx: _Ctx) -> _Parts:
    llm = ev.int("llm_calls")
    tools = ev.int("tool_calls")
    ratio = ev.num("ratio")
    threshold = ev.num("threshold")
    exit_reason = ev.text("exit_reason")
    seq = ev.names("event_sequence", limit=20)
    title = "Reasoning stall: " + (
        f"{_plural(llm, 'LLM call')} for {_plural(tools, 'tool call')}" if llm is not None and tools is not None
        else "the agent deliberated far more than it acted"
    )
    what = (
        "The agent spent most of the run thinking rather than acting"
        + (f": {llm} LLM calls against {tools} tool calls" if llm is not None and tools is not None else "")
        + (f" (ratio {_num(ratio)}, threshold {_num(threshold)})" if ratio and threshold else "")
        + "."
        + (" It still produced a final answer." if exit_reason == "final_answer" else " It did not reach a final answer.")
    )
    why = WHY["REASONING_STALL"]
    summary = _sentence(
        [
            f"{llm} LLM calls, {tools} tool calls" if llm is not None and tools is not None else None,
            f"ratio {_num(ratio)}" if ratio else None,
            f"threshold {_num(threshold)}" if threshold else None,
            f"exit reason {exit_reason}" if exit_reason else None,
            f"sequence: {' '.join(seq)}" if seq else None,
        ]
    ) or "The LLM-to-tool call ratio of this run was far above normal."
    fixes = [
        _py(
            "Limit consecutive turns without a tool call",
            fix_code("reasoning_stall"),
        ),
        _txt("Ask for action", "Tell the model in the system prompt to call a tool as soon as it knows which one it needs."),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("COST_SPIKE")
def _cost_spike(ev: _Ev, ctx: _Ctx) -> _Parts:
    total = ev.int("total_tokens")
    threshold = ev.int("threshold")
    ratio = ev.num("inflation_ratio")
    calls = ev.int("llm_calls")
    base = ev.int("baseline_p75")
    title = "Cost spike: " + (f"{_num(total)} tokens" if total else "unusually high token use") + (
        f" ({_num(ratio)}× the threshold)" if ratio else ""
    )
    what = (
        "This run used "
        + (f"{_num(total)} tokens" if total else "far more tokens than usual")
        + (f" over {_plural(calls, 'LLM call')}" if calls else "")
        + (f", above the {_num(threshold)}-token threshold" if threshold else "")
        + (f" (this agent's P75 is {_num(base)})" if base else "")
        + "."
    )
    why = WHY["COST_SPIKE"]
    summary = _sentence(
        [
            f"{_num(total)} tokens" if total else None,
            f"threshold {_num(threshold)}" if threshold else None,
            f"{_num(ratio)}× over" if ratio else None,
            f"{_plural(calls, 'LLM call')}" if calls else None,
            f"usual (P75) {_num(base)}" if base else None,
        ]
    ) or "This run used far more tokens than expected."
    fixes = [
        _policy_fix(
            "Stop runs that exceed a cost ceiling (Dunetrace policy)",
            "cost ceiling",
            '{"trigger": "cost_usd", "operator": "gt", "value": 0.50}',
        ),
        _trim_history_fix(),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("SESSION_LATENCY")
def _session_latency(ev: _Ev, ctx: _Ctx) -> _Parts:
    dur = ev.num("duration_s")
    thr = ev.num("threshold_s")
    ratio = ev.num("inflation_ratio")
    base = ev.num("baseline_p75_s")
    title = "Slow run" + (f": {_num(round(dur))} s" if dur is not None else "") + (
        f" (threshold {_num(round(thr))} s)" if thr else ""
    )
    what = (
        "The run took "
        + (_seconds(dur) or "far longer than usual")
        + " from first to last event"
        + (f", {_num(ratio)}× the {_seconds(thr)} threshold" if ratio and thr else "")
        + (f"; runs of this agent usually take {_seconds(base)} (P75)" if base else "")
        + "."
    )
    why = WHY["SESSION_LATENCY"]
    summary = _sentence(
        [
            f"duration {_seconds(dur)}" if dur is not None else None,
            f"threshold {_seconds(thr)}" if thr else None,
            f"{_num(ratio)}× over" if ratio else None,
            f"usual (P75) {_seconds(base)}" if base else None,
        ]
    ) or "This run took much longer than expected."
    fixes = [
        _py(
            "Run independent tool calls concurrently",
            fix_code("session_latency"),
        ),
        _txt("Find the slow steps", "Open the run and look for SLOW_STEP signals or long gaps between events; add timeouts there."),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("PREMATURE_TERMINATION")
def _premature(ev: _Ev, ctx: _Ctx) -> _Parts:
    tool = ev.text("failed_tool")
    tstep = ev.int("failed_tool_step")
    err = ev.text("tool_error", limit=120)
    marker = ev.text("matched_error_marker")
    source = ev.text("failure_source")
    claim = ev.int("claim_step")
    term = ev.text("matched_completion_term")
    final = ev.flag("is_final_message")
    snippet = ev.text("output_snippet", limit=160)
    who = _c(tool) if tool else "a tool"
    title = f"Premature success claim after {who} failed"
    failed = (
        f"{_cap(who)} failed"
        if source != "output_text"
        else f"{_cap(who)} reported success but its output read like an error"
        + (f" ('{marker}')" if marker else "")
    )
    what = (
        failed
        + (f" at step {tstep}" if tstep is not None else "")
        + (f" (\"{err}\")" if err else "")
        + ", but the agent's next reply"
        + (f" at step {claim}" if claim is not None else "")
        + " claimed success"
        + (f" (\"{term}\")" if term else "")
        + " without mentioning the problem"
        + ("; it was the last message of the run" if final else "")
        + "."
    )
    if snippet:
        what += f" The reply began: \"{snippet}\""
    why = WHY["PREMATURE_TERMINATION"]
    summary = _sentence(
        [
            f"{who} failed" + (f" at step {tstep}" if tstep is not None else ""),
            f"error: \"{err}\"" if err else None,
            f"success claimed at step {claim}" if claim is not None else "success was claimed afterwards",
            f"completion word \"{term}\"" if term else None,
            "final message of the run" if final else None,
        ]
    )
    fixes = [
        _tool_error_message_fix(),
        _py(
            "Check a success claim against the tool results before sending it",
            fix_code("final_reply"),
        ),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("UNREAD_TOOL_ERROR")
def _unread(ev: _Ev, ctx: _Ctx) -> _Parts:
    tool = ev.text("failed_tool")
    tstep = ev.int("failed_tool_step")
    err = ev.text("tool_error", limit=120)
    marker = ev.text("matched_error_marker")
    source = ev.text("failure_source")
    nstep = ev.int("next_action_step")
    ntype = ev.text("next_action_type")
    count = ev.int("unread_count")
    who = _c(tool) if tool else "a tool"
    title = f"Unread tool error: {who} failed and the agent moved on"
    if ntype == "tool_call":
        next_part = "the agent's next action" + (f" (step {nstep})" if nstep is not None else "") + " was another tool call"
    elif ntype == "llm_response":
        next_part = "the agent's next reply" + (f" (step {nstep})" if nstep is not None else "") + " did not acknowledge it"
    else:
        next_part = "the agent carried on without acknowledging it"
    failed = (
        f"{_cap(who)} reported success but its output read like an error"
        + (f" ('{marker}')" if marker else "")
        if source == "output_text"
        else f"{_cap(who)} failed"
    )
    what = (
        failed
        + (f" at step {tstep}" if tstep is not None else "")
        + (f" (\"{err}\")" if err else "")
        + f", and {next_part}."
        + (f" This happened {count} times in the run." if count and count > 1 else "")
    )
    why = WHY["UNREAD_TOOL_ERROR"]
    summary = _sentence(
        [
            f"{who} failed" + (f" at step {tstep}" if tstep is not None else ""),
            f"error: \"{err}\"" if err else ("no error text was recorded" if source == "declared" else None),
            f"next action: {ntype.replace('_', ' ')}" + (f" at step {nstep}" if nstep is not None else "") if ntype else None,
            f"{count} unread failures in the run" if count and count > 1 else None,
        ]
    )
    fixes = [
        _tool_error_message_fix(),
        _txt(
            "Make errors impossible to skip",
            "Add to the system prompt: \"If a tool returns an error, say so and decide whether to "
            "retry, use another tool or stop. Never continue as if it succeeded.\"",
        ),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("TOOL_ARGUMENT_FABRICATION")
def _fabrication(ev: _Ev, ctx: _Ctx) -> _Parts:
    tool = ev.text("tool_name")
    step = ev.int("tool_step")
    entity = ev.text("fabricated_entity")
    destructive = ev.flag("is_destructive_tool")
    args = ev.text("args_snippet", limit=160)
    who = _c(tool) if tool else "a tool"
    title = (f"Possibly fabricated argument {_c(entity)}" if entity else "Possibly fabricated tool argument") + f" passed to {who}"
    what = (
        (f"At step {step} the agent" if step is not None else "The agent")
        + f" called {who} with "
        + (_c(entity) if entity else "an identifier")
        + ", a value that appears nowhere in the user input, the system prompt or any earlier tool output"
        + (f"; {who} looks destructive" if destructive else "")
        + ". The agent may have invented it."
    )
    why = WHY["TOOL_ARGUMENT_FABRICATION"]
    summary = _sentence(
        [
            f"{who} received {_c(entity)}" if entity else f"{who} received an ungrounded identifier",
            f"at step {step}" if step is not None else None,
            "destructive tool" if destructive else None,
            f"arguments: {args}" if args else None,
        ]
    )
    fixes = [
        _py(
            "Reject identifiers that did not come from the user or an earlier result",
            fix_code("assert_grounded"),
        ),
        _approval_fix(tool if destructive else None),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("RETRIEVED_CONTENT_INJECTION")
def _retrieved_injection(ev: _Ev, ctx: _Ctx) -> _Parts:
    stype = ev.text("source_type")
    name = ev.text("source_name")
    step = ev.int("source_step")
    marker = ev.text("matched_marker")
    deviated = ev.flag("behavior_deviation")
    snippet = ev.text("content_snippet", limit=160)
    kind = {"retrieval": "retrieved content", "tool": "tool output"}.get(stype or "", "content the agent read")
    title = f"Injected instructions in {kind}" + (f" from {_c(name)}" if name else "")
    what = (
        f"The {kind}"
        + (f" from {_c(name)}" if name else "")
        + (f" at step {step}" if step is not None else "")
        + " contains text addressed to the agent"
        + (f" (\"{marker}\")" if marker else "")
        + "."
        + (
            " Afterwards the agent called a tool it had not used before and the user never mentioned."
            if deviated
            else ""
        )
    )
    why = (
        "This is indirect prompt injection: a third party plants instructions in a page, document "
        "or API response, and the agent reads them as if they came from you."
        + (" The change in tool use suggests the instruction was followed." if deviated else "")
    )
    summary = _sentence(
        [
            f"source: {stype} {_c(name)}" if stype and name else (f"source: {_c(name)}" if name else None),
            f"at step {step}" if step is not None else None,
            f"marker: \"{marker}\"" if marker else None,
            "tool use changed afterwards" if deviated else ("no change in tool use was seen" if deviated is False else None),
            f"content began: \"{snippet}\"" if snippet else None,
        ]
    ) or "Content the agent read contained instruction-like text."
    fixes = [
        _py(
            "Mark retrieved text as data before it reaches the model",
            fix_code("as_untrusted"),
        ),
        _approval_fix(None),
    ]
    return _Parts(title, what, why, summary, fixes)
