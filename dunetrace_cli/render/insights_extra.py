"""The insights the patterns view used to drop: deploy regressions (first), cost, user impact, time to
first tool and the hour-of-day pattern, for the patterns and summary tables (``render/tables``) and the
Markdown summary's top lines (``render/markdown/summary.py``).
"""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.text import Text

from dunetrace_cli.render import timefmt
from dunetrace_cli.render.sanitize import clean


def _pct(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def regression_lines(result: Any) -> list[str]:
    """One sentence per deploy that raised the signal rate by more than 15 points (newest first)."""
    out = []
    for d in result.deploy_regressions:
        if d.is_regression:
            out.append(
                f"deploy of {clean(d.version, newlines=False)} at {timefmt.absolute(d.deployed_at)} raised the signal rate "
                f"from {_pct(d.before_rate)} ({d.before_signals}/{d.before_runs} runs) to {_pct(d.after_rate)} "
                f"({d.after_signals}/{d.after_runs}) in the 2 h after it"
            )
    return out


def cost_line(cost: Any) -> str:
    return (f"Cost (30 days): ${cost.total_cost_usd:,.4f}, of which ${cost.wasted_cost_usd:,.4f} "
            f"({_pct(cost.wasted_pct, 1)}) on runs with a failure")


def table_top(result: Any, now: float) -> list[RenderableType]:
    return [Text(f"REGRESSION: {line}", style="bold red") for line in regression_lines(result)]


def table_sections(result: Any, now: float) -> list[RenderableType]:
    from dunetrace_cli.render.tables import t, table

    parts: list[RenderableType] = []
    quiet = [d for d in result.deploy_regressions if not d.is_regression]
    if quiet:
        parts.append(Text("Deploys without a regression: " + ", ".join(
            f"{clean(d.version, newlines=False)} ({_pct(d.before_rate)} → {_pct(d.after_rate)})" for d in quiet), style="dim"))
    if result.deploy_events and not result.deploy_regressions:
        latest = result.deploy_events[0]
        parts.append(Text(f"Last deploy: {clean(latest.version, newlines=False)} {timefmt.both(latest.deployed_at, now)}"
                          f" ({len(result.deploy_events)} in 90 days)", style="dim"))
    cost = result.cost_stats
    if cost is not None:
        parts.append(Text(cost_line(cost)))
        if cost.cost_by_failure_type:
            tbl = table("!FAILURE TYPE", ">WASTED", ">RUNS", title="Spend on failing runs, by type")
            for c in cost.cost_by_failure_type:
                tbl.add_row(t(c.failure_type), t(f"${c.wasted_usd:,.4f}"), t(c.affected_runs))
            parts.append(tbl)
    if result.user_impact:
        tbl = table("!FAILURE TYPE", ">USERS", ">OF", ">RATE", title="Users affected (distinct inputs, 30 days)")
        for u in result.user_impact:
            tbl.add_row(t(u.failure_type), t(u.affected_users), t(u.total_users), t(_pct(u.user_impact_rate, 1)))
        parts.append(tbl)
    ttt = result.time_to_tool
    if ttt is not None and ttt.total_runs:
        parts.append(Text(
            f"Time to first tool: p50 step {ttt.p50 if ttt.p50 is not None else '—'} (p25 {ttt.p25 if ttt.p25 is not None else '—'}, "
            f"p75 {ttt.p75 if ttt.p75 is not None else '—'}); {ttt.runs_with_tool}/{ttt.total_runs} runs call a tool"
        ))
    if result.hourly_pattern:
        worst = max(result.hourly_pattern, key=lambda h: (h.signal_rate, h.run_count))
        busiest = max(result.hourly_pattern, key=lambda h: h.run_count)
        parts.append(Text(
            f"By hour (UTC, 30 days): worst {worst.hour_of_day:02d}:00 with {_pct(worst.signal_rate)} of "
            f"{worst.run_count} runs failing; busiest {busiest.hour_of_day:02d}:00 ({busiest.run_count} runs)", style="dim"))
    return parts


def markdown_top(result: Any) -> list[str]:
    return [f"⚠ **Regression after a deploy:** {line}." for line in regression_lines(result)]
