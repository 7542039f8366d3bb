"""The CLI's one output boundary: a result goes to stdout as a table, plain rows, or JSON.

Which form (gh's convention):

- ``--format table`` (or no format on a terminal): the operation's rich table, laid out for the
  terminal's width (``COLUMNS`` or 80 when stdout is not a terminal).
- no format, stdout not a terminal: list operations (``list_result``) print plain tab-separated
  rows with full values (``render/plain.py``), so ``grep -c``, ``cut``, ``sort`` and ``awk`` work;
  documents (``Operation.text``: `guide`) print their own text (Markdown); other operations print
  their table unwrapped (every line whole), without trailing blanks.
- ``--format tsv|csv|ndjson`` (list operations): rows; ``--fields a,b`` picks the columns (and
  with no format, or ``--format table``, prints those columns as tab-separated rows).
- ``--json`` / ``--format json``: the result model as data, written with ``json.dumps`` straight to
  stdout (not through rich); C1, bidi and invisible characters become JSON escapes, so the data is
  exact and the terminal safe. With ``--fields`` a list prints only those fields of each item.

Everything drawn goes through a :class:`~dunetrace_cli.render.console.SafeConsole`: untrusted text
is sanitised when cells are built and once more when segments are written.
"""

from __future__ import annotations

import io
import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from pydantic import BaseModel

    from dunetrace_cli.registry import Operation

FORMATS = ("table", "json")
LIST_FORMATS = ("table", "tsv", "csv", "json", "ndjson")
UNWRAPPED_WIDTH = 1000  # piped tables: wide enough that no line wraps


def formats_for(op: Operation) -> tuple[str, ...]:
    return LIST_FORMATS if op.list_result else FORMATS


def to_json_text(result: BaseModel, fields: list[str] | None = None) -> str:
    """Exact data; C1, bidi and invisible characters as JSON escapes (same string once decoded)."""
    from dunetrace_cli.render.sanitize import json_dumps

    if fields:
        from dunetrace_cli.render import plain

        return json_dumps(plain.records(result, fields), indent=2)
    return json_dumps(result.model_dump(mode="json"), indent=2)


def _remember_listing(result: Any) -> None:
    """Run ids a listing showed, for run-id completion (best effort, never an error)."""
    runs = getattr(result, "runs", None)
    signals = getattr(result, "signals", None)
    items = runs if isinstance(runs, list) else signals if isinstance(signals, list) else None
    if not items:
        return
    ids = [getattr(item, "run_id", None) for item in items]
    try:
        from dunetrace_cli.cli.complete import remember_runs

        remember_runs(i for i in ids if isinstance(i, str) and i)
    except Exception:  # noqa: BLE001 - completion state must never break a command
        pass


def _draw(renderable: Any, stream: TextIO, *, width: int | None, terminal: bool) -> None:
    from dunetrace_cli.render.console import make_console

    if terminal:
        make_console(file=stream).print(renderable)
        return
    buffer = io.StringIO()
    make_console(file=buffer, width=width).print(renderable)
    stream.write("".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines()))
    stream.flush()


def emit(
    result: BaseModel,
    op: Operation,
    *,
    fmt: str | None = None,
    fields: list[str] | None = None,
    now: float,
    out: TextIO | None = None,
) -> None:
    """Write ``result`` to ``out`` (stdout) in ``fmt`` (None: decided by whether stdout is a terminal).

    A reader that stops early (``| head -1``) is not an error: the rest is dropped quietly, exit 0.
    """
    stream = out if out is not None else sys.stdout
    try:
        _emit(result, op, fmt=fmt, fields=fields, now=now, stream=stream)
    except BrokenPipeError:
        import os

        try:  # later writes (and the interpreter's final flush) go nowhere instead of failing again
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        raise SystemExit(0) from None  # the CLI's entry point turns it into exit 0


def _emit(result: BaseModel, op: Operation, *, fmt: str | None, fields: list[str] | None, now: float,
          stream: TextIO) -> None:
    if fmt == "json":  # exact data, the same on a terminal or not: no console (and no rich) needed
        if op.list_result:
            _remember_listing(result)
        stream.write(to_json_text(result, fields) + "\n")
        stream.flush()
        return
    from dunetrace_cli.render.console import is_terminal

    terminal = is_terminal(stream)
    unwrapped = fmt is None and not terminal
    if fmt is None:
        fmt = "tsv" if op.list_result and (fields or not terminal) else "table"
    elif fmt == "table" and fields and op.list_result:
        fmt = "tsv"  # the columns asked for, as rows
    if op.list_result:
        _remember_listing(result)
    if unwrapped and op.text:  # a document (`guide`) piped: its own text, sanitised, without rich
        from dunetrace_cli.registry import resolve
        from dunetrace_cli.render.sanitize import clean

        stream.write(clean(resolve(op.text)(result)))
        stream.flush()
        return
    if fmt in ("tsv", "csv", "ndjson"):
        from dunetrace_cli.render import plain

        plain.write(result, fmt, fields=fields, out=stream)
        return
    from dunetrace_cli.registry import resolve

    renderer: Any = resolve(op.table or "dunetrace_cli.render.tables:render")
    _draw(renderer(result, now), stream, width=UNWRAPPED_WIDTH if unwrapped else None, terminal=terminal)
