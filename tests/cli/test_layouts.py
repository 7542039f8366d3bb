"""Every table at 80 and 120 columns (no colour): snapshots, and nothing wider than the terminal.

``--format table`` forces the terminal layout although CliRunner's stdout is not a TTY (piped
output is plain rows or an unwrapped table). Ids, enums and failure types never break across
lines: each list table has one line per item.
"""

from __future__ import annotations

import pytest

from tests.cli._helpers import ok
from tests.fakeapi import load_dataset

_DATA = load_dataset("latest")
BLOATED = sorted(s["run_id"] for s in _DATA["signals"]["langchain-example-agent"] if s["failure_type"] == "CONTEXT_BLOAT")[0]
CLEAN = _DATA["runs"]["clean-agent"][0]["run_id"]
ERRORED = next(r["run_id"] for r in _DATA["runs"]["retry-agent"] if r["exit_reason"] == "run.errored")
LOOP_SIGNAL = next(s["id"] for s in _DATA["signals"]["retry-agent"] if s["failure_type"] == "TOOL_LOOP")

COMMANDS = {
    "agents": ("latest", ["agents"]),
    "agents-health": ("latest", ["agents", "--health"]),
    "summary": ("latest", ["summary", "retry-agent"]),
    "summary-clean": ("latest", ["summary", "clean-agent"]),
    "health": ("latest", ["health", "langchain-example-agent"]),
    "patterns": ("latest", ["patterns", "retry-agent"]),
    "patterns-march": ("march", ["patterns", "rag-agent", "--days", "7"]),
    "runs": ("latest", ["runs", "langchain-example-agent", "--limit", "8"]),
    "runs-failing-page": ("latest", ["runs", "retry-agent", "--failing", "--limit", "3"]),
    "run": ("latest", ["run", BLOATED[:12]]),
    "run-errored": ("latest", ["run", ERRORED]),
    "compare": ("latest", ["compare", CLEAN[:12], BLOATED[:12]]),
    "signals": ("latest", ["signals", "--limit", "12"]),
    "signals-agent": ("latest", ["signals", "rag-agent", "--limit", "6"]),
    "signal": ("latest", ["signal", str(LOOP_SIGNAL)]),
    "tokens": ("latest", ["tokens", "rag-agent"]),
    "tokens-march": ("march", ["tokens", "retry-agent"]),
}
LISTS = {"agents": 6, "agents-health": 6, "runs": 8, "signals": 12, "signals-agent": 6}


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize(("gen", "args"), COMMANDS.values(), ids=COMMANDS.keys())
def test_layout(cli, snapshot, gen: str, args: list[str], columns: int) -> None:
    out = ok(cli(*args, "--format", "table", gen=gen, env={"COLUMNS": str(columns)}))
    widest = max(len(line.rstrip()) for line in out.splitlines())
    assert widest <= columns, out
    assert out == snapshot


@pytest.mark.parametrize("name", LISTS)
def test_list_tables_are_one_line_per_item(cli, name: str) -> None:
    gen, args = COMMANDS[name]
    out = ok(cli(*args, "--format", "table", gen=gen, env={"COLUMNS": "80"}))
    lines = out.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("──"))
    rows = [line for line in lines[rule + 1 :] if line and not line[0].isspace()]
    assert len(rows) >= LISTS[name]
    body = lines[rule + 1 : rule + 1 + LISTS[name]]
    assert all(line and not line.startswith(" ") for line in body)  # no continuation lines


def test_96_signals_fit_in_about_100_lines_at_80_columns(cli) -> None:
    out = ok(cli("signals", "--limit", "500", "--format", "table", env={"COLUMNS": "80"}))
    assert len(out.splitlines()) <= 96 + 4  # header, rule, footer: was 389 lines


def test_runs_next_page_keeps_the_filter(cli) -> None:
    out = ok(cli("runs", "retry-agent", "--failing", "--limit", "3", "--format", "table"))
    assert "more: dunetrace runs retry-agent --limit 12 --failing" in out
    more = ok(cli("runs", "retry-agent", "--limit", "12", "--failing", "--format", "table"))
    assert "more:" not in more and "12 of 12 failing runs" in more  # the suggested page is the whole list
