"""Failure types that count as loops for the health score's loop-avoidance component (§D.1)."""

from __future__ import annotations

LOOP_TYPES: tuple[str, ...] = (
    "TOOL_LOOP",
    "TOOL_THRASHING",
    "TOOL_AVOIDANCE",
    "STEP_COUNT_INFLATION",
    "LLM_TRUNCATION_LOOP",
)
LOOP_TYPE_SET = frozenset(LOOP_TYPES)
