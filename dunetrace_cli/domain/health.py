"""The health score's formula (customer-api.md §D.1): four components summing to 0-100.

failure_rate (40) and loop_avoidance (25) from the share of processed runs in the window with a
(non-shadow) signal / a loop signal; token_efficiency (20) and latency (15) on an absolute scale
when no 30-90 day baseline exists. No score with fewer than ``MIN_RUNS`` runs.
"""

from __future__ import annotations

WINDOW_DAYS = 30
WINDOW_S = WINDOW_DAYS * 86400
MIN_RUNS = 3
BASELINE_RUNS = 30
WEIGHTS = {"failure_rate": 40, "loop_avoidance": 25, "token_efficiency": 20, "latency": 15}


def failure_score(failure_rate: float) -> int:
    return round((1 - failure_rate) * WEIGHTS["failure_rate"])


def loop_score(loop_rate: float) -> int:
    return round((1 - loop_rate) * WEIGHTS["loop_avoidance"])


def scaled_score(
    avg: float | None, baseline: float | None, *, full: int, neutral: int, abs_ok: float, abs_bad: float
) -> int:
    """One token/latency component: neutral without data, relative to a P75 baseline
    (full up to 1.5x, zero from 4x), else on the absolute scale ``abs_ok``..``abs_bad``."""
    if avg is None:
        return neutral
    if baseline is not None:
        healthy, penalty = baseline * 1.5, baseline * 4.0
        if avg <= healthy:
            return full
        if avg >= penalty:
            return 0
        return round(full * (1.0 - (avg - healthy) / (penalty - healthy)))
    return max(0, min(full, round(full * (1.0 - max(0.0, avg - abs_ok) / (abs_bad - abs_ok)))))


def token_score(avg: float | None, baseline: float | None = None) -> int:
    """Prompt tokens: full at <= 500, zero at >= 4,000 on the absolute scale; neutral 15 without data."""
    return scaled_score(avg, baseline, full=20, neutral=15, abs_ok=500, abs_bad=4000)


def latency_score(avg: float | None, baseline: float | None = None) -> int:
    """LLM latency: full at <= 1,000 ms, zero at >= 8,000 ms on the absolute scale; neutral 10 without data."""
    return scaled_score(avg, baseline, full=15, neutral=10, abs_ok=1000, abs_bad=8000)


def grade(score: int | None) -> str:
    """The word shown next to a score: healthy (>= 80), degraded (>= 60), unhealthy, or unknown."""
    if score is None:
        return "unknown"
    return "healthy" if score >= 80 else "degraded" if score >= 60 else "unhealthy"
