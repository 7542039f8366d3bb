"""`dunetrace local serve`: the SDK's ingest API and the Customer API, one process, two ports.

Ingest (default :8001) answers what the official SDK calls, with the latest ingest service's status
codes and limits: ``POST /v1/ingest`` (202 only once the batch is durable: in the intake log,
:mod:`dunetrace_cli.local.intake`; 413 over 10 MiB, 422 for an invalid body or more than 500 events,
503 + Retry-After when the store cannot write), ``GET /v1/policies`` and ``GET /v1/detector-config``
(empty answers, so the SDK stays quiet), ``POST /v1/deploy`` and ``/health``. The ingest worker
(:mod:`dunetrace_cli.local.worker`, on a thread of its own) writes the batches behind the answers,
those that queue up in one commit, and detects runs on a second process as soon as they are due; runs
are declared stalled after ``stall_seconds`` of silence. The Customer API of the same server reads
after the batches accepted before each read are written.

The Customer API (default :8002) is ``dunetrace_cli.local.api.create_api_app(db_path)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import signal
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dunetrace_cli import __version__
from dunetrace_cli.errors import ConfigError, DunetraceError, UsageError
from dunetrace_cli.local import detect
from dunetrace_cli.local.ingest import (
    MAX_BODY_BYTES,
    ValidationFailed,
    loads_strict,
    validate_batch,
    write_events,
)
from dunetrace_cli.local.intake import IntakeInUse, IntakeLog, intake_path
from dunetrace_cli.local.load import few_collections
from dunetrace_cli.local.store import Store, open_store
from dunetrace_cli.local.store_errors import OnceLog
from dunetrace_cli.local.worker import IngestWorker
from dunetrace_cli.local.worker_thread import WorkerThread

_PERSIST_FAILED = "Event persistence failed; retry the batch."


def _json_invalid(exc: Exception) -> JSONResponse:
    detail = str(exc)
    if isinstance(exc, json.JSONDecodeError):
        detail = exc.msg
        loc: list[Any] = ["body", exc.pos]
    else:
        loc = ["body"]
    return JSONResponse(
        {"detail": [{"type": "json_invalid", "loc": loc, "msg": "JSON decode error", "input": {}, "ctx": {"error": detail}}]},
        status_code=422,
    )


async def _read_body(request: Request, limit: int) -> bytes | Response:
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        return JSONResponse({"detail": "There was an error parsing the body"}, status_code=400)
    declared = request.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        return JSONResponse({"detail": f"Request body exceeds {limit} bytes."}, status_code=413)
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return JSONResponse({"detail": f"Request body exceeds {limit} bytes."}, status_code=413)
    except ClientDisconnect:
        return JSONResponse({"detail": "Client disconnected before the body was received."}, status_code=400)
    return bytes(body)


def _parse(body: bytes) -> Any | Response:
    try:
        if body[:1] == b"{" and body[1:2] != b"\x00":  # UTF-8 (json.loads' own detection): the str path
            return loads_strict(body.decode("utf-8", "surrogatepass"))
        return loads_strict(body)
    except RecursionError:
        return _json_invalid(ValueError("JSON nested too deeply"))
    except ValueError as exc:  # includes UnicodeDecodeError
        return _json_invalid(exc)


async def _json_body(request: Request, limit: int) -> Any | Response:
    """The request's JSON body, or the error response (400/413/422) that ends the request."""
    body = await _read_body(request, limit)
    if isinstance(body, Response):
        return body
    return _parse(body)


def create_ingest_app(
    store: Store,
    *,
    on_ingested: Callable[[set[str]], None] | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    errors: OnceLog | None = None,
    worker: IngestWorker | None = None,
) -> Starlette:
    """The SDK-facing ingest ASGI app over ``store``. ``on_ingested(ready_run_ids)`` runs after each commit;
    ``errors`` logs each storage error once with its cause (the SDK only sees 503 and retries).
    ``worker`` (started): each batch is made durable in its intake log and answered, then written and
    detected by it, those that queue up in one commit; without one, each batch is written in its own
    transaction on a thread of the event loop's pool before its answer."""
    log = errors or OnceLog(lambda _m: None)

    async def ingest(request: Request) -> Response:
        body = await _read_body(request, max_body_bytes)
        if isinstance(body, Response):
            return body
        parsed = _parse(body)
        if isinstance(parsed, Response):
            return parsed
        try:
            # no \ud escape in the body: no lone surrogate in any string, so well-formed events take the
            # one-pass path (as the events of an ingest body in a JSONL file do)
            events = validate_batch(parsed, no_surrogates=b"\\ud" not in body and b"\\uD" not in body)
        except ValidationFailed as exc:
            return JSONResponse({"detail": exc.errors}, status_code=422)
        try:
            if worker is not None:
                await worker.room()
                worker.accept(events, body)
            else:
                outcome = await anyio.to_thread.run_sync(write_events, store, events)
                log.ok("ingest")  # (with a worker, its writes say when the store works again)
                if on_ingested is not None:
                    on_ingested(outcome.ready_runs)
        except (DunetraceError, sqlite3.Error, OSError) as exc:
            log.error(exc, store.path, doing="storing a batch of events", channel="ingest")
            return JSONResponse({"detail": _PERSIST_FAILED}, status_code=503, headers={"Retry-After": "5"})
        return JSONResponse(
            {"accepted": len(events), "batch_id": str(uuid.uuid4()), "queued_at": time.time()}, status_code=202
        )

    async def policies(request: Request) -> Response:
        return JSONResponse({"policies": []})

    async def detector_config(request: Request) -> Response:
        agent_id = request.query_params.get("agent_id", "")
        version = request.query_params.get("agent_version") or None
        cfg = await anyio.to_thread.run_sync(detect.detector_config, store, agent_id, version)
        return JSONResponse(cfg)

    async def deploy(request: Request) -> Response:
        parsed = await _json_body(request, max_body_bytes)
        if isinstance(parsed, Response):
            return parsed
        errors = []
        if not isinstance(parsed, dict):
            errors.append({"type": "model_attributes_type", "loc": ["body"], "msg": "Input should be a valid dictionary"})
        else:
            agent_id = parsed.get("agent_id")
            if not isinstance(agent_id, str) or not agent_id:
                errors.append({"type": "missing", "loc": ["body", "agent_id"], "msg": "Field required"})
            version = parsed.get("version") or ""
            meta = parsed.get("meta") or {}
            if not isinstance(version, str):
                errors.append({"type": "string_type", "loc": ["body", "version"], "msg": "Input should be a valid string"})
            if not isinstance(meta, dict):
                errors.append({"type": "dict_type", "loc": ["body", "meta"], "msg": "Input should be a valid dictionary"})
        if errors or not isinstance(parsed, dict):
            return JSONResponse({"detail": errors}, status_code=422)
        assert isinstance(agent_id, str) and isinstance(version, str)  # checked above
        try:
            meta_text = json.dumps(meta, ensure_ascii=True, separators=(",", ":"))
            agent_id.encode("utf-8")
            version.encode("utf-8")
        except (ValueError, UnicodeEncodeError, RecursionError):
            return JSONResponse(
                {"detail": [{"type": "value_error", "loc": ["body"], "msg": "Body cannot be stored"}]}, status_code=422
            )
        now = time.time()

        def _write() -> int:
            with store.write() as conn:
                cur = conn.execute(
                    "INSERT INTO deploy_events(agent_id, version, meta, deployed_at) VALUES (?,?,?,?)",
                    (agent_id, version, meta_text, now),
                )
                return int(cur.lastrowid or 0)

        try:
            row_id = await anyio.to_thread.run_sync(_write)
        except (DunetraceError, sqlite3.Error, OSError) as exc:
            log.error(exc, store.path, doing="storing a deploy event", channel="ingest")
            return JSONResponse({"detail": _PERSIST_FAILED}, status_code=503, headers={"Retry-After": "5"})
        return JSONResponse({"id": row_id, "agent_id": agent_id, "version": version, "deployed_at": now}, status_code=202)

    async def health(request: Request) -> Response:
        def _check() -> bool:
            try:
                store.conn().execute("SELECT 1").fetchone()
                return True
            except (DunetraceError, sqlite3.Error) as exc:
                log.error(exc, store.path, doing="checking health", channel="health")
                return False

        ok = await anyio.to_thread.run_sync(_check)
        return JSONResponse(
            {"status": "ok" if ok else "degraded", "version": __version__, "db": "ok" if ok else "error"},
            status_code=200 if ok else 503,
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    routes = [
        Route("/v1/ingest", ingest, methods=["POST"]),
        Route("/v1/policies", policies, methods=["GET"]),
        Route("/v1/detector-config", detector_config, methods=["GET"]),
        Route("/v1/deploy", deploy, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/ready", health, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})


# ── serve ─────────────────────────────────────────────────────────────────────────────────────
def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind_socket(host: str, port: int, what: str) -> socket.socket:
    """Bind now, so a busy port is a clear error before anything starts."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"Cannot resolve --host {host!r} ({exc.strerror}); pass an IP address such as 127.0.0.1.") from exc
    family, socktype, proto, _, addr = infos[0]
    # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only then (else every
    # keep-alive response after the first waits ~40 ms on Nagle + delayed ACK)
    sock = socket.socket(family, socktype, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        flag = "--ingest-port" if what == "ingest" else "--api-port"
        raise UsageError(
            f"Cannot listen on {host}:{port} for the {what} API ({exc.strerror}); stop whatever uses it or pass {flag}."
        ) from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def load_api_app(db_path: Path) -> Any | None:
    """The Customer API ASGI app, or None when this build does not have it yet. Its reads run no stall
    sweep of their own: the ingest worker detects every due run, in order, with the detection process
    (an in-process sweep beside it would detect runs that process's baselines never see)."""
    try:
        from dunetrace_cli.local.api import create_api_app  # noqa: PLC0415 - optional, imported lazily
    except ImportError:
        return None
    return create_api_app(db_path, stall_seconds=None)


class _QuietServer:
    """Factory for uvicorn servers that leave signal handling to us (two servers, one Ctrl-C)."""

    @staticmethod
    def make(app: Any, sock: socket.socket, *, lifespan: Literal["auto", "on", "off"]) -> Any:
        import uvicorn  # heavy import only when serving

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self):  # type: ignore[override]
                yield

        host, port = sock.getsockname()[:2]
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, lifespan=lifespan,
            timeout_graceful_shutdown=3, server_header=False,
        )  # fmt: skip
        return Server(config)


def serve(
    db_path: Path,
    *,
    host: str = "127.0.0.1",
    ingest_port: int = 8001,
    api_port: int = 8002,
    stall_seconds: float = detect.DEFAULT_STALL_SECONDS,
    poll_s: float = 1.0,
    log: Callable[[str], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> None:
    """Run until SIGINT/SIGTERM. ``log``/``warn`` receive human-readable lines (stderr in the CLI)."""
    say = log or (lambda _m: None)
    caution = warn or say
    if stall_seconds <= 0:
        raise UsageError("--stall-seconds must be greater than 0; the backend's default is 90.")
    if ingest_port == api_port and ingest_port != 0:
        raise UsageError("--ingest-port and --api-port must differ; the SDK posts to one, the CLI reads the other.")
    store = open_store(db_path)
    try:
        intake = IntakeLog(intake_path(db_path))
    except IntakeInUse:
        store.close()
        raise UsageError(
            f"Another `dunetrace local serve` is using the store at {db_path}; stop it, or pass --db with another path."
        ) from None
    except OSError as exc:
        store.close()
        raise ConfigError(
            f"Cannot open the intake log {intake_path(db_path)} ({exc.strerror}); check that the --db folder is writable."
        ) from None
    errors = OnceLog(caution)
    api_app = load_api_app(db_path)
    if api_app is not None:
        api_app.state.store_error_log = errors
    try:
        ingest_sock = bind_socket(host, ingest_port, "ingest")
        try:
            api_sock = bind_socket(host, api_port, "Customer") if api_app is not None else None
        except BaseException:
            ingest_sock.close()
            raise
    except BaseException:
        intake.close()  # (a later `serve` in this process can take it)
        store.close()
        raise

    worker = IngestWorker(store, stall_seconds=stall_seconds, poll_s=poll_s, errors=errors, intake=intake)
    if api_app is not None:
        api_app.state.store.before_read = worker.wait_written  # reads see the batches answered before them
    ingest_app = create_ingest_app(store, errors=errors, worker=worker)
    servers = [_QuietServer.make(ingest_app, ingest_sock, lifespan="off")]
    socks = [ingest_sock]
    if api_app is not None and api_sock is not None:
        servers.append(_QuietServer.make(api_app, api_sock, lifespan="auto"))
        socks.append(api_sock)

    def url(sock: socket.socket) -> str:
        h, p = sock.getsockname()[:2]
        h = f"[{h}]" if ":" in h else h
        return f"http://{h}:{p}"

    if not is_loopback(host):
        caution(
            f"Listening on {host}: the ingest API has no authentication, so anyone who can reach this "
            "address can write events. Use 127.0.0.1 unless you mean to share it."
        )
    say(f"Local store: {db_path}")
    say(f"Ingest API:   {url(ingest_sock)}  (agents: DUNETRACE_ENDPOINT={url(ingest_sock)})")
    if api_sock is not None:
        say(f"Customer API: {url(api_sock)}  (CLI: DUNETRACE_API_URL={url(api_sock)})")
    else:
        caution("The Customer API is not available in this build; serving ingest only.")
    say(f"Runs are analysed when they finish, or after {stall_seconds:g} s of silence. Press Ctrl-C to stop.")

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def on_signal(*_: Any) -> None:
            for s in servers:
                if s.should_exit:
                    s.force_exit = True
                s.should_exit = True

        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, on_signal)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover - Windows / non-main thread
                with contextlib.suppress(ValueError):
                    signal.signal(sig, on_signal)
        runner = WorkerThread(worker)
        runner.start()
        try:
            await asyncio.gather(*(s.serve(sockets=[sk]) for s, sk in zip(servers, socks, strict=True)))
        finally:
            runner.stop()
            for sig in installed:
                loop.remove_signal_handler(sig)

    worker.start_detection()  # before any other thread, so the detection process forks
    try:
        with few_collections():
            asyncio.run(main())
    except KeyboardInterrupt:  # pragma: no cover - a signal before the loop installed its handler
        pass
    except SystemExit as exc:  # uvicorn exits on a startup failure
        raise ConfigError(
            f"The server could not start (exit {exc.code}); check the ports and the --db path."
        ) from None
    finally:
        worker.stream.close()  # (stopped already, unless the loop never ran)
        intake.close()
        for sk in socks:
            with contextlib.suppress(OSError):
                sk.close()
        store.close()
    say("Stopped.")
