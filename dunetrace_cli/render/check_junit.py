"""The deploy gate as JUnit XML, for CI systems that show test reports (GitHub, GitLab, Jenkins).

One ``<testsuite>`` per agent, one ``<testcase>`` per rule: ``fail`` and ``no_data`` are
``<failure>``, ``error`` is ``<error>`` (the gate could not decide), ``pass`` is an empty testcase.
Text from the server goes through the sanitizer (XML 1.0 cannot carry control characters at all).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from dunetrace_cli.models.check import CheckResult
from dunetrace_cli.render.sanitize import clean


def render_junit(result: CheckResult) -> str:
    stamp = datetime.fromtimestamp(result.checked_at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    root = ET.Element("testsuites", name="dunetrace check")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for agent in result.agents:
        agent_id = clean(agent.agent_id, newlines=False)
        failures = sum(1 for r in agent.rules if r.verdict in ("fail", "no_data"))
        errors = sum(1 for r in agent.rules if r.verdict == "error")
        suite = ET.SubElement(
            root, "testsuite", name=f"dunetrace check {agent_id}", tests=str(len(agent.rules)),
            failures=str(failures), errors=str(errors), skipped="0", time="0", timestamp=stamp,
        )
        for rule in agent.rules:
            case = ET.SubElement(suite, "testcase", classname=f"dunetrace.check.{agent_id}", name=rule.rule, time="0")
            observed = clean(rule.observed, newlines=False)
            threshold = clean(rule.threshold, newlines=False)
            body = f"observed: {observed}\nthreshold: {threshold}"
            if rule.detail:
                body += f"\n{clean(rule.detail, newlines=False)}"
            if rule.verdict in ("fail", "no_data"):
                failure = ET.SubElement(case, "failure", message=f"{observed} (threshold {threshold})", type=rule.verdict)
                failure.text = body
            elif rule.verdict == "error":
                error = ET.SubElement(case, "error", message=clean(rule.detail or "unavailable", newlines=False), type="error")
                error.text = body
            else:
                out = ET.SubElement(case, "system-out")
                out.text = body
        totals["tests"] += len(agent.rules)
        totals["failures"] += failures
        totals["errors"] += errors
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
