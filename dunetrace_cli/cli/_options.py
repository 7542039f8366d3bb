"""Options declared once and shared by every command."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON (for scripts and jq).")]
AgentArg = Annotated[str, typer.Argument(help="Agent id, as listed by `dunetrace agents`.", show_default=False)]
AgentOpt = Annotated[
    Optional[str], typer.Option("--agent", "-a", help="Limit the lookup to this agent (faster on big orgs).")
]
SeverityOpt = Annotated[
    Optional[str], typer.Option("--severity", "-s", help="CRITICAL, HIGH, MEDIUM or LOW (any case).")
]
TypeOpt = Annotated[Optional[str], typer.Option("--type", "-t", help="Failure type, e.g. TOOL_LOOP (any case).")]
SinceOpt = Annotated[
    Optional[str], typer.Option("--since", help="Only newer than this: 24h, 90m, 7d, 2w, or an ISO date.")
]
