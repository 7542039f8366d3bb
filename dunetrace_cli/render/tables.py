"""Rich renderings of every query result, for people at a terminal.

Pure functions ``render(result, now) -> renderable``. Every string that came from the
server is wrapped in ``Text`` (never parsed as markup), and the consoles have markup off.
"""

from __future__ import annotations

import json
from functools import singledispatch
from typing import Any, Iterable

from rich import box
from rich.console import Group, RenderableType
from rich.markdown import Markdown
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from dunetrace_cli.models.agents import AgentList
from dunetrace_cli.models.health import HealthScore
from dunetrace_cli.models.insights import Patterns
from dunetrace_cli.models.runs import RunComparison, RunList, RunView
from dunetrace_cli.models.signals import Signal, SignalSearch, SignalView, SuggestedFix
from dunetrace_cli.models.summary import AgentDiagnosis
from dunetrace_cli.models.tokens import TokenStats
from dunetrace_cli.render import timefmt

SEVERITY_STYLE = {"CRITICAL": "bold white on red", "HIGH": "bold red", "MEDIUM": "yellow", "LOW": "cyan"}
SPARK = "▁▂▃▄▅▆▇█"
BOX = box.SIMPLE_HEAD


def t(value: Any, style: str | None = None) -> Text:
    """Untrusted text as a literal Text (no markup, no emoji codes)."""
    return Text("—" if value is None or value == "" else str(value), style=style or "")


def sev(severity: str) -> Text:
    return t(severity, SEVERITY_STYLE.get(severity.upper(), ""))


def heading(text: str, detail: str = "") -> Text:
    line = Text(text, style="bold")
    if detail:
        line.append("  ")
        line.append(detail, style="dim")
    return line


def score_text(score: int | None) -> Text:
    if score is None:
        return Text("n/a", style="dim")
    style = "bold green" if score >= 80 else "bold yellow" if score >= 60 else "bold red"
    return Text(f"{score}/100", style=style)


def bar(score: int, maximum: int, width: int = 20) -> Text:
    filled = 0 if maximum <= 0 else round(width * score / maximum)
    ratio = 0 if maximum <= 0 else score / maximum
    style = "green" if ratio >= 0.8 else "yellow" if ratio >= 0.6 else "red"
    line = Text("█" * filled, style=style)
    line.append("░" * (width - filled), style="dim")
    return line


def sparkline(values: Iterable[float]) -> str:
    values = list(values)
    top = max(values, default=0)
    if top <= 0:
        return "·" * len(values)
    return "".join("·" if v <= 0 else SPARK[min(len(SPARK) - 1, int(v / top * (len(SPARK) - 1)))] for v in values)


def pct(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def table(*columns: str, title: str | None = None) -> Table:
    """Columns: '>' right-aligns, '!' never wraps (ids and names a reader copies)."""
    tbl = Table(
        box=BOX, title=title, title_justify="left", title_style="bold", pad_edge=False, expand=False,
        show_edge=False, collapse_padding=True,
    )
    for column in columns:
        name = column.lstrip(">!")
        justify = "right" if ">" in column[:2] else "left"
        keep = "!" in column[:2]
        tbl.add_column(name, justify=justify, overflow="fold", no_wrap=keep, min_width=len(name) if keep else None)
    return tbl


def notes(lines: list[str]) -> list[RenderableType]:
    return [Text(f"note: {line}", style="dim") for line in lines]


@singledispatch
def render(result: Any, now: float) -> RenderableType:  # pragma: no cover - every result type is registered
    raise TypeError(f"no table renderer for {type(result).__name__}")


@render.register
def _agents(result: AgentList, now: float) -> RenderableType:
    if not result.agents:
        return Text("No agents yet. Instrument one with the SDK: dunetrace guide python")
    tbl = table("!AGENT", ">RUNS", ">SIGNALS", ">CRIT/HIGH", "!7 DAYS", "TOP FAILURE", "LAST SEEN (UTC)")
    for agent in result.agents:
        top = max(agent.failure_types.items(), key=lambda kv: (kv[1], kv[0]), default=None)
        tbl.add_row(
            t(agent.agent_id, "bold"),
            t(agent.run_count),
            t(agent.signal_count),
            t(f"{agent.critical_count}/{agent.high_count}", "red" if agent.critical_count + agent.high_count else "dim"),
            t(sparkline(agent.sparkline) if agent.sparkline else "·······", "dim"),
            t(f"{top[0]} ×{top[1]}" if top else "—"),
            t(timefmt.short(agent.last_seen, now)),
        )
    return Group(tbl, Text(f"{result.total} agent(s). Start with: dunetrace summary AGENT", style="dim"))


def _health_lines(health: HealthScore) -> list[RenderableType]:
    lines: list[RenderableType] = []
    head = Text("Health ", style="bold")
    head.append_text(score_text(health.score))
    head.append(f"  {health.grade}, {health.sample_runs} runs in 30 days", style="dim")
    if health.source == "client":
        head.append("  (computed by dunetrace-cli)", style="dim")
    lines.append(head)
    if health.components:
        tbl = table("COMPONENT", "", ">SCORE", ">VALUE", "MEASURE")
        for name, comp in health.components.items():
            value = "—" if comp.value is None else f"{comp.value:g}"
            tbl.add_row(t(name), bar(comp.score, comp.max), t(f"{comp.score}/{comp.max}"), t(value), t(comp.label, "dim"))
        lines.append(tbl)
    elif health.score is None:
        lines.append(Text("Not enough runs for a score (needs 3 in 30 days).", style="dim"))
    lines += notes(health.notes)
    return lines


@render.register
def _health(result: HealthScore, now: float) -> RenderableType:
    return Group(heading(result.agent_id), *_health_lines(result))


def _fix_block(fix: SuggestedFix, *, index: int | None = None) -> list[RenderableType]:
    label = f"Fix {index}: " if index is not None else "Fix: "
    head = Text(label, style="bold green")
    head.append(fix.description or "—")
    out: list[RenderableType] = [head]
    if fix.code:
        language = (fix.language or "text").lower()
        out.append(Syntax(fix.code, "text" if language in ("", "text", "none") else language, word_wrap=True,
                          background_color="default"))
    return out


@render.register
def _diagnosis(result: AgentDiagnosis, now: float) -> RenderableType:
    agent = result.agent
    parts: list[RenderableType] = [
        heading(f"Agent {agent.agent_id}", f"last seen {timefmt.both(agent.last_seen, now)}"),
        *_health_lines(result.health),
        Text(
            f"Runs: {result.runs_total} processed · {result.failing_runs} with failures · {result.clean_runs} clean"
            f" · {agent.signal_count} signals ({agent.critical_count} critical, {agent.high_count} high)"
        ),
    ]
    if result.breakdown:
        tbl = table("!FAILURE TYPE", "WORST", ">SIGNALS", ">RUNS", ">% OF RUNS", "SYSTEMIC", title="Failure breakdown")
        for row in result.breakdown:
            tbl.add_row(
                t(row.failure_type), sev(row.worst_severity), t(row.signals), t(row.runs_affected),
                t(f"{row.pct_of_runs:.1f}%"), t("yes" if row.is_systemic else "no", "bold red" if row.is_systemic else "dim"),
            )
        parts.append(tbl)
    else:
        parts.append(Text("No failure signals recorded for this agent.", style="green"))
    if result.newest_signals:
        parts.append(Text("Newest signals", style="bold"))
        for digest in result.newest_signals:
            sig = digest.signal
            line = Text(f"#{sig.id} ")
            line.append_text(sev(sig.severity))
            line.append(f" {sig.failure_type}", style="bold")
            line.append(f"  run {sig.run_id[:12]}  {timefmt.short(sig.detected_at, now)}", style="dim")
            parts.append(line)
            if sig.title:
                parts.append(Text(f"   {sig.title}"))
            if digest.first_fix is not None and digest.first_fix.description:
                fix = Text("   fix: ", style="green")
                fix.append(digest.first_fix.description)
                parts.append(fix)
    parts += notes(result.notes)
    if result.next_steps:
        parts.append(Text("Next", style="bold"))
        parts += [Text(f"  {step}") for step in result.next_steps]
    return Group(*parts)


@render.register
def _patterns(result: Patterns, now: float) -> RenderableType:
    parts: list[RenderableType] = [
        heading(
            f"Patterns for {result.agent_id}",
            (f"{result.total_runs} runs in the last {result.window_days} days" if result.total_runs is not None
             else f"last {result.window_days} days") + "; systemic = ≥10% of runs"
            + ("; computed by dunetrace-cli" if result.source == "client" else ""),
        )
    ]
    if not result.patterns:
        parts.append(Text("No failure patterns in the window.", style="green"))
    else:
        tbl = table("!FAILURE TYPE", "KIND", ">RUNS", ">RATE", "WORST DAY", f"!TREND ({result.trend_days}d)", "LAST SEEN (UTC)")
        for row in result.patterns:
            worst = "—" if row.worst_day is None else f"{row.worst_day} {pct(row.worst_day_rate)}"
            tbl.add_row(
                t(row.failure_type),
                t("systemic" if row.is_systemic else "one-off", "bold red" if row.is_systemic else "dim"),
                t(f"{row.affected_runs}/{row.total_runs}"),
                t(pct(row.rate, 1)),
                t(worst),
                t(sparkline(p.rate for p in row.trend)),
                t(timefmt.short(row.last_seen, now)),
            )
        parts.append(tbl)
    if result.hot_inputs:
        tbl = table("INPUT HASH", "FAILURE TYPE", ">TRIGGERED", ">RATE", title="Inputs that fail ≥50% of the time")
        for p in result.hot_inputs:
            tbl.add_row(t(p.input_hash), t(p.failure_type), t(f"{p.triggered_count}/{p.total_runs}"), t(pct(p.rate)))
        parts.append(tbl)
    if result.versions:
        tbl = table("VERSION", ">RUNS", ">WITH SIGNALS", ">RATE", "LAST SEEN", title="Agent versions")
        for v in result.versions:
            tbl.add_row(t(v.agent_version), t(v.run_count), t(v.runs_with_signals), t(pct(v.signal_rate, 1)),
                        t(timefmt.short(v.last_seen, now)))
        parts.append(tbl)
    parts += notes(result.notes)
    return Group(*parts)


@render.register
def _runs(result: RunList, now: float) -> RenderableType:
    label = {"all": "runs", "failing": "failing runs", "clean": "clean runs"}[result.filter]
    if not result.runs:
        return Text(f"No {label} for {result.agent_id}.")
    tbl = table("!RUN", "VERSION", "STARTED (UTC)", ">DURATION", ">STEPS", ">TOKENS", "EXIT", ">SIGNALS")
    for run in result.runs:
        tbl.add_row(
            t(run.run_id[:12], "bold"),
            t(run.agent_version),
            t(timefmt.short(run.started_at, now)),
            t(timefmt.duration(run.duration_s)),
            t(run.step_count),
            t(run.total_tokens),
            t(run.exit_reason, "red" if run.exit_reason in ("run.errored", "stalled") else ""),
            t(run.signal_count, "red" if run.signal_count else "dim"),
        )
    footer = f"{len(result.runs)} of {result.total} {label}"
    if result.more:
        footer += f" · more: --limit {min(result.total, result.limit * 5)}"
    return Group(tbl, Text(footer + " · inspect: dunetrace run RUN", style="dim"))


@render.register
def _run_view(result: RunView, now: float) -> RenderableType:
    run = result.run
    parts: list[RenderableType] = [
        heading(f"Run {run.run_id}", f"agent {run.agent_id} · version {run.agent_version}"),
        Text(
            f"Started {timefmt.both(run.started_at, now)} · took {timefmt.duration(run.duration_s)} · "
            f"{run.step_count} steps · {len(run.events)} events · exit {run.exit_reason or '—'}"
            + (f" ({result.sdk_exit_reason})" if result.sdk_exit_reason else "")
        ),
        Text(
            f"Tokens: {result.prompt_tokens} prompt + {result.completion_tokens} completion"
            + (f" · server total {run.total_tokens}" if run.total_tokens is not None else "")
            + (f" · ${run.cost_usd:.6f}" if run.cost_usd is not None else "")
        ),
    ]
    if result.error:
        parts.append(Text(f"Error: {result.error}", style="red"))
    if run.signals:
        tbl = table(">ID", "SEVERITY", "FAILURE TYPE", ">STEP", ">CONF", "TITLE", title="Signals")
        for s in run.signals:
            tbl.add_row(t(s.id), sev(s.severity), t(s.failure_type), t(s.step_index),
                        t("—" if s.confidence is None else f"{s.confidence:.2f}"), t(s.title))
        parts.append(tbl)
    else:
        parts.append(Text("No signals on this run.", style="green"))
    if result.tool_calls:
        tbl = table(">STEP", "TOOL", "RESULT", ">LATENCY", "ERROR / ARGS", title="Tool calls")
        for c in result.tool_calls:
            outcome = t("ok", "green") if c.success else t("failed", "bold red") if c.success is False else t("no response", "yellow")
            tbl.add_row(t(c.step_index), t(c.tool_name), outcome,
                        t("—" if c.latency_ms is None else f"{c.latency_ms:.0f}ms"), t(c.error or c.args, "dim"))
        parts.append(tbl)
    if result.llm_calls:
        tbl = table(">STEP", "MODEL", ">PROMPT", ">COMPLETION", ">LATENCY", "FINISH", title="LLM calls")
        for c in result.llm_calls:
            prompt = "—" if c.prompt_tokens is None else f"{c.prompt_tokens}{'~' if c.prompt_tokens_estimated else ''}"
            tbl.add_row(t(c.step_index), t(c.model), t(prompt), t(c.completion_tokens),
                        t("—" if c.latency_ms is None else f"{c.latency_ms:.0f}ms"),
                        t(c.finish_reason if c.responded else "no response"))
        parts.append(tbl)
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


def _signal_row(tbl: Table, s: Signal, now: float, show_agent: bool) -> None:
    cells = [t(s.id), sev(s.severity), t(s.failure_type)]
    if show_agent:
        cells += [t(s.agent_id), t(s.run_id[:12])]
    else:
        cells += [t(s.run_id[:12]), t(s.step_index), t("—" if s.confidence is None else f"{s.confidence:.2f}")]
    cells.append(t(timefmt.short(s.detected_at, now)))
    tbl.add_row(*cells)


@render.register
def _signal_search(result: SignalSearch, now: float) -> RenderableType:
    filters = [f for f in (
        f"agent {result.agent_id}" if result.agent_id else
        "all agents" if result.agents_scanned is None else f"all {result.agents_scanned} agents",
        f"severity {result.severity}" if result.severity else "",
        f"type {result.failure_type}" if result.failure_type else "",
        f"since {timefmt.absolute(result.since)}" if result.since else "",
    ) if f]
    if not result.signals:
        return Text(f"No signals match ({', '.join(filters)}).")
    show_agent = result.agent_id is None
    columns = [">!ID", "SEVERITY", "!FAILURE TYPE"] + (["!AGENT", "!RUN"] if show_agent else ["!RUN", ">STEP", ">CONF"])
    columns.append("DETECTED (UTC)")
    tbl = table(*columns)
    for s in result.signals:
        _signal_row(tbl, s, now, show_agent)
    footer = f"{len(result.signals)} of {result.total_matched} signals ({', '.join(filters)})"
    if result.total_matched > len(result.signals):
        footer += f" · more: --limit {min(result.total_matched, 500)}"
    return Group(tbl, Text(footer + " · fix: dunetrace signal ID", style="dim"))


@render.register
def _signal_view(result: SignalView, now: float) -> RenderableType:
    s = result.signal
    head = Text(f"Signal #{s.id} ")
    head.append_text(sev(s.severity))
    head.append(f" {s.failure_type}", style="bold")
    parts: list[RenderableType] = [
        head,
        Text(s.title or s.failure_type, style="bold"),
        Text(
            f"agent {s.agent_id} · run {s.run_id} · step {s.step_index} · confidence "
            + ("—" if s.confidence is None else f"{s.confidence:.2f}")
            + f" · detected {timefmt.both(s.detected_at, now)}",
            style="dim",
        ),
    ]
    if s.what:
        parts += [Text("What happened", style="bold"), t(s.what)]
    if s.why_it_matters:
        parts += [Text("Impact", style="bold"), t(s.why_it_matters)]
    if result.detector and not s.why_it_matters:
        parts += [Text("What this detector catches", style="bold"), t(result.detector.get("catches"))]
    parts.append(Text("Evidence (agent data: untrusted)", style="bold"))
    if s.evidence_summary:
        parts.append(t(s.evidence_summary))
    if s.evidence:
        parts.append(Syntax(json.dumps(s.evidence, indent=2, ensure_ascii=False, sort_keys=True), "json",
                            word_wrap=True, background_color="default"))
    if s.suggested_fixes:
        for index, fix in enumerate(s.suggested_fixes, 1):
            parts += _fix_block(fix, index=index)
    elif result.detector and result.detector.get("typical_fix"):
        parts += [Text("Typical fix", style="bold green"), t(result.detector.get("typical_fix"))]
    parts.append(Text(f"Run: dunetrace run {s.run_id[:12]}", style="dim"))
    return Group(*parts)


@render.register
def _tokens(result: TokenStats, now: float) -> RenderableType:
    parts: list[RenderableType] = [heading(f"Tokens for {result.agent_id}",
                                           "computed by dunetrace-cli" if result.source == "client" else "")]
    names = [n for n in ("1d", "7d", "30d") if n in result.windows]
    windows = [result.windows[n] for n in names]

    def num(value: int | None) -> str:
        return "—" if value is None else f"{value:,}"

    def usd(value: float | None) -> str:
        return "unknown" if value is None else f"${value:.4f}"

    rows: list[tuple[str, list[str]]] = [
        ("runs", [num(w.run_count) for w in windows]),
        ("total tokens", [num(w.total_tokens) for w in windows]),
        ("  prompt", [num(w.prompt_tokens) for w in windows]),
        ("  completion", [num(w.completion_tokens) for w in windows]),
        ("cost", [usd(w.total_cost_usd) for w in windows]),
        ("failing runs", [num(w.failed_run_count) for w in windows]),
        ("  their tokens", [num(w.failed_run_tokens) for w in windows]),
        ("  their cost", [usd(w.failed_run_cost_usd) + ("" if w.failed_pct is None else f" ({pct(w.failed_pct)})")
                          for w in windows]),
    ]
    if any(w.excess_tokens is not None for w in windows):
        rows.append(("excess tokens (above baseline)", [num(w.excess_tokens) for w in windows]))
        rows.append(("  excess cost", [usd(w.excess_cost_usd) for w in windows]))
    if any(w.projected_monthly_excess_cost_usd is not None for w in windows):
        rows.append(("projected monthly excess", [usd(w.projected_monthly_excess_cost_usd) for w in windows]))
    tbl = table("", *[f">{n}" for n in names])
    for label, values in rows:
        tbl.add_row(t(label, "bold" if not label.startswith(" ") else ""), *[t(v) for v in values])
    parts.append(tbl)
    if result.waste_by_failure_type:
        waste = table("!FAILURE TYPE", ">RUNS", ">TOKENS", ">COST", title="Spend on runs with each failure type (30 days)")
        for w in result.waste_by_failure_type:
            waste.add_row(t(w.failure_type), t(w.affected_runs), t(f"{w.wasted_tokens:,}"),
                          t("unknown" if w.wasted_cost_usd is None else f"${w.wasted_cost_usd:.4f}"))
        parts.append(waste)
    parts += notes(result.notes)
    return Group(*parts)


@render.register
def _comparison(result: RunComparison, now: float) -> RenderableType:
    a, b = result.left, result.right
    tbl = table("", "RUN 1", "RUN 2")
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
    return Group(tbl, *[Text(f"• {d}") for d in result.differences])


def render_markdown_doc(markdown: str) -> RenderableType:
    """Our own packaged markdown (guides): trusted, rendered as markdown."""
    return Markdown(markdown)
