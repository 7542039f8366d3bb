"""Raw bytes from real terminals: a pty (colours on) and a tmux pane, against the injection dataset.

Colours are on here (a real TTY, no NO_COLOR), so rich writes SGR sequences (``ESC [ ... m``);
those are the only escape sequences allowed. Nothing from the data may clear the screen, move the
cursor, set the title (OSC 0), add a link (OSC 8), write the clipboard (OSC 52) or reorder text.
"""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import FIXED_NOW
from tests.render.injection import injected_dataset

pytestmark = pytest.mark.slow

ESCAPE = re.compile(rb"\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|.)", re.S)
SGR = re.compile(rb"^\x1b\[[0-9;]*m$")
BIDI = ("\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069")
COMMANDS = [["agents"], ["signals", "--limit", "40"], ["summary", "nosuch"], ["run", "566c867c-a39"], ["signal", "79"]]


def _cli_env(url: str, columns: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUNETRACE_", "NO_COLOR", "FORCE_COLOR"))}
    env.update({"DUNETRACE_API_URL": url, "DUNETRACE_NOW": str(FIXED_NOW), "COLUMNS": str(columns),
                "LINES": "50", "TERM": "xterm-256color", "DUNETRACE_NO_SPINNER": "1", "DUNETRACE_CONFIG_DIR": env.get("DUNETRACE_CONFIG_DIR", "")})
    return env


def _in_pty(args: list[str], env: dict[str, str]) -> bytes:
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "dunetrace_cli", *args], stdin=child, stdout=child, stderr=child,
                            env=env, close_fds=True)
    os.close(child)
    out = bytearray()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(main, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=10)
    os.close(main)
    return bytes(out)


def non_sgr_escapes(data: bytes) -> list[bytes]:
    return [m.group(0) for m in ESCAPE.finditer(data) if not SGR.match(m.group(0))]


@pytest.fixture
def hostile_url(served, datasets, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url, _ = served("latest", dataset=injected_dataset(datasets["latest"]))
    return url


@pytest.mark.parametrize("args", COMMANDS, ids=["-".join(a) for a in COMMANDS])
def test_pty_bytes_hold_only_colour_codes(hostile_url: str, args: list[str]) -> None:
    data = _in_pty(args, _cli_env(hostile_url, 80))
    text = data.decode("utf-8", "replace")
    assert b"\\x1b" in data or args[0] == "signals"  # the hostile sequences are shown, escaped
    assert non_sgr_escapes(data) == []
    assert b"\x00" not in data and b"\x07" not in data
    assert not any(ch in text for ch in BIDI)
    assert not any(0x80 <= ord(ch) <= 0x9F for ch in text)
    assert b"\x1b[" in data or "NO_COLOR" in os.environ  # colours really were on: this is a terminal


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_tmux_pane_keeps_its_title_clipboard_and_screen(hostile_url: str, tmp_path: Path) -> None:
    socket = f"dt-test-{uuid.uuid4().hex[:8]}"
    env = _cli_env(hostile_url, 80)
    env.pop("COLUMNS")  # the pane's own width
    script = tmp_path / "run.sh"
    exports = "".join(f"export {k}={subprocess.list2cmdline([v])!s}\n" for k, v in env.items() if k.isidentifier()
                      and "'" not in v and '"' not in v)
    script.write_text(
        "#!/bin/sh\n" + exports + "echo MARKER-BEFORE\n"
        + "".join(f"{sys.executable} -m dunetrace_cli {' '.join(a)}\n" for a in COMMANDS)
        + "echo MARKER-AFTER\nsleep 60\n"
    )
    script.chmod(0o700)
    tmux = ["tmux", "-L", socket, "-f", "/dev/null"]
    subprocess.run([*tmux, "new-session", "-d", "-x", "80", "-y", "50", "-s", "t", str(script)], check=True,
                   env={**os.environ, "TERM": "xterm-256color"})
    try:
        subprocess.run([*tmux, "set-option", "-g", "set-clipboard", "on"], check=True)
        subprocess.run([*tmux, "set-option", "-g", "history-limit", "20000"], check=True)
        capture = ""
        for _ in range(300):
            capture = subprocess.run([*tmux, "capture-pane", "-p", "-S", "-", "-t", "t"], capture_output=True,
                                     text=True).stdout
            if "MARKER-AFTER" in capture:
                break
            time.sleep(0.2)
        assert "MARKER-AFTER" in capture
        raw = subprocess.run([*tmux, "capture-pane", "-e", "-p", "-S", "-", "-t", "t"], capture_output=True).stdout
        title = subprocess.run([*tmux, "display-message", "-p", "-t", "t", "#{pane_title}"], capture_output=True,
                               text=True).stdout
        buffers = subprocess.run([*tmux, "list-buffers"], capture_output=True, text=True).stdout
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
    assert "MARKER-BEFORE" in capture  # ESC[2J ESC[H did not clear the screen away
    assert "pwned" not in title  # OSC 0 did not retitle the pane
    assert "pwned" not in buffers and buffers.strip() == ""  # OSC 52 did not write the clipboard
    assert "evil\\x1b[2J" in capture  # the id is shown, with its escapes visible
    assert non_sgr_escapes(raw) == []
    assert not any(ch in raw.decode("utf-8", "replace") for ch in BIDI)
