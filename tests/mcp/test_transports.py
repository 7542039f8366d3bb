"""Real transports end to end: stdio subprocesses, SSE and streamable HTTP on loopback, against the
fake Customer API served over real HTTP. Plus the HTTP guards: bearer token and Host checks."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.mcp.conftest import LC, RUN_FULL, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

BIN = Path(sys.executable).parent
FIXED_ENV = ("DUNETRACE_CONFIG_DIR", "DUNETRACE_NOW")
URL_LINE = re.compile(r"(streamable HTTP|SSE): (http://\S+)")


def _script(name: str) -> list[str]:
    path = BIN / name
    if path.exists():
        return [str(path)]
    found = shutil.which(name)
    if found:
        return [found]
    if name == "dunetrace":
        return [sys.executable, "-m", "dunetrace_cli"]
    pytest.skip(f"console script {name} is not installed (pip install -e .)")


def _env(api_url: str, **extra: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in FIXED_ENV if k in os.environ}
    env["DUNETRACE_API_URL"] = api_url
    env.update(extra)
    return env


async def _exercise(client) -> None:
    """list_agents and get_run_detail (by prefix) end to end."""
    agents = await client.call_tool("list_agents", {})
    assert not agents.is_error, text_of(agents)
    assert agents.structured_content["page"]["total"] == 6
    assert f"|{LC}|40|30|3|14|" in text_of(agents)
    run = await client.call_tool("get_run_detail", {"run_id": RUN_FULL[:12]})
    assert not run.is_error, text_of(run)
    assert run.structured_content["run_id"] == RUN_FULL
    assert text_of(run).startswith(f"# Run `{RUN_FULL}`")


# --------------------------------------------------------------------------- stdio


@pytest.mark.parametrize("command", [["dunetrace", "mcp", "serve"], ["dunetrace-mcp"]], ids=["dunetrace", "dunetrace-mcp"])
async def test_stdio(served, command) -> None:
    from mcp import Client, StdioServerParameters

    url, fake = served("latest")
    exe = _script(command[0])
    params = StdioServerParameters(command=exe[0], args=[*exe[1:], *command[1:]], env=_env(url))
    with open(os.devnull, "w") as devnull:
        from mcp.client.stdio import stdio_client

        async with Client(stdio_client(params, errlog=devnull)) as client:
            await _exercise(client)
    assert any(path == "/v1/agents" for _, path, _ in fake.requests)


async def test_stdio_honours_cli_profile(served, tmp_path) -> None:
    """`dunetrace --profile P mcp serve`: the CLI's settings (profile in config.toml, key) apply."""
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client

    url, fake = served("latest", api_key="dt_live_profile_key")
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text(
        f'[profiles.staging]\napi_url = "{url}"\napi_key = "dt_live_profile_key"\n', encoding="utf-8"
    )
    env = {"DUNETRACE_CONFIG_DIR": str(config), "DUNETRACE_NOW": os.environ["DUNETRACE_NOW"]}
    exe = _script("dunetrace")
    params = StdioServerParameters(command=exe[0], args=[*exe[1:], "--profile", "staging", "mcp", "serve"], env=env)
    with open(os.devnull, "w") as devnull:
        async with Client(stdio_client(params, errlog=devnull)) as client:
            await _exercise(client)
    assert fake.requests


def test_stdio_prints_nothing_but_protocol(served) -> None:
    """A client that closes stdin at once gets an empty stdout and a clean exit."""
    url, _ = served("latest")
    proc = subprocess.run(
        [*_script("dunetrace"), "mcp", "serve"],
        input=b"", capture_output=True, timeout=30, env={**os.environ, **_env(url)},
    )
    assert proc.stdout == b""
    assert proc.returncode == 0, proc.stderr.decode()


# --------------------------------------------------------------------------- HTTP


@contextlib.contextmanager
def http_server(args: list[str], env: dict[str, str], *, expect: int) -> Iterator[dict[str, str]]:
    """Start a server subprocess on a free port; yield {"streamable HTTP": url, "SSE": url}."""
    with http_server_process(args, env, expect=expect) as (urls, _proc):
        yield urls


@contextlib.contextmanager
def http_server_process(
    args: list[str], env: dict[str, str], *, expect: int
) -> Iterator[tuple[dict[str, str], subprocess.Popen[str]]]:
    """``http_server``, also yielding the process."""
    proc = subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, **env}, text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    urls: dict[str, str] = {}
    seen: list[str] = []
    try:
        while len(urls) < expect:
            try:
                line = lines.get(timeout=30)
            except queue.Empty:
                pytest.fail(f"server did not announce its URL: {seen}")
            if line is None:
                pytest.fail(f"server exited ({proc.wait()}): {''.join(seen)}")
            seen.append(line)
            match = URL_LINE.search(line)
            if match:
                urls[match.group(1)] = match.group(2)
        yield urls, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        assert proc.stdout.read() == ""  # nothing but logs, and those go to stderr


async def test_streamable_http_and_sse_from_one_process(served) -> None:
    from mcp import Client
    from mcp.client.sse import sse_client

    url, _ = served("latest")
    cmd = [*_script("dunetrace"), "mcp", "serve", "--http", "--sse", "--port", "0"]
    with http_server(cmd, _env(url), expect=2) as urls:
        assert urls["streamable HTTP"].startswith("http://127.0.0.1:") and urls["streamable HTTP"].endswith("/mcp")
        async with Client(urls["streamable HTTP"]) as client:
            await _exercise(client)
        async with Client(sse_client(urls["SSE"])) as client:
            await _exercise(client)

        base = urls["streamable HTTP"].rsplit("/", 1)[0]
        # DNS-rebinding protection: a foreign Host (or Origin) is refused before any MCP handling
        init = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
        r = httpx.post(f"{base}/mcp", json=init, headers={**headers, "host": "evil.example"}, timeout=5)
        assert r.status_code == 421
        r = httpx.post(f"{base}/mcp", json=init, headers={**headers, "origin": "http://evil.example"}, timeout=5)
        assert r.status_code == 403
        r = httpx.get(f"{base}/sse", headers={"host": "evil.example:80"}, timeout=5)
        assert r.status_code == 421


async def test_legacy_sse_flags(served) -> None:
    """`dunetrace-mcp --sse --port N`, as in the upstream README: SSE only."""
    from mcp import Client
    from mcp.client.sse import sse_client

    url, _ = served("latest")
    with http_server([*_script("dunetrace-mcp"), "--sse", "--port", "0"], _env(url), expect=1) as urls:
        assert set(urls) == {"SSE"}
        async with Client(sse_client(urls["SSE"])) as client:
            await _exercise(client)
        base = urls["SSE"].rsplit("/", 1)[0]
        assert httpx.post(f"{base}/mcp", json={}, timeout=5).status_code == 404


async def test_bearer_token_on_non_loopback_bind(served) -> None:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    url, _ = served("latest")
    cmd = [*_script("dunetrace"), "mcp", "serve", "--http", "--host", "0.0.0.0", "--port", "0", "--token-env", "MY_TOKEN"]
    with http_server(cmd, _env(url, MY_TOKEN="s3cret-token-for-tests"), expect=1) as urls:
        port = urls["streamable HTTP"].split(":")[2].split("/")[0]
        endpoint = f"http://127.0.0.1:{port}/mcp"
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
        assert httpx.post(endpoint, json=ping, headers=headers, timeout=5).status_code == 401
        wrong = {**headers, "authorization": "Bearer s3cret-token-for-test"}
        assert httpx.post(endpoint, json=ping, headers=wrong, timeout=5).status_code == 401
        async with httpx2.AsyncClient(headers={"Authorization": "Bearer s3cret-token-for-tests"}) as http:
            async with Client(streamable_http_client(endpoint, http_client=http)) as client:
                await _exercise(client)


# --------------------------------------------------------------------------- refusals (no server starts)


def test_refuses_non_loopback_without_token(invoke) -> None:
    result = invoke(["mcp", "serve", "--http", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "refusing to serve MCP on 0.0.0.0 without a bearer token" in result.stderr
    assert "DUNETRACE_MCP_TOKEN" in result.stderr
    assert result.stdout == ""


def test_refuses_unset_token_env(invoke) -> None:
    result = invoke(["mcp", "serve", "--sse", "--token-env", "NOT_SET_ANYWHERE"])
    assert result.exit_code == 2
    assert "the environment variable NOT_SET_ANYWHERE is not set or empty" in result.stderr


def test_legacy_script_refuses_non_loopback_without_token() -> None:
    proc = subprocess.run(
        [*_script("dunetrace-mcp"), "--sse", "--host", "0.0.0.0"],
        capture_output=True, text=True, timeout=30,
        env={k: v for k, v in os.environ.items() if k != "DUNETRACE_MCP_TOKEN"},
    )
    assert proc.returncode == 2
    assert "refusing to serve MCP on 0.0.0.0 without a bearer token" in proc.stderr
    assert proc.stdout == ""


def test_help_does_not_import_the_sdk() -> None:
    code = "import sys; from dunetrace_cli.cli.app import app; print(any(m == 'mcp' or m.startswith('mcp.') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "False", out.stderr


# --------------------------------------------------------------------------- scale-out


async def test_stateless_http_answers_without_sessions(served) -> None:
    from mcp import Client

    url, fake = served("latest")
    cmd = [*_script("dunetrace"), "mcp", "serve", "--http", "--stateless", "--port", "0"]
    with http_server(cmd, _env(url), expect=1) as urls:
        async with Client(urls["streamable HTTP"]) as client:
            await _exercise(client)
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
        headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
        r = httpx.post(urls["streamable HTTP"], json=init, headers=headers, timeout=10)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        assert "mcp-session-id" not in r.headers  # nothing to pin a client to one process
        assert r.json()["result"]["serverInfo"]["name"] == "dunetrace"


def _workers(pid: int) -> list[int]:
    """The uvicorn worker processes of ``pid`` (multiprocessing's resource tracker is a child too)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    children = [int(p) for p in path.read_text().split()] if path.exists() else []
    out = []
    for child in children:
        with contextlib.suppress(OSError):
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                out.append(child)
    return out


async def test_two_workers_share_the_port(served) -> None:
    import anyio
    from mcp import Client

    url, fake = served("latest")
    cmd = [*_script("dunetrace"), "mcp", "serve", "--http", "--stateless", "--workers", "2", "--port", "0"]
    with http_server_process(cmd, _env(url), expect=1) as (urls, proc):
        workers: list[int] = []
        with anyio.fail_after(60):
            while len(workers) < 2:
                workers = _workers(proc.pid)
                await anyio.sleep(0.2)

        async def one() -> None:
            async with Client(urls["streamable HTTP"]) as client:
                await _exercise(client)

        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(one)
        assert _workers(proc.pid) == workers  # both still up after the calls


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--stateless"], "--stateless applies to streamable HTTP: add --http."),
        (["--http", "--workers", "2"], "--workers needs --http --stateless (and no --sse)"),
        (["--http", "--sse", "--stateless", "--workers", "2"], "--workers needs --http --stateless (and no --sse)"),
        (["--http", "--stateless", "--workers", "0"], "invalid --workers 0: use 1 or more."),
    ],
)
def test_scale_out_flags_are_checked(invoke, args: list[str], needle: str) -> None:
    result = invoke(["mcp", "serve", *args, "--port", "0"])
    assert result.exit_code == 2
    assert needle in " ".join(result.stderr.split())
