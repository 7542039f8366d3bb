"""Consoles: stdout for data, stderr for everything else. Markup is off: server text is data.

Renderers escape untrusted text when they build a cell (``render/sanitize.py``), which keeps the
layout right. The consoles made here are the last guard: every text segment rich is about to
write goes through the same ``clean`` once more, so no raw control character, escape sequence or
bidi override reaches a terminal even from a renderer that forgot. Rich's own styling is emitted
as control segments and as SGR codes after this point, so colours still work.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any, Optional

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment

from dunetrace_cli.render.sanitize import clean, is_clean

if TYPE_CHECKING:
    from rich.text import Text


class SafeConsole(Console):
    """A rich Console whose text segments are always sanitised (controls shown as escapes)."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        # before rich turns a plain string into Text (which silently drops BEL, BS, CR...)
        return super().render_str(clean(text), **kwargs)

    def render(self, renderable: RenderableType, options: Optional[ConsoleOptions] = None) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            text = segment.text
            if segment.control or is_clean(text):
                yield segment
            else:
                yield Segment(clean(text), segment.style, segment.control)


def _width() -> int | None:
    columns = os.environ.get("COLUMNS")
    if columns and columns.isdigit() and int(columns) > 0:
        return int(columns)
    return None


def make_console(*, stderr: bool = False, file: IO[str] | None = None, width: int | None = None) -> Console:
    return SafeConsole(
        stderr=stderr,
        file=file,
        markup=False,
        emoji=False,
        highlight=False,
        width=width or _width(),
        soft_wrap=False,
    )


def is_terminal(stream: IO[str] | None = None) -> bool:
    """True when ``stream`` (stdout by default) is an interactive terminal."""
    stream = sys.stdout if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


SPINNER_DELAY = 0.3  # seconds of silence before a spinner appears


@contextmanager
def spinner(message: str, *, delay: float = SPINNER_DELAY, stream: IO[str] | None = None) -> Iterator[None]:
    """A spinner on stderr while slow work runs: only on a terminal, only after ``delay`` seconds.

    Nothing is written when stderr is not a TTY (pipes, CI, tests) or DUNETRACE_NO_SPINNER is set;
    the spinner line is erased when the work ends, so stdout's data follows a clean line.
    """
    target = sys.stderr if stream is None else stream
    if not is_terminal(target) or os.environ.get("DUNETRACE_NO_SPINNER"):
        yield
        return
    console = make_console(stderr=stream is None, file=stream)
    status = console.status(clean(message, newlines=False), spinner="dots")
    lock = threading.Lock()
    state = {"done": False, "started": False}

    def start() -> None:
        with lock:
            if not state["done"]:
                status.start()
                state["started"] = True

    timer = threading.Timer(delay, start)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        with lock:
            state["done"] = True
            if state["started"]:
                status.stop()
