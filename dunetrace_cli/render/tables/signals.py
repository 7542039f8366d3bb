"""`dunetrace signals [AGENT]`: signals newest first, one line each."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from dunetrace_cli.models.signals import SignalSearch
from dunetrace_cli.render import timefmt
from dunetrace_cli.render.sanitize import clean
from dunetrace_cli.render.tables._base import sev, sev_short, t
from dunetrace_cli.render.tables._fit import Cell, Col, FitTable, Step


def filters(result: SignalSearch) -> list[str]:
    scope = (f"agent {clean(result.agent_id, newlines=False)}" if result.agent_id else
             "all agents" if result.agents_scanned is None else f"all {result.agents_scanned} agents")
    return [f for f in (
        scope,
        f"severity {result.severity}" if result.severity else "",
        f"type {clean(result.failure_type, newlines=False)}" if result.failure_type else "",
        f"since {timefmt.absolute(result.since)}" if result.since else "",
    ) if f]


def render(result: SignalSearch, now: float) -> RenderableType:
    where = ", ".join(filters(result))
    if not result.signals:
        return Text(f"No signals match ({where}).")
    show_agent = result.agent_id is None
    columns = [Col("id", "ID", "right"), Col("sev", "SEVERITY", compact_header="SEV"),
               Col("type", "FAILURE TYPE", min_width=14)]
    if show_agent:
        columns += [Col("agent", "AGENT", min_width=12), Col("run", "RUN")]
    else:
        columns += [Col("run", "RUN"), Col("step", "STEP", "right"), Col("conf", "CONF", "right")]
    columns.append(Col("detected", "DETECTED (UTC)", compact_header="DETECTED"))
    plan: list[Step] = [("compact", "detected"), ("compact", "sev"), ("drop", "conf"), ("drop", "step"), ("shrink", "agent"),
            ("shrink", "type"), ("drop", "detected")]
    tbl = FitTable(columns, plan=plan)
    for s in result.signals:
        cells: list[Cell] = [t(s.id), (sev(s.severity), sev_short(s.severity)), t(s.failure_type)]
        if show_agent:
            cells += [t(s.agent_id), t(s.run_id[:12])]
        else:
            cells += [t(s.run_id[:12]), t(s.step_index), t("—" if s.confidence is None else f"{s.confidence:.2f}")]
        cells.append((t(timefmt.short(s.detected_at, now)), t(timefmt.ago(s.detected_at, now))))
        tbl.add_row(*cells)
    footer = f"{len(result.signals)} of {result.total_matched} signals ({where}) · fix: dunetrace signal ID"
    lines: list[RenderableType] = [tbl, Text(footer, style="dim")]
    if result.total_matched > len(result.signals):
        lines.append(Text(f"more: {more_command(result)}", style="dim"))
    return Group(*lines)


def more_command(result: SignalSearch) -> str:
    """The same search with a larger --limit (phrased by the registry)."""
    from dunetrace_cli import registry
    from dunetrace_cli.models.common import NextStep, iso

    args = {"agent_id": result.agent_id, "severity": result.severity, "failure_type": result.failure_type,
            "since": iso(result.since) if result.since else None,
            "limit": min(result.total_matched, max(result.limit * 5, len(result.signals) + 1))}
    return clean(registry.cli_line(NextStep(op="signals", args=args, reason="more signals")), newlines=False)
