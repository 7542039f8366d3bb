"""The detector reference must cover exactly what the installed SDK can emit,
and quote the SDK's own default thresholds and severities."""

from __future__ import annotations

import pydantic
import pytest
from dunetrace import detectors as sdk
from dunetrace.models import FailureType

from dunetrace_cli.knowledge.detectors import (
    CATEGORIES,
    DETECTORS,
    DetectorInfo,
    describe,
    detector_reference_markdown,
)


def sdk_emitted_types() -> set[str]:
    """Failure types with a built-in detector in the installed SDK."""
    names = {d.name for d in sdk.TIER1_DETECTORS}
    names.add(sdk.PROMPT_INJECTION_DETECTOR.name)
    names |= {cls.name for cls in sdk.DETECTOR_KEYS.values()}
    return names


def sdk_classes() -> dict[str, type]:
    return {cls.name: cls for cls in sdk.DETECTOR_KEYS.values()}


def test_covers_exactly_the_sdk_detectors():
    assert set(DETECTORS) == sdk_emitted_types()


def test_counts():
    assert len(sdk.TIER1_DETECTORS) == 31
    assert len(DETECTORS) == 34
    outside = sdk_emitted_types() - {d.name for d in sdk.TIER1_DETECTORS}
    assert outside == {"PROMPT_INJECTION_SIGNAL", "HANDOFF_CONTEXT_LOSS", "DELEGATION_LOOP"}


def test_every_key_is_a_failure_type_enum_value():
    values = {ft.value for ft in FailureType}
    assert set(DETECTORS) <= values
    # enum members without a built-in detector are deliberately not described
    assert describe("USER_DISSATISFACTION") is None
    assert describe("CUSTOM") is None


def test_keys_match_entries():
    for key, info in DETECTORS.items():
        assert isinstance(info, DetectorInfo)
        assert info.failure_type == key


@pytest.mark.parametrize("name", sorted(sdk_classes()))
def test_default_severity_matches_the_sdk_class(name):
    cls = sdk_classes()[name]
    info = DETECTORS[name]
    if cls.SEVERITY is not None:
        assert info.default_severity == cls.SEVERITY.value
    else:
        # computed per signal: the reference names more than one level
        levels = [lvl for lvl in ("CRITICAL", "HIGH", "MEDIUM", "LOW") if lvl in info.default_severity]
        assert len(levels) >= 2, info.default_severity


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_fields_are_filled_in(name):
    info = DETECTORS[name]
    assert info.category in CATEGORIES
    for field in ("catches", "needs", "typical_fix"):
        value = getattr(info, field)
        assert isinstance(value, str) and len(value) > 15, (name, field)
    assert info.catches.count(". ") <= 2  # one or two sentences
    assert info.typical_fix.endswith(".")


def test_entries_are_frozen():
    with pytest.raises(pydantic.ValidationError):
        DETECTORS["TOOL_LOOP"].category = "other"  # type: ignore[misc]


def test_describe_is_case_insensitive():
    assert describe("TOOL_LOOP") is DETECTORS["TOOL_LOOP"]
    assert describe("tool_loop") is DETECTORS["TOOL_LOOP"]
    assert describe("  Tool-Loop ") is DETECTORS["TOOL_LOOP"]
    assert describe("prompt_injection_signal").default_severity == "CRITICAL"


@pytest.mark.parametrize("bad", ["", "NOPE", "VOICE_SILENCE_TIMEOUT", None, 42, ["TOOL_LOOP"]])
def test_describe_unknown(bad):
    assert describe(bad) is None  # type: ignore[arg-type]


def test_thresholds_quoted_match_sdk_defaults():
    def has(name: str, *fragments: str) -> None:
        text = DETECTORS[name].catches
        for fragment in fragments:
            assert fragment in text, (name, fragment, text)

    has("TOOL_LOOP", f"{sdk.ToolLoopDetector.THRESHOLD} or more", f"last {sdk.ToolLoopDetector.WINDOW}")
    has("TOOL_THRASHING", f"last {sdk.ToolThrashingDetector.WINDOW}")
    has("OVERSIZED_TOOL_ARGUMENTS", f"{sdk.OversizedToolArgumentsDetector.MAX_ARG_LENGTH:,}")
    has("RAG_EMPTY_RETRIEVAL", str(sdk.RagEmptyRetrievalDetector.MIN_SCORE))
    has("EXCESSIVE_RETRIEVAL", f"{sdk.ExcessiveRetrievalDetector.MAX_RETRIEVALS} or more")
    has("CONTEXT_BLOAT", f"{sdk.ContextBloatDetector.GROWTH_FACTOR:g}x", f"{sdk.ContextBloatDetector.MIN_LAST_TOKENS:,}")
    has("LLM_TRUNCATION_LOOP", "Two or more")
    assert sdk.LlmTruncationLoopDetector.THRESHOLD == 2
    has("RETRY_STORM", f"{sdk.RetryStormDetector.THRESHOLD}+ times")
    has("CASCADING_TOOL_FAILURE", f"{sdk.CascadingToolFailureDetector.THRESHOLD}+ consecutive")
    has("FIRST_STEP_FAILURE", f"step {sdk.FirstStepFailureDetector.MAX_STEP}")
    has("SCATTERSHOT_TOOL_USE", f"{sdk.ScattershotToolUseDetector.MIN_TOTAL_CALLS}+ tool calls",
        f"{sdk.ScattershotToolUseDetector.MIN_DISTINCT_TOOLS}+ distinct", str(sdk.ScattershotToolUseDetector.MIN_REPEAT_RATIO))
    has("TOOL_AVOIDANCE", f"{sdk.ToolAvoidanceDetector.MIN_LLM_CALLS}+ LLM calls")
    has("GOAL_ABANDONMENT", f"last {sdk.GoalAbandonmentDetector.STALL_STEPS} events")
    has("REASONING_STALL", f"{sdk.ReasoningSpinDetector.MIN_LLM_CALLS}+ LLM calls", f"{sdk.ReasoningSpinDetector.RATIO_THRESHOLD:g}+")
    has("STEP_COUNT_INFLATION", f"{sdk.StepCountInflationDetector.INFLATION_FACTOR:g}x")
    has("COST_SPIKE", f"{sdk.CostSpikeDetector.INFLATION_FACTOR:g}x", f"{sdk.CostSpikeDetector.STATIC_THRESHOLD_TOKENS:,}",
        f"{sdk.CostSpikeDetector.MIN_THRESHOLD_TOKENS:,}")
    has("SESSION_LATENCY", f"{sdk.SessionLatencyDetector.STATIC_THRESHOLD_SECS} s")
    has("RUNAWAY_ITERATION", f"{sdk.RunawayIterationDetector.STEP_THRESHOLD} steps",
        f"${sdk.RunawayIterationDetector.COST_THRESHOLD_USD:g}", f"last {sdk.RunawayIterationDetector.LOOKBACK_MESSAGES}")
    has("AGENT_HANDOFF_FAILURE", f"under {sdk.AgentHandoffFailureDetector.MIN_OUTPUT_LENGTH} characters")
    for pattern in sdk.AgentHandoffFailureDetector.HANDOFF_PATTERNS:
        assert pattern in DETECTORS["AGENT_HANDOFF_FAILURE"].catches
    for pattern in sdk.ToolArgumentFabricationDetector.DESTRUCTIVE_TOOL_PATTERNS:
        assert pattern in DETECTORS["TOOL_ARGUMENT_FABRICATION"].catches
    has("DELEGATION_LOOP", f"{sdk.DelegationLoopDetector.MIN_LOOP_RUNS}+ runs",
        f"from {sdk.DelegationLoopDetector.CRITICAL_LOOP_RUNS} runs")
    thresholds = {prefix: ms for prefix, ms, _ in sdk.SlowStepDetector.THRESHOLDS}
    has("SLOW_STEP", f"{thresholds['tool.called'] // 1000} s after tool.called",
        f"{thresholds['llm.called'] // 1000} s after llm.called", f"{thresholds[''] // 1000} s otherwise")


def test_reference_markdown():
    md = detector_reference_markdown()
    assert md.startswith("# Dunetrace detectors")
    assert len(md) < 12_000
    for name, info in DETECTORS.items():
        assert f"| {name} ({info.category}) |" in md
    assert "34 built-in failure types" in md
    # one table row per detector
    assert sum(1 for line in md.splitlines() if line.startswith("| ") and "(" in line.split("|")[1]) == 34
