"""The root group that builds only the command being run.

`dunetrace agents --json` needs the `agents` command, not the other 40 (nor the modules of
`check`, `doctor`, `export`, `mcp` or `local`). :class:`LazyGroup` knows every top-level name and
its one-line help from :data:`Entry` records (cli/app.py), builds a command the first time it is
asked for it, and lists the others in the root's ``--help`` from those records alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

import typer
from typer._click.exceptions import UsageError
from typer.core import TyperCommand, TyperGroup
from typer.models import TyperInfo


@dataclass(frozen=True)
class Entry:
    """One top-level command or group: its name, its line in the root's --help, how to add it."""

    name: str
    help: str
    register: Callable[[typer.Typer], None]  # adds the command (or group) named ``name`` to an app


def build(entry: Entry, *, rich_markup_mode: Any = None) -> Any:
    """The click command for ``entry``, exactly as typer builds it inside a full app."""
    from dunetrace_cli.cli import examples

    app = typer.Typer(rich_markup_mode=rich_markup_mode)
    entry.register(app)
    examples.attach(app)  # the hand-written commands' --help examples (cli/examples.py)
    group = typer.main.get_group_from_info(
        TyperInfo(app), pretty_exceptions_short=app.pretty_exceptions_short, rich_markup_mode=rich_markup_mode,
        suggest_commands=True,
    )
    return group.commands[entry.name]


class LazyGroup(TyperGroup):
    """A TyperGroup whose commands are built on first use from :meth:`entries` (a subclass says them)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._listing = False

    def entries(self, name: str | None = None) -> dict[str, Entry]:
        """Every entry in listing order (``name`` None), or at least the one named ``name`` if it exists."""
        raise NotImplementedError

    def list_commands(self, ctx: Any) -> list[str]:
        names = list(self.entries())
        return names + [name for name in self.commands if name not in names]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        entry = self.entries(cmd_name).get(cmd_name)
        if entry is None:
            return None
        if self._listing:  # the root's --help: name and help line only
            return TyperCommand(cmd_name, help=entry.help)
        command = self.commands[cmd_name] = build(entry, rich_markup_mode=self.rich_markup_mode)
        return command

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = False

    def shell_complete(self, ctx: Any, incomplete: str) -> Any:
        """Command-name completion from the entries' help lines (building none of the commands)."""
        self._listing = True
        try:
            return super().shell_complete(ctx, incomplete)
        finally:
            self._listing = False

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """TyperGroup's, with "Did you mean" suggestions from every name (built or not)."""
        try:
            return self._click_resolve_command(ctx, args)
        except UsageError as exc:
            if self.suggest_commands and args:
                matches = get_close_matches(args[0], self.list_commands(ctx))
                if matches:
                    suggestions = ", ".join(f"{m!r}" for m in matches)
                    exc.message = f"{exc.message.rstrip('.')}. Did you mean {suggestions}?"
            raise
