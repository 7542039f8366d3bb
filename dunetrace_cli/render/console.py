"""Consoles: stdout for data, stderr for everything else. Markup is off: server text is data."""

from __future__ import annotations

import os

from rich.console import Console


def make_console(*, stderr: bool = False) -> Console:
    width = None
    columns = os.environ.get("COLUMNS")
    if columns and columns.isdigit():
        width = int(columns)
    return Console(
        stderr=stderr,
        markup=False,
        emoji=False,
        highlight=False,
        width=width,
        soft_wrap=False,
    )
