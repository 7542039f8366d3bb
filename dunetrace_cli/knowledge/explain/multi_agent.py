"""Templates: hand-offs, runaway iteration, model drift, memory, delegation, destinations, ambiguity, instrumentation."""

from __future__ import annotations

from dunetrace_cli.knowledge.explain._shared import _approval_fix, _policy_fix, _template
from dunetrace_cli.knowledge.explain._text import (
    WHY,
    _c,
    _Ctx,
    _Ev,
    _list,
    _num,
    _Parts,
    _pct,
    _plural,
    _py,
    _sentence,
    _text,
    _txt,
    _usd,
    fix_code,
)


@_template("AGENT_HANDOFF_FAILURE")
def _handoff_failure(ev: _Ev, ctx: _Ctx) -> _Parts:
    tool = ev.text("tool_name")
    step = ev.int("step_index")
    length = ev.int("output_length")
    reason = ev.text("reason")
    empty = ev.text("known_empty_response")
    min_len = ev.int("min_output_length")
    who = _c(tool) if tool else "a hand-off tool"
    at = f" at step {step}" if step is not None else ""
    if reason == "tool_failed":
        title = f"Hand-off {who} failed"
        what = f"The hand-off to another agent through {who}{at} failed."
    elif reason == "known_empty_response":
        title = f"Hand-off {who} returned an empty reply" + (f" ('{empty}')" if empty else "")
        what = f"The sub-agent behind {who}{at} answered only" + (f" '{empty}'" if empty else " with a placeholder") + ", which carries no result."
    else:
        title = f"Hand-off {who} returned almost nothing"
        what = f"The sub-agent behind {who}{at} returned" + (
            f" {_plural(length, 'character')}" if length is not None else " a very short reply"
        ) + (f" (minimum {min_len})" if min_len else "") + "."
    what += " The orchestrating agent continued without the delegated work."
    why = WHY["AGENT_HANDOFF_FAILURE"]
    summary = _sentence(
        [
            f"hand-off tool {who}{at}",
            {"tool_failed": "the call failed", "known_empty_response": "placeholder reply",
             "short_output": "reply too short"}.get(reason or "", None),
            f"output length {length}" if length is not None else None,
        ]
    )
    fixes = [
        _py(
            "Validate a sub-agent's result before continuing",
            fix_code("check_handoff"),
        ),
        _txt("Return structured results", "Have sub-agents return a structured result (status, data, error) instead of free text, and check the status."),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("HANDOFF_CONTEXT_LOSS")
def _handoff_context_loss(ev: _Ev, ctx: _Ctx) -> _Parts:
    parent = ev.int("parent_context_length")
    child = ev.int("child_input_length")
    drop = ev.num("size_drop_ratio")
    missing = ev.names("missing_entities", limit=5)
    n = ev.int("missing_entity_count") or (len(missing) or None)
    title = "Hand-off lost context" + (f": {_plural(n, 'identifier')} missing from the sub-agent's input" if n else "")
    what = (
        "When this run was started as a sub-agent, its input"
        + (f" ({_num(child)} characters)" if child is not None else "")
        + " was much smaller than what the parent run had accumulated"
        + (f" ({_num(parent)} characters, {_pct(drop)} smaller)" if parent is not None and drop is not None else "")
        + (f", and it is missing {_list(missing)}" if missing else ", and identifiers the parent had seen are missing")
        + "."
    )
    why = WHY["HANDOFF_CONTEXT_LOSS"]
    summary = _sentence(
        [
            f"parent context {_num(parent)} characters" if parent is not None else None,
            f"child input {_num(child)} characters" if child is not None else None,
            f"{_pct(drop)} smaller" if drop is not None else None,
            f"missing: {_list(missing)}" if missing else None,
        ]
    ) or "The sub-agent's input dropped context the parent run had."
    fixes = [
        _py(
            "Pass the facts a sub-agent needs explicitly",
            fix_code("handoff_context_loss"),
        ),
        _txt("Hand over state, not a summary", "Give sub-agents the structured state (ids, selected records) rather than a prose summary that can drop them."),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("RUNAWAY_ITERATION")
def _runaway(ev: _Ev, ctx: _Ctx) -> _Parts:
    steps = ev.int("step_count")
    step_thr = ev.int("step_threshold")
    cost = ev.num("estimated_cost_usd")
    cost_thr = ev.num("cost_threshold_usd")
    step_x, cost_x = ev.flag("step_exceeded"), ev.flag("cost_exceeded")
    parts = []
    if steps is not None:
        parts.append(_plural(steps, "step"))
    if cost is not None:
        parts.append(f"about {_usd(cost)}")
    title = "Runaway iteration" + (f": {' and '.join(parts)} without finishing" if parts else " without finishing")
    crossed = []
    if step_x or (step_x is None and steps is not None and step_thr is not None and steps > step_thr):
        crossed.append(f"the {step_thr}-step ceiling" if step_thr else "the step ceiling")
    if cost_x or (cost_x is None and cost is not None and cost_thr is not None and cost > cost_thr):
        crossed.append(f"the {_usd(cost_thr)} cost ceiling" if cost_thr else "the cost ceiling")
    what = (
        "The run kept going past "
        + (" and ".join(crossed) if crossed else "its budget")
        + (f" ({', '.join(parts)})" if parts else "")
        + " without a final answer and without any sign in its recent replies that it was wrapping up."
    )
    why = WHY["RUNAWAY_ITERATION"]
    summary = _sentence(
        [
            f"{_plural(steps, 'step')}" + (f" (ceiling {step_thr})" if step_thr else "") if steps is not None else None,
            f"estimated cost {_usd(cost)}" + (f" (ceiling {_usd(cost_thr)})" if cost_thr is not None else "") if cost is not None else None,
            "no final answer",
            f"last {ev.int('recent_messages_checked')} replies checked for completion language" if ev.int("recent_messages_checked") else None,
        ]
    )
    fixes = [
        _policy_fix(
            "Stop runs at a step ceiling (Dunetrace policy)",
            "step ceiling",
            '{"trigger": "step_count", "operator": "gt", "value": 40}',
        ),
        _policy_fix(
            "Stop runs at a cost ceiling (Dunetrace policy)",
            "cost ceiling",
            '{"trigger": "cost_usd", "operator": "gt", "value": 1.0}',
        ),
        _txt("Set max_iterations", "Give the agent loop an iteration limit and a graceful 'here is what I found so far' exit."),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("MODEL_FALLBACK_DRIFT")
def _model_drift(ev: _Ev, ctx: _Ctx) -> _Parts:
    a, b = ev.text("from_model"), ev.text("to_model")
    step = ev.int("downgrade_step")
    rate = ev.flag("preceded_by_rate_limit")
    delta = ev.int("tier_delta")
    title = "Model downgrade mid-run" + (f": {a} → {b}" if a and b else "")
    what = (
        "Within this run the model changed"
        + (f" from {a} to the less capable {b}" if a and b else " to a less capable one")
        + (f" at step {step}" if step is not None else "")
        + (", right after a rate-limit signal" if rate else "")
        + ". The rest of the run was answered by the weaker model."
    )
    why = WHY["MODEL_FALLBACK_DRIFT"]
    summary = _sentence(
        [
            f"{a} → {b}" if a and b else None,
            f"at step {step}" if step is not None else None,
            f"{_plural(delta, 'capability tier')} down" if delta else None,
            "preceded by a rate-limit signal" if rate else ("no rate-limit signal was recorded before it" if rate is False else None),
        ]
    ) or "The model switched to a less capable one during the run."
    fixes = [
        _py(
            "Back off on rate limits instead of switching models",
            fix_code("model_drift"),
        ),
        _txt("Make fallbacks explicit", "If a fallback model is intended, log it (run.external_signal('model_fallback', ...)) and tell the user when answers come from the fallback."),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("MEMORY_POISONING")
def _memory_poisoning(ev: _Ev, ctx: _Ctx) -> _Parts:
    key = ev.text("memory_key")
    source = ev.text("source")
    marker = ev.text("matched_marker")
    untrusted = ev.flag("untrusted_source")
    consumed = ev.flag("consumed")
    step = ev.int("write_step")
    n = ev.int("poisoned_write_count")
    snippet = ev.text("value_snippet", limit=160)
    title = "Memory poisoning: override directive written to memory" + (f" key {_c(key)}" if key else "")
    what = (
        (f"At step {step} the agent" if step is not None else "The agent")
        + " wrote a value containing an override directive"
        + (f" (\"{marker}\")" if marker else "")
        + " to memory"
        + (f" under {_c(key)}" if key else "")
        + (f"; the content came from {source}" if source else "")
        + (" and was read back later in the same run" if consumed else "")
        + "."
        + (f" {_plural(n, 'poisoned write')} in total." if n and n > 1 else "")
    )
    why = (
        "Memory outlives the step that wrote it: a planted instruction steers the agent every time "
        "that memory is loaded, in this run and in later ones."
        + (" Content from an untrusted channel makes this more likely to be an attack." if untrusted else "")
    )
    summary = _sentence(
        [
            f"key {_c(key)}" if key else None,
            f"source {source}" if source else "source not recorded",
            f"marker \"{marker}\"" if marker else None,
            "read back in the same run" if consumed else None,
            f"value began: \"{snippet}\"" if snippet else None,
        ]
    )
    fixes = [
        _py(
            "Refuse instruction-like content before persisting it, and record its source",
            fix_code("remember"),
        ),
        _txt("Clean the store", f"Inspect and clear {('memory key ' + key) if key else 'the affected memory'} before the agent loads it again."),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("DELEGATION_LOOP")
def _delegation_loop(ev: _Ev, ctx: _Ctx) -> _Parts:
    agents = ev.names("cycle_agents", limit=5) or list(dict.fromkeys(ev.names("cycle", limit=8)))
    cycle = ev.names("cycle", limit=8)
    runs = ev.int("loop_run_count")
    chain = ev.names("delegation_chain", limit=10)
    title = "Delegation loop" + (f" between {_list(agents, code=False)}" if agents else "") + (
        f" ({_plural(runs, 'run')})" if runs else ""
    )
    what = (
        "Agents kept handing work to each other in a cycle"
        + (f" ({' → '.join(cycle)})" if cycle else "")
        + (f"; {_plural(runs, 'run')} of the chain are inside the loop" if runs else "")
        + " instead of converging on an answer."
    )
    why = WHY["DELEGATION_LOOP"]
    summary = _sentence(
        [
            f"cycle: {' → '.join(cycle)}" if cycle else None,
            f"{_plural(runs, 'run')} in the loop" if runs else None,
            f"delegation chain: {' → '.join(chain)}" if chain else None,
        ]
    ) or "Agents delegated to each other in a cycle."
    fixes = [
        _py(
            "Limit delegation depth",
            fix_code("delegate"),
        ),
        _txt("Give the orchestrator a stop rule", "Tell the orchestrating agent when a sub-task counts as done and forbid handing the same task back to the agent that delegated it."),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("UNGROUNDED_DESTINATION")
def _ungrounded(ev: _Ev, ctx: _Ctx) -> _Parts:
    dest = ev.text("destination")
    dtype = ev.text("destination_type")
    tool = ev.text("tool_name")
    step = ev.int("tool_step")
    path = ev.text("arg_path")
    taint = ev.mapping("taint_source")
    kind = _text(taint.get("kind")) if taint else None
    partial = ev.text("output_visibility") == "partial"
    who = _c(tool) if tool else "a tool"
    noun = {"email": "e-mail address", "url": "URL host", "bare_domain": "domain"}.get(dtype or "", "destination")
    title = (f"Ungrounded destination {_c(dest)}" if dest else "Ungrounded destination") + f" in {who}"
    what = (
        (f"At step {step} " if step is not None else "")
        + f"{who} was asked to send to the {noun} "
        + (_c(dest) if dest else "shown in the evidence")
        + (f" (argument {_c(path)})" if path else "")
        + ", which appears nowhere in the run's trusted inputs"
        + (f"; it does appear in {kind.replace('_', ' ')} content that looks injected" if kind else "")
        + "."
    )
    why = (
        "Sending data to an address the task never mentioned is how an injected agent exfiltrates "
        "information. Verify the destination; it may also have arrived through a channel that was "
        "not instrumented."
        + (" Some tool outputs were not recorded, so grounding was incomplete." if partial else "")
    )
    summary = _sentence(
        [
            f"{noun} {_c(dest)}" if dest else None,
            f"tool {who}" + (f" at step {step}" if step is not None else ""),
            f"found in {kind.replace('_', ' ')} content with an injection marker" if kind else "not found in any trusted input",
            "tool output visibility was partial" if partial else None,
        ]
    )
    fixes = [
        _py(
            "Allowlist destinations for send-type tools",
            fix_code("check_destination"),
        ),
        _approval_fix(tool),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("UNRESOLVED_AMBIGUITY")
def _ambiguity(ev: _Ev, ctx: _Ctx) -> _Parts:
    tool = ev.text("tool_name")
    step = ev.int("tool_step")
    selected = ev.text("selected_id")
    n = ev.int("candidate_count")
    source = ev.text("source_tool")
    tier = ev.text("tier")
    sibling = ev.text("sibling_id")
    matched = ev.names("sibling_matched_in_request", limit=5)
    who = _c(tool) if tool else "an irreversible tool"
    title = f"Unresolved ambiguity: {who} acted on " + (_c(selected) if selected else "one record") + (
        f" out of {n} candidates" if n else " out of several candidates"
    )
    what = (
        (f"At step {step} " if step is not None else "")
        + f"{who} acted on "
        + (_c(selected) if selected else "one of the records")
        + (f", one of {n} candidates returned by {_c(source)}" if n and source else (f", one of {n} candidates" if n else ""))
        + ", although nothing in the user's request singled it out."
        + (
            f" The request actually matched {_c(sibling)}" + (f" (via {_list(matched, code=False)})" if matched else "") + "."
            if tier == "strong" and sibling
            else ""
        )
    )
    why = WHY["UNRESOLVED_AMBIGUITY"]
    summary = _sentence(
        [
            f"{who} on {_c(selected)}" if selected else None,
            f"{n} candidates from {_c(source)}" if n and source else (f"{n} candidates" if n else None),
            "the request pointed at a different candidate" if tier == "strong" else ("nothing in the request distinguished the candidates" if tier == "weak" else None),
        ]
    ) or "An irreversible action picked one of several candidates without a reason."
    fixes = [
        _txt(
            "Ask before acting on one of several matches",
            "When a lookup returns more than one candidate for an irreversible action, list them "
            "and ask the user to choose.",
        ),
        _approval_fix(tool),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("INSTRUMENTATION_DEGRADED")
def _instrumentation(ev: _Ev, ctx: _Ctx) -> _Parts:
    affected = ev.int("affected_calls")
    total = ev.int("total_llm_calls")
    reason = ev.text("reason")
    shapes = ev.names("unreadable_shapes", limit=3)
    providers = ev.names("providers", limit=3)
    suppressed = ev.names("suppressed_detectors", limit=8)
    title = "Instrumentation degraded: " + (
        f"{affected} of {total} LLM calls could not be read" if affected and total else "LLM responses could not be read"
    )
    what = (
        "The SDK could not read "
        + (f"{affected} of {total} LLM responses" if affected and total else "this run's LLM responses")
        + (
            " (every call showed zero output and zero completion tokens despite taking time)"
            if reason == "all_calls_structurally_blank"
            else (f" (unrecognised response shape: {', '.join(shapes)})" if shapes else "")
        )
        + ". This is about the telemetry, not the agent."
    )
    why = (
        "Detectors that rely on reply text or finish reasons cannot judge this run, so their "
        "silence is not a clean bill of health"
        + (f" ({', '.join(suppressed)})" if suppressed else "")
        + "."
    )
    summary = _sentence(
        [
            f"{affected} of {total} LLM calls affected" if affected and total else None,
            f"reason: {reason.replace('_', ' ')}" if reason else None,
            f"providers: {', '.join(providers)}" if providers else None,
        ]
    ) or "The SDK could not measure this run's LLM calls."
    fixes = [
        _txt("Upgrade the SDK and provider client", "Update dunetrace and the provider SDK; unreadable shapes usually come from a new response wrapper (e.g. with_raw_response)."),
        _py(
            "Report the response yourself when auto-instrumentation cannot read it",
            fix_code("instrumentation"),
        ),
    ]
    return _Parts(title, what, why, summary, fixes)
