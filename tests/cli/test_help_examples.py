"""Every command's --help ends with 2-4 real examples, and every example runs against the fake API.

The examples are read from the help text itself (what a user sees), for every command and
subcommand. Each runs in process against a served fake of the latest Customer API, from a
directory holding a real SDK events file (``events.jsonl``) and with a private local store.
The part before a pipe runs (``dunetrace agents --json | jq ...`` runs ``dunetrace agents --json``).
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest
import typer.main

from dunetrace_cli.cli.app import app
from tests.fakeapi import DATA_DIR

# Servers run until stopped: their examples are checked for shape, not run.
SERVERS = {("local", "serve"), ("mcp", "serve")}
# Examples that act on ids the fake holds none of (its calls, policies and detectors lists are
# empty) or need the server's LLM key: they must parse and reach the server (exit 4 not found /
# 5 no LLM, with one sentence), never fail on their own arguments (exit 2).
NEEDS_STATE = {
    ("call",): 4, ("policy", "toggle"): 4, ("policy", "delete"): 4, ("detector", "activate"): 4,
    ("detector", "pause"): 4, ("detector", "delete"): 4, ("detector", "create"): 5, ("signal", "explain"): 5,
    ("local", "export"): 5,  # needs a live ingest endpoint to replay into
}
# Groups list their subcommands; their subcommands carry the examples.
GROUPS = {("config",), ("local",), ("mcp",), ("issue",), ("policy",), ("detector",), ("signal",)}


def command_paths() -> list[tuple[str, ...]]:
    root = typer.main.get_command(app)
    out: list[tuple[str, ...]] = []

    def walk(cmd, path: tuple[str, ...]) -> None:
        # list_commands/get_command, not .commands: the root builds a command when asked (cli/lazy.py)
        subs = {name: cmd.get_command(None, name) for name in cmd.list_commands(None)} if hasattr(cmd, "list_commands") else {}
        if path:
            out.append(path)
        for name, sub in sorted(subs.items()):
            if not sub.hidden:
                walk(sub, (*path, name))

    walk(root, ())
    return [p for p in out if p not in GROUPS]


PATHS = command_paths()


def examples_in(help_text: str) -> list[str]:
    if "Examples:" not in help_text:
        return []
    block = help_text.split("Examples:", 1)[1]
    return [line.strip() for line in block.splitlines() if line.strip().startswith("dunetrace ")]


@pytest.fixture
def help_of(invoke):
    def run(path: tuple[str, ...]) -> str:
        result = invoke([*path, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        return result.stdout

    return run


@pytest.mark.parametrize("path", PATHS, ids=[" ".join(p) for p in PATHS])
def test_help_ends_with_examples(help_of, path: tuple[str, ...]) -> None:
    text = help_of(path)
    examples = examples_in(text)
    assert 2 <= len(examples) <= 4, (path, examples)
    assert text.rstrip().splitlines()[-1].strip() == examples[-1]  # at the very end
    for example in examples:
        words = shlex.split(example.split(" | ")[0])
        assert words[0] == "dunetrace" and words[1] == path[0], example  # "signal 88" runs the group default


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    shutil.copy(DATA_DIR / "sdk-events" / "events-mixed.jsonl", tmp_path / "events.jsonl")
    monkeypatch.setenv("DUNETRACE_HOME", str(tmp_path / "store"))
    monkeypatch.setenv("DUNETRACE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def commands_of(example: str) -> list[list[str]]:
    """The dunetrace commands of a shell line: ``a && b`` runs both, ``a | jq`` runs ``a``."""
    out = []
    for part in example.split(" && "):
        words = shlex.split(part.split(" | ")[0])
        if words and words[0] == "dunetrace":
            out.append(words[1:])
    return out


@pytest.mark.parametrize("path", [p for p in PATHS if p not in SERVERS], ids=[" ".join(p) for p in PATHS if p not in SERVERS])
def test_every_example_runs(help_of, invoke, served, workdir: Path, path: tuple[str, ...]) -> None:
    url, _ = served("latest")
    if path[0] == "local":  # the local commands act on a store: give them one
        assert invoke(["local", "ingest", "events.jsonl"]).exit_code == 0
    for example in examples_in(help_of(path)):
        for args in commands_of(example):
            result = invoke(args, env={"DUNETRACE_API_URL": url}, input="")
            expected = NEEDS_STATE.get(path, 0)
            assert result.exit_code == expected, (example, result.stdout[-500:], result.stderr[-800:])
            assert "Traceback" not in result.stderr
