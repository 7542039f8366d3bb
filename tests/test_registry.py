"""The registry is the one declaration of every operation: both faces, the docs and the imports follow it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from dunetrace_cli import registry
from dunetrace_cli.params import Param

README = Path(__file__).resolve().parent.parent / "README.md"
# Commands written by hand (not registry operations): groups, servers, the store, the gate's CLI.
HAND_WRITTEN = {"config", "doctor", "mcp", "local", "demo", "help", "check", "export"}


def _readme_commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Commands", 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    first_cells = [re.split(r"(?<!\\)\|", row)[1] for row in rows]
    return [span for cell in first_cells for span in re.findall(r"`([^`]+)`", cell)]


def usage(op: registry.Operation) -> str:
    """The command's synopsis as the README writes it: positional metavars, then the flags."""
    parts = [op.cli or ""]
    for p in op.cli_params():
        if p.flag is None:
            name = p.metavar or p.name.upper()
            parts.append(name if p.required else f"[{name}]")
    return " ".join(parts)


def test_every_registry_command_has_a_readme_row() -> None:
    rows = _readme_commands()
    for op in registry.load().values():
        if op.cli is None:
            continue
        assert any(row == usage(op) or row.startswith(usage(op) + " ") for row in rows), (
            f"README's command table has no row starting with `{usage(op)}`"
        )


def test_every_readme_row_is_a_command() -> None:
    commands = {op.cli for op in registry.load().values() if op.cli}
    for row in _readme_commands():
        words = row.split()
        head = " ".join(words[:2]) if " ".join(words[:2]) in commands else words[0]
        assert head in commands or head.split("\\")[0] in HAND_WRITTEN, f"README row `{row}` names no command"


def test_registry_names_are_unique_per_face() -> None:
    ops = list(registry.load().values())
    clis = [op.cli for op in ops if op.cli]
    tools = [op.mcp for op in ops if op.mcp]
    assert len(clis) == len(set(clis)) and len(tools) == len(set(tools))


def test_every_operation_resolves() -> None:
    for op in registry.load().values():
        for path in filter(None, (op.query, op.model, op.table, op.markdown, op.mcp_model, op.mcp_view, op.bind)):
            assert registry.resolve(path) is not None, (op.name, path)
        assert op.summary and len(op.summary) < 300, op.name


def test_params_of_one_face_do_not_collide() -> None:
    for op in registry.load().values():
        for params in (op.cli_params(), op.mcp_params()):
            names = [p.name for p in params]
            assert len(names) == len(set(names)), op.name
        flags = [p.flag for p in op.cli_params() if p.flag] + [p.short for p in op.cli_params() if p.short]
        assert len(flags) == len(set(flags)), (op.name, flags)


def test_loading_the_registry_imports_no_heavy_module() -> None:
    code = (
        "import sys; from dunetrace_cli import registry; registry.load(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'httpx', 'pydantic', 'rich', 'mcp', 'dunetrace'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(("raw", "face", "expected"), [
    ({"since": "2h"}, "cli", 1_000_000.0 - 7200),
    ({"since_hours": 2}, "mcp", 1_000_000.0 - 7200),
])
def test_since_and_since_hours_reach_the_query_as_one_cutoff(raw, face, expected) -> None:
    kwargs = registry.bind_arguments(registry.get("signals"), raw, face, 1_000_000.0)
    assert kwargs["since"] == expected


def test_a_parser_error_is_a_usage_error_before_any_request() -> None:
    from dunetrace_cli.errors import UsageError

    with pytest.raises(UsageError, match="invalid severity 'SEVERE'"):
        registry.bind_arguments(registry.get("signals"), {"severity": "SEVERE"}, "mcp", 0.0)


def test_the_generated_command_and_tool_are_importable_by_name() -> None:
    from dunetrace_cli.cli import commands

    assert callable(commands.summary) and commands.summary.__name__ == "summary"
    params = [p for p in __import__("inspect").signature(commands.runs).parameters]
    assert params[:5] == ["ctx", "agent_id", "limit", "failing", "clean"]
    assert isinstance(registry.get("summary").params[0], Param)
