"""`dunetrace tokens AGENT`: tokens and cost per window, spend on failing runs, by failure type."""

from __future__ import annotations

from rich.console import Group, RenderableType

from dunetrace_cli.models.tokens import TokenStats
from dunetrace_cli.render.sanitize import clean
from dunetrace_cli.render.tables._base import heading, notes, pct, t
from dunetrace_cli.render.tables._fit import Col, FitTable


def _num(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _usd(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.4f}"


def render(result: TokenStats, now: float) -> RenderableType:
    parts: list[RenderableType] = [heading(f"Tokens for {clean(result.agent_id, newlines=False)}",
                                           "computed by dunetrace-cli" if result.source == "client" else "")]
    names = [n for n in ("1d", "7d", "30d") if n in result.windows]
    windows = [result.windows[n] for n in names]
    rows: list[tuple[str, list[str]]] = [
        ("runs", [_num(w.run_count) for w in windows]),
        ("total tokens", [_num(w.total_tokens) for w in windows]),
        ("  prompt", [_num(w.prompt_tokens) for w in windows]),
        ("  completion", [_num(w.completion_tokens) for w in windows]),
        ("cost", [_usd(w.total_cost_usd) for w in windows]),
        ("failing runs", [_num(w.failed_run_count) for w in windows]),
        ("  their tokens", [_num(w.failed_run_tokens) for w in windows]),
        ("  their cost", [_usd(w.failed_run_cost_usd) + ("" if w.failed_pct is None else f" ({pct(w.failed_pct)})")
                          for w in windows]),
    ]
    if any(w.excess_tokens is not None for w in windows):
        rows.append(("excess tokens (above baseline)", [_num(w.excess_tokens) for w in windows]))
        rows.append(("  excess cost", [_usd(w.excess_cost_usd) for w in windows]))
    if any(w.projected_monthly_excess_cost_usd is not None for w in windows):
        rows.append(("projected monthly excess", [_usd(w.projected_monthly_excess_cost_usd) for w in windows]))
    tbl = FitTable([Col("label", ""), *[Col(n, n, "right") for n in names]])
    for label, values in rows:
        tbl.add_row(t(label, "" if label.startswith(" ") else "bold"), *[t(v) for v in values])
    parts.append(tbl)
    if result.waste_by_failure_type:
        waste = FitTable(
            [Col("type", "FAILURE TYPE", min_width=14), Col("runs", "RUNS", "right"), Col("tokens", "TOKENS", "right"),
             Col("cost", "COST", "right")],
            plan=[("shrink", "type")], title="Spend on runs with each failure type (30 days)",
        )
        for w in result.waste_by_failure_type:
            waste.add_row(t(w.failure_type), t(w.affected_runs), t(f"{w.wasted_tokens:,}"), t(_usd(w.wasted_cost_usd)))
        parts.append(waste)
    parts += notes(result.notes)
    return Group(*parts)
