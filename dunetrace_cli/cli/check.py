"""`dunetrace check AGENT...`: the deploy gate. Exit 0 pass, 1 fail, 2-5 when it cannot decide.

The rules come from flags, merged over a rules file kept next to the code (``dunetrace.toml``'s
``[check]`` table, or ``[tool.dunetrace.check]`` in pyproject.toml, found in the working directory
or a parent up to the repository root). ``--from events.jsonl`` ingests SDK events into a
throw-away local store first and gates on that, for eval jobs with no backend.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dunetrace_cli.cli._run import guarded, report_error, settings_for
from dunetrace_cli.cli.complete import source as complete_source

if TYPE_CHECKING:
    from dunetrace_cli.config import Settings
    from dunetrace_cli.models.check import CheckResult

FORMATS = ("table", "json", "junit", "markdown")
RULE_KEYS: dict[str, type | tuple[type, ...]] = {
    "agents": list, "min_score": int, "no_systemic": (bool, list), "max_severity": str, "since": str,
    "max_failure_rate": (str, int, float), "no_regression": bool, "fixes_verified": bool,
}
FILE_NAMES = ("dunetrace.toml", "pyproject.toml")


def register(app: typer.Typer) -> None:
    app.command("check", rich_help_panel="Gate")(check)


def check(
    ctx: typer.Context,
    agents: Annotated[
        list[str] | None, typer.Argument(help="Agent ids to gate (default: the rules file's agents).", show_default=False,
                                         metavar="AGENT", autocompletion=complete_source("agents"))
    ] = None,
    min_score: Annotated[
        int | None, typer.Option("--min-score", min=0, max=100, metavar="N", help="Fail below this health score (0-100).")
    ] = None,
    no_systemic: Annotated[
        bool, typer.Option("--no-systemic", help="Fail if any failure type is systemic (≥10% of runs over 7 days).")
    ] = False,
    systemic_types: Annotated[
        list[str] | None,
        typer.Option("--systemic-type", metavar="TYPE", help="Only these types count for --no-systemic (repeat or comma-separate)."),
    ] = None,
    max_severity: Annotated[
        str | None, typer.Option("--max-severity", metavar="S", help="Fail on any signal above S (LOW, MEDIUM, HIGH) in the window.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", metavar="WINDOW", help="The window for --max-severity, --max-failure-rate and --fixes-verified (default 24h).")
    ] = None,
    max_failure_rate: Annotated[
        str | None, typer.Option("--max-failure-rate", metavar="P", help="Fail if more than P of the window's runs have a signal: 20% or 0.2.")
    ] = None,
    no_regression: Annotated[
        bool, typer.Option("--no-regression", help="Fail if the newest deploy or version raised the failure rate by more than 15 points.")
    ] = False,
    fixes_verified: Annotated[
        bool, typer.Option("--fixes-verified", help="Fail unless every fix applied in the window is verified or likely fixed.")
    ] = False,
    rules_file: Annotated[
        Path | None, typer.Option("--rules", metavar="FILE", help="Rules file (default: dunetrace.toml or pyproject.toml here or above).")
    ] = None,
    no_rules_file: Annotated[bool, typer.Option("--no-rules-file", help="Ignore any rules file; flags only.")] = False,
    from_events: Annotated[
        list[Path] | None, typer.Option("--from", metavar="EVENTS", help="Ingest SDK JSONL into a temporary local store and gate on it.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-F", metavar="FORMAT", help="table, json, junit (CI test report) or markdown (PR comment).")] = "table",
    json_: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """The deploy gate: exit 0 if every agent passes every rule, 1 if not, 2-5 when it cannot decide."""
    as_json = json_ or fmt == "json"
    holder: dict[str, int] = {}

    def body() -> None:
        from dunetrace_cli import clock
        from dunetrace_cli.errors import UsageError

        if fmt.lower() not in FORMATS:
            raise UsageError(f"invalid --format '{fmt}'. Valid: {', '.join(FORMATS)}.")
        chosen = "json" if json_ else fmt.lower()
        now = clock.now()
        file_rules = {} if no_rules_file else load_rules_file(rules_file)
        flags: dict[str, Any] = {
            "min_score": min_score, "max_severity": max_severity, "since": since, "max_failure_rate": max_failure_rate,
        }
        merged = {**file_rules, **{k: v for k, v in flags.items() if v is not None}}
        if no_systemic or systemic_types:
            merged["no_systemic"] = list(systemic_types or []) or True
        if no_regression:
            merged["no_regression"] = True
        if fixes_verified:
            merged["fixes_verified"] = True
        targets = list(agents or []) or list(file_rules.get("agents") or [])
        if not targets:
            raise UsageError("give at least one agent to check, or list them under `agents` in the rules file.")
        result = run_check(ctx, targets, merged, now=now, events=from_events)
        emit_check(result, chosen, now)
        holder["code"] = result.exit_code

    guarded(ctx, body, as_json=as_json)
    code = holder.get("code", 0)
    if code:
        raise typer.Exit(code)


def run_check(
    ctx: typer.Context, agents: list[str], rules: dict[str, Any], *, now: float, events: list[Path] | None
) -> CheckResult:
    import asyncio

    from dunetrace_cli import clock
    from dunetrace_cli.client import ApiClient
    from dunetrace_cli.queries.check import build_rules, check_agents

    systemic = rules.get("no_systemic")
    parsed = build_rules(
        now=now, min_score=rules.get("min_score"), no_systemic=bool(systemic),
        systemic_types=systemic if isinstance(systemic, list) else None, max_severity=rules.get("max_severity"),
        window=rules.get("since"), max_failure_rate=rules.get("max_failure_rate"),
        no_regression=bool(rules.get("no_regression")), fixes_verified=bool(rules.get("fixes_verified")),
    )

    if not parsed.active():
        from dunetrace_cli.errors import UsageError

        raise UsageError(
            "no rules to check: give at least one of --min-score, --no-systemic, --max-severity, "
            "--max-failure-rate, --no-regression, --fixes-verified (or put them in dunetrace.toml)."
        )

    async def call(settings: Settings) -> CheckResult:
        async with ApiClient(settings, clock=clock.now) as client:
            return await check_agents(client, agent_ids=agents, rules=parsed)

    if not events:
        return asyncio.run(call(settings_for(ctx)))
    import tempfile

    with tempfile.TemporaryDirectory(prefix="dunetrace-check-") as tmp:  # mode 0700
        db = Path(tmp) / "local.db"
        ingest_events(db, events)
        return asyncio.run(call(_local_settings(ctx, db)))


def ingest_events(db: Path, files: list[Path]) -> None:
    """Load SDK JSONL into the store at ``db`` and analyse every run (unfinished ones as stalled)."""
    from dunetrace_cli.errors import UsageError
    from dunetrace_cli.local.load import ingest_sources
    from dunetrace_cli.local.store import open_store
    from dunetrace_cli.render.console import make_console
    from dunetrace_cli.render.sanitize import clean

    for path in files:
        if str(path) != "-" and not path.is_file():
            raise UsageError(f"no events file '{clean(str(path), newlines=False)}': pass the JSONL your agent's SDK wrote.")
    err = make_console(stderr=True)
    problems: list[str] = []
    store = open_store(db)
    try:
        summary = ingest_sources(
            store, [str(p) for p in files], report=lambda p: problems.append(str(p)), finalize_stalled=True,
        )
    finally:
        store.close()
    for line in problems[:5]:
        err.print(clean(line, newlines=False), soft_wrap=True)
    err.print(
        f"ingested {summary.events_new} events, {summary.runs_completed + summary.runs_stalled} runs analysed, "
        f"{summary.signals_found} signals ({summary.events_rejected} lines skipped).",
        soft_wrap=True,
    )
    if summary.events_new == 0:
        raise UsageError("the events file held no events to gate on: check that it is the SDK's JSONL output.")


def _local_settings(ctx: typer.Context, db: Path) -> Settings:
    from dataclasses import replace

    base = settings_for(ctx)
    return replace(base, api_url=f"local:{db}")


def emit_check(result: CheckResult, fmt: str, now: float) -> None:
    from dunetrace_cli.render.check_table import summary_line

    if fmt == "json":
        import json

        sys.stdout.write(json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n")
    elif fmt == "junit":
        from dunetrace_cli.render.check_junit import render_junit

        sys.stdout.write(render_junit(result))
    elif fmt == "markdown":
        from dunetrace_cli.render.check_markdown import render_check_markdown

        sys.stdout.write(render_check_markdown(result, now=now, face="cli"))
    else:
        from dunetrace_cli.render.check_table import render_check
        from dunetrace_cli.render.console import make_console

        make_console().print(render_check(result, now))
        return
    sys.stdout.flush()
    if result.verdict != "pass":
        report_error(summary_line(result), result.exit_code, prefix=True)


# ------------------------------------------------------------------ the rules file


def find_rules_file(start: Path | None = None) -> Path | None:
    """dunetrace.toml, else a pyproject.toml with [tool.dunetrace.check], in ``start`` or a parent
    (stopping at the repository root, the directory holding .git)."""
    import tomllib

    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "dunetrace.toml"
        if candidate.is_file():
            return candidate
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                data = {}
            if isinstance(data.get("tool", {}).get("dunetrace", {}).get("check"), dict):
                return pyproject
        if (folder / ".git").exists():
            break
    return None


def load_rules_file(path: Path | None) -> dict[str, Any]:
    """The rules in ``path`` (or the one found from the working directory), validated; {} if none."""
    import tomllib

    from dunetrace_cli.errors import ConfigError
    from dunetrace_cli.render.sanitize import clean

    explicit = path is not None
    found = path if path is not None else find_rules_file()
    if found is None:
        return {}
    shown = clean(str(found), newlines=False)
    try:
        data = tomllib.loads(found.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no rules file '{shown}': create it or drop --rules.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the rules file {shown} ({exc.__class__.__name__}).") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the rules file {shown} is not valid TOML ({exc}).") from None
    section = data.get("tool", {}).get("dunetrace", {}).get("check") if found.name == "pyproject.toml" else data.get("check")
    where = "[tool.dunetrace.check]" if found.name == "pyproject.toml" else "[check]"
    if section is None:
        if explicit:
            raise ConfigError(f"the rules file {shown} has no {where} table.")
        return {}
    if not isinstance(section, dict):
        raise ConfigError(f"{where} in {shown} must be a table.")
    rules: dict[str, Any] = {}
    for raw_key, value in section.items():
        key = raw_key.replace("-", "_")
        expected = RULE_KEYS.get(key)
        if expected is None:
            raise ConfigError(
                f"unknown key '{clean(raw_key, newlines=False)}' in {where} of {shown}. Valid: {', '.join(RULE_KEYS)}."
            )
        if not isinstance(value, expected) or (key == "min_score" and isinstance(value, bool)):
            raise ConfigError(f"'{key}' in {where} of {shown} has the wrong type ({type(value).__name__}).")
        if key == "agents" and not all(isinstance(a, str) for a in value):  # type: ignore[attr-defined]
            raise ConfigError(f"'agents' in {where} of {shown} must be a list of agent ids.")
        rules[key] = value
    return rules
