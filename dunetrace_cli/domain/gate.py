"""The deploy gate's rules: each one turns observed figures into a verdict, with no I/O.

``queries/check.py`` gathers the figures (from the server, or computed client-side) and calls
these; ``dunetrace check`` and the ``check_agent`` MCP tool render the result. A verdict is one of

- ``pass``: the rule holds;
- ``fail``: it does not (the gate fails, exit 1);
- ``no_data``: there is not enough data to say (the gate fails closed, exit 1: a gate that passes
  an agent nobody has measured is no gate);
- ``error``: the figure could not be obtained (the gate cannot decide: the error's own exit code,
  never 0).

Thresholds that are the server's (the deploy-regression delta and its minimum runs per side) are
named here once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Verdict = Literal["pass", "fail", "no_data", "error"]

SEVERITY_ORDER = ("LOW", "MEDIUM", "HIGH", "CRITICAL")  # least to most severe
REGRESSION_DELTA = 0.15  # the server's deploy_regressions: after_rate - before_rate > 0.15
REGRESSION_MIN_RUNS = 3  # the server skips a deploy with fewer runs on either side
GOOD_FIX_VERDICTS = frozenset({"verified", "likely_fixed"})
DEFAULT_WINDOW = "24h"

RULE_NAMES = ("min_score", "no_systemic", "max_severity", "max_failure_rate", "no_regression", "fixes_verified")

_RATE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$")


@dataclass(frozen=True)
class Judgement:
    """One rule's outcome for one agent."""

    rule: str
    verdict: Verdict
    observed: str  # short, ours: "62", "TOOL_LOOP (32.5% of runs)", "3 of 40 runs (7.5%)"
    threshold: str  # "≥ 70", "none systemic", "≤ HIGH"
    value: Any = None  # the observed figure as data (--json)
    detail: str | None = None  # why, when it is not obvious from observed
    source: Literal["server", "client"] | None = None
    exit_code: int | None = None  # error verdicts: the code the error maps to
    offenders: list[dict[str, Any]] = field(default_factory=list)  # what failed the rule, as data


def parse_rate(text: str | float) -> float:
    """'20%' or '20' (percent, above 1) or '0.2' (fraction) -> 0.2. Raises ValueError with a sentence."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value, percent = float(text), False
    else:
        match = _RATE_RE.match(str(text))
        if not match:
            raise ValueError(f"invalid failure rate '{text}': use a percentage like 20% or a fraction like 0.2")
        value, percent = float(match.group(1)), bool(match.group(2))
    fraction = value / 100 if percent or value > 1 else value
    if not 0 <= fraction <= 1:
        raise ValueError(f"invalid failure rate '{text}': it must be between 0% and 100%")
    return fraction


def pct(fraction: float) -> str:
    text = f"{fraction * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def judge_min_score(score: int | None, sample_runs: int, threshold: int, *, source: str | None = None) -> Judgement:
    """Health score at least ``threshold`` (0-100). No score (fewer than 3 runs in 30 days) is no_data."""
    src = _source(source)
    if score is None:
        return Judgement(
            "min_score", "no_data", f"no score ({sample_runs} runs in 30 days)", f"≥ {threshold}",
            value=None, detail="the health score needs at least 3 runs in 30 days", source=src,
        )
    verdict: Verdict = "pass" if score >= threshold else "fail"
    return Judgement("min_score", verdict, str(score), f"≥ {threshold}", value=score, source=src)


def judge_no_systemic(
    patterns: Iterable[dict[str, Any]], types: Sequence[str] = (), *, source: str | None = None
) -> Judgement:
    """No failure type systemic over the systemic window; only ``types`` when given.

    ``patterns``: ``{"failure_type", "rate", "affected_runs", "total_runs", "is_systemic"}`` rows.
    """
    wanted = {t.upper() for t in types}
    threshold = "none systemic" if not wanted else f"none of {', '.join(sorted(wanted))} systemic"
    hits = [
        p for p in patterns
        if p.get("is_systemic") and (not wanted or str(p.get("failure_type", "")).upper() in wanted)
    ]
    hits.sort(key=lambda p: (-float(p.get("rate") or 0), str(p.get("failure_type"))))
    offenders = [
        {"failure_type": p.get("failure_type"), "rate": p.get("rate"), "affected_runs": p.get("affected_runs"),
         "total_runs": p.get("total_runs")}
        for p in hits
    ]
    if not hits:
        return Judgement("no_systemic", "pass", "none", threshold, value=[], source=_source(source))
    observed = ", ".join(f"{p['failure_type']} {pct(float(p['rate'] or 0))}" for p in offenders)
    return Judgement(
        "no_systemic", "fail", observed, threshold, value=[p["failure_type"] for p in offenders],
        source=_source(source), offenders=offenders,
    )


def judge_max_severity(signals: Iterable[dict[str, Any]], max_severity: str, window: str) -> Judgement:
    """No signal more severe than ``max_severity`` in the window. ``signals``: ``{id, severity, failure_type}``."""
    ceiling = SEVERITY_ORDER.index(max_severity)
    rows = list(signals)
    above = [s for s in rows if _rank(s.get("severity")) > ceiling]
    threshold = f"≤ {max_severity} in {window}"
    if not above:
        worst = max((_rank(s.get("severity")) for s in rows), default=-1)
        observed = f"worst {SEVERITY_ORDER[worst]} of {len(rows)} signals" if worst >= 0 else "no signals"
        return Judgement("max_severity", "pass", observed, threshold, value=len(rows), source="server")
    counts: dict[str, int] = {}
    for s in above:
        counts[str(s.get("severity"))] = counts.get(str(s.get("severity")), 0) + 1
    observed = ", ".join(f"{counts[name]} {name}" for name in reversed(SEVERITY_ORDER) if name in counts)
    offenders = [
        {"id": s.get("id"), "severity": s.get("severity"), "failure_type": s.get("failure_type"),
         "run_id": s.get("run_id")}
        for s in above
    ]
    return Judgement(
        "max_severity", "fail", observed, threshold, value=len(above), source="server", offenders=offenders
    )


def judge_failure_rate(failing_runs: int, total_runs: int, max_rate: float, window: str) -> Judgement:
    """Share of runs in the window with at least one signal, at most ``max_rate``. No runs is no_data."""
    threshold = f"≤ {pct(max_rate)} in {window}"
    if total_runs <= 0:
        return Judgement(
            "max_failure_rate", "no_data", f"no runs in {window}", threshold, value=None, source="client",
            detail="no runs completed in the window",
        )
    rate = failing_runs / total_runs
    verdict: Verdict = "pass" if rate <= max_rate + 1e-12 else "fail"
    observed = f"{pct(rate)} ({failing_runs} of {total_runs} runs)"
    return Judgement("max_failure_rate", verdict, observed, threshold, value=round(rate, 4), source="client")


def judge_regression(deploys: Sequence[dict[str, Any]], versions: Sequence[dict[str, Any]]) -> Judgement:
    """The newest deploy (the server's ``deploy_regressions``), else the newest version against the one
    before it (insights' ``versions``, newest first), did not raise the failure rate by more than
    ``REGRESSION_DELTA``. One version and no deploys: nothing changed, the rule holds."""
    threshold = f"rise ≤ {pct(REGRESSION_DELTA)}"
    if deploys:
        newest = max(deploys, key=lambda d: float(d.get("deployed_at") or 0))
        before, after = float(newest.get("before_rate") or 0), float(newest.get("after_rate") or 0)
        label = str(newest.get("version") or newest.get("deploy_id") or "newest deploy")
        regression = bool(newest.get("is_regression", after - before > REGRESSION_DELTA))
        observed = f"deploy {label}: {pct(before)} → {pct(after)}"
        return Judgement(
            "no_regression", "fail" if regression else "pass", observed, threshold,
            value={"version": label, "before_rate": before, "after_rate": after}, source="server",
            offenders=[{"version": label, "before_rate": before, "after_rate": after}] if regression else [],
        )
    ordered = [v for v in versions if int(v.get("run_count") or 0) > 0]
    if len(ordered) < 2:
        only = str(ordered[0].get("agent_version")) if ordered else None
        observed = f"one version ({only})" if only else "no versions"
        return Judgement(
            "no_regression", "pass" if only else "no_data", observed, threshold, value=None, source="client",
            detail="no deploys in 7 days and nothing to compare against",
        )
    newest, previous = ordered[0], ordered[1]
    new_runs, old_runs = int(newest.get("run_count") or 0), int(previous.get("run_count") or 0)
    new_rate = _version_rate(newest)
    old_rate = _version_rate(previous)
    observed = f"{newest.get('agent_version')}: {pct(old_rate)} → {pct(new_rate)} (vs {previous.get('agent_version')})"
    value = {
        "version": newest.get("agent_version"), "previous_version": previous.get("agent_version"),
        "before_rate": round(old_rate, 4), "after_rate": round(new_rate, 4), "runs": new_runs,
        "previous_runs": old_runs,
    }
    if new_runs < REGRESSION_MIN_RUNS or old_runs < REGRESSION_MIN_RUNS:
        return Judgement(
            "no_regression", "no_data", observed, threshold, value=value, source="client",
            detail=f"needs at least {REGRESSION_MIN_RUNS} runs of each version",
        )
    regression = new_rate - old_rate > REGRESSION_DELTA
    return Judgement(
        "no_regression", "fail" if regression else "pass", observed, threshold, value=value, source="client",
        offenders=[value] if regression else [],
    )


def judge_fixes(fixes: Iterable[dict[str, Any]], since: float | None, window: str) -> Judgement:
    """Every fix applied since the window began has verdict verified or likely_fixed."""
    threshold = f"verified (applied in {window})"
    recent = [f for f in fixes if since is None or float(f.get("applied_at") or 0) >= since]
    bad = [f for f in recent if str(f.get("verdict") or "") not in GOOD_FIX_VERDICTS]
    offenders = [
        {"signal_id": f.get("signal_id"), "failure_type": f.get("failure_type"), "verdict": f.get("verdict")}
        for f in bad
    ]
    if not recent:
        return Judgement("fixes_verified", "pass", f"no fixes applied in {window}", threshold, value=0, source="server")
    if not bad:
        return Judgement(
            "fixes_verified", "pass", f"{len(recent)} of {len(recent)} verified", threshold, value=len(recent),
            source="server",
        )
    kinds: dict[str, int] = {}
    for f in bad:
        kinds[str(f.get("verdict") or "unknown")] = kinds.get(str(f.get("verdict") or "unknown"), 0) + 1
    observed = ", ".join(f"{n} {name}" for name, n in sorted(kinds.items())) + f" of {len(recent)}"
    return Judgement(
        "fixes_verified", "fail", observed, threshold, value=len(recent) - len(bad), source="server",
        offenders=offenders,
    )


def error_judgement(rule: str, threshold: str, message: str, exit_code: int) -> Judgement:
    """A rule whose figure could not be obtained: the gate cannot decide."""
    return Judgement(rule, "error", "unavailable", threshold, detail=message, exit_code=exit_code)


def outcome(judgements: Iterable[Judgement]) -> tuple[Literal["pass", "fail", "error"], int]:
    """The gate's verdict and exit code: any fail or no_data -> fail (1); else any error -> that
    error's code (the lowest, so a usage problem wins over an outage); else pass (0)."""
    rows = list(judgements)
    if any(j.verdict in ("fail", "no_data") for j in rows):
        return "fail", 1
    errors = sorted(j.exit_code or 70 for j in rows if j.verdict == "error")
    if errors:
        return "error", errors[0]
    return "pass", 0


def _rank(severity: Any) -> int:
    name = str(severity or "").upper()
    return SEVERITY_ORDER.index(name) if name in SEVERITY_ORDER else -1


def _version_rate(version: dict[str, Any]) -> float:
    runs = int(version.get("run_count") or 0)
    if runs <= 0:
        return 0.0
    return int(version.get("runs_with_signals") or 0) / runs


def _source(value: str | None) -> Literal["server", "client"] | None:
    return value if value in ("server", "client") else None  # type: ignore[return-value]
