"""The server's formulas, pinned on values from customer-api.md §D.1 and §D.2."""

import pytest

from dunetrace_cli.domain import health, systemic


@pytest.mark.parametrize(
    ("avg", "expected"), [(None, 15), (400, 20), (500, 20), (2250, 10), (4000, 0), (9000, 0)]
)
def test_token_score_absolute_scale(avg, expected) -> None:
    assert health.token_score(avg) == expected


@pytest.mark.parametrize(("avg", "expected"), [(None, 10), (900, 15), (4500, 8), (8000, 0)])
def test_latency_score_absolute_scale(avg, expected) -> None:
    assert health.latency_score(avg) == expected


def test_baseline_scale_full_to_1_5x_zero_from_4x() -> None:
    assert health.token_score(1500, baseline=1000) == 20
    assert health.token_score(4000, baseline=1000) == 0
    assert health.token_score(2750, baseline=1000) == 10


def test_systemic_threshold_is_inclusive_and_needs_runs() -> None:
    assert systemic.is_systemic(1, 10) and not systemic.is_systemic(9, 100)
    assert not systemic.is_systemic(0, 0)
    assert "7 days" in systemic.rule_text()
