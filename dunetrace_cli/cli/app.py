"""The root `dunetrace` command: global options, command registration, entry points."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any, Optional

import typer

from dunetrace_cli import __version__
from dunetrace_cli.cli import check, commands, doctor, examples, export_cmd
from dunetrace_cli.cli._run import GlobalOptions

app = typer.Typer(
    name="dunetrace",
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
        autocompletion=commands.complete_profiles,
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors. [env: DUNETRACE_DEBUG=1]"),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Triage AI-agent failures recorded by Dunetrace."""
    ctx.obj = GlobalOptions(api_url=api_url, timeout=timeout, profile=profile, debug=debug)


commands.register_all(app)
check.register(app)
doctor.register(app)
export_cmd.register(app)


def _register_groups() -> None:
    from dunetrace_cli.cli import config_cmd, demo_cmd, local_cmd, mcp_cmd

    app.add_typer(config_cmd.app, name="config", rich_help_panel="Set up")
    app.add_typer(mcp_cmd.app, name="mcp", rich_help_panel="Serve")
    app.add_typer(local_cmd.app, name="local", rich_help_panel="Local store")
    app.command("demo", rich_help_panel="Local store")(demo_cmd.demo)


_register_groups()


@app.command("help", rich_help_panel="Set up")
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


examples.attach(app)  # the hand-written commands' --help examples (cli/examples.py)


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
    # The CLI loads no third-party pydantic plugins: finding them scans every installed package's entry
    # points (tens of ms at each start) the first time typer or a model builds a validator.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    sys.exit(run(None))
