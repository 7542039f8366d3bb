"""`dunetrace doctor`: is everything set up? Settings and where they come from, the API, the local store,
the `dunetrace-mcp` script and the MCP clients on this machine. Exit 1 with the fix for each problem;
absent optional pieces (no local store, no MCP client) are notes. The key and URL passwords are never shown.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dunetrace_cli.cli._run import guarded, options
from dunetrace_cli.config import redact_url  # the one masking rule (a user name can be a token too)

if TYPE_CHECKING:
    from dunetrace_cli.cli.doctor_checks import Finding
    from dunetrace_cli.config import Settings

# agent-scoped routes newer servers have, probed for an agent id no one uses (200 when present)
PROBE_AGENT = "dunetrace-doctor-probe"
ROUTES = (
    ("org_signals", "/v1/signals", "org-wide signals"),
    ("org_runs", "/v1/runs", "org-wide runs"),
    ("health_score", f"/v1/agents/{PROBE_AGENT}/health-score", "health score"),
    ("token_stats", f"/v1/agents/{PROBE_AGENT}/token-stats", "token stats"),
    ("fixes", f"/v1/agents/{PROBE_AGENT}/fixes", "fixes"),
    ("issues", f"/v1/agents/{PROBE_AGENT}/issues", "issues"),
)


def register(app: typer.Typer) -> None:
    app.command("doctor", rich_help_panel="Set up")(doctor)


def doctor(
    ctx: typer.Context,
    json_: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Check the set-up: settings and their sources, the API, the key, the local store, MCP clients."""
    holder: dict[str, int] = {}

    def body() -> None:
        findings = collect(ctx)
        emit(findings, as_json=json_)
        holder["problems"] = sum(1 for f in findings if f.status == "problem")

    guarded(ctx, body, as_json=json_)
    if holder.get("problems"):
        raise typer.Exit(1)


def collect(ctx: typer.Context) -> list[Finding]:
    import asyncio

    from dunetrace_cli.cli.doctor_checks import Finding, check_clients, check_mcp_script, check_store
    from dunetrace_cli.config import load_settings
    from dunetrace_cli.errors import ConfigError, UsageError
    from dunetrace_cli.local.paths import default_db_path, resolve_db_path

    opts = options(ctx)
    findings: list[Finding] = []
    try:
        settings = load_settings(api_url=opts.api_url, timeout=opts.timeout, profile=opts.profile)
    except (ConfigError, UsageError) as exc:
        findings.append(Finding("settings", "config", "problem", exc.message, "fix the setting it names"))
        settings = None
    if settings is not None:
        findings += settings_findings(settings, ctx)
        if settings.is_local:
            findings += check_store(resolve_db_path(settings.api_url))
            findings.append(Finding("api", "api", "ok", "the embedded local store answers in-process (no server)"))
        else:
            findings += asyncio.run(api_findings(settings))
            findings += check_store(default_db_path())
    findings += check_mcp_script()
    findings += check_clients(Path.cwd())
    return findings


def settings_findings(settings: Settings, ctx: typer.Context) -> list[Finding]:
    import os

    from dunetrace_cli.cli.doctor_checks import Finding
    from dunetrace_cli.config import DEFAULTS, ConfigFile, EnvVars

    src = settings.sources
    out = [
        Finding("settings", "api_url", "ok", f"{redact_url(settings.api_url)} (from {src.get('api_url', '?')})"),
        Finding("settings", "api_key", "ok",
                "the dev default (dev-mode backends ignore it)" if settings.api_key == DEFAULTS["api_key"]
                else f"set (from {src.get('api_key', '?')}; never shown)"),
        Finding("settings", "timeout", "ok", f"{settings.timeout:g}s (from {src.get('timeout', '?')})"),
    ]
    if options(ctx).profile:
        where = "flag --profile"
    elif os.environ.get(EnvVars.PROFILE):
        where = f"env {EnvVars.PROFILE}"
    else:
        where = "default"
    path = settings.config_path
    cfg = ConfigFile.load(path) if path is not None and path.exists() else None
    if where == "default" and cfg is not None and cfg.active_profile:
        where = f"active_profile in {path}"
    out.append(Finding("settings", "profile", "ok", f"{settings.profile} (from {where})"))
    if path is None or not path.exists():
        out.append(Finding("settings", "config file", "note", f"none at {path} (optional)"))
    else:
        import stat

        loose = stat.S_IMODE(path.stat().st_mode) & 0o077
        holds_key = cfg is not None and any("api_key" in p for p in cfg.profiles.values())
        if loose and holds_key:
            out.append(Finding("settings", "config file", "problem", f"{path} holds an API key and is readable by others",
                               f"chmod 600 {path}"))
        else:
            out.append(Finding("settings", "config file", "ok", str(path)))
    return out


async def api_findings(settings: Settings) -> list[Finding]:
    from dunetrace_cli import clock
    from dunetrace_cli.cli.doctor_checks import Finding
    from dunetrace_cli.client import ApiClient
    from dunetrace_cli.errors import AuthError, DunetraceError

    url = redact_url(settings.api_url)
    out: list[Finding] = []
    async with ApiClient(settings, clock=clock.now) as client:
        try:
            health = await client.get("/health")
        except DunetraceError as exc:
            out.append(Finding("api", "reachable", "problem", _scrub(exc.message, settings),
                               "start the backend (docker compose up -d) or point DUNETRACE_API_URL at it"))
            return out
        version = health.get("version", "?") if isinstance(health, dict) else "?"
        db = health.get("db", "?") if isinstance(health, dict) else "?"
        out.append(Finding("api", "reachable", "ok", f"{url}: version {version}, db {db}"))
        if db != "ok":
            out.append(Finding("api", "database", "problem", f"the API reports its database as '{db}'",
                               "check the backend's database connection and logs"))
        try:
            body = await client.get("/v1/agents", {"limit": 1, "offset": 0})
            total = (body.get("page") or {}).get("total", 0) if isinstance(body, dict) else 0
            out.append(Finding("api", "key", "ok", f"accepted ({total} agents visible)"))
        except AuthError:
            out.append(Finding("api", "key", "problem", "the API rejected the key (HTTP 401/403)",
                               "printf '%s\\n' \"$KEY\" | dunetrace config set api_key -   (or set DUNETRACE_API_KEY)"))
            return out
        except DunetraceError as exc:
            out.append(Finding("api", "key", "problem", _scrub(exc.message, settings), "check the backend's logs"))
            return out
        have: list[str] = []
        lack: list[str] = []
        for feature, path, label in ROUTES:
            try:
                present = await client.has_route(feature, path) if path in ("/v1/signals", "/v1/runs") else (
                    await client.get_feature(feature, path) is not None)
            except DunetraceError:
                present = False
            (have if present else lack).append(label)
        generation = "latest" if "health score" in have else "March 2026"
        detail = f"{generation} generation; has {', '.join(have) or 'none of the newer routes'}"
        if lack:
            detail += f"; lacks {', '.join(lack)} (computed client-side where possible)"
        out.append(Finding("api", "routes", "ok", detail))
    return out


def _scrub(message: str, settings: Settings) -> str:
    """An error sentence with any URL password and the key taken out."""
    text = message.replace(settings.api_url, redact_url(settings.api_url))
    return text.replace(settings.api_key, "***") if settings.api_key else text


MARK = {"ok": "ok", "note": "note", "problem": "PROBLEM"}
STYLE = {"ok": "green", "note": "yellow", "problem": "bold red"}


def emit(findings: list[Finding], *, as_json: bool) -> None:
    if as_json:
        import json

        problems = sum(1 for f in findings if f.status == "problem")
        body = {"ok": problems == 0, "problems": problems, "checks": [f.as_dict() for f in findings]}
        sys.stdout.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
        return
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from dunetrace_cli.render.console import make_console
    from dunetrace_cli.render.sanitize import clean

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in ("area", "check", "status", "detail"):
        table.add_column(name, no_wrap=name != "detail", overflow="fold")
    for f in findings:
        table.add_row(Text(f.area), Text(clean(f.name, newlines=False)), Text(MARK[f.status], style=STYLE[f.status]),
                      Text(clean(f.detail, newlines=False)))
    out = make_console()
    out.print(table)
    fixes = [f for f in findings if f.status == "problem"]
    for f in fixes:
        out.print(Text(f"fix ({clean(f.name, newlines=False)}): {clean(f.fix or '', newlines=False)}", style="bold"))
    out.print(Text(f"{len(fixes)} problem{'s' if len(fixes) != 1 else ''} found." if fixes else "no problems found."))
