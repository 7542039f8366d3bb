"""Which failure types exist: the names a filter or a gate may name, checked before any request.

``SDK_FAILURE_TYPES`` is the dunetrace SDK 0.5.7 ``FailureType`` enum (a test holds it equal to the
installed SDK). The server also stores ``TASK_COMPLETION`` and ``HALLUCINATION`` (semantic checks),
``CUSTOM_*`` (custom detectors) and ``VOICE_*`` (the voice pack), customer-api.md §F and C.2.
"""

from __future__ import annotations

import difflib

SDK_FAILURE_TYPES: tuple[str, ...] = (
    "TOOL_LOOP", "TOOL_THRASHING", "SCATTERSHOT_TOOL_USE", "TOOL_AVOIDANCE", "GOAL_ABANDONMENT",
    "PROMPT_INJECTION_SIGNAL", "RAG_EMPTY_RETRIEVAL", "EXCESSIVE_RETRIEVAL", "LLM_TRUNCATION_LOOP",
    "SILENT_TRUNCATION", "CONTEXT_BLOAT", "SLOW_STEP", "RETRY_STORM", "EMPTY_LLM_RESPONSE",
    "STEP_COUNT_INFLATION", "CASCADING_TOOL_FAILURE", "FIRST_STEP_FAILURE", "USER_DISSATISFACTION",
    "INTENT_MISALIGNMENT", "REASONING_STALL", "CONFIDENT_HALLUCINATION_PROXY", "POLICY_VIOLATION",
    "COST_SPIKE", "SESSION_LATENCY", "PREMATURE_TERMINATION", "UNREAD_TOOL_ERROR",
    "TOOL_ARGUMENT_FABRICATION", "RETRIEVED_CONTENT_INJECTION", "HANDOFF_CONTEXT_LOSS",
    "AGENT_HANDOFF_FAILURE", "RUNAWAY_ITERATION", "MODEL_FALLBACK_DRIFT", "MEMORY_POISONING",
    "DELEGATION_LOOP", "OVERSIZED_TOOL_ARGUMENTS", "UNGROUNDED_DESTINATION", "UNRESOLVED_AMBIGUITY",
    "INSTRUMENTATION_DEGRADED", "CUSTOM",
)
SERVER_ONLY_TYPES: tuple[str, ...] = ("TASK_COMPLETION", "HALLUCINATION")
OPEN_PREFIXES: tuple[str, ...] = ("CUSTOM_", "VOICE_")
KNOWN: frozenset[str] = frozenset(SDK_FAILURE_TYPES + SERVER_ONLY_TYPES)


def canonical(name: str) -> str:
    """Any case, dashes or spaces -> the server's UPPER_SNAKE spelling."""
    return name.strip().upper().replace("-", "_").replace(" ", "_")


def is_known(name: str) -> bool:
    upper = canonical(name)
    return upper in KNOWN or any(upper.startswith(p) and len(upper) > len(p) for p in OPEN_PREFIXES)


def suggestions(name: str, n: int = 3) -> list[str]:
    """The closest known names, for a did-you-mean."""
    return difflib.get_close_matches(canonical(name), sorted(KNOWN), n=n, cutoff=0.6)
