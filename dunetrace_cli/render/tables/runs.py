"""`dunetrace runs AGENT`: the newest processed runs, one line each."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from dunetrace_cli.models.runs import RunList
from dunetrace_cli.render import timefmt
from dunetrace_cli.render.sanitize import clean
from dunetrace_cli.render.tables._base import t
from dunetrace_cli.render.tables._fit import Col, FitTable

LABEL = {"all": "runs", "failing": "failing runs", "clean": "clean runs"}
BAD_EXITS = ("run.errored", "stalled")


def more_command(result: RunList) -> str:
    """The command that shows the next page: same agent and filter, a larger --limit (phrased by the registry)."""
    from dunetrace_cli import registry
    from dunetrace_cli.models.common import NextStep

    args: dict[str, object] = {"agent_id": result.agent_id,
                               "limit": min(result.total, max(result.limit * 5, len(result.runs) + 1))}
    if result.filter != "all":
        args[result.filter] = True
    return clean(registry.cli_line(NextStep(op="runs", args=args, reason="the next page")), newlines=False)


def render(result: RunList, now: float) -> RenderableType:
    label = LABEL[result.filter]
    if not result.runs:
        return Text(f"No {label} for {clean(result.agent_id, newlines=False)}.")
    tbl = FitTable(
        [
            Col("run", "RUN"),
            Col("version", "VERSION", min_width=8),
            Col("started", "STARTED (UTC)", compact_header="STARTED"),
            Col("duration", "DURATION", "right"),
            Col("steps", "STEPS", "right"),
            Col("tokens", "TOKENS", "right"),
            Col("exit", "EXIT"),
            Col("signals", "SIGNALS", "right"),
        ],
        plan=[("compact", "started"), ("shrink", "version"), ("compact", "exit"), ("drop", "version"),
              ("drop", "steps")],
    )
    for run in result.runs:
        exit_style = "red" if run.exit_reason in BAD_EXITS else ""
        exit_reason = run.exit_reason or ""
        tbl.add_row(
            t(run.run_id[:12], "bold"),
            t(run.agent_version),
            (t(timefmt.short(run.started_at, now)), t(timefmt.ago(run.started_at, now))),
            t(timefmt.duration(run.duration_s)),
            t(run.step_count),
            t(run.total_tokens),
            (t(exit_reason, exit_style), t(exit_reason.removeprefix("run."), exit_style)),
            t(run.signal_count, "red" if run.signal_count else "dim"),
        )
    footer = f"{len(result.runs)} of {result.total} {label}"
    lines: list[RenderableType] = [tbl, Text(footer + " · inspect: dunetrace run RUN", style="dim")]
    if result.more:
        lines.append(Text(f"more: {more_command(result)}", style="dim"))
    return Group(*lines)
