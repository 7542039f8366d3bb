"""`dunetrace compare RUN1 RUN2`: two runs side by side and what differs."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from dunetrace_cli.models.runs import RunComparison
from dunetrace_cli.render import timefmt
from dunetrace_cli.render.sanitize import clean
from dunetrace_cli.render.tables._base import t
from dunetrace_cli.render.tables._fit import Col, FitTable


def render(result: RunComparison, now: float) -> RenderableType:
    a, b = result.left, result.right
    tbl = FitTable([Col("label", ""), Col("one", "RUN 1", min_width=12), Col("two", "RUN 2", min_width=12)],
                   plan=[("shrink", "one two")])
    rows = [
        ("run", a.run_id, b.run_id), ("agent", a.agent_id, b.agent_id), ("version", a.agent_version, b.agent_version),
        ("exit", a.exit_reason, b.exit_reason), ("duration", timefmt.duration(a.duration_s), timefmt.duration(b.duration_s)),
        ("steps", a.step_count, b.step_count), ("events", a.event_count, b.event_count),
        ("tokens", a.total_tokens, b.total_tokens), ("tool calls", a.tool_calls, b.tool_calls),
        ("failed tool calls", a.failed_tool_calls, b.failed_tool_calls), ("LLM calls", a.llm_calls, b.llm_calls),
        ("signals", ", ".join(a.signal_types) or "none", ", ".join(b.signal_types) or "none"),
    ]
    for label, x, y in rows:
        tbl.add_row(t(label, "bold"), t(x), t(y))
    return Group(tbl, *[Text("• " + clean(d)) for d in result.differences])
