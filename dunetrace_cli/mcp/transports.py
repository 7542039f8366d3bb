"""How the MCP server is served: stdio, streamable HTTP (stateful or stateless) and legacy SSE over
uvicorn, DNS-rebinding protection, binding before announcing, and uvicorn worker processes.

``--workers N`` needs ``--stateless``: a stateful session lives in the process that opened it, while
the kernel hands each connection to any worker. Each worker builds its own server from a
:class:`WorkerSpec` (settings are loaded again from the same flags, config and environment; the
bearer token is read from the same environment variable, never passed in argv or the spec).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from mcp.server.transport_security import TransportSecuritySettings

from dunetrace_cli.mcp.hosts import host_pattern

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer
    from starlette.applications import Starlette

WORKER_ENV = "DUNETRACE_MCP_WORKER"  # the WorkerSpec (JSON) each uvicorn worker builds its server from


def transport_security(host: str, allowed_hosts: list[str] | None = None) -> TransportSecuritySettings:
    """DNS-rebinding protection, always on: loopback names, the bound host, and any extra names."""
    names = ["127.0.0.1", "localhost", "[::1]"]
    extra = list(allowed_hosts or [])
    if host not in ("0.0.0.0", "::", ""):
        extra.append(host)
    else:  # a wildcard bind: the machine's own names
        with contextlib.suppress(OSError):
            extra += [socket.gethostname(), socket.getfqdn()]
    for name in extra:
        pattern = host_pattern(name)
        if pattern and pattern not in names:
            names.append(pattern)
    hosts, origins = [], []
    for name in names:
        if ":" in name and not name.startswith("["):  # host:port given explicitly
            hosts.append(name)
            origins += [f"http://{name}", f"https://{name}"]
        else:
            hosts += [name, f"{name}:*"]
            origins += [f"http://{name}", f"http://{name}:*", f"https://{name}", f"https://{name}:*"]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def run_stdio(server: MCPServer) -> None:
    """Serve over stdio until the client closes stdin. Nothing but protocol reaches stdout."""
    server.run("stdio")


def http_app(
    server: MCPServer,
    *,
    sse: bool,
    http: bool,
    host: str,
    allowed_hosts: list[str] | None = None,
    stateless: bool = False,
) -> Starlette:
    """One Starlette app serving streamable HTTP at /mcp and/or legacy SSE at /sse (+ /messages/).

    ``stateless``: the SDK's stateless streamable HTTP (no session id; each POST answered with plain
    JSON), so any process behind a load balancer can answer any request.
    """
    from starlette.applications import Starlette

    security = transport_security(host, allowed_hosts)
    routes: list[Any] = []
    middleware: list[Any] = []
    if http:
        app = server.streamable_http_app(
            host=host, transport_security=security, stateless_http=stateless, json_response=stateless
        )
        routes += app.routes
        middleware = list(app.user_middleware)
    if sse:
        app = server.sse_app(host=host, transport_security=security)
        routes += app.routes
        middleware = middleware or list(app.user_middleware)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any):  # type: ignore[no-untyped-def]
        runner = getattr(server, "dunetrace_runner", None)
        try:
            if http:
                async with server.session_manager.run():
                    yield
            else:
                yield
        finally:
            if runner is not None:
                await runner.aclose()

    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind now (port 0 picks a free one) so the URL we announce is the one we serve."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)  # listening before the URL is announced: early clients queue, not fail
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _announce_urls(sock: socket.socket, host: str, *, sse: bool, http: bool, announce: Callable[[str], None] | None,
                   banner: str | None) -> None:
    if announce is None:
        return
    base = f"http://{host_pattern(host)}:{sock.getsockname()[1]}"
    if banner:
        announce(banner)
    if http:
        announce(f"streamable HTTP: {base}/mcp")
    if sse:
        announce(f"SSE: {base}/sse (messages at {base}/messages/)")


def run_http(
    server: MCPServer,
    *,
    sse: bool,
    http: bool,
    host: str,
    port: int,
    allowed_hosts: list[str] | None = None,
    stateless: bool = False,
    announce: Callable[[str], None] | None = None,
    banner: str | None = None,
) -> None:
    """Serve the HTTP transports with uvicorn in this process until interrupted."""
    import anyio
    import uvicorn

    app = http_app(server, sse=sse, http=http, host=host, allowed_hosts=allowed_hosts, stateless=stateless)
    sock = bind_socket(host, port)
    _announce_urls(sock, host, sse=sse, http=http, announce=announce, banner=banner)
    uvi = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False))

    async def main() -> None:
        await uvi.serve(sockets=[sock])

    try:
        anyio.run(main)
    finally:
        sock.close()


@dataclass
class WorkerSpec:
    """What a worker needs to build the same server (no secrets: ``token_env`` names the variable)."""

    api_url: str | None = None
    timeout: float | None = None
    profile: str | None = None
    token_env: str | None = None
    host: str = "127.0.0.1"
    allowed_hosts: list[str] = field(default_factory=list)
    debug: bool = False


def run_workers(
    spec: WorkerSpec,
    *,
    port: int,
    workers: int,
    announce: Callable[[str], None] | None = None,
    banner: str | None = None,
) -> None:
    """Stateless streamable HTTP served by ``workers`` uvicorn processes sharing one bound socket."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    sock = bind_socket(spec.host, port)
    _announce_urls(sock, spec.host, sse=False, http=True, announce=announce, banner=banner)
    os.environ[WORKER_ENV] = json.dumps(asdict(spec))
    config = uvicorn.Config(
        "dunetrace_cli.mcp.transports:worker_app", factory=True, workers=workers, log_level="warning",
        lifespan="on", access_log=False,
    )
    kwargs: dict[str, Any] = {"sockets": [sock]}
    if "target" in inspect.signature(Multiprocess).parameters:  # uvicorn < 0.50 takes the worker's entry point
        kwargs["target"] = uvicorn.Server(config).run
    try:
        Multiprocess(config, **kwargs).run()
    finally:
        sock.close()


def worker_app() -> Starlette:
    """The app of one uvicorn worker (``factory=True``): the server rebuilt from ``$DUNETRACE_MCP_WORKER``."""
    from dunetrace_cli.config import load_settings
    from dunetrace_cli.mcp.server import build_server

    spec = WorkerSpec(**json.loads(os.environ[WORKER_ENV]))
    configure_logging(debug=spec.debug)
    settings = load_settings(api_url=spec.api_url, timeout=spec.timeout, profile=spec.profile)
    token = os.environ.get(spec.token_env, "").strip() if spec.token_env else None
    from dunetrace_cli.cli.mcp_serve import writes_allowed

    server = build_server(settings, auth_token=token or None, allow_writes=writes_allowed())
    return http_app(server, sse=False, http=True, host=spec.host, allowed_hosts=spec.allowed_hosts, stateless=True)


def configure_logging(debug: bool = False) -> None:
    """Diagnostics go to stderr only (stdout is the protocol wire under stdio)."""
    root = logging.getLogger()
    if not any(getattr(h, "_dunetrace_mcp", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("dunetrace-mcp: %(levelname)s %(name)s: %(message)s"))
        handler._dunetrace_mcp = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    for noisy in ("httpx", "httpcore", "mcp", "uvicorn", "sse_starlette"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)


__all__ = [
    "WORKER_ENV", "WorkerSpec", "bind_socket", "configure_logging", "http_app", "run_http", "run_stdio",
    "run_workers", "transport_security", "worker_app",
]
