"""The deploy gate as a table for people: one row per agent and rule (rule, observed, threshold, verdict)."""

from __future__ import annotations

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dunetrace_cli.models.check import CheckResult
from dunetrace_cli.render.sanitize import clean

VERDICT_STYLE = {"pass": "bold green", "fail": "bold red", "no_data": "bold yellow", "error": "bold magenta"}
VERDICT_TEXT = {"pass": "PASS", "fail": "FAIL", "no_data": "NO DATA", "error": "ERROR"}
RULE_LABEL = {
    "min_score": "health score",
    "no_systemic": "systemic failures",
    "max_severity": "worst severity",
    "max_failure_rate": "failure rate",
    "no_regression": "regression",
    "fixes_verified": "fixes verified",
}


def verdict_text(verdict: str) -> Text:
    return Text(VERDICT_TEXT.get(verdict, verdict.upper()), style=VERDICT_STYLE.get(verdict, ""))


def summary_line(result: CheckResult) -> str:
    agents = len(result.agents)
    failed = [a.agent_id for a in result.agents if a.verdict != "pass"]
    if result.verdict == "pass":
        return f"gate passed: {agents} agent{'s' if agents != 1 else ''}, every rule holds."
    if result.verdict == "fail":
        names = ", ".join(clean(n, newlines=False) for n in failed)
        return f"gate failed for {names}."
    return f"gate undecided (exit {result.exit_code}): a rule's figure could not be obtained."


def render_check(result: CheckResult, now: float) -> RenderableType:
    """One block per agent: a heading with its verdict, then rule, observed, threshold, verdict."""
    parts: list[RenderableType] = []
    for agent in result.agents:
        heading = Text(f"check {clean(agent.agent_id, newlines=False)}  ", style="bold")
        heading.append_text(verdict_text(agent.verdict))
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        table.add_column("rule", no_wrap=True)
        table.add_column("observed", ratio=3)
        table.add_column("threshold", ratio=2)
        table.add_column("verdict", no_wrap=True)
        for rule in agent.rules:
            table.add_row(
                Text(RULE_LABEL.get(rule.rule, rule.rule)),
                Text(clean(rule.observed, newlines=False)),
                Text(clean(rule.threshold, newlines=False)),
                verdict_text(rule.verdict),
            )
        parts += [heading, table]
        for rule in agent.rules:
            if rule.verdict != "pass" and rule.detail:
                label = RULE_LABEL.get(rule.rule, rule.rule)
                parts.append(Text(f"  {label}: {clean(rule.detail, newlines=False)}", style="dim"))
        parts.append(Text(""))
    parts.append(Text(summary_line(result), style=VERDICT_STYLE.get(result.verdict, "")))
    if result.next_steps:
        from dunetrace_cli.registry import cli_line

        parts += [Text(f"next: {clean(cli_line(s), newlines=False)}  ({s.reason})", style="dim") for s in result.next_steps]
    return Group(*parts)
