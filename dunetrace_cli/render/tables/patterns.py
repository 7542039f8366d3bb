"""`dunetrace patterns AGENT`: systemic vs one-off, daily counts and trend verdict, inputs, versions."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from dunetrace_cli.domain import trend
from dunetrace_cli.domain.systemic import rule_text as systemic_rule
from dunetrace_cli.models.insights import Patterns
from dunetrace_cli.render import timefmt
from dunetrace_cli.render.sanitize import clean
from dunetrace_cli.render.tables._base import heading, notes, pct, sparkline, t
from dunetrace_cli.render.tables._fit import Col, FitTable

VERDICT_STYLE = {"escalating": "bold red", "improving": "green", "stable": "dim"}


def patterns_table(result: Patterns, now: float) -> FitTable:
    tbl = FitTable(
        [
            Col("type", "FAILURE TYPE", min_width=14),
            Col("kind", "KIND"),
            Col("runs", "RUNS", "right"),
            Col("rate", "RATE", "right"),
            Col("counts", f"RUNS/DAY, LAST {trend.TREND_DAYS} DAYS"),
            Col("trend", "TREND"),
            Col("spark", f"{result.trend_days} DAYS"),
            Col("worst", "WORST DAY"),
            Col("seen", "LAST SEEN (UTC)", compact_header="LAST SEEN"),
        ],
        plan=[
            ("drop", "spark"), ("compact", "seen"), ("drop", "worst"), ("drop", "seen"), ("drop", "rate"),
            ("compact", "counts"),
            ("shrink", "type"),
        ],
    )
    for row in result.patterns:
        worst = "—" if row.worst_day is None else f"{row.worst_day[5:]} {pct(row.worst_day_rate)}"
        verdict = row.trend_verdict
        tbl.add_row(
            t(row.failure_type),
            t(row.kind, "bold red" if row.is_systemic else "dim"),
            t(f"{row.affected_runs}/{row.total_runs}"),
            t(pct(row.rate, 1)),
            (t(trend.counts_text(row.daily_counts)), t(" ".join(str(c) for c in row.daily_counts))),
            t(verdict, VERDICT_STYLE.get(verdict, "")),
            t(sparkline(p.rate for p in row.trend), "dim"),
            t(worst),
            (t(timefmt.short(row.last_seen, now)), t(timefmt.ago(row.last_seen, now))),
        )
    return tbl


def render(result: Patterns, now: float) -> RenderableType:
    runs = (f"{result.total_runs} runs over the last {result.window_days} days" if result.total_runs is not None
            else f"last {result.window_days} days")
    detail = runs + ("; computed by dunetrace-cli" if result.source == "client" else "")
    parts: list[RenderableType] = [heading(f"Patterns for {clean(result.agent_id, newlines=False)}", detail)]
    from dunetrace_cli.render import insights_extra

    parts += insights_extra.table_top(result, now)  # a regression after a deploy comes first
    if not result.patterns:
        parts.append(Text("No failure patterns in the window.", style="green"))
    else:
        parts.append(patterns_table(result, now))
        parts.append(Text(systemic_rule(), style="dim"))
        parts.append(Text(trend.rule_text(), style="dim"))
    if result.hot_inputs:
        tbl = FitTable(
            [Col("hash", "INPUT HASH", min_width=12), Col("type", "FAILURE TYPE", min_width=14),
             Col("hits", "TRIGGERED", "right"), Col("rate", "RATE", "right")],
            plan=[("shrink", "hash"), ("shrink", "type")], title="Inputs that fail ≥50% of the time",
        )
        for p in result.hot_inputs:
            tbl.add_row(t(p.input_hash), t(p.failure_type), t(f"{p.triggered_count}/{p.total_runs}"), t(pct(p.rate)))
        parts.append(tbl)
    if result.versions:
        tbl = FitTable(
            [Col("version", "VERSION", min_width=10), Col("runs", "RUNS", "right"),
             Col("with", "WITH SIGNALS", "right"), Col("rate", "RATE", "right"),
             Col("seen", "LAST SEEN (UTC)", compact_header="LAST SEEN")],
            plan=[("compact", "seen"), ("shrink", "version")], title="Agent versions",
        )
        for v in result.versions:
            tbl.add_row(t(v.agent_version), t(v.run_count), t(v.runs_with_signals), t(pct(v.signal_rate, 1)),
                        (t(timefmt.short(v.last_seen, now)), t(timefmt.ago(v.last_seen, now))))
        parts.append(tbl)
    parts += insights_extra.table_sections(result, now)
    parts += notes(result.notes)
    return Group(*parts)
