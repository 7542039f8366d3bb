"""The registry's CLI commands: one top-level function per operation, generated from its entry.

``command_function(op)`` builds a Typer callback whose signature is the operation's CLI
parameters (from :mod:`dunetrace_cli.params`), the output options and the global options, so
``dunetrace agents --json --api-url URL`` works as well as ``dunetrace --api-url URL agents``.
Every generated function is also a module attribute (``dunetrace_cli.cli.commands.agents``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from dunetrace_cli import registry
from dunetrace_cli.params import Param
from dunetrace_cli.registry import Operation

GLOBAL_PANEL = "Global options (also accepted before the command)"
OUTPUT_PANEL = "Output"


def _completion(source: str | None) -> Callable[..., Any] | None:
    if source is None:
        return None
    from dunetrace_cli.cli import complete

    return complete.source(source)


def complete_profiles(incomplete: str) -> list[str]:
    """--profile values: the profiles in config.toml (cli/complete.py)."""
    from dunetrace_cli.cli import complete

    return complete.source("profiles")(incomplete)


def _param_annotation(param: Param) -> tuple[Any, Any]:
    """(annotation, default) of one CLI parameter."""
    py_type: Any = param.type
    if param.multiple:
        py_type = list.__class_getitem__(param.type)
    optional = not param.required and param.type is not bool
    annotation_type = Optional[py_type] if optional else py_type  # noqa: UP045 - Typer reads it at run time
    common: dict[str, Any] = {"help": param.help, "show_default": not param.required and param.default not in (None, False)}
    complete = _completion(param.complete)
    if complete is not None:
        common["autocompletion"] = complete
    if param.flag is None:
        info = typer.Argument(metavar=param.metavar or param.name.upper(), **common)
    else:
        decls = [param.flag] + ([param.short] if param.short else [])
        extra: dict[str, Any] = {}
        if param.ge is not None and param.type in (int, float):
            extra["min"] = param.ge
        if param.le is not None and param.type in (int, float):
            extra["max"] = param.le
        if param.metavar:
            extra["metavar"] = param.metavar
        info = typer.Option(*decls, **common, **extra)  # type: ignore[misc]  # decls are names, not a default
    default = inspect.Parameter.empty if param.required else param.default
    return Annotated[annotation_type, info], default


def _output_params(op: Operation) -> list[inspect.Parameter]:
    from dunetrace_cli.render.output import formats_for

    formats = formats_for(op)
    out = [
        inspect.Parameter(
            "json_", inspect.Parameter.KEYWORD_ONLY, default=False,
            annotation=Annotated[bool, typer.Option("--json", help="Print the result as JSON (for scripts and jq); "
                                                    "same as --format json.", rich_help_panel=OUTPUT_PANEL)],
        ),
        inspect.Parameter(
            "format_", inspect.Parameter.KEYWORD_ONLY, default=None,
            annotation=Annotated[Optional[str], typer.Option(  # noqa: UP045
                "--format", "-F", help=f"Output format: {', '.join(formats)}.", rich_help_panel=OUTPUT_PANEL,
                show_default=False, autocompletion=lambda: list(formats))],
        ),
    ]
    if op.list_result:
        out.append(inspect.Parameter(
            "fields_", inspect.Parameter.KEYWORD_ONLY, default=None,
            annotation=Annotated[Optional[str], typer.Option(  # noqa: UP045
                "--fields", help="Comma-separated fields (columns) to print, e.g. agent_id,signal_count.",
                rich_help_panel=OUTPUT_PANEL, show_default=False)],
        ))
    return out


def _write_params(op: Operation) -> list[inspect.Parameter]:
    """``--yes/-y`` on write commands (cli/confirm.py asks otherwise)."""
    if not op.writes:
        return []
    return [inspect.Parameter("yes_", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (needed without a terminal).")])]


def _global_params() -> list[inspect.Parameter]:
    def opt(name: str, annotation: Any) -> inspect.Parameter:
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)

    return [
        opt("g_api_url", Annotated[Optional[str], typer.Option(  # noqa: UP045
            "--api-url", help="Customer API base URL, or 'local'. [env: DUNETRACE_API_URL]",
            rich_help_panel=GLOBAL_PANEL, show_default=False)]),
        opt("g_timeout", Annotated[Optional[float], typer.Option(  # noqa: UP045
            "--timeout", min=0.1, max=600, help="Seconds per request (default 15). [env: DUNETRACE_TIMEOUT]",
            rich_help_panel=GLOBAL_PANEL, show_default=False)]),
        opt("g_profile", Annotated[Optional[str], typer.Option(  # noqa: UP045
            "--profile", "-p", help="Profile from config.toml. [env: DUNETRACE_PROFILE]", autocompletion=complete_profiles,
            rich_help_panel=GLOBAL_PANEL, show_default=False)]),
        inspect.Parameter("g_debug", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Annotated[
            bool, typer.Option("--debug", help="Show tracebacks on errors.", rich_help_panel=GLOBAL_PANEL)]),
    ]


def examples_text(op: Operation) -> str | None:
    """The end of the command's --help: its examples, kept verbatim (click's \\b stops rewrapping)."""
    if not op.examples:
        return None
    lines = "\n".join(f"  {example}" for example in op.examples)
    return f"\b\nExamples:\n{lines}"


def command_function(op: Operation) -> Callable[..., None]:
    """A Typer callback for ``op``: collects the arguments and hands them to cli/_run.py."""
    names = [p.name for p in op.cli_params()]

    def command(ctx: typer.Context, **values: Any) -> None:
        from dunetrace_cli.cli._run import run_operation

        run_operation(ctx, op, {name: values[name] for name in names}, values)

    parameters = [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)]
    for param in op.cli_params():
        annotation, default = _param_annotation(param)
        parameters.append(inspect.Parameter(param.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                            annotation=annotation))
    parameters += _output_params(op) + _write_params(op) + _global_params()
    command.__signature__ = inspect.Signature(parameters, return_annotation=None)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": None}
    command.__name__ = command.__qualname__ = (op.cli or op.name).replace(" ", "_").replace("-", "_")
    command.__module__ = __name__
    command.__doc__ = op.summary
    return command


class DefaultCommandGroup(TyperGroup):
    """A group whose plain form is a command too: ``dunetrace signal 87`` runs ``signal show 87``
    while ``dunetrace signal explain 87`` runs the subcommand (the registry declares both)."""

    default_command = "show"

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's own click Context
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


def _cli_ops() -> list[Operation]:
    return [op for op in registry.load().values() if op.cli is not None]


def entries() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The registry's top-level CLI names and their --help lines, without building a command:
    (commands, groups), each in the order :func:`register_all` adds them (the root's listing order)."""
    ops = _cli_ops()
    heads_with_subs = {op.cli.split()[0] for op in ops if op.cli and " " in op.cli}
    commands: list[tuple[str, str]] = []
    groups: dict[str, str] = {}
    for op in ops:
        assert op.cli is not None
        head = op.cli.split()[0]
        if head not in heads_with_subs:
            commands.append((head, op.summary))
        elif head not in groups:
            plain = next((o for o in ops if o.cli == head), None)
            groups[head] = plain.summary if plain else f"{head} commands."
    return commands, list(groups.items())


def register_all(app: typer.Typer, only: str | None = None) -> None:
    """Add every registry operation with a CLI face to ``app`` (only the top-level name ``only``, if given).

    "policy create" becomes a subcommand of a "policy" group; when "signal" is both a command and
    a group ("signal explain"), the plain command is the group's default (also named "show").
    """
    ops = _cli_ops()
    heads_with_subs = {op.cli.split()[0] for op in ops if op.cli and " " in op.cli}
    groups: dict[str, typer.Typer] = {}

    def group(head: str, panel: str, plain: Operation | None) -> typer.Typer:
        if head not in groups:
            groups[head] = typer.Typer(
                name=head, no_args_is_help=True, rich_markup_mode=None,
                cls=DefaultCommandGroup if plain is not None else TyperGroup,
                help=plain.summary if plain else f"{head} commands.",
            )
            app.add_typer(groups[head], name=head, rich_help_panel=panel)
        return groups[head]

    for op in ops:
        assert op.cli is not None
        head, _, sub = op.cli.partition(" ")
        if only is not None and head != only:
            continue
        fn = globals()[op.name] = command_function(op)
        if sub:
            plain = next((o for o in ops if o.cli == head), None)
            target, name = group(head, (plain or op).panel, plain), sub
        elif head in heads_with_subs:
            target, name = group(head, op.panel, op), DefaultCommandGroup.default_command
        else:
            target, name = app, op.cli
        target.command(name, help=op.summary, epilog=examples_text(op), rich_help_panel=None if target is not app else op.panel)(fn)


def __getattr__(name: str) -> Callable[..., None]:
    """``dunetrace_cli.cli.commands.<operation>``: the generated command, importable by name."""
    ops = registry.load()
    if name in ops and ops[name].cli is not None:
        fn = globals()[name] = command_function(ops[name])
        return fn
    raise AttributeError(name)
