"""`dunetrace mcp serve` next to an incompatible MCP SDK (upstream dunetrace-mcp pins mcp<2): one
sentence naming the installed version and the fix, exit 3, no traceback (issue 10)."""

from __future__ import annotations

import sys
from importlib import metadata

import pytest

from dunetrace_cli.cli import mcp_cmd


@pytest.fixture
def sdk_1x(monkeypatch: pytest.MonkeyPatch) -> None:
    """What an environment with mcp 1.26 looks like to us: no ``mcp.server.mcpserver``."""
    import dunetrace_cli.mcp as package

    ours = [m for m in sys.modules if m.startswith("dunetrace_cli.mcp.") and m != "dunetrace_cli.mcp.hosts"]
    for name in ours + [m for m in sys.modules if m.startswith("mcp.server.mcpserver")]:
        monkeypatch.delitem(sys.modules, name)
    for name in ours:
        monkeypatch.delattr(package, name.rsplit(".", 1)[1], raising=False)
    monkeypatch.setitem(sys.modules, "mcp.server.mcpserver", None)  # the import fails, as with mcp 1.x
    import dunetrace_cli.mcp

    # `from dunetrace_cli.mcp import server` finds the package attribute an earlier test left behind
    monkeypatch.delattr(dunetrace_cli.mcp, "server", raising=False)
    real_version = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "1.26.0" if name == "mcp" else real_version(name))


EXPECTED = (
    "dunetrace mcp serve needs the MCP Python SDK mcp>=2.3,<3, but mcp 1.26.0 is installed "
    "(importing mcp.server.mcpserver failed; upstream dunetrace-mcp pins mcp<2). "
    "Run `pip install 'mcp>=2.3,<3'` in this environment, or install dunetrace-cli in its own "
    "(`pipx install .` or `uv tool install .` from a checkout)."
)


def test_mcp_serve_names_the_installed_sdk_and_the_fix(sdk_1x, invoke) -> None:
    result = invoke(["mcp", "serve"])
    assert result.exit_code == 3
    assert result.stdout == ""
    assert " ".join(result.stderr.split()) == f"dunetrace: error: {EXPECTED}"
    assert "Traceback" not in result.stderr


def test_the_dunetrace_mcp_script_says_the_same(sdk_1x, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        mcp_cmd.legacy_main([])
    assert info.value.code == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"dunetrace-mcp: error: {EXPECTED}\n"


def test_without_any_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    sentence = mcp_cmd.mcp_sdk_sentence(ModuleNotFoundError("No module named 'mcp'", name="mcp"))
    assert sentence.startswith(
        "dunetrace mcp serve needs the MCP Python SDK mcp>=2.3,<3, but the mcp package is not installed "
        "(importing mcp failed;"
    )
