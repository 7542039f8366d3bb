"""Is a failure getting worse? The one trend rule for `patterns`, `get_agent_patterns` and the store.

The input is a failure type's daily count of affected runs over the last ``TREND_DAYS`` days,
oldest first (zero-filled). The last ``RECENT_DAYS`` days are compared with the days before:

- **escalating**: the recent daily average is at least ``RATIO`` times the earlier one and at
  least ``MIN_CHANGE`` runs a day higher (so ``0 → 0 → 1`` is noise, not a trend);
- **improving**: the same, the other way round;
- **stable**: anything else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

TREND_DAYS = 7
RECENT_DAYS = 3
RATIO = 1.5
MIN_CHANGE = 1.0  # affected runs per day

Verdict = Literal["escalating", "stable", "improving"]


def _mean(values: Sequence[int]) -> float:
    return sum(values) / len(values) if values else 0.0


def verdict(counts: Sequence[int]) -> Verdict:
    """The verdict for daily counts, oldest first (see the module docstring for the rule)."""
    if len(counts) <= RECENT_DAYS:
        return "stable"
    recent = _mean(counts[-RECENT_DAYS:])
    earlier = _mean(counts[:-RECENT_DAYS])
    if recent - earlier >= MIN_CHANGE and recent >= RATIO * earlier:
        return "escalating"
    if earlier - recent >= MIN_CHANGE and earlier >= RATIO * recent:
        return "improving"
    return "stable"


def counts_text(counts: Sequence[int]) -> str:
    """``1 → 1 → 1 → 2 → 5 → 7``."""
    return " → ".join(str(c) for c in counts)


def rule_text() -> str:
    """The rule in words, for outputs that state it."""
    return (
        f"trend = last {RECENT_DAYS} days vs the {TREND_DAYS - RECENT_DAYS} before: escalating if ≥{RATIO:g}× and "
        f"+{MIN_CHANGE:g} run/day, improving if the reverse, else stable"
    )
