"""The deploy gate as Markdown: a PR comment (``--format markdown``) and the ``check_agent`` MCP text."""

from __future__ import annotations

from dunetrace_cli.models.check import CheckResult
from dunetrace_cli.render.check_table import RULE_LABEL
from dunetrace_cli.render.markdown import cell, code
from dunetrace_cli.render.sanitize import clean

MARK = {"pass": "✅ pass", "fail": "❌ fail", "no_data": "⚠️ no data", "error": "⛔ error"}
HEAD = {
    "pass": "✅ Deploy gate passed",
    "fail": "❌ Deploy gate failed",
    "error": "⛔ Deploy gate could not decide",
}


def render_check_markdown(result: CheckResult, *, now: float | None = None, face: str = "mcp", **_: object) -> str:
    """``face="mcp"`` phrases next steps as tool calls (the MCP text), ``"cli"`` as commands (a PR comment)."""
    agents = ", ".join(code(clean(a.agent_id, newlines=False), 80) for a in result.agents)
    lines = [f"### {HEAD[result.verdict]}: {agents}", ""]
    many = len(result.agents) > 1
    header = (["agent"] if many else []) + ["rule", "observed", "threshold", "verdict"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for agent in result.agents:
        for rule in agent.rules:
            row = [code(clean(agent.agent_id, newlines=False), 60)] if many else []
            row += [
                RULE_LABEL.get(rule.rule, rule.rule),
                cell(clean(rule.observed, newlines=False)),
                cell(clean(rule.threshold, newlines=False)),
                MARK.get(rule.verdict, rule.verdict),
            ]
            lines.append("| " + " | ".join(row) + " |")
    notes = [
        f"- {RULE_LABEL.get(r.rule, r.rule)}{' (' + clean(a.agent_id, newlines=False) + ')' if many else ''}: "
        f"{cell(clean(r.detail, newlines=False), 300)}"
        for a in result.agents for r in a.rules if r.verdict != "pass" and r.detail
    ]
    if notes:
        lines += [""] + notes
    if result.next_steps:
        from dunetrace_cli.registry import cli_line, mcp_call

        lines.append("")
        for step in result.next_steps:
            how = f"`{clean(cli_line(step), newlines=False)}`" if face == "cli" else f"call {clean(mcp_call(step), newlines=False)}"
            lines.append(f"Next: {how} — {step.reason}")
    window = f"window {result.rules.window}" + (f" (since {result.rules.since_iso})" if result.rules.since_iso else "")
    lines += ["", f"<sub>dunetrace check · {window} · exit {result.exit_code}</sub>"]
    return "\n".join(lines) + "\n"
