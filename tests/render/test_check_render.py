"""The gate's renderers keep hostile server text inert: terminal escapes, bidi, pipes, XML-illegal bytes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from rich.console import Console

from dunetrace_cli.models.check import AgentCheck, CheckResult, CheckRules, RuleResult
from dunetrace_cli.render.check_junit import render_junit
from dunetrace_cli.render.check_markdown import render_check_markdown
from dunetrace_cli.render.check_table import render_check

EVIL = "evil\x1b[2J\u202eagent|`x`\x00"


def _result() -> CheckResult:
    rule = RuleResult(rule="no_systemic", verdict="fail", observed=f"{EVIL} 50%", threshold="none systemic",
                      detail="bad\x07text", offenders=[{"failure_type": EVIL}])
    ok = RuleResult(rule="min_score", verdict="pass", observed="90", threshold="≥ 50")
    return CheckResult(
        verdict="fail", exit_code=1, agents=[AgentCheck(agent_id=EVIL, verdict="fail", rules=[rule, ok])],
        rules=CheckRules(no_systemic=True, min_score=50), checked_at=1795524647.0,
    )


def test_table_escapes_controls() -> None:
    console = Console(width=120, record=True, markup=False, color_system=None)
    console.print(render_check(_result(), 1795524647.0))
    text = console.export_text()
    assert "\x1b" not in text and "\u202e" not in text and "\x00" not in text
    assert "\\x1b[2J" in text and "\\u202e" in text


def test_markdown_cells_cannot_break_the_table() -> None:
    md = render_check_markdown(_result())
    assert "\x1b" not in md and "\u202e" not in md
    row = next(line for line in md.splitlines() if line.startswith("| systemic failures"))
    assert row.count(" | ") == 3  # the pipe inside the observed text is escaped
    assert "\\|" in row


def test_junit_is_well_formed_with_hostile_text() -> None:
    xml = render_junit(_result())
    root = ET.fromstring(xml)  # would raise on a raw NUL or ESC
    case = root.find("testsuite/testcase[@name='no_systemic']")
    assert case is not None and case.find("failure") is not None
    assert "\\x1b" in (case.find("failure").get("message") or "")  # type: ignore[union-attr]
    assert root.get("failures") == "1" and root.get("tests") == "2"
