"""When is a failure type systemic? The server's rule (customer-api.md §D.2).

A failure type is systemic for an agent when it hit at least ``SYSTEMIC_RATE`` of the agent's
processed runs over the last ``SYSTEMIC_WINDOW_DAYS`` days. ``summary`` and ``patterns`` (and
the store's insights route) all use this one rule, and say which window they used.
"""

from __future__ import annotations

SYSTEMIC_RATE = 0.10
SYSTEMIC_WINDOW_DAYS = 7
SYSTEMIC_WINDOW_S = SYSTEMIC_WINDOW_DAYS * 86400


def rate(runs_affected: int, runs_total: int) -> float:
    """Share of runs affected, 0.0 when there are no runs."""
    return runs_affected / runs_total if runs_total > 0 else 0.0


def is_systemic(runs_affected: int, runs_total: int) -> bool:
    return runs_total > 0 and rate(runs_affected, runs_total) >= SYSTEMIC_RATE


def rule_text() -> str:
    """The rule in words, for outputs that must state it."""
    return f"systemic = ≥{SYSTEMIC_RATE:.0%} of runs over the last {SYSTEMIC_WINDOW_DAYS} days"
