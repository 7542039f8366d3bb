"""Write commands ask before they change the server: "are you sure" on a terminal unless --yes.

Without a terminal (a script, a pipe) there is nobody to ask: the write goes ahead and a line on
stderr says what changed where. Progress of slow server work (an LLM explanation) goes to stderr.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from dunetrace_cli.errors import UsageError

if TYPE_CHECKING:
    from dunetrace_cli.registry import Operation


def describe(op: Operation, raw: dict[str, Any]) -> str:
    """``Delete a policy (POLICY_ID 3)``: what the command is about to do, from its registry entry."""
    from dunetrace_cli.render.sanitize import clean

    shown = []
    for param in op.cli_params():
        value = raw.get(param.name)
        if value is None or value == "" or param.name in ("condition", "action"):
            continue
        text = clean(str(value), newlines=False)
        shown.append(f"{param.label('cli')} {text if len(text) <= 60 else text[:59] + '…'}")
    return f"{op.title or op.name}" + (f" ({', '.join(shown)})" if shown else "")


def _interactive() -> bool:
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def confirm(op: Operation, raw: dict[str, Any], *, yes: bool, target: str) -> None:
    """Raise UsageError unless the user agreed (``--yes``, or "y" at the prompt on a terminal)."""
    if not op.writes or yes:
        return
    what = describe(op, raw)
    if not _interactive():  # a script or a pipe: nobody to ask; say what is about to change
        sys.stderr.write(f"dunetrace: {what} on {target} (no terminal to confirm on; --yes silences this).\n")
        return
    sys.stderr.write(f"{what} on {target}{' (cannot be undone)' if op.destructive else ''}. Are you sure? [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise UsageError("not confirmed: nothing was changed.")


def progress_to_stderr(text: str) -> None:
    from dunetrace_cli.render.sanitize import clean

    sys.stderr.write(f"dunetrace: {clean(text, newlines=False)}\n")
    sys.stderr.flush()
