"""Parameters, declared once for both faces, and the one parser for each.

A :class:`Param` describes an argument of a registry operation: the CLI option or argument and
the MCP input-schema property are both generated from it, and its ``parse`` function turns the
raw value into what the query takes, with the same clock on both faces, before any request.
Importing this module is cheap (no pydantic, httpx, rich or typer).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dunetrace_cli.errors import UsageError

REQUIRED: Any = ...
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")

_SINCE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class Param:
    """One argument of an operation, for the CLI (Typer) and MCP (input schema) alike."""

    name: str  # the MCP argument name (upstream's spelling); the CLI derives its flag from `flag`
    type: type
    help: str
    default: Any = REQUIRED
    dest: str | None = None  # the query's keyword (defaults to name); two params may feed one dest
    faces: str = "both"  # "both" | "cli" | "mcp"
    flag: str | None = None  # CLI option, e.g. "--limit"; None: a positional argument
    short: str | None = None
    metavar: str | None = None
    ge: float | None = None
    le: float | None = None
    mcp_le: float | None = None  # MCP: larger values are capped to this, with a note (not refused)
    mcp_default: Any = None  # MCP default when it differs from the CLI's (None: same)
    choices: tuple[str, ...] | None = None
    case_insensitive: bool = False
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    complete: str | None = None  # completion source: agents, runs, severities, failure_types, frameworks, ...
    parse: Callable[[Any, float], Any] | None = None  # (raw, now) -> query value; raises UsageError
    multiple: bool = False  # CLI: the argument/option takes several values (a list)
    mcp_help: str | None = None  # MCP description when the CLI's wording names shell commands or flags

    @property
    def target(self) -> str:
        return self.dest or self.name

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def on_cli(self) -> bool:
        return self.faces in ("both", "cli")

    @property
    def on_mcp(self) -> bool:
        return self.faces in ("both", "mcp")

    def help_for(self, face: str) -> str:
        return self.mcp_help if face == "mcp" and self.mcp_help else self.help

    def label(self, face: str) -> str:
        """How a user of ``face`` names this parameter in a sentence."""
        if face == "cli":
            return self.flag or (self.metavar or self.name.upper())
        return self.name

    def value(self, raw: Any, now: float) -> Any:
        """The query value for ``raw`` (blank strings count as not given)."""
        if isinstance(raw, str) and not raw.strip() and not self.required:
            raw = None
        if self.parse is not None and raw is not None:
            return self.parse(raw, now)
        return raw


# --------------------------------------------------------------------------- parsers


def normalize_severity(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    upper = str(value).strip().upper()
    if upper not in SEVERITIES:
        raise UsageError(f"invalid severity '{value}'. Valid: {', '.join(SEVERITIES)} (any case).")
    return upper


def normalize_failure_type(value: str | None) -> str | None:
    """A known failure type in the server's spelling, or a did-you-mean UsageError."""
    from dunetrace_cli.domain import failure_types as ft

    if value is None or value == "":
        return None
    name = ft.canonical(str(value))
    if ft.is_known(name):
        return name
    near = ft.suggestions(name)
    hint = f" Did you mean {' or '.join(near)}?" if near else ""
    raise UsageError(
        f"unknown failure type '{value}'.{hint} Known types are the detector names (TOOL_LOOP, RETRY_STORM, "
        "CONTEXT_BLOAT, ...), TASK_COMPLETION and CUSTOM_*/VOICE_* names."
    )


def parse_since(text: str | None, now: float) -> float | None:
    """'24h', '90m', '7d', '2w', '30s', or an ISO date/time (UTC if no zone) -> epoch cutoff."""
    if text is None or text == "":
        return None
    match = _SINCE_RE.match(text)
    if match:
        amount = float(match.group(1))
        if amount <= 0:
            raise UsageError(f"invalid --since '{text}': the window must be longer than zero.")
        return now - amount * _UNIT_SECONDS[match.group(2).lower()]
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"invalid --since '{text}': use a window like 24h, 90m, 7d, 2w or an ISO date like 2026-11-20."
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def since_hours(hours: int | None, now: float) -> float | None:
    """MCP's ``since_hours`` -> the same epoch cutoff ``--since Nh`` gives."""
    return None if hours is None else now - float(hours) * 3600


def _severity(value: Any, _now: float) -> str | None:
    return normalize_severity(value)


def _failure_type(value: Any, _now: float) -> str | None:
    return normalize_failure_type(value)


def _since(value: Any, now: float) -> float | None:
    return parse_since(value, now)


def _since_hours(value: Any, now: float) -> float | None:
    return since_hours(value, now)


def _strip(value: Any, _now: float) -> Any:
    return value.strip() if isinstance(value, str) else value


# --------------------------------------------------------------------------- shared specs

AGENT_ARG = Param(
    "agent_id", str, "Agent id, as listed by `dunetrace agents`.", metavar="AGENT", complete="agents",
    min_length=1, max_length=256, parse=_strip, mcp_help="Agent id (list_agents).",
)
AGENT_OPTIONAL_ARG = Param(
    "agent_id", str, "Agent id; omit to search every agent.", default=None, metavar="AGENT", complete="agents",
    max_length=256, parse=_strip, mcp_help="Only this agent (faster).",
)
AGENT_OPT = Param(
    "agent_id", str, "Limit the lookup to this agent (faster on big orgs).", default=None, flag="--agent", short="-a",
    complete="agents", max_length=256, parse=_strip, mcp_help="Only this agent (faster).",
)
SEVERITY = Param(
    "severity", str, "Only this severity: CRITICAL, HIGH, MEDIUM or LOW (any case).", default=None,
    mcp_help="Only this severity (case-insensitive).",
    flag="--severity", short="-s", choices=SEVERITIES, case_insensitive=True, complete="severities", parse=_severity,
)
FAILURE_TYPE = Param(
    "failure_type", str, "Failure type, e.g. TOOL_LOOP (any case; checked before any request).", default=None,
    mcp_help="Detector name, e.g. TOOL_LOOP or retry_storm (case-insensitive).",
    flag="--type", short="-t", complete="failure_types", max_length=64, parse=_failure_type,
)
SINCE = Param(
    "since", str, "Only newer than this: 24h, 90m, 7d, 2w, or an ISO date.", default=None, flag="--since",
    faces="cli", parse=_since,
)
SINCE_HOURS = Param(
    "since_hours", int, "Only signals from the last N hours.", default=None, dest="since", faces="mcp",
    ge=1, le=8760, parse=_since_hours,
)
RUN_ID = Param(
    "run_id", str, "Run id, or any unique prefix of it (e.g. 019e2314-6b7).", metavar="RUN_ID", complete="runs",
    min_length=4, max_length=256, parse=_strip,
    mcp_help="Run id or a unique prefix (4+ characters).",
)
SIGNAL_ID = Param("signal_id", int, "Signal id (#N in other outputs), e.g. 518.", metavar="SIGNAL_ID", ge=1,
                  mcp_help="Signal id (#N in other tools' output).")


FOLLOW = Param(
    "follow", bool, "Keep polling and print only new rows as they arrive (one JSON object per line with --json; "
    "Ctrl-C stops).", default=False, flag="--follow", faces="cli",
)
INTERVAL = Param(
    "interval", float, "Seconds between polls with --follow.", default=5.0, flag="--interval", faces="cli",
    ge=0.5, le=3600,
)


def limit(default: int, maximum: int, *, what: str = "rows", mcp_max: int | None = None,
          mcp_default: int | None = None) -> Param:
    """The ``--limit/-n`` option (MCP ``limit``), 1..maximum; MCP may cap lower, with a note."""
    return Param(
        "limit", int, f"How many {what} to show (1-{maximum}).", default=default, flag="--limit", short="-n",
        ge=1, le=maximum, mcp_le=mcp_max, mcp_default=mcp_default,
        mcp_help=(f"{what.capitalize()} to return (1-{mcp_max}; larger values are capped to {mcp_max})."
                  if mcp_max else f"{what.capitalize()} to return (1-{maximum})."),
    )

OFFSET = Param("offset", int, "", default=None, faces="mcp", ge=0)
"""MCP paging (issue 13): a list tool answers rows ``offset`` .. ``offset + limit`` of the same ordering, with
the total, the next page's offset and the call for it. MCP only: the CLI prints every row asked for
(``--limit``). No description in the catalog (it is context in every session): the name and every page's
next step (``search_signals(..., offset=30)``) say what it does."""
