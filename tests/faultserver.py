"""A loopback server that answers every request with one failure mode, chosen by the URL path.

``http://127.0.0.1:PORT/m/<mode>`` is an API base URL whose every route fails the ``<mode>`` way
(``/m/drip/v1/agents`` drips, ``/m/s401/v1/agents`` answers 401...). Raw sockets, so it can also
misbehave below HTTP: hang, drip, cut a body short, speak something that is not HTTP.
Used by ``tests/test_faults.py`` and ``bench/faults.py``.
"""

from __future__ import annotations

import email.utils
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

HUGE_BYTES = 50 * 1024 * 1024


def _head(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _json(status: str, body: object, **extra: str) -> bytes:
    data = json.dumps(body).encode()
    headers = {"content-type": "application/json", "content-length": str(len(data)), "connection": "close"}
    headers.update({k.replace("_", "-"): v for k, v in extra.items()})
    return _head(status, headers) + data


class FaultServer:
    """Start with ``with fault_server() as srv``; ``srv.url(mode)`` is the API base URL for a mode."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self.redirect_to = ""  # set by the caller: where the "redirect" mode points
        self.current_mode = "ok"  # what ``/m/current`` answers: one client, many modes in turn
        self.requests: list[tuple[str, dict[str, str]]] = []  # (request line, headers) per request
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def url(self, mode: str, userinfo: str = "") -> str:
        return f"http://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}/m/{mode}"

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> FaultServer:
        thread = threading.Thread(target=self._accept_loop, name="faultserver", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in list(self._threads):
            thread.join(timeout=2)
        self._sock.close()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            worker = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            worker.start()
            self._threads.append(worker)

    # ---------------------------------------------------------------- one connection

    def _read_head(self, conn: socket.socket) -> tuple[str, dict[str, str]] | None:
        data = b""
        conn.settimeout(5)
        while b"\r\n\r\n" not in data:
            try:
                chunk = conn.recv(65536)
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
            if data[:1] == b"\x16":  # a TLS ClientHello: this port speaks plain HTTP
                return None
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        first, *rest = head.split("\r\n")
        headers = {}
        for line in rest:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return first, headers

    def _serve(self, conn: socket.socket) -> None:
        try:
            parsed = self._read_head(conn)
            if parsed is None:
                conn.sendall(b"\x15\x03\x01\x00\x02\x02\x46garbage, not TLS, not HTTP\r\n")  # a TLS hello to a plain port
                return
            first, headers = parsed
            self.requests.append((first, headers))
            path = first.split(" ")[1] if " " in first else "/"
            parts = path.split("/")
            mode = parts[2] if len(parts) > 2 and parts[1] == "m" else "record"
            if mode == "current":
                mode = self.current_mode
            handler: Callable[[socket.socket], None] = getattr(self, "_mode_" + mode.replace("-", "_"), self._mode_ok)
            handler(conn)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _wait_closed(self, conn: socket.socket, seconds: float) -> None:
        conn.settimeout(0.1)
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self._stop.is_set():
            try:
                if conn.recv(1024) == b"":
                    return
            except TimeoutError:
                continue

    # ---------------------------------------------------------------- the modes

    def _mode_ok(self, conn: socket.socket) -> None:
        conn.sendall(_json("200 OK", {"agents": [], "page": {"total": 0, "offset": 0, "limit": 100, "has_more": False}}))

    _mode_record = _mode_ok

    def _mode_drip(self, conn: socket.socket) -> None:
        conn.sendall(_head("200 OK", {"content-type": "application/json", "content-length": "4000"}))
        body = b'{"agents": [' + b" " * 4000
        for i in range(len(body)):
            if self._stop.is_set():
                return
            conn.sendall(body[i : i + 1])
            time.sleep(0.5)

    def _mode_hang(self, conn: socket.socket) -> None:
        self._wait_closed(conn, 60)

    def _mode_truncated(self, conn: socket.socket) -> None:
        conn.sendall(_head("200 OK", {"content-type": "application/json", "content-length": "5000"}))
        conn.sendall(b'{"agents": [{"agent_id": "a"},' + b" " * 70)

    def _mode_huge(self, conn: socket.socket) -> None:
        """50 MB, chunked, no length given: only streaming with a limit stops it."""
        conn.sendall(_head("200 OK", {"content-type": "application/json", "transfer-encoding": "chunked"}))
        chunk = b" " * 65536
        frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        for _ in range(HUGE_BYTES // len(chunk)):
            conn.sendall(frame)
        conn.sendall(b"0\r\n\r\n")

    def _mode_huge_declared(self, conn: socket.socket) -> None:
        conn.sendall(_head("200 OK", {"content-type": "application/json", "content-length": str(HUGE_BYTES)}))
        self._wait_closed(conn, 10)

    def _mode_redirect(self, conn: socket.socket) -> None:
        conn.sendall(_head("302 Found", {"location": self.redirect_to, "content-length": "0", "connection": "close"}))

    def _mode_r429_seconds(self, conn: socket.socket) -> None:
        conn.sendall(_json("429 Too Many Requests", {"detail": "Too Many Requests"}, retry_after="1"))

    def _mode_r429_3600(self, conn: socket.socket) -> None:
        conn.sendall(_json("429 Too Many Requests", {"detail": "Too Many Requests"}, retry_after="3600"))

    def _mode_r429_date(self, conn: socket.socket) -> None:
        when = email.utils.formatdate(time.time() + 7200, usegmt=True)
        conn.sendall(_json("429 Too Many Requests", {"detail": "Too Many Requests"}, retry_after=when))

    def _status(self, conn: socket.socket, status: str, detail: object) -> None:
        conn.sendall(_json(status, {"detail": detail}))

    def _mode_s401(self, conn: socket.socket) -> None:
        self._status(conn, "401 Unauthorized", "Invalid or inactive API key")

    def _mode_s403(self, conn: socket.socket) -> None:
        self._status(conn, "403 Forbidden", "Forbidden")

    def _mode_s404(self, conn: socket.socket) -> None:
        self._status(conn, "404 Not Found", "Not Found")

    def _mode_s422(self, conn: socket.socket) -> None:
        detail = [{"loc": ["query", "limit"], "msg": "Input should be less than or equal to 500", "type": "x"}]
        self._status(conn, "422 Unprocessable Entity", detail)

    def _mode_s500(self, conn: socket.socket) -> None:
        self._status(conn, "500 Internal Server Error", "Internal Server Error")

    def _mode_s502(self, conn: socket.socket) -> None:
        self._status(conn, "502 Bad Gateway", "Bad Gateway")

    def _mode_s503(self, conn: socket.socket) -> None:
        self._status(conn, "503 Service Unavailable", "Service Unavailable")

    def _mode_bad_json(self, conn: socket.socket) -> None:
        body = b'{"agents": [1, 2,'
        conn.sendall(_head("200 OK", {"content-type": "application/json", "content-length": str(len(body))}) + body)

    def _mode_html(self, conn: socket.socket) -> None:
        body = b"<html><body>Sign in</body></html>"
        conn.sendall(_head("200 OK", {"content-type": "text/html; charset=utf-8", "content-length": str(len(body))}) + body)

    def _mode_garbage(self, conn: socket.socket) -> None:
        conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\x00\x01garbage\r\n\r\n")


@contextmanager
def fault_server() -> Iterator[FaultServer]:
    server = FaultServer().start()
    try:
        yield server
    finally:
        server.stop()


def free_ports(n: int) -> list[int]:
    """n distinct loopback ports nothing listens on: every socket stays bound until all are, so the kernel
    cannot hand the same port out twice (two back-to-back one-port calls can)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def refused_url() -> str:
    """A loopback URL nothing listens on."""
    return f"http://127.0.0.1:{free_ports(1)[0]}"
