"""Serve a FakeApi over real HTTP on loopback, in a background thread."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from ._core import FakeApi


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # fan-out benchmarks open many connections at once

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        """Ignore clients that hang up (a timeout, or a scan cancelled after its first hit).

        socketserver prints those to ``sys.stderr``, which CliRunner swaps for the command's
        captured stderr: the noise would land in the output under test.
        """
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def _handler_class(fake: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes

        def version_string(self) -> str:
            return "uvicorn"  # what the real API answers with

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
                self.close_connection = True  # body not read; do not reuse the stream
            host = self.headers.get("host") or "{}:{}".format(*self.server.server_address[:2])
            request = httpx.Request(
                self.command,
                f"http://{host}{self.path}",
                headers=list(self.headers.items()),
                content=body,
            )
            response = fake.handle(request)
            self.send_response(response.status_code)
            for name, value in response.headers.multi_items():
                if name.lower() not in ("content-length", "server", "date"):
                    self.send_header(name, value)
            self.send_header("content-length", str(len(response.content)))
            if self.close_connection:
                self.send_header("connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.content)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
            pass

    return Handler


@contextmanager
def serve(fake: FakeApi, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run ``fake`` on ``host`` (a free port unless given); yield its base URL."""
    server = _Server((host, port), _handler_class(fake))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="fakeapi", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
