"""The CLI's one output boundary: a result goes to stdout as a table, plain rows, or JSON.

``--json`` (``--format json``) is the result model as data, written with ``json.dumps`` straight
to stdout (no rich, no wrapping, no sanitising: JSON escapes every control character itself).
Everything else is drawn by the operation's table renderer, whose text passes through
:mod:`dunetrace_cli.render.sanitize`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from pydantic import BaseModel

    from dunetrace_cli.registry import Operation

FORMATS = ("table", "json")
LIST_FORMATS = ("table", "tsv", "csv", "json", "ndjson")


def formats_for(op: Operation) -> tuple[str, ...]:
    return LIST_FORMATS if op.list_result else FORMATS


def to_json_text(result: BaseModel) -> str:
    """Exact data; C1, bidi and invisible characters as JSON escapes (same string once decoded)."""
    from dunetrace_cli.render.sanitize import json_dumps

    return json_dumps(result.model_dump(mode="json"), indent=2)


def emit(
    result: BaseModel,
    op: Operation,
    *,
    fmt: str = "table",
    fields: list[str] | None = None,
    now: float,
    out: TextIO | None = None,
) -> None:
    """Write ``result`` to ``out`` (stdout) in ``fmt``."""
    stream = out if out is not None else sys.stdout
    if fmt == "json":
        stream.write(to_json_text(result) + "\n")
        stream.flush()
        return
    if fmt in ("tsv", "csv", "ndjson"):
        from dunetrace_cli.render import plain

        plain.write(result, fmt, fields=fields, out=stream)
        return
    from dunetrace_cli.registry import resolve
    from dunetrace_cli.render.console import make_console

    renderer: Any = resolve(op.table or "dunetrace_cli.render.tables:render")
    make_console().print(renderer(result, now))
