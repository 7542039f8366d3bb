"""Issue 9's injection dataset renders harmlessly: no ESC, OSC, NUL, C1 or bidi byte reaches a terminal.

The dataset is the real latest-server capture with ``retry-agent`` renamed to an id carrying
``ESC[2J ESC[H``, OSC 0 (title), OSC 8 (link), OSC 52 (clipboard), U+202E and NUL, and every title,
fix, tool name and error carrying the same plus "ignore previous instructions". Text output shows
the sequences as visible escapes (``\\x1b``); ``--json`` keeps the exact data.
"""

from __future__ import annotations

import json

import pytest

from tests.render.injection import HOSTILE_AGENT, PAYLOAD, hostile_bytes, injected_dataset

HOSTILE_RUN = "566c867c-a39"  # a retry-agent run: tool names, errors and signals all tainted


@pytest.fixture
def hostile(served, invoke, datasets):
    url, fake = served("latest", dataset=injected_dataset(datasets["latest"]))

    def run(*args: str, columns: int = 80):
        return invoke(list(args), env={"DUNETRACE_API_URL": url, "COLUMNS": str(columns)})

    run.fake = fake  # type: ignore[attr-defined]
    return run


COMMANDS = [
    ["agents"],
    ["signals", "--limit", "100"],
    ["summary", "rag-agent"],
    ["summary", "nosuch"],
    ["patterns", "rag-agent"],
    ["health", "rag-agent"],
    ["runs", "rag-agent"],
    ["run", HOSTILE_RUN],
    ["signal", "79"],
    ["signal", "77"],
    ["compare", HOSTILE_RUN, "9aaea63d-2b2"],
    ["tokens", "rag-agent"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=["-".join(a) for a in COMMANDS])
@pytest.mark.parametrize("columns", [80, 120])
def test_no_control_reaches_stdout_or_stderr(hostile, args: list[str], columns: int) -> None:
    result = hostile(*args, columns=columns)
    assert result.exit_code in (0, 4), (result.exit_code, result.stderr)
    assert hostile_bytes(result.stdout) == [], result.stdout
    assert hostile_bytes(result.stderr) == [], result.stderr
    assert "Traceback" not in result.stderr
    shown = result.stdout + result.stderr
    if args[0] in ("agents", "signals", "run", "signal", "compare") or args == ["summary", "nosuch"]:
        assert "\\x1b" in shown  # the sequence is visible, not silently dropped
    if args[0] in ("signal", "summary") and result.exit_code == 0:
        assert "ignore previous" in shown


def test_unknown_agent_error_lists_the_hostile_id_visibly(hostile) -> None:
    result = hostile("summary", "nosuch")
    assert result.exit_code == 4
    assert "evil\\x1b[2J\\x1b[H\\x1b]0;pwned-title\\x07" in result.stderr
    assert "\\u202etxt.exe\\x00-agent" in result.stderr


def test_json_keeps_the_exact_data(hostile) -> None:
    result = hostile("agents", "--json")
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout  # JSON escapes it ...
    ids = [a["agent_id"] for a in json.loads(result.stdout)["agents"]]
    assert HOSTILE_AGENT in ids  # ... and it round-trips exactly


def test_signal_json_keeps_the_payload(hostile) -> None:
    data = json.loads(hostile("signal", "79", "--json").stdout)
    assert data["signal"]["title"].endswith(PAYLOAD)
    assert data["signal"]["agent_id"] == HOSTILE_AGENT
