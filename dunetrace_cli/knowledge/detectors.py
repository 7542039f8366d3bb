"""Reference data for every failure type the Dunetrace SDK 0.5.7 can emit.

One :class:`DetectorInfo` per built-in detector: the 31 in the SDK's
``TIER1_DETECTORS`` plus the three that run outside ``run_detectors``
(PROMPT_INJECTION_SIGNAL, scanned on the raw input when a run starts;
HANDOFF_CONTEXT_LOSS and DELEGATION_LOOP, which need more than one run and are
evaluated by the backend). Thresholds quoted here are the detector class
defaults in ``dunetrace/detectors.py``; a backend may tune them per agent.

Server-side failure types that have no SDK detector (semantic evaluators,
``CUSTOM_*`` and ``VOICE_*`` pack detectors) are not listed: callers must treat
``failure_type`` as an open string and handle ``describe()`` returning ``None``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class DetectorInfo(BaseModel):
    """What one detector looks for, what it needs, and the usual remedy."""

    model_config = ConfigDict(frozen=True)

    failure_type: str
    default_severity: str
    """Severity the detector assigns, e.g. ``"HIGH"`` or ``"HIGH or CRITICAL"`` when computed."""
    category: str
    """One of: tools, reasoning, context, retrieval, reliability, security,
    cost/latency, multi-agent, instrumentation."""
    catches: str
    needs: str
    typical_fix: str


def _d(
    failure_type: str,
    default_severity: str,
    category: str,
    catches: str,
    needs: str,
    typical_fix: str,
) -> DetectorInfo:
    return DetectorInfo(
        failure_type=failure_type,
        default_severity=default_severity,
        category=category,
        catches=catches,
        needs=needs,
        typical_fix=typical_fix,
    )


_ALL: tuple[DetectorInfo, ...] = (
    # ── instrumentation ──────────────────────────────────────────────────────
    _d(
        "INSTRUMENTATION_DEGRADED",
        "MEDIUM",
        "instrumentation",
        "The SDK could not read the run's LLM responses: a call carries an "
        "instrumentation_degraded marker, or all of 2+ llm.responded events have zero output, "
        "zero completion tokens and non-zero latency. It describes the telemetry, not the agent.",
        "llm.responded events (the markers come from auto-instrumentation)",
        "Upgrade the SDK or provider client, or report responses yourself with "
        "run.llm_responded(output=..., output_length=...).",
    ),
    # ── tools ────────────────────────────────────────────────────────────────
    _d(
        "OVERSIZED_TOOL_ARGUMENTS",
        "MEDIUM",
        "tools",
        "A tool.called event whose arguments exceed 10,000 characters (measured before the "
        "SDK's field cap).",
        "tool.called args",
        "Pass references (ids, paths, URLs) in tool arguments instead of whole documents.",
    ),
    _d(
        "TOOL_LOOP",
        "HIGH",
        "tools",
        "The same tool appears 3 or more times among the last 5 tool calls of the run; the "
        "evidence says whether the arguments were identical.",
        "tool.called names (args and tool.responded success enrich the evidence)",
        "Remember which calls were already made (dedupe identical calls) and cap iterations.",
    ),
    _d(
        "TOOL_THRASHING",
        "HIGH",
        "tools",
        "The last 6 tool calls alternate strictly between exactly two tools (A, B, A, B, A, B), "
        "usually because their results conflict.",
        "tool.called names",
        "Tell the agent which tool wins when the two disagree, or stop after one round of each.",
    ),
    _d(
        "SCATTERSHOT_TOOL_USE",
        "MEDIUM",
        "tools",
        "A run that did not end with a final answer made 8+ tool calls across 6+ distinct tools "
        "with at least 1.5 calls per tool: trying everything instead of following a plan.",
        "tool.called names and the run's exit reason",
        "Give the agent a plan or a smaller tool set for the task, and a step limit.",
    ),
    _d(
        "TOOL_AVOIDANCE",
        "MEDIUM",
        "tools",
        "A run ended with a final answer after 2+ LLM calls without calling any of the tools it "
        "declared. Retrievals do not count as tool calls.",
        "run.started tools list, llm.called events, final_answer exit reason",
        "Require a tool call for lookups (e.g. tool_choice='required'), or stop declaring tools "
        "the agent is not meant to use.",
    ),
    _d(
        "TOOL_ARGUMENT_FABRICATION",
        "HIGH or CRITICAL",
        "tools",
        "A tool argument holds an identifier (UUID, e-mail, URL, path, number above 100, opaque "
        "token) found nowhere in the user input, system prompt or earlier tool outputs. CRITICAL "
        "for destructive tools (delete_, remove_, drop_, transfer_, send_, pay_).",
        "input_text, system_prompt, tool.called args and tool.responded output text",
        "Make the agent look identifiers up with a tool (or ask the user) before using them.",
    ),
    # ── reasoning ────────────────────────────────────────────────────────────
    _d(
        "GOAL_ABANDONMENT",
        "MEDIUM",
        "reasoning",
        "A run that never ended (no run.completed/run.errored) whose last 4 events are LLM "
        "events after at least one tool call: the agent stopped acting and went quiet.",
        "a stalled run, judged at the backend's stall timeout (90 s by default)",
        "Make every code path end the run with an answer or an error, and cap reasoning turns.",
    ),
    _d(
        "REASONING_STALL",
        "MEDIUM or HIGH",
        "reasoning",
        "5+ LLM calls at 4+ LLM calls per tool call (2x the agent's usual ratio when a baseline "
        "exists). MEDIUM if the run still ended with a final answer, HIGH otherwise.",
        "llm.called and tool.called counts; optional cross-run baseline",
        "Cap consecutive reasoning turns and push the agent to act or answer.",
    ),
    _d(
        "PREMATURE_TERMINATION",
        "HIGH or CRITICAL",
        "reasoning",
        "After a failed tool call (or one whose output reads like an error) the next LLM reply "
        "claims success ('done', 'booked', 'sent', ...) without acknowledging a problem. "
        "CRITICAL when that reply is the run's last.",
        "tool.responded success/error (or output text) and llm.responded output text",
        "Feed tool errors back to the model explicitly and check success claims against tool "
        "results before replying.",
    ),
    _d(
        "UNREAD_TOOL_ERROR",
        "MEDIUM or HIGH",
        "reasoning",
        "A tool failed and the agent's next action was another tool call, or an LLM reply that "
        "does not mention any problem. HIGH when it happened 2+ times in the run.",
        "tool.responded success=False (or error-like output text) and llm.responded output text",
        "Put the tool's error into the next prompt and require the agent to address it.",
    ),
    _d(
        "UNRESOLVED_AMBIGUITY",
        "MEDIUM or HIGH",
        "reasoning",
        "An irreversible tool acted on one of several candidate records returned by an earlier "
        "tool although nothing in the user's request singled it out; HIGH when the request "
        "matched a different candidate.",
        "IRREVERSIBLE_TOOLS configured for the agent (off by default) and tool output text",
        "Ask the user to choose when a lookup returns several matches before an irreversible "
        "action.",
    ),
    # ── context ──────────────────────────────────────────────────────────────
    _d(
        "CONTEXT_BLOAT",
        "MEDIUM",
        "context",
        "Prompt tokens grew 3x or more from the first to the last LLM call (2x the agent's usual "
        "growth when a baseline exists), ending at 2,000+ tokens.",
        "prompt_tokens on 3+ LLM calls; optional cross-run baseline",
        "Summarise or drop old tool outputs and history between turns.",
    ),
    _d(
        "LLM_TRUNCATION_LOOP",
        "HIGH",
        "context",
        "Two or more LLM responses in one run stopped with finish_reason 'length'.",
        "llm.responded finish_reason",
        "Trim the context or raise max_tokens, and continue a truncated answer instead of "
        "re-sending the same prompt.",
    ),
    _d(
        "SILENT_TRUNCATION",
        "MEDIUM or HIGH",
        "context",
        "Exactly one LLM response was cut off (finish_reason 'length' or 'max_tokens') and no "
        "later LLM call followed, so the partial output was used as is. HIGH when nothing ran "
        "after it.",
        "llm.responded finish_reason and output_length",
        "Check finish_reason and continue or retry when the output was truncated.",
    ),
    # ── retrieval ────────────────────────────────────────────────────────────
    _d(
        "RAG_EMPTY_RETRIEVAL",
        "MEDIUM",
        "retrieval",
        "A run ended with a final answer although a retrieval returned no results or a top "
        "score below 0.3: the answer came from model memory, not documents.",
        "retrieval.responded result_count/top_score and a final_answer exit reason",
        "When retrieval comes back empty, say so or retry with a rewritten query instead of "
        "answering anyway.",
    ),
    _d(
        "EXCESSIVE_RETRIEVAL",
        "MEDIUM",
        "retrieval",
        "8 or more retrievals in one run, repeated or not.",
        "retrieval.responded events",
        "Cache retrieval results and cap the number of retrieval rounds per run.",
    ),
    # ── reliability ──────────────────────────────────────────────────────────
    _d(
        "RETRY_STORM",
        "HIGH",
        "reliability",
        "The same tool failed 3+ times in a row with no later success; the evidence says "
        "whether arguments and errors were identical.",
        "tool.responded success=False (error text enriches the evidence)",
        "Retry with a bounded budget and exponential backoff, then give up or escalate.",
    ),
    _d(
        "CASCADING_TOOL_FAILURE",
        "HIGH",
        "reliability",
        "The run ends with 3+ consecutive failed tool calls across 2+ different tools, which "
        "usually means a shared dependency is down.",
        "tool.responded success flags",
        "Check shared dependencies (database, gateway, credentials) and stop with a clear "
        "error when several tools fail in a row.",
    ),
    _d(
        "FIRST_STEP_FAILURE",
        "MEDIUM",
        "reliability",
        "The run failed at the start: it errored by step 2, or an LLM reply was empty, or a "
        "tool failed by step 2.",
        "run.errored, llm.responded output_length/finish_reason, tool.responded success",
        "Validate input, credentials and configuration before the agent starts working.",
    ),
    _d(
        "EMPTY_LLM_RESPONSE",
        "HIGH",
        "reliability",
        "An LLM response with finish_reason 'stop' and zero output length.",
        "llm.responded output_length and finish_reason",
        "Retry empty completions once, and make sure instrumentation reports output_length.",
    ),
    _d(
        "MODEL_FALLBACK_DRIFT",
        "MEDIUM",
        "reliability",
        "Within one run the model switched to a less capable tier (e.g. gpt-4o to gpt-4o-mini, "
        "a Sonnet to a Haiku); the evidence notes a preceding rate-limit signal.",
        "model names on llm.called; external.signal for rate limits",
        "Make model fallbacks explicit and logged; back off on rate limits instead of silently "
        "downgrading.",
    ),
    # ── cost / latency ───────────────────────────────────────────────────────
    _d(
        "SLOW_STEP",
        "MEDIUM or HIGH",
        "cost/latency",
        "One step took longer than its threshold: 15 s after tool.called, 30 s after llm.called, "
        "60 s otherwise (2x the agent's P75 when a baseline exists). HIGH at 5x the threshold.",
        "event timestamps; optional baselines; external.signal for context",
        "Put timeouts on tool and model calls and report rate limits with run.external_signal.",
    ),
    _d(
        "STEP_COUNT_INFLATION",
        "MEDIUM",
        "cost/latency",
        "The run took more than 2x the P75 step count of earlier runs of the same agent version.",
        "cross-run baseline (the backend needs enough completed runs of that version)",
        "Compare with the previous version's runs and add a step limit.",
    ),
    _d(
        "COST_SPIKE",
        "MEDIUM",
        "cost/latency",
        "The run used at least 3x the agent's P75 total tokens (floor 2,000), or more than 50,000 "
        "tokens when there is no baseline.",
        "token counts on LLM events; optional cross-run baseline",
        "Trim context, and add a cost_usd policy to stop runaway runs.",
    ),
    _d(
        "SESSION_LATENCY",
        "MEDIUM",
        "cost/latency",
        "The run's wall-clock duration was at least 3x the agent's P75 (floor 5 s), or over "
        "300 s without a baseline.",
        "event timestamps; optional cross-run baseline",
        "Set timeouts and run independent tool calls in parallel.",
    ),
    _d(
        "RUNAWAY_ITERATION",
        "HIGH or CRITICAL",
        "cost/latency",
        "More than 50 steps or over $1 estimated LLM cost, without a final answer and without "
        "completion language in the last 3 replies. CRITICAL when both limits are crossed.",
        "step count, token counts and model names, llm.responded output text",
        "Set max_iterations and a cost_usd stop policy.",
    ),
    # ── security ─────────────────────────────────────────────────────────────
    _d(
        "PROMPT_INJECTION_SIGNAL",
        "CRITICAL",
        "security",
        "The user input matches instruction-override or jailbreak patterns ('ignore previous "
        "instructions', 'you are now', system tags, 'developer mode', ...). The SDK scans the "
        "raw input at run start.",
        "user_input passed to dt.run (the match travels in run.started.injection_signal)",
        "Treat flagged input as untrusted: refuse or sanitise it and keep tool permissions "
        "minimal.",
    ),
    _d(
        "RETRIEVED_CONTENT_INJECTION",
        "HIGH or CRITICAL",
        "security",
        "Retrieved content or tool output contains text addressed to the agent ('ignore "
        "previous instructions', role markers, [INST] delimiters, long base64 blocks). CRITICAL "
        "when the agent then calls a new tool the user never mentioned.",
        "retrieval.responded content or tool.responded output text",
        "Treat retrieved text as data: delimit it, strip instructions, and restrict tools after "
        "reading untrusted content.",
    ),
    _d(
        "MEMORY_POISONING",
        "HIGH or CRITICAL",
        "security",
        "A value written to agent memory contains an override directive (ignore or disregard "
        "instructions, bypass safety, role markers). CRITICAL when it came from retrieval, tool "
        "output or an external source, or was read back in the same run.",
        "memory.written events, ideally with source",
        "Sanitise content before persisting it to memory and record where it came from.",
    ),
    _d(
        "UNGROUNDED_DESTINATION",
        "MEDIUM, HIGH or CRITICAL",
        "security",
        "A tool call sends to an e-mail address or URL host that appears nowhere in the run's "
        "trusted inputs. CRITICAL when the destination appears in injected content or untrusted "
        "memory: a possible exfiltration.",
        "tool.called args plus input text and tool/retrieval output text",
        "Allowlist destination domains and require approval for send-type tools.",
    ),
    # ── multi-agent ──────────────────────────────────────────────────────────
    _d(
        "AGENT_HANDOFF_FAILURE",
        "HIGH",
        "multi-agent",
        "A hand-off tool (name ends in _agent or starts with delegate_, handoff_, transfer_to_) "
        "failed or returned an empty or trivial reply ('ok', 'done', under 10 characters).",
        "tool.responded success and output text or length",
        "Make sub-agents return a structured result and check it before continuing.",
    ),
    _d(
        "HANDOFF_CONTEXT_LOSS",
        "HIGH",
        "multi-agent",
        "A child run's input is less than half the size of what the parent had accumulated and "
        "is missing identifiers (ids, e-mails, URLs) the parent had seen.",
        "parent_run_id on the child run; evaluated by the backend with both runs' events",
        "Pass the ids and facts a sub-agent needs explicitly in its input.",
    ),
    _d(
        "DELEGATION_LOOP",
        "HIGH or CRITICAL",
        "multi-agent",
        "Agents delegate to each other in a cycle (A to B to A ...) with 5+ runs of the "
        "parent_run_id chain inside the loop; CRITICAL from 7 runs.",
        "parent_run_id chain across runs; evaluated by the backend",
        "Give the orchestrator a delegation depth limit and a stop condition.",
    ),
)

#: Every failure type the SDK can emit -> its reference entry.
DETECTORS: dict[str, DetectorInfo] = {info.failure_type: info for info in _ALL}

#: Display order of categories in the reference.
CATEGORIES: tuple[str, ...] = (
    "tools",
    "reasoning",
    "context",
    "retrieval",
    "reliability",
    "cost/latency",
    "security",
    "multi-agent",
    "instrumentation",
)


def describe(failure_type: str) -> DetectorInfo | None:
    """Reference entry for ``failure_type`` (case-insensitive), or ``None`` if unknown."""
    if not isinstance(failure_type, str):
        return None
    return DETECTORS.get(failure_type.strip().upper().replace("-", "_").replace(" ", "_"))


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def detector_reference_markdown() -> str:
    """Compact Markdown reference of all detectors, grouped by category."""
    lines = [
        "# Dunetrace detectors",
        "",
        f"{len(DETECTORS)} built-in failure types (dunetrace SDK 0.5.7 class defaults). "
        "Signals are produced by the backend after a run ends (PROMPT_INJECTION_SIGNAL is "
        "found by the SDK at run start). Baseline-based checks need the agent's run history. "
        "Other types (custom, VOICE_*, semantic) may appear and are not listed.",
        "",
        "| Failure type | Severity | Catches | Needs |",
        "|---|---|---|---|",
    ]
    for category in CATEGORIES:
        for info in _ALL:
            if info.category != category:
                continue
            lines.append(
                f"| {info.failure_type} ({info.category}) | {_cell(info.default_severity)} | "
                f"{_cell(info.catches)} | {_cell(info.needs)} |"
            )
    lines.append("")
    return "\n".join(lines)


__all__ = ["CATEGORIES", "DETECTORS", "DetectorInfo", "describe", "detector_reference_markdown"]
