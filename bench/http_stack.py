"""What the HTTP stack of `local serve`'s ingest port costs per event, next to a bare server.

The real SDK's ``HttpBatchingEmitter`` (one client process, 100-event batches, a new connection each, as in
``bench/local_ingest.py``) ships the same events to three servers that read each body and answer 202, and
nothing else (no parse, no store), in interleaved rounds:

* **uvicorn + starlette**: the stack `local serve` runs (a starlette ``Route``, its middleware, ``JSONResponse``);
* **uvicorn, bare ASGI**: the same uvicorn (httptools) with a plain ASGI callable instead of starlette;
* **asyncio + httptools**: a bare ``asyncio.Protocol`` parsing with httptools: the floor of any Python server.

Printed: the server's CPU seconds (user + system, from ``/proc``) scaled to 1M events, median of the rounds,
next to the floor, and the client's. It says how much replacing the stack could save the HTTP route
(issue 11: HTTP ingest next to JSONL). Run from the repo root: ``python bench/http_stack.py`` (about a
minute; ``--events N``, ``--rounds R``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, print_table
from _gen_events import write_jsonl
from local_ingest import _wait_up, cpu_s

from tests.faultserver import free_ports

PY = sys.executable
KINDS = {
    "starlette": "uvicorn + starlette (local serve)",
    "asgi": "uvicorn, bare ASGI",
    "raw": "asyncio + httptools (floor)",
}
_BODY = b'{"accepted":100,"batch_id":"-","queued_at":0}'


def child_server(kind: str, port: int) -> None:
    if kind == "raw":
        _raw_server(port)
        return
    import uvicorn

    if kind == "starlette":
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def ingest(request: Request) -> JSONResponse:
            await request.body()
            return JSONResponse({"accepted": 100, "batch_id": "-", "queued_at": time.time()}, status_code=202)

        async def health(request: Request) -> JSONResponse:
            return JSONResponse({"status": "ok"})

        app: object = Starlette(routes=[Route("/v1/ingest", ingest, methods=["POST"]), Route("/health", health)])
    else:

        async def app(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def]
            if scope["type"] != "http":
                return
            more = True
            while more:
                more = (await receive()).get("more_body", False)
            await send({"type": "http.response.start", "status": 202,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(_BODY))]})  # fmt: skip
            await send({"type": "http.response.body", "body": _BODY})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, server_header=False,  # type: ignore[arg-type]
                lifespan="off")  # fmt: skip


def _raw_server(port: int) -> None:
    import httptools

    answer = b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        len(_BODY),
        _BODY,
    )

    class Http(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            self.parser = httptools.HttpRequestParser(self)
            self.body: list[bytes] = []

        def on_body(self, body: bytes) -> None:
            self.body.append(body)

        def on_message_complete(self) -> None:
            b"".join(self.body)
            self.body = []
            self.transport.write(answer)  # type: ignore[attr-defined]
            if not self.parser.should_keep_alive():
                self.transport.close()

        def data_received(self, data: bytes) -> None:
            self.parser.feed_data(data)

    async def main() -> None:
        await asyncio.get_running_loop().create_server(Http, "127.0.0.1", port, backlog=1024)
        await asyncio.Event().wait()

    asyncio.run(main())


def one(kind: str, src: Path) -> tuple[float, float]:
    """(server CPU s, client CPU s) for shipping ``src`` to a fresh server of ``kind``."""
    (port,) = free_ports(1)
    server = subprocess.Popen([PY, __file__, "--child-server", kind, str(port)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_up(url)
        base = cpu_s(server.pid)
        client = subprocess.Popen([PY, str(Path(__file__).with_name("local_ingest.py")), "--child-client", url, str(src)],
                                  cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert client.stdout is not None and client.stdin is not None
        if client.stdout.readline().strip() != "ready":
            raise RuntimeError("the SDK client did not start")
        out, _ = client.communicate("go\n", timeout=600)
        report = json.loads(out)
        if report["failed"]:
            raise RuntimeError(f"{report['failed']} batches were not delivered")
        return cpu_s(server.pid) - base, report["cpu"]
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child-server", nargs=2, metavar=("KIND", "PORT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_server:
        child_server(args.child_server[0], int(args.child_server[1]))
        return
    scale = 1_000_000 / args.events
    got: dict[str, list[tuple[float, float]]] = {k: [] for k in KINDS}
    with tempfile.TemporaryDirectory(prefix="dt-bench-http-") as tmp:
        src = write_jsonl(Path(tmp) / "events.jsonl", args.events, now=time.time() - 600)
        for _ in range(args.rounds):
            for kind in KINDS:
                got[kind].append(one(kind, src))
    floor = statistics.median(s for s, _ in got["raw"]) * scale
    rows = []
    for kind, label in KINDS.items():
        server = statistics.median(s for s, _ in got[kind]) * scale
        client = statistics.median(c for _, c in got[kind]) * scale
        rows.append([label, f"{server:.2f}", f"{server - floor:+.2f}", f"{client:.2f}",
                     " ".join(f"{s * scale:.2f}" for s, _ in got[kind])])  # fmt: skip
    title = f"{args.events:,} events in 100-event batches, {args.rounds} interleaved rounds; CPU s per 1M events"
    print_table(title, ["server", "server CPU s", "over the floor", "SDK client CPU s", "rounds"], rows)


if __name__ == "__main__":
    main()
