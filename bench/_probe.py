"""One measurement in a fresh interpreter, against the code tree given as the first argument.

``python bench/_probe.py ROOT query MODULE:FUNCTION JSON_KWARGS REPEAT [warm]``
    runs the query REPEAT times (after one warm-up call) against DUNETRACE_API_URL and prints
    ``{"ms": [...], "errors": [...]}`` on stdout. Without ``warm`` every call starts from cold
    process caches (a fresh client, no remembered routes, no agent list): what one CLI command
    pays. With ``warm`` one client and its caches serve every call (what a long-lived MCP server
    pays).
    With ``nosniffio`` the process behaves as if sniffio were not installed (the cost httpcore paid
    per request before it was a dependency).
``python bench/_probe.py ROOT json MODULE:FUNCTION JSON_KWARGS REPEAT``
    fetches the result once, then times writing it as ``--json`` to /dev/null REPEAT times.

ROOT goes first on sys.path, so the same probe measures this checkout and a baseline tree
(``git archive`` of an older commit) side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import io
import json
import os
import sys
import time
from typing import Any


def _resolve(spec: str) -> Any:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _reset() -> None:
    from dunetrace_cli import client as client_mod

    for name in ("reset_process_caches", "reset_feature_cache"):
        fn = getattr(client_mod, name, None)
        if fn is not None:
            fn()


async def _query(spec: str, kwargs: dict[str, Any], repeat: int, warm: bool) -> dict[str, Any]:
    from dunetrace_cli.client import ApiClient
    from dunetrace_cli.config import load_settings
    from dunetrace_cli.errors import DunetraceError

    fn = _resolve(spec)
    settings = load_settings()
    samples: list[float] = []
    cpu: list[float] = []  # the client process's CPU per call (the server is another process)
    counts: list[int] = []
    errors: list[str] = []
    shared = ApiClient(settings) if warm else None
    try:
        for i in range(repeat + 1):
            if not warm:
                _reset()
            client = shared or ApiClient(settings)
            before = client.request_count
            start = time.perf_counter()
            cpu_start = time.process_time()
            try:
                await fn(client, **kwargs)
            except DunetraceError as exc:
                errors.append(exc.message)
            finally:
                if shared is None:
                    await client.aclose()
            if i:  # the first call is the warm-up
                samples.append(time.perf_counter() - start)
                cpu.append(time.process_time() - cpu_start)
                counts.append(client.request_count - before)
    finally:
        if shared is not None:
            await shared.aclose()
    return {"ms": [round(s * 1000, 2) for s in samples], "cpu_ms": [round(s * 1000, 2) for s in cpu],
            "requests": counts, "errors": errors[:3]}


def _emitter() -> Any:
    """The CLI's --json writer of this tree: render.output.emit if present, else cli._run.emit."""
    try:
        from dunetrace_cli.render.output import emit as new_emit  # the registry's one output boundary

        try:  # the boundary takes the result's registry operation (it keeps listings for `run #N`)
            from dunetrace_cli import registry

            op: Any = registry.by_mcp("search_signals") if hasattr(registry, "by_mcp") else None
        except ImportError:
            op = None

        def write(result: Any, now: float) -> None:
            new_emit(result, op, fmt="json", now=now, out=sys.stdout)

        return write
    except ImportError:
        from dunetrace_cli.cli._run import emit

        def write_old(result: Any, now: float) -> None:
            emit(result, as_json=True, now=now)

        return write_old


def _json(spec: str, kwargs: dict[str, Any], repeat: int) -> dict[str, Any]:
    from dunetrace_cli.client import ApiClient
    from dunetrace_cli.config import load_settings

    async def fetch() -> Any:
        async with ApiClient(load_settings()) as client:
            return await _resolve(spec)(client, **kwargs)

    result = asyncio.run(fetch())
    write = _emitter()
    samples: list[float] = []
    size = 0
    real_stdout = sys.stdout
    with open(os.devnull, "w") as devnull:
        for _ in range(repeat):
            buffer = io.StringIO()
            sys.stdout = buffer
            try:
                start = time.perf_counter()
                write(result, time.time())
                samples.append(time.perf_counter() - start)
            finally:
                sys.stdout = real_stdout
            size = len(buffer.getvalue().encode())
            devnull.write(buffer.getvalue())
        start_plain = time.perf_counter()
        text = json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False)
        plain_dump = time.perf_counter() - start_plain
        plain = []
        for _ in range(repeat):
            start = time.perf_counter()
            devnull.write(text)
            plain.append(time.perf_counter() - start)
    return {"ms": [round(s * 1000, 3) for s in samples], "bytes": size,
            "plain_write_ms": [round(s * 1000, 3) for s in plain], "dump_ms": round(plain_dump * 1000, 3)}


class _NoSniffio:
    """``nosniffio``: behave as an environment without sniffio (before it was a dependency): every
    ``import sniffio`` searches all of sys.path and fails, as httpcore's imports did then."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name != "sniffio":
            return None
        from importlib.machinery import PathFinder

        PathFinder.find_spec("sniffio_is_not_installed")  # the same walk over sys.path, finding nothing
        raise ModuleNotFoundError("No module named 'sniffio'", name=name)


def main(argv: list[str]) -> None:
    root, mode, spec, kwargs_json, repeat = argv[:5]
    sys.path.insert(0, root)
    if "nosniffio" in argv[5:]:
        sys.modules.pop("sniffio", None)
        sys.meta_path.insert(0, _NoSniffio())
    kwargs = json.loads(kwargs_json)
    with contextlib.redirect_stdout(sys.stderr):  # nothing but the figures on stdout
        if mode == "query":
            out = asyncio.run(_query(spec, kwargs, int(repeat), warm="warm" in argv[5:]))
        else:
            out = _json(spec, kwargs, int(repeat))
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
