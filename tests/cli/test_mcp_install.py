"""`dunetrace mcp install`: merged into copies of real client config shapes, other servers untouched."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.cli._helpers import failed

CONFIGS = Path(__file__).resolve().parent / "mcp_configs"
KEY = "dt_live_s3cr3t_key_0123456789"
URL = "https://dunetrace.example.com"


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    project.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("XDG_CONFIG_HOME", "CODEX_HOME", "APPDATA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(project)
    return {"home": home, "project": project}


def place(fixture: str, target: Path) -> bytes:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(CONFIGS / fixture, target)
    return target.read_bytes()


def run(invoke, *args: str, key: bool = False) -> Any:
    env = {"DUNETRACE_API_URL": URL, **({"DUNETRACE_API_KEY": KEY} if key else {})}
    return invoke(["mcp", "install", *args], env=env)


def backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.*.bak"))


CASES = [
    # client, scope, fixture, where (relative to home or project), servers key, other servers
    ("claude-code", "user", "claude.json", ("home", ".claude.json"), "mcpServers", {"github", "sentry"}),
    ("claude-code", "project", "project.mcp.json", ("project", ".mcp.json"), "mcpServers", {"playwright"}),
    ("cursor", "user", "cursor.mcp.json", ("home", ".cursor/mcp.json"), "mcpServers", {"filesystem", "linear"}),
    ("cursor", "project", "cursor.mcp.json", ("project", ".cursor/mcp.json"), "mcpServers", {"filesystem", "linear"}),
    ("vscode", "project", "vscode.mcp.json", ("project", ".vscode/mcp.json"), "servers", {"github", "memory"}),
    ("vscode", "user", "vscode.mcp.json", ("home", ".config/Code/User/mcp.json"), "servers", {"github", "memory"}),
    ("claude-desktop", "user", "claude_desktop_config.json", ("home", ".config/Claude/claude_desktop_config.json"),
     "mcpServers", {"filesystem"}),
]


@pytest.mark.parametrize(("client", "scope", "fixture", "where", "key", "others"), CASES,
                         ids=[f"{c}-{s}" for c, s, *_ in CASES])
def test_json_clients_merge_and_keep_the_rest(invoke, machine, client, scope, fixture, where, key, others) -> None:
    path = machine[where[0]] / where[1]
    original = place(fixture, path)
    before = json.loads(original)
    result = run(invoke, client, "--scope", scope)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("added 'dunetrace' in ")
    after = json.loads(path.read_text())
    # every other key and server is exactly as it was, in the same order
    assert {k: v for k, v in after.items() if k != key} == {k: v for k, v in before.items() if k != key}
    assert list(after) == list(before)
    assert {n: after[key][n] for n in others} == before[key]
    assert list(after[key])[: len(others)] == list(before[key])
    entry = after[key]["dunetrace"]
    assert entry["args"] == ["mcp", "serve"] and entry["env"] == {"DUNETRACE_API_URL": URL}
    assert Path(entry["command"]).name == "dunetrace"
    assert ("type" in entry) == (client in ("claude-code", "vscode"))
    # indentation kept (4 spaces in the Cursor file, tabs in the VS Code one)
    indent = {"cursor.mcp.json": "\n    \"", "vscode.mcp.json": "\n\t\""}.get(fixture, "\n  \"")
    assert indent in path.read_text()
    # backed up first, byte for byte
    [backup] = backups(path)
    assert backup.read_bytes() == original
    # idempotent: a second run writes nothing and makes no new backup
    again = run(invoke, client, "--scope", scope)
    assert again.exit_code == 0 and again.stdout.startswith("already up to date")
    assert backups(path) == [backup]


def test_claude_code_local_project_servers_survive(invoke, machine) -> None:
    path = machine["home"] / ".claude.json"
    place("claude.json", path)
    assert run(invoke, "claude-code").exit_code == 0
    data = json.loads(path.read_text())
    assert data["projects"]["/home/dev/shop-agent"]["mcpServers"]["postgres"]["command"] == "npx"
    assert "dunetrace" not in data["projects"]["/home/dev/shop-agent"]["mcpServers"]


def test_a_new_file_is_created(invoke, machine) -> None:
    result = run(invoke, "cursor", "--scope", "project")
    assert result.exit_code == 0, result.stderr
    data = json.loads((machine["project"] / ".cursor" / "mcp.json").read_text())
    assert list(data) == ["mcpServers"] and list(data["mcpServers"]) == ["dunetrace"]


def test_codex_toml_replaced_in_place_text_kept(invoke, machine) -> None:
    path = machine["home"] / ".codex" / "config.toml"
    original = place("codex.config.toml", path).decode()
    result = run(invoke, "codex")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("updated 'dunetrace'")
    text = path.read_text()
    data, before = tomllib.loads(text), tomllib.loads(original)
    assert data["mcp_servers"]["dunetrace"]["env"] == {"DUNETRACE_API_URL": URL}
    assert data["mcp_servers"]["dunetrace"]["args"] == ["mcp", "serve"]
    for name in ("context7", "figma"):
        assert data["mcp_servers"][name] == before["mcp_servers"][name]
    assert data["profiles"] == before["profiles"] and data["model"] == before["model"]
    # the text around the old entry is byte-identical, and the entry stays where it was
    head, tail = original.split("[mcp_servers.dunetrace]")[0], original.split("[mcp_servers.figma]")[1]
    assert text.startswith(head) and text.endswith(tail)
    assert text.index("[mcp_servers.dunetrace]") < text.index("[mcp_servers.figma]")
    assert "old-host" not in text and "# ~/.codex/config.toml" in text
    assert run(invoke, "codex").stdout.startswith("already up to date")
    assert len(backups(path)) == 1


def test_codex_inline_definition_is_refused(invoke, machine) -> None:
    path = machine["home"] / ".codex" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text('mcp_servers = { dunetrace = { command = "x" } }\n')
    stderr = failed(run(invoke, "codex"), 3)
    assert "edit it by hand" in stderr
    assert path.read_text() == 'mcp_servers = { dunetrace = { command = "x" } }\n'
    assert backups(path) == []


def test_jsonc_is_refused_untouched(invoke, machine) -> None:
    path = machine["project"] / ".vscode" / "mcp.json"
    original = place("vscode-with-comments.mcp.json", path)
    stderr = failed(run(invoke, "vscode"), 3)
    assert "not plain JSON" in stderr and "--print" in stderr
    assert path.read_bytes() == original and backups(path) == []


def test_with_key_writes_the_key_and_makes_the_file_private(invoke, machine) -> None:
    path = machine["home"] / ".cursor" / "mcp.json"
    place("cursor.mcp.json", path)
    os.chmod(path, 0o644)
    result = run(invoke, "cursor", "--with-key", key=True)
    assert result.exit_code == 0, result.stderr
    assert KEY not in result.stdout + result.stderr
    assert json.loads(path.read_text())["mcpServers"]["dunetrace"]["env"]["DUNETRACE_API_KEY"] == KEY
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_without_with_key_the_key_stays_out(invoke, machine) -> None:
    result = run(invoke, "claude-desktop", key=True)
    assert result.exit_code == 0
    path = machine["home"] / ".config" / "Claude" / "claude_desktop_config.json"
    assert KEY not in path.read_text()


def test_print_writes_nothing_and_masks(invoke, machine) -> None:
    result = invoke(["mcp", "install", "codex", "--print", "--with-key"],
                    env={"DUNETRACE_API_URL": "https://ops:hunter2@dt.example.com", "DUNETRACE_API_KEY": KEY})
    assert result.exit_code == 0, result.stderr
    assert "[mcp_servers.dunetrace]" in result.stdout
    assert KEY not in result.stdout and "hunter2" not in result.stdout
    assert 'DUNETRACE_API_URL = "https://ops@dt.example.com"' in result.stdout
    assert not (machine["home"] / ".codex").exists()


@pytest.mark.parametrize(("args", "needle"), [
    (["zed"], "unknown MCP client 'zed'"),
    (["codex", "--scope", "project"], "codex has no project scope"),
    (["cursor", "--scope", "team"], "invalid --scope 'team'"),
])
def test_usage_errors(invoke, machine, args: list[str], needle: str) -> None:
    assert needle in failed(run(invoke, *args), 2)
