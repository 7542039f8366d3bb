"""Options shared by the hand-written command groups (config, local); registry commands get theirs generated."""

from __future__ import annotations

from typing import Annotated

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON (for scripts and jq).")]
