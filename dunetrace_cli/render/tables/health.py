"""`dunetrace health AGENT`: the score and its four components (also the top of `summary`)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from dunetrace_cli.models.health import HealthScore
from dunetrace_cli.render.tables._base import bar, heading, notes, score_text, t
from dunetrace_cli.render.tables._fit import Col, FitTable


def health_lines(health: HealthScore) -> list[RenderableType]:
    lines: list[RenderableType] = []
    head = Text("Health ", style="bold")
    head.append_text(score_text(health.score))
    head.append(f"  {health.grade}, {health.sample_runs} runs in 30 days", style="dim")
    if health.source == "client":
        head.append("  (computed by dunetrace-cli)", style="dim")
    lines.append(head)
    if health.components:
        tbl = FitTable(
            [Col("name", "COMPONENT"), Col("bar", ""), Col("score", "SCORE", "right"), Col("value", "VALUE", "right"),
             Col("measure", "MEASURE", min_width=10)],
            plan=[("shrink", "measure"), ("drop", "bar")],
        )
        for name, comp in health.components.items():
            value = "—" if comp.value is None else f"{comp.value:g}"
            tbl.add_row(t(name), bar(comp.score, comp.max), t(f"{comp.score}/{comp.max}"), t(value), t(comp.label, "dim"))
        lines.append(tbl)
    elif health.score is None:
        lines.append(Text("Not enough runs for a score (needs 3 in 30 days).", style="dim"))
    lines += notes(health.notes)
    return lines


def render(result: HealthScore, now: float) -> RenderableType:
    return Group(heading(clean_id(result.agent_id)), *health_lines(result))


def clean_id(value: str) -> str:
    from dunetrace_cli.render.sanitize import clean

    return clean(value, newlines=False)
