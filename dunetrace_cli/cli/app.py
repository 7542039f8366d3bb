"""The root `dunetrace` command: global options, the command list, entry points.

Only the command being run is built (cli/lazy.py): :data:`LATE_COMMANDS` and :data:`GROUPS` are
the hand-written ones with their --help lines, the registry's come from ``commands.entries()``.
`dunetrace config show` imports neither the registry nor `check`, `export` or `mcp`.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, Optional

import typer

from dunetrace_cli import __version__
from dunetrace_cli.cli import coerce
from dunetrace_cli.cli._run import GlobalOptions, work_begins
from dunetrace_cli.cli.lazy import Entry, LazyGroup


def _complete_profiles(incomplete: str) -> list[str]:
    """--profile values: the profiles in config.toml (cli/complete.py)."""
    from dunetrace_cli.cli import complete

    return complete.source("profiles")(incomplete)


def _register_check(app: typer.Typer) -> None:
    from dunetrace_cli.cli import check

    check.register(app)


def _register_doctor(app: typer.Typer) -> None:
    from dunetrace_cli.cli import doctor

    doctor.register(app)


def _register_export(app: typer.Typer) -> None:
    from dunetrace_cli.cli import export_cmd

    export_cmd.register(app)


def _register_demo(app: typer.Typer) -> None:
    from dunetrace_cli.cli import demo_cmd

    app.command("demo", rich_help_panel="Local store")(demo_cmd.demo)


def _register_help(app: typer.Typer) -> None:
    app.command("help", rich_help_panel="Set up")(help_command)


def _register_group(module: str, name: str, panel: str) -> Any:
    def register(app: typer.Typer) -> None:
        import importlib

        app.add_typer(importlib.import_module(f"dunetrace_cli.cli.{module}").app, name=name, rich_help_panel=panel)

    return register


# Listed after the registry's commands, in this order; the registry's groups come next, then GROUPS.
# Each line is the command's own first help line (tests/test_startup.py holds them to it).
LATE_COMMANDS: tuple[Entry, ...] = (
    Entry("check", "The deploy gate: exit 0 if every agent passes every rule, 1 if not, 2-5 when it cannot decide.",
          _register_check),
    Entry("doctor", "Check the set-up: settings and their sources, the API, the key, the local store, MCP clients.",
          _register_doctor),
    Entry("export", "Export an agent's runs, run details and signals to files (resumable, with progress on stderr).",
          _register_export),
    Entry("demo", "Simulate a week of agents through the real SDK into a fresh demo store, then diagnose the looping "
          "one.", _register_demo),
    Entry("help", "Show help for dunetrace or one of its commands (same as COMMAND --help).", _register_help),
)
GROUPS: tuple[Entry, ...] = (
    Entry("config", "Show and change settings (api_url, api_key, timeout) and profiles.",
          _register_group("config_cmd", "config", "Set up")),
    Entry("mcp", "Serve the Dunetrace queries as MCP tools to Claude Code, Cursor, Codex and other MCP clients.",
          _register_group("mcp_cmd", "mcp", "Serve")),
    Entry("local", "Embedded local store: take the SDK's events with no backend at all, then query them with "
          "DUNETRACE_API_URL=local.", _register_group("local_cmd", "local", "Local store")),
)


_HAND_WRITTEN = frozenset(entry.name for entry in (*LATE_COMMANDS, *GROUPS))


def _registry_entry(name: str, help_line: str) -> Entry:
    def register(app: typer.Typer) -> None:
        from dunetrace_cli.cli import commands

        commands.register_all(app, only=name)

    return Entry(name, help_line, register)


class RootGroup(LazyGroup):
    """The root: hand-written entries without loading the registry, the registry's when asked.

    Its own parameters and those of every command it hands out convert plain values without pydantic
    (cli/coerce.py).
    """

    def get_params(self, ctx: Any) -> list[Any]:  # its own, the completion and help options included
        return coerce.adopt_params(super().get_params(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        return coerce.adopt(super().get_command(ctx, cmd_name), ctx)

    def entries(self, name: str | None = None) -> dict[str, Entry]:
        own = {entry.name: entry for entry in (*LATE_COMMANDS, *GROUPS)}
        if name is not None and name in own:
            return {name: own[name]}
        from dunetrace_cli.cli import commands

        ops, op_groups = commands.entries()
        ordered = [*(_registry_entry(n, h) for n, h in ops), *LATE_COMMANDS,
                   *(_registry_entry(n, h) for n, h in op_groups), *GROUPS]
        return {entry.name: entry for entry in ordered}


app = typer.Typer(
    name="dunetrace",
    cls=RootGroup,
    help=(
        "Triage AI-agent failures recorded by Dunetrace, from the terminal.\n\n"
        "Start with `dunetrace agents`, then `dunetrace summary AGENT`. "
        "Exit codes: 0 ok, 2 usage, 3 auth/config, 4 not found, 5 backend unavailable, 70 internal, 130 interrupted."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dunetrace-cli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    api_url: Optional[str] = typer.Option(
        None, "--api-url", help="Customer API base URL, or 'local' for the embedded store. [env: DUNETRACE_API_URL]"
    ),
    timeout: Optional[float] = typer.Option(
        None, "--timeout", min=0.1, max=600, help="Seconds per request (default 15). [env: DUNETRACE_TIMEOUT]"
    ),
    profile: Optional[str] = typer.Option(
        None, "--profile", "-p", help="Profile from config.toml. [env: DUNETRACE_PROFILE]",
        autocompletion=_complete_profiles,
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors. [env: DUNETRACE_DEBUG=1]"),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Triage AI-agent failures recorded by Dunetrace."""
    ctx.obj = GlobalOptions(api_url=api_url, timeout=timeout, profile=profile, debug=debug)
    if ctx.invoked_subcommand in _HAND_WRITTEN:  # servers, exports, checks: their work begins now
        work_begins()


def help_command(
    ctx: typer.Context,
    command: Annotated[Optional[list[str]], typer.Argument(metavar="[COMMAND]...", help="e.g. signals, or local ingest.")] = None,
) -> None:
    """Show help for dunetrace or one of its commands (same as COMMAND --help)."""
    root = ctx.find_root()
    group: Any = root.command  # typer's own click: not an instance of the installed click.Group
    path = ["dunetrace"]
    for name in command or []:
        sub = group.get_command(root, name) if hasattr(group, "get_command") else None
        if sub is None:
            from dunetrace_cli.cli._run import fail

            fail(f"no command '{' '.join(path[1:] + [name])}'. Run `dunetrace --help` for the list.", 2)
            return
        group, path = sub, [*path, name]
    with group.context_class(group, info_name=" ".join(path), parent=None) as sub_ctx:
        typer.echo(group.get_help(sub_ctx))


def run(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` and return its exit code (also used by `dunetrace demo`).

    Commands report their own failures (cli/_run.py); this handles what happens before a
    command runs: argument errors (exit 2, with the JSON envelope under --json) and Ctrl-C (130).
    """
    args = sys.argv[1:] if argv is None else [str(a) for a in argv]
    try:
        result = app(args=args, prog_name="dunetrace", standalone_mode=False)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except KeyboardInterrupt:
        return _report("interrupted.", 130, args)
    except typer.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt) or isinstance(exc.__cause__, KeyboardInterrupt):
            return _report("interrupted.", 130, args)
        return _report("aborted.", 1, args)
    except typer.TyperException as exc:  # argument parsing: unknown option, bad value, missing argument
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        code = int(getattr(exc, "exit_code", 2))
        if "--json" in args:  # show() already printed the usage text: only the envelope is added
            from dunetrace_cli.cli._run import report_error

            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            report_error(message, code, as_json=True, prefix=False)
        return code
    return result if isinstance(result, int) else 0


def _report(message: str, code: int, args: list[str]) -> int:
    from dunetrace_cli.cli._run import report_error

    report_error(message, code, as_json="--json" in args)
    return code


def main() -> None:
    """The former console-script entry, kept for installs made before it moved: ``dunetrace_cli.__main__``
    (process set-up in ``prepare()``, then `mcp serve`'s fast path or :func:`run`)."""
    from dunetrace_cli.__main__ import main as entry

    entry()
