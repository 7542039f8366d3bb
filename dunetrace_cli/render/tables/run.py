"""`dunetrace run RUN_ID`: one run's signals, tool calls, LLM calls and context growth."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from dunetrace_cli.models.runs import RunView
from dunetrace_cli.render import timefmt
from dunetrace_cli.render.sanitize import clean
from dunetrace_cli.render.tables._base import heading, sev, sev_short, t
from dunetrace_cli.render.tables._fit import Col, FitTable


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}ms"


def signals_table(result: RunView) -> FitTable:
    tbl = FitTable(
        [Col("id", "ID", "right"), Col("sev", "SEVERITY", compact_header="SEV"), Col("type", "FAILURE TYPE", min_width=14),
         Col("step", "STEP", "right"), Col("conf", "CONF", "right"), Col("title", "TITLE", min_width=12)],
        plan=[("shrink", "title"), ("compact", "sev"), ("drop", "conf"), ("drop", "title"), ("shrink", "type")],
        title="Signals",
    )
    for s in result.run.signals:
        tbl.add_row(t(s.id), (sev(s.severity), sev_short(s.severity)), t(s.failure_type), t(s.step_index),
                    t("—" if s.confidence is None else f"{s.confidence:.2f}"), t(s.title))
    return tbl


def tools_table(result: RunView) -> FitTable:
    tbl = FitTable(
        [Col("step", "STEP", "right"), Col("tool", "TOOL", min_width=10), Col("result", "RESULT"),
         Col("latency", "LATENCY", "right"), Col("detail", "ERROR / ARGS", min_width=12)],
        plan=[("shrink", "detail"), ("shrink", "tool"), ("drop", "detail")],
        title="Tool calls",
    )
    for c in result.tool_calls:
        outcome = (t("ok", "green") if c.success else t("failed", "bold red") if c.success is False
                   else t("no response", "yellow"))
        tbl.add_row(t(c.step_index), t(c.tool_name), outcome, t(_ms(c.latency_ms)), t(c.error or c.args, "dim"))
    return tbl


def llm_table(result: RunView) -> FitTable:
    tbl = FitTable(
        [Col("step", "STEP", "right"), Col("model", "MODEL", min_width=10), Col("prompt", "PROMPT", "right"),
         Col("completion", "COMPLETION", "right"), Col("latency", "LATENCY", "right"), Col("finish", "FINISH", min_width=6)],
        plan=[("shrink", "model"), ("shrink", "finish")],
        title="LLM calls",
    )
    for c in result.llm_calls:
        prompt = "—" if c.prompt_tokens is None else f"{c.prompt_tokens}{'~' if c.prompt_tokens_estimated else ''}"
        tbl.add_row(t(c.step_index), t(c.model), t(prompt), t(c.completion_tokens), t(_ms(c.latency_ms)),
                    t(c.finish_reason if c.responded else "no response"))
    return tbl


def links(result: RunView, now: float) -> list[RenderableType]:
    """The parent run and the child runs (the SDK's parent_run_id)."""
    from dunetrace_cli.render.tables._base import notes

    lines: list[RenderableType] = []
    if result.parent is not None:
        p = result.parent
        who = f" (agent {clean(p.agent_id, newlines=False)}, {timefmt.short(p.started_at, now)})" if p.agent_id else ""
        lines.append(Text(f"Parent run: {clean(p.run_id, newlines=False)}{who}"))
    if result.children:
        tbl = FitTable(
            [Col("run", "CHILD RUN", min_width=12), Col("agent", "AGENT", min_width=8), Col("started", "STARTED"),
             Col("steps", "STEPS", "right"), Col("signals", "SIGNALS", "right")],
            plan=[("drop", "started"), ("shrink", "agent")], title="Child runs",
        )
        for c in result.children:
            tbl.add_row(t(c.run_id), t(c.agent_id), t(timefmt.short(c.started_at, now)), t(c.step_count), t(c.signal_count))
        lines.append(tbl)
    return lines + notes(result.notes)


def render(result: RunView, now: float) -> RenderableType:
    run = result.run
    exit_reason = clean(run.exit_reason or "—", newlines=False)
    sdk_exit = f" ({clean(result.sdk_exit_reason, newlines=False)})" if result.sdk_exit_reason else ""
    parts: list[RenderableType] = [
        heading(f"Run {clean(run.run_id, newlines=False)}",
                f"agent {clean(run.agent_id, newlines=False)} · version {clean(run.agent_version, newlines=False)}"),
        Text(
            f"Started {timefmt.both(run.started_at, now)} · took {timefmt.duration(run.duration_s)} · "
            f"{run.step_count} steps · {len(run.events)} events · exit {exit_reason}{sdk_exit}"
        ),
        Text(
            f"Tokens: {result.prompt_tokens} prompt + {result.completion_tokens} completion"
            + (f" · server total {run.total_tokens}" if run.total_tokens is not None else "")
            + (f" · ${run.cost_usd:.6f}" if run.cost_usd is not None else "")
        ),
    ]
    if result.error:
        parts.append(Text("Error: " + clean(result.error), style="red"))
    parts += links(result, now)
    if run.signals:
        parts.append(signals_table(result))
    else:
        parts.append(Text("No signals on this run.", style="green"))
    if result.tool_calls:
        parts.append(tools_table(result))
    if result.llm_calls:
        parts.append(llm_table(result))
    growth = result.context_growth
    if growth is not None:
        line = Text(
            f"Context: prompt tokens {growth.first_tokens} → {growth.last_tokens} "
            f"(×{growth.growth_factor:g} over {growth.llm_call_count} calls)"
        )
        if growth.flagged:
            line.append("  context bloat: the prompt grows with every call", style="bold yellow")
        parts.append(line)
    if run.signals:
        parts.append(Text(f"Fix: dunetrace signal {run.signals[0].id}", style="dim"))
    return Group(*parts)
