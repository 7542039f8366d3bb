"""The gate's rules as pure functions: thresholds, edge cases, and how verdicts combine."""

from __future__ import annotations

import pytest

from dunetrace_cli.domain import gate


@pytest.mark.parametrize(("text", "fraction"), [("20%", 0.2), ("20", 0.2), ("0.2", 0.2), ("0", 0.0), ("100%", 1.0), (0.05, 0.05), (35, 0.35)])
def test_parse_rate(text: object, fraction: float) -> None:
    assert gate.parse_rate(text) == pytest.approx(fraction)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["", "abc", "-5%", "101%", "150", True])
def test_parse_rate_refuses(text: object) -> None:
    with pytest.raises(ValueError):
        gate.parse_rate(text)  # type: ignore[arg-type]


def test_min_score_edges() -> None:
    assert gate.judge_min_score(70, 40, 70).verdict == "pass"
    assert gate.judge_min_score(69, 40, 70).verdict == "fail"
    none = gate.judge_min_score(None, 2, 1)
    assert none.verdict == "no_data" and "2 runs" in none.observed


def test_no_systemic_only_counts_flagged_rows() -> None:
    rows = [
        {"failure_type": "TOOL_LOOP", "rate": 0.325, "affected_runs": 13, "total_runs": 40, "is_systemic": True},
        {"failure_type": "RETRY_STORM", "rate": 0.05, "affected_runs": 2, "total_runs": 40, "is_systemic": False},
    ]
    j = gate.judge_no_systemic(rows)
    assert j.verdict == "fail" and j.value == ["TOOL_LOOP"] and j.observed == "TOOL_LOOP 32.5%"
    assert gate.judge_no_systemic(rows, ["retry_storm"]).verdict == "pass"


def test_max_severity_is_strictly_above() -> None:
    rows = [{"id": 1, "severity": "HIGH"}, {"id": 2, "severity": "MEDIUM"}, {"id": 3, "severity": "CRITICAL"}]
    assert gate.judge_max_severity(rows, "CRITICAL", "24h").verdict == "pass"
    high = gate.judge_max_severity(rows, "HIGH", "24h")
    assert high.verdict == "fail" and [o["id"] for o in high.offenders] == [3]
    medium = gate.judge_max_severity(rows, "MEDIUM", "24h")
    assert medium.observed == "1 CRITICAL, 1 HIGH"


def test_failure_rate_boundary_and_no_runs() -> None:
    assert gate.judge_failure_rate(2, 10, 0.2, "24h").verdict == "pass"
    assert gate.judge_failure_rate(3, 10, 0.2, "24h").verdict == "fail"
    assert gate.judge_failure_rate(0, 0, 0.2, "24h").verdict == "no_data"


def _v(name: str, runs: int, failing: int) -> dict[str, object]:
    return {"agent_version": name, "run_count": runs, "runs_with_signals": failing}


def test_regression_by_version() -> None:
    assert gate.judge_regression([], [_v("b", 10, 5), _v("a", 10, 4)]).verdict == "pass"  # +10 points
    assert gate.judge_regression([], [_v("b", 10, 6), _v("a", 10, 4)]).verdict == "fail"  # +20 points
    assert gate.judge_regression([], [_v("b", 2, 2), _v("a", 10, 0)]).verdict == "no_data"  # too few runs
    assert gate.judge_regression([], [_v("a", 10, 9)]).verdict == "pass"  # nothing changed
    assert gate.judge_regression([], []).verdict == "no_data"


def test_regression_by_deploy_uses_the_newest() -> None:
    deploys = [
        {"version": "new", "deployed_at": 200.0, "before_rate": 0.1, "after_rate": 0.2, "is_regression": False},
        {"version": "old", "deployed_at": 100.0, "before_rate": 0.1, "after_rate": 0.9, "is_regression": True},
    ]
    j = gate.judge_regression(deploys, [])
    assert j.verdict == "pass" and j.value["version"] == "new"


def test_fixes_window_and_verdicts() -> None:
    fixes = [
        {"signal_id": 1, "verdict": "verified", "applied_at": 100.0},
        {"signal_id": 2, "verdict": "insufficient_data", "applied_at": 50.0},
    ]
    assert gate.judge_fixes(fixes, 80.0, "1h").verdict == "pass"
    j = gate.judge_fixes(fixes, 10.0, "1d")
    assert j.verdict == "fail" and j.offenders[0]["signal_id"] == 2
    assert gate.judge_fixes([], 10.0, "1d").observed == "no fixes applied in 1d"


def test_outcome_never_passes_an_error() -> None:
    ok = gate.judge_min_score(90, 40, 50)
    err = gate.error_judgement("fixes_verified", "x", "no route", 4)
    outage = gate.error_judgement("fixes_verified", "x", "down", 5)
    assert gate.outcome([ok]) == ("pass", 0)
    assert gate.outcome([ok, err]) == ("error", 4)
    assert gate.outcome([ok, outage, err]) == ("error", 4)
    assert gate.outcome([err, gate.judge_min_score(None, 0, 50)]) == ("fail", 1)
    assert gate.outcome([]) == ("pass", 0)
