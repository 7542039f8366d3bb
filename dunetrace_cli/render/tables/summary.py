"""`dunetrace summary AGENT`: health, run counts, failure breakdown, newest signals, next steps."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from dunetrace_cli.domain.systemic import rule_text
from dunetrace_cli.models.summary import AgentDiagnosis
from dunetrace_cli.render import timefmt
from dunetrace_cli.render.sanitize import clean
from dunetrace_cli.render.tables._base import heading, notes, sev, sev_short, t
from dunetrace_cli.render.tables._fit import Col, FitTable
from dunetrace_cli.render.tables.health import health_lines


def breakdown_table(result: AgentDiagnosis) -> FitTable:
    tbl = FitTable(
        [Col("type", "FAILURE TYPE", min_width=14), Col("worst", "WORST", compact_header="SEV"),
         Col("signals", "SIGNALS", "right"), Col("runs", "RUNS", "right"), Col("pct", "% OF RUNS", "right"),
         Col("systemic", "SYSTEMIC")],
        plan=[("compact", "worst"), ("drop", "signals"), ("shrink", "type")],
        title="Failure breakdown",
    )
    for row in result.breakdown:
        tbl.add_row(
            t(row.failure_type), (sev(row.worst_severity), sev_short(row.worst_severity)), t(row.signals),
            t(row.runs_affected), t(f"{row.pct_of_runs:.1f}%"),
            t("yes" if row.is_systemic else "no", "bold red" if row.is_systemic else "dim"),
        )
    return tbl


def step_line(step: Any) -> str:
    """A next step as the command that runs it (a NextStep from the registry, or a ready string)."""
    if isinstance(step, str):
        return clean(step, newlines=False)
    from dunetrace_cli import registry

    line = clean(registry.cli_line(step), newlines=False)  # its arguments may be server text (agent ids)
    return f"{line}  # {clean(step.reason, newlines=False)}" if getattr(step, "reason", "") else line


def next_lines(steps: list[Any]) -> list[RenderableType]:
    if not steps:
        return []
    return [Text("Next", style="bold"), *[Text(f"  {step_line(step)}") for step in steps]]


def render(result: AgentDiagnosis, now: float) -> RenderableType:
    agent = result.agent
    parts: list[RenderableType] = [
        heading(f"Agent {clean(agent.agent_id, newlines=False)}", f"last seen {timefmt.both(agent.last_seen, now)}"),
        *health_lines(result.health),
        Text(
            f"Runs: {result.runs_total} processed · {result.failing_runs} with failures · {result.clean_runs} clean"
            f" · {agent.signal_count} signals ({agent.critical_count} critical, {agent.high_count} high)"
        ),
    ]
    from dunetrace_cli.render import insights_extra

    parts[1:1] = insights_extra.table_top(result, now)  # a regression after a deploy: right under the name
    if result.cost_stats is not None:
        parts.append(Text(insights_extra.cost_line(result.cost_stats)))
    if result.breakdown:
        parts.append(breakdown_table(result))
        runs = result.systemic_window_runs
        parts.append(Text(rule_text() + ("" if runs is None else f" ({runs} runs in that window)"), style="dim"))
    else:
        parts.append(Text("No failure signals recorded for this agent.", style="green"))
    if result.newest_signals:
        parts.append(Text("Newest signals", style="bold"))
        for digest in result.newest_signals:
            sig = digest.signal
            line = Text(f"#{sig.id} ")
            line.append_text(sev(sig.severity))
            line.append_text(t(f" {sig.failure_type}", "bold"))
            line.append_text(t(f"  run {sig.run_id[:12]}  {timefmt.short(sig.detected_at, now)}", "dim"))
            parts.append(line)
            if sig.title:
                parts.append(t(f"   {sig.title}"))
            if digest.first_fix is not None and digest.first_fix.description:
                fix = Text("   fix: ", style="green")
                fix.append_text(t(digest.first_fix.description))
                parts.append(fix)
    parts += notes(result.notes)
    parts += next_lines(result.next_steps)
    return Group(*parts)
