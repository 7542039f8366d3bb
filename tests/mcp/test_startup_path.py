"""`dunetrace mcp serve`'s start-up path (issue 13: spawn to tools/list near the SDK's import floor).

The fast path (``dunetrace_cli.__main__`` -> ``cli/mcp_serve.fast_serve``, no Typer) and the precomputed
catalog (``mcp/catalog.json``, tools built on first call) must serve exactly what the full path serves:
the same ``tools/list`` bytes on the wire, the same options from the same argv, the same errors.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from dunetrace_cli.cli import mcp_cmd, mcp_serve
from dunetrace_cli.mcp import catalog
from tests.conftest import settings_for

ROOT = Path(__file__).resolve().parents[2]
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}}}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}

# The full path in a child: the Typer app, every tool built up front, no catalog.
FULL = (
    "import sys; from dunetrace_cli.mcp import catalog; catalog.load = lambda **kw: None; "
    "from dunetrace_cli.cli.app import run; sys.exit(run(sys.argv[1:]))"
)
# The fast path in a child, reporting on stderr which modules it loaded by the time it exits.
PROBE = (
    "import json, sys; from dunetrace_cli.__main__ import run; code = run(sys.argv[1:]); "
    "print('PROBE ' + json.dumps(sorted(sys.modules)), file=sys.stderr); sys.exit(code)"
)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "DUNETRACE_API_URL": "http://127.0.0.1:9", "DUNETRACE_CONFIG_DIR": str(tmp_path),
            "PYTHONPATH": str(ROOT), **extra}


def _serve(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    """Run a stdio server: initialize, initialized, tools/list; EOF once answered (the server then exits)."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env, cwd=ROOT)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("".join(json.dumps(m) + "\n" for m in (INIT, INITIALIZED, LIST)).encode())
        proc.stdin.flush()
        lines = []
        for line in proc.stdout:  # an EOF before the answer would cancel it (the SDK ends the session)
            lines.append(line)
            if json.loads(line).get("id") == 2:
                break
        proc.stdin.close()
        lines.append(proc.stdout.read())
        proc.stdout.close()
        proc.wait(timeout=120)
        err.seek(0)
        return subprocess.CompletedProcess(cmd, proc.returncode, b"".join(lines), err.read())


def _tools_list_line(proc: subprocess.CompletedProcess[bytes]) -> bytes:
    lines = [line for line in proc.stdout.splitlines() if json.loads(line).get("id") == 2]
    assert len(lines) == 1, proc.stderr.decode()[-2000:]
    return lines[0]


# --------------------------------------------------------------------------- the catalog


def test_catalog_file_is_the_full_build() -> None:
    """catalog.json is what the registry builds today; after changing a tool, regenerate it."""
    path = ROOT / "dunetrace_cli" / "mcp" / catalog.FILE
    assert path.read_text(encoding="utf-8") == catalog.text(catalog.generate()), (
        f"dunetrace_cli/mcp/{catalog.FILE} is stale: run `{catalog.REGENERATE}` and commit it."
    )


@pytest.mark.anyio
@pytest.mark.parametrize("allow_writes", [False, True])
async def test_tools_list_from_the_catalog_equals_the_full_build(allow_writes: bool) -> None:
    from dunetrace_cli.mcp.server import build_server

    fast = build_server(settings_for(), allow_writes=allow_writes)
    full = build_server(settings_for(), allow_writes=allow_writes, precomputed=False)
    assert fast._tool_manager._tools == {}  # nothing built to answer tools/list
    listed = [catalog.wire(t) for t in await fast.list_tools()]
    assert listed == [catalog.wire(t) for t in await full.list_tools()]
    assert len(listed) == (32 if allow_writes else 23)
    assert any(t["name"] == "create_policy" for t in listed) is allow_writes


def test_stdio_tools_list_bytes_fast_path_equal_full_path(tmp_path: Path) -> None:
    fast = _serve([sys.executable, "-m", "dunetrace_cli", "mcp", "serve"], _env(tmp_path))
    full = _serve([sys.executable, "-c", FULL, "mcp", "serve"], _env(tmp_path))
    assert fast.returncode == full.returncode == 0, (fast.stderr + full.stderr).decode()[-2000:]
    line = _tools_list_line(fast)
    assert line == _tools_list_line(full)
    assert len(json.loads(line)["result"]["tools"]) == 23


@pytest.mark.anyio
async def test_a_tool_is_built_when_first_called(fake_latest) -> None:
    from mcp import Client

    from dunetrace_cli.mcp.server import build_server

    server = build_server(settings_for(), transport=fake_latest.transport())
    async with Client(server) as client:  # type: ignore[arg-type]
        names = [t.name for t in (await client.list_tools()).tools]
        assert server._tool_manager._tools == {}
        result = await client.call_tool("list_agents", {})
        assert not result.is_error
        assert list(server._tool_manager._tools) == ["list_agents"]
        bad = await client.call_tool("search_signals", {"severity": "bogus"})  # validated by the tool built now
        assert bad.is_error and "`severity` must be one of" in bad.content[0].text
    assert names[0] == "list_agents" and len(names) == 23
    full = build_server(settings_for(), transport=fake_latest.transport(), precomputed=False)
    async with Client(full) as client:  # type: ignore[arg-type]
        same = await client.call_tool("list_agents", {})
    assert result.structured_content and result.structured_content == same.structured_content
    assert result.content[0].text == same.content[0].text and len(fake_latest.data["agents"]) > 1


def test_lazy_tools_build_one_at_a_time_and_list_in_order() -> None:
    from dunetrace_cli.mcp.server import LazyTools

    tools = LazyTools(["list_agents", "get_run_detail", "search_signals"])
    assert tools._tools == {}
    tool = tools.get_tool("search_signals")
    assert tool is not None and tool.name == "search_signals"
    assert list(tools._tools) == ["search_signals"]  # only the one asked for
    assert tool.output_schema is not None and "properties" in tool.parameters
    assert tools.get_tool("no_such_tool") is None
    assert [t.name for t in tools.list_tools()] == ["list_agents", "get_run_detail", "search_signals"]
    tools.remove_tool("get_run_detail")
    assert [t.name for t in tools.list_tools()] == ["list_agents", "search_signals"]


def test_stdio_start_up_loads_no_cli_no_http_no_result_models(tmp_path: Path) -> None:
    """What answering initialize + tools/list must not import (each is import time an editor waits for)."""
    proc = _serve([sys.executable, "-c", PROBE, "mcp", "serve"], _env(tmp_path))
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert len(json.loads(_tools_list_line(proc))["result"]["tools"]) == 23
    report = next(line for line in proc.stderr.decode().splitlines() if line.startswith("PROBE "))
    loaded = set(json.loads(report[len("PROBE "):]))
    roots = {name.split(".")[0] for name in loaded}
    assert not {"typer", "rich", "httpx", "httpcore", "pygments"} & roots  # (click: the SDK loads it, uvicorn)
    ours = {name for name in loaded if name.startswith("dunetrace_cli.")}
    assert not {name for name in ours if name.startswith((
        "dunetrace_cli.models", "dunetrace_cli.mcp.views", "dunetrace_cli.render", "dunetrace_cli.queries.",
        "dunetrace_cli.ops", "dunetrace_cli.cli.app", "dunetrace_cli.cli.mcp_cmd", "dunetrace_cli.cli._run",
    ))}
    assert not {"dunetrace_cli.client", "dunetrace_cli.mcp.runner", "dunetrace_cli.mcp.tools",
                "dunetrace_cli.registry"} & ours


# --------------------------------------------------------------------------- the fast path's argv


def _typer_parse(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    from dunetrace_cli.cli.app import run

    seen: list[tuple[Any, Any]] = []
    monkeypatch.setattr(mcp_cmd, "serve_with", lambda settings, opts: seen.append((settings, opts)))
    assert run(argv) == 0
    return seen[0]


def _fast_parse(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    seen: list[tuple[Any, Any]] = []
    monkeypatch.setattr(mcp_serve, "serve_with", lambda settings, opts: seen.append((settings, opts)))
    assert mcp_serve.fast_serve(argv) == 0
    return seen[0]


SERVED = [
    ["mcp", "serve"],
    ["--api-url", "http://127.0.0.1:7", "--timeout", "2.5", "mcp", "serve"],
    ["--api-url=http://127.0.0.1:7", "--timeout=30", "--debug", "mcp", "serve", "--allow-writes"],
    ["mcp", "serve", "--http", "--sse", "--host", "localhost", "--port", "0", "--allow-host", "a.test",
     "--allow-host=b.test", "--token-env", "MY_TOKEN"],
    ["mcp", "serve", "--http", "--stateless", "--workers=3", "--port=+8123", "--host="],
    ["--api-url", "http://127.0.0.1:5/x", "mcp", "serve", "--token-env="],
]


@pytest.mark.parametrize("argv", SERVED, ids=lambda a: " ".join(a) or "-")
def test_fast_path_parses_like_typer(argv: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DUNETRACE_CONFIG_DIR", str(tmp_path))
    monkeypatch.delenv("DUNETRACE_DEBUG", raising=False)
    assert mcp_serve.parse_fast(argv) is not None
    assert _fast_parse(argv, monkeypatch) == _typer_parse(argv, monkeypatch)


def test_fast_path_profiles_like_typer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[profiles.staging]\napi_url = "http://127.0.0.1:6"\n')
    monkeypatch.setenv("DUNETRACE_CONFIG_DIR", str(tmp_path))
    for argv in (["-p", "staging", "mcp", "serve"], ["-pstaging", "mcp", "serve"], ["--profile=staging", "mcp", "serve"]):
        fast = _fast_parse(argv, monkeypatch)
        assert fast == _typer_parse(argv, monkeypatch)
        assert fast[0].api_url == "http://127.0.0.1:6" and fast[0].profile == "staging"


NOT_OURS = [
    ["mcp", "serve", "--help"], ["mcp", "serve", "-h"], ["mcp", "--help"], ["mcp"], ["mcp", "install"],
    ["--version", "mcp", "serve"], ["--help", "mcp", "serve"], ["agents", "mcp"],
    ["mcp", "serve", "--port", "x"], ["mcp", "serve", "--port", "1", "--port", "2"], ["mcp", "serve", "--port"],
    ["mcp", "serve", "--host", "--sse"], ["mcp", "serve", "--sse=1"], ["mcp", "serve", "--sse", "--sse"],
    ["mcp", "serve", "extra"], ["mcp", "serve", "--"], ["mcp", "serve", "--no-such-flag"], ["mcp", "serve", "--ss"],
    ["--timeout", "0", "mcp", "serve"], ["--timeout", "1e3", "mcp", "serve"], ["--timeout", "601", "mcp", "serve"],
    ["--profile", "a", "-p", "b", "mcp", "serve"], ["--debug=1", "mcp", "serve"], ["-x", "mcp", "serve"],
    ["mcp", "serve", "--workers", "-1"], ["mcp", "serve", "--port", "1_000"], ["mcp", "serve", "-p", "x"],
]


@pytest.mark.parametrize("argv", NOT_OURS, ids=" ".join)
def test_anything_else_goes_to_typer(argv: list[str]) -> None:
    assert mcp_serve.parse_fast(argv) is None


def test_shell_completion_goes_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_DUNETRACE_COMPLETE", "complete_bash")
    assert mcp_serve.parse_fast(["mcp", "serve"]) is None


@pytest.mark.parametrize("argv", [
    ["mcp", "serve", "--workers", "2"],  # a check in serve_with: UsageError, exit 2
    ["--profile", "nope", "mcp", "serve"],  # settings: ConfigError, exit 3
    ["mcp", "serve", "--http", "--port", "70000"],
    ["mcp", "serve", "--port", "x"],  # not ours: Typer's usage error, reached through the same entry
], ids=" ".join)
def test_errors_are_the_typer_ones(argv: list[str], tmp_path: Path) -> None:
    env = _env(tmp_path)
    fast = subprocess.run([sys.executable, "-m", "dunetrace_cli", *argv], capture_output=True, text=True,
                          timeout=120, env=env, cwd=ROOT)
    full = subprocess.run([sys.executable, "-c", FULL, *argv], capture_output=True, text=True, timeout=120,
                          env=env, cwd=ROOT)
    assert (fast.returncode, fast.stdout, fast.stderr) == (full.returncode, full.stdout, full.stderr)
    assert fast.returncode in (2, 3) and fast.stdout == ""
    assert "Traceback" not in fast.stderr and fast.stderr.strip()


def test_the_server_serves_with_the_gc_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The entry turns the cyclic GC off for start-up (dunetrace_cli.__main__.prepare); serving turns it on."""
    import gc

    from dunetrace_cli.mcp import transports

    seen: list[bool] = []  # the GC is on, and start-up's objects are frozen out of later collections
    frozen: list[int] = []
    monkeypatch.setattr(
        transports, "run_stdio", lambda server: seen.append(gc.isenabled()) or frozen.append(gc.get_freeze_count())
    )
    gc.disable()
    try:
        mcp_serve.serve_with(settings_for(), mcp_serve.ServeOptions())
    finally:
        gc.unfreeze()
        gc.enable()
    assert seen == [True] and frozen[0] > 0


def test_the_entry_prepares_then_dispatches(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    import dunetrace_cli.__main__ as entry

    seen: list[tuple[list[str], bool]] = []
    monkeypatch.setattr(entry, "run", lambda argv: seen.append((argv, gc.isenabled())) or 0)
    monkeypatch.setattr(sys, "argv", ["dunetrace", "mcp", "serve"])
    # set first so that teardown puts back what was there (or nothing), then removed for main() to set
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", "x")
    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS")
    monkeypatch.setitem(sys.modules, "httpx._main", sys.modules.get("httpx._main"))  # type: ignore[arg-type]
    monkeypatch.delitem(sys.modules, "httpx._main")
    loader = "pydantic.plugin._loader"  # put back as it was: the real loader, or none yet
    monkeypatch.setitem(sys.modules, loader, sys.modules.get(loader))  # type: ignore[arg-type]
    monkeypatch.delitem(sys.modules, loader)
    try:
        with pytest.raises(SystemExit) as exit_:
            entry.main()
    finally:
        gc.enable()
    assert seen == [(["mcp", "serve"], False)] and exit_.value.code == 0
    assert "PYDANTIC_DISABLE_PLUGINS" not in os.environ and sys.modules["httpx._main"] is None
    assert list(sys.modules[loader].get_plugins()) == []
