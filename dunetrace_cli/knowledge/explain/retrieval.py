"""Templates: prompt injection, retrieval and truncation."""

from __future__ import annotations

from dunetrace_cli.knowledge.explain._shared import _approval_fix, _template, _trim_history_fix
from dunetrace_cli.knowledge.explain._text import (
    WHY,
    _c,
    _Ctx,
    _Ev,
    _list,
    _num,
    _Parts,
    _plural,
    _py,
    _sentence,
    _span,
    _txt,
    fix_code,
)


@_template("PROMPT_INJECTION_SIGNAL")
def _prompt_injection(ev: _Ev, ctx: _Ctx) -> _Parts:
    patterns = ev.names("matched_patterns", limit=5)
    count = ev.int("matched_pattern_count") or (len(patterns) or None)
    length = ev.int("input_length")
    title = "Possible prompt injection in the user input" + (f" ({', '.join(patterns)})" if patterns else "")
    what = (
        "The user input"
        + (f" ({_num(length)} characters)" if length is not None else "")
        + " matched "
        + (_plural(count, "known injection pattern") if count else "known injection patterns")
        + (f": {', '.join(patterns)}" if patterns else "")
        + ". The SDK flagged it when the run started, before the agent did any work."
    )
    why = WHY["PROMPT_INJECTION_SIGNAL"]
    summary = _sentence(
        [
            f"{_plural(count, 'injection pattern')} matched" if count else "injection patterns matched",
            f"patterns: {', '.join(patterns)}" if patterns else None,
            f"input length {_num(length)} characters" if length is not None else None,
            "only the start and end of the long input were scanned" if ev.flag("scan_truncated") else None,
        ]
    )
    fixes = [
        _approval_fix(None),
        _txt(
            "Treat the input as data",
            "Keep user text inside clear delimiters in the prompt, tell the model never to follow "
            "instructions found there, and give agents that face the public only the tools they "
            "strictly need.",
        ),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("RAG_EMPTY_RETRIEVAL")
def _rag_empty(ev: _Ev, ctx: _Ctx) -> _Parts:
    index = ev.text("index_name")
    count = ev.int("result_count")
    score = ev.num("top_score")
    bad = ev.int("bad_retrievals")
    where = f" from {_c(index)}" if index else ""
    if count is not None and count > 0 and score is not None:
        title = f"Low-relevance retrieval{where} (top score {_num(round(score, 2))}), but the agent answered anyway"
    else:
        title = f"Empty retrieval{where}, but the agent answered anyway"
    what = (
        (f"{_plural(bad, 'retrieval')} in this run" if bad else "A retrieval in this run")
        + " came back empty or below the 0.3 relevance floor"
        + (
            f" (worst: {_c(index) if index else 'the index'} with {_plural(count, 'result')}"
            + (f", top score {_num(round(score, 2))}" if score is not None else "")
            + ")"
            if count is not None
            else ""
        )
        + ", yet the run ended with a final answer."
    )
    why = WHY["RAG_EMPTY_RETRIEVAL"]
    summary = _sentence(
        [
            f"{_c(index)} returned {_plural(count, 'result')}" if index and count is not None else (
                f"the retrieval returned {_plural(count, 'result')}" if count is not None else None
            ),
            f"top score {_num(round(score, 2))}" if score is not None else "no relevance score was reported",
            f"{_plural(bad, 'weak retrieval')} in the run" if bad else None,
            "the agent still gave a final answer",
        ]
    )
    fixes = [
        _py(
            "Decline or retry instead of answering without sources",
            fix_code("usable_documents"),
        ),
        _txt(
            "Check the index",
            f"Confirm that {index or 'the index'} is populated for this content and that the "
            "embedding model matches the one used at indexing time.",
        ),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("EXCESSIVE_RETRIEVAL")
def _excessive_retrieval(ev: _Ev, ctx: _Ctx) -> _Parts:
    count = ev.int("retrieval_count")
    threshold = ev.int("threshold")
    indexes = ev.names("indexes", limit=5)
    span = _span(ev.int("first_step"), ev.int("last_step"))
    title = f"Excessive retrieval: {count} retrievals in one run" if count else "Excessive retrieval in one run"
    what = (
        "The agent ran "
        + (_plural(count, "retrieval") if count else "many retrievals")
        + (f" against {_list(indexes)}" if indexes else "")
        + (f" in {span}" if span else "")
        + (f" (threshold {threshold})" if threshold else "")
        + ". Needing this many searches usually means it is not finding what it needs."
    )
    why = WHY["EXCESSIVE_RETRIEVAL"]
    summary = _sentence(
        [
            f"{_plural(count, 'retrieval')}" if count else None,
            f"threshold {threshold}" if threshold else None,
            f"indexes: {_list(indexes)}" if indexes else None,
            span,
        ]
    ) or "The run made more retrievals than the detector allows."
    fixes = [
        _py(
            "Cache retrieval results within a run",
            fix_code("cached_search"),
        ),
        _txt(
            "Cap retrieval rounds",
            "Allow a fixed number of retrieval rounds per question and ask the model to answer "
            "(or say what is missing) once the budget is spent.",
        ),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("LLM_TRUNCATION_LOOP")
def _truncation_loop(ev: _Ev, ctx: _Ctx) -> _Parts:
    n = ev.int("truncation_count")
    total = ev.int("total_llm_calls")
    span = _span(ev.int("first_truncation_step"), ev.int("last_truncation_step"))
    tokens = ev.ints("token_counts_at_truncation")
    models = ev.names("models", limit=3)
    title = "Repeated truncation: " + (
        f"{n} of {total} LLM responses hit the token limit" if n and total else (
            f"{_plural(n, 'LLM response')} hit the token limit" if n else "LLM responses hit the token limit"
        )
    )
    what = (
        (f"{_plural(n, 'response')}" if n else "Several responses")
        + (f" from {_list(models, code=False)}" if models else "")
        + " stopped with finish_reason 'length'"
        + (f" ({span})" if span else "")
        + (f"; the prompts were {_list([_num(t) for t in tokens], code=False)} tokens" if tokens else "")
        + ". The agent kept calling the model with a context that truncates every time."
    )
    why = WHY["LLM_TRUNCATION_LOOP"]
    summary = _sentence(
        [
            f"{n} of {_plural(total, 'LLM call')} were truncated" if n and total else None,
            span,
            f"prompt sizes at truncation: {', '.join(_num(t) for t in tokens)} tokens" if tokens else None,
            f"models: {', '.join(models)}" if models else None,
        ]
    ) or "Several LLM responses in this run were truncated."
    fixes = [
        _py(
            "Continue a truncated answer instead of re-sending the same prompt",
            fix_code("truncation_loop"),
        ),
        _trim_history_fix(),
    ]
    return _Parts(title, what, why, summary, fixes)


@_template("SILENT_TRUNCATION")
def _silent_truncation(ev: _Ev, ctx: _Ctx) -> _Parts:
    step = ev.int("truncated_step")
    reason = ev.text("finish_reason")
    length = ev.int("output_length")
    model = ev.text("model")
    final = ev.flag("was_final_output")
    later = ev.ints("subsequent_tool_steps")
    at = f" at step {step}" if step is not None else ""
    title = f"Truncated LLM response{at} was used without a retry"
    what = (
        f"The {model + ' ' if model else ''}response{at} stopped"
        + (f" with finish_reason '{reason}'" if reason else " at the token limit")
        + (f" after {_plural(length, 'character')}" if length is not None else "")
        + ", and no later LLM call retried or continued it. "
        + (
            "It was the last output of the run."
            if final
            else (
                f"The agent went on to call tools at {_list([str(s) for s in later], code=False)}."
                if later
                else "The agent carried on with the partial output."
            )
        )
    )
    why = WHY["SILENT_TRUNCATION"]
    summary = _sentence(
        [
            f"finish_reason '{reason}'" + at if reason else f"truncated response{at}",
            f"{_plural(length, 'character')} of output" if length is not None else None,
            f"model {model}" if model else None,
            "it was the final output" if final else ("tools ran afterwards" if later else None),
            "no retry or continuation followed",
        ]
    )
    fixes = [
        _py(
            "Check finish_reason on every response",
            fix_code("silent_truncation"),
        ),
        _txt("Leave room for the answer", "Raise max_tokens for this call or shorten the prompt so the reply fits."),
    ]
    return _Parts(title, what, why, summary, fixes)
