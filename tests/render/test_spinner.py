"""The spinner: on stderr, only on a terminal, only when the work takes longer than ~300 ms."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys

import pytest

from dunetrace_cli.render.console import spinner

CODE = """
import sys, time
from dunetrace_cli.render.console import spinner
with spinner("Asking the API"):
    time.sleep(float(sys.argv[1]))
print("data")
"""


def _in_pty(seconds: float) -> bytes:
    main, child = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "DUNETRACE_NO_SPINNER"}
    env["TERM"] = "xterm-256color"  # a dumb terminal gets no spinner (rich draws none there)
    proc = subprocess.Popen([sys.executable, "-c", CODE, str(seconds)], stdin=child, stdout=child, stderr=child, env=env)
    os.close(child)
    out = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=30)
    os.close(main)
    return out


@pytest.mark.slow
def test_slow_work_on_a_terminal_shows_a_spinner() -> None:
    out = _in_pty(1.0)
    assert b"Asking the API" in out
    assert out.rstrip().endswith(b"data")


@pytest.mark.slow
def test_quick_work_shows_nothing() -> None:
    assert _in_pty(0.0).strip() == b"data"


def test_a_pipe_never_gets_a_spinner() -> None:
    stream = io.StringIO()
    with spinner("Asking the API", delay=0.0, stream=stream):
        import time

        time.sleep(0.2)
    assert stream.getvalue() == ""
