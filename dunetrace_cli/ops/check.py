"""The deploy gate as an MCP tool, ``check_agent``: "is it safe to deploy?".

The CLI face is the hand-written ``dunetrace check`` (cli/check.py: several agents, a rules file,
``--from``, JUnit output); both call :func:`dunetrace_cli.queries.check.check_agents`.
"""

from dunetrace_cli import params as P
from dunetrace_cli.params import Param
from dunetrace_cli.registry import Operation, register


def _severity(value: object, _now: float) -> str | None:
    return P.normalize_severity(None if value is None else str(value))


register(Operation(
    name="check", mcp="check_agent", title="Deploy gate",
    query="dunetrace_cli.queries.check:check_agent", model="dunetrace_cli.models.check:CheckResult",
    table="dunetrace_cli.render.check_table:render_check",
    markdown="dunetrace_cli.render.check_markdown:render_check_markdown", panel="Gate",
    params=(
        P.AGENT_ARG,
        Param("min_score", int, "Fail below this health score (0-100).", default=None, flag="--min-score", ge=0, le=100),
        Param("no_systemic", bool, "Fail if any failure type is systemic (>=10% of runs over 7 days).",
              default=False, flag="--no-systemic"),
        Param("systemic_types", str, "Only these failure types count for no_systemic (comma-separated).",
              default=None, flag="--systemic-type", max_length=1000),
        Param("max_severity", str, "Fail on any signal above this severity in the window (LOW, MEDIUM, HIGH).",
              default=None, flag="--max-severity", choices=P.SEVERITIES, case_insensitive=True, parse=_severity),
        P.SINCE,
        Param("since_hours", int, "The window for max_severity, max_failure_rate and fixes_verified, in hours "
              "(default 24).", default=None, dest="since", faces="mcp", ge=1, le=8760,
              parse=lambda v, now: P.since_hours(v, now)),
        Param("max_failure_rate", float, "Fail if more than this fraction of the window's runs have a signal "
              "(0.2 = 20%).", default=None, flag="--max-failure-rate", ge=0, le=1),
        Param("no_regression", bool, "Fail if the newest deploy or version raised the failure rate by more than "
              "15 points.", default=False, flag="--no-regression"),
        Param("fixes_verified", bool, "Fail unless every fix applied in the window is verified or likely fixed.",
              default=False, flag="--fixes-verified"),
    ),
    summary="Is it safe to deploy? Judge one agent against deploy-gate rules: pass, fail, or cannot decide.",
    description="Deploy gate for one agent: pass or fail against your rules (min health score, no systemic "
    "failures, max severity in a window, max failure rate, no regression since the newest deploy, fixes "
    "verified), each with observed value and threshold. Missing data fails; an error is never a pass.",
))
