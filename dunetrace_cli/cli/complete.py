"""Completion sources for parameter values, named by ``Param.complete``.

- ``severities``, ``failure_types``, ``frameworks``, ``config_keys``: from the package itself.
- ``profiles``: the profiles in config.toml.
- ``agents``: the agent ids from the API, cached for :data:`AGENTS_TTL` seconds in the user cache
  dir (0600 file in a 0700 dir, keyed by the API URL). A request gets :data:`BUDGET` seconds in
  all; on any failure (down, slow, unauthorised) completion offers nothing and prints nothing.
- ``runs``: the run ids of the last listing (``runs``, ``signals``), which :func:`remember_runs`
  saves; offered as 12-character prefixes, the form alerts and tables show.

Values a shell could misread (controls, whitespace, quotes) are never offered.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from dunetrace_cli.errors import DunetraceError

AGENTS_TTL = 60.0  # seconds an agent list is reused
RUNS_TTL = 3600.0  # seconds the last listing's run ids are offered
BUDGET = 0.9  # seconds one completion may spend on the API
PREFIX = 12  # run ids are offered as the 12-character prefixes tables show
MAX_RUNS = 200

Source = Callable[[str], list[str]]


# --------------------------------------------------------------------------- cache files


def cache_dir() -> Path:
    override = os.environ.get("DUNETRACE_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("dunetrace", appauthor=False))


def _cache_file(name: str) -> Path:
    return cache_dir() / f"complete-{name}.json"


def _read(name: str, key: str, ttl: float) -> list[str] | None:
    try:
        data = json.loads(_cache_file(name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    at = data.get("at")
    values = data.get("values")
    if not isinstance(at, (int, float)) or time.time() - at > ttl or not isinstance(values, list):
        return None
    return [v for v in values if isinstance(v, str)]


def _write(name: str, key: str, values: list[str]) -> None:
    """Write the cache file 0600 in a 0700 dir; a failure is silent (completion is best effort)."""
    try:
        folder = cache_dir()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        path = _cache_file(name)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"key": key, "at": time.time(), "values": values}, fh)
        os.replace(tmp, path)
    except OSError:
        pass


def offerable(value: str) -> bool:
    """A value a shell can take as one word: printable, no whitespace or quotes, not too long."""
    return 0 < len(value) <= 256 and value.isprintable() and not any(c.isspace() or c in "'\"`\\$" for c in value)


def _matching(values: Iterable[str], incomplete: str, *, fold: bool = False) -> list[str]:
    prefix = incomplete.lower() if fold else incomplete
    # case-insensitive values (severities, failure types) are offered in the case being typed:
    # the shell keeps only words that start with what was typed ("h" -> "high", "TOOL_" -> "TOOL_LOOP")
    lower = fold and incomplete != "" and incomplete == incomplete.lower()
    out = []
    for value in values:
        if not offerable(value):
            continue
        if (value.lower() if fold else value).startswith(prefix):
            out.append(value.lower() if lower else value)
    return out


# --------------------------------------------------------------------------- static sources


def _severities(incomplete: str) -> list[str]:
    from dunetrace_cli.params import SEVERITIES

    return _matching(SEVERITIES, incomplete, fold=True)


def _failure_types(incomplete: str) -> list[str]:
    from dunetrace_cli.domain.failure_types import KNOWN

    return _matching(sorted(KNOWN), incomplete, fold=True)


def _frameworks(incomplete: str) -> list[str]:
    from dunetrace_cli.guides import FRAMEWORKS

    return _matching(FRAMEWORKS, incomplete, fold=True)


def _config_keys(incomplete: str) -> list[str]:
    from dunetrace_cli.config import KEYS

    return _matching(KEYS, incomplete)


def _profiles(incomplete: str) -> list[str]:
    try:
        from dunetrace_cli.config import DEFAULT_PROFILE, ConfigFile, config_path

        names = set(ConfigFile.load(config_path()).profiles) | {DEFAULT_PROFILE}
    except (DunetraceError, OSError, ValueError):  # an unreadable config file: offer nothing, say nothing
        return []
    return _matching(sorted(names), incomplete)


# --------------------------------------------------------------------------- API-backed sources


def _settings() -> Any | None:
    try:
        from dunetrace_cli.config import load_settings

        return load_settings()
    except (DunetraceError, OSError, ValueError):
        return None


def fetch_agents(settings: Any, budget: float = BUDGET) -> list[str] | None:
    """Agent ids from the API within ``budget`` seconds, or None on any failure."""
    import asyncio

    from dunetrace_cli.client import ApiClient

    async def call() -> list[str]:
        ids: list[str] = []
        async with ApiClient(settings, backoff=0.0) as client:
            for page in range(20):  # the raw rows: no models to import, at most 10,000 agents
                body = await client.get("/v1/agents", {"limit": 500, "offset": 500 * page})
                rows = body.get("agents") if isinstance(body, dict) else None
                ids += [str(r["agent_id"]) for r in rows or [] if isinstance(r, dict) and r.get("agent_id")]
                if not rows or not (body.get("page") or {}).get("has_more"):
                    break
        return ids

    async def bounded() -> list[str]:
        return await asyncio.wait_for(call(), timeout=budget)

    try:
        return asyncio.run(bounded())
    except BaseException:  # noqa: BLE001 - down, slow, refused, cancelled: completion stays quiet
        return None


def _agents(incomplete: str) -> list[str]:
    settings = _settings()
    if settings is None:
        return []
    key = settings.api_url
    ids = _read("agents", key, AGENTS_TTL)
    if ids is None:
        ids = fetch_agents(settings)
        if ids is None:
            return []
        _write("agents", key, [i for i in ids if offerable(i)])
    return _matching(ids, incomplete)


def remember_runs(run_ids: Iterable[str]) -> None:
    """Save the run ids of a listing for ``runs`` completion (called by the output boundary)."""
    settings = _settings()
    ids = [r for r in dict.fromkeys(run_ids) if offerable(r)][:MAX_RUNS]
    if settings is None or not ids:
        return
    _write("runs", settings.api_url, ids)


def _runs(incomplete: str) -> list[str]:
    settings = _settings()
    if settings is None:
        return []
    ids = _read("runs", settings.api_url, RUNS_TTL) or []
    prefixes = [r if len(incomplete) >= PREFIX else r[:PREFIX] for r in ids]
    return list(dict.fromkeys(_matching(prefixes, incomplete)))


def _nothing(incomplete: str) -> list[str]:
    return []


SOURCES: dict[str, Source] = {
    "severities": _severities,
    "failure_types": _failure_types,
    "frameworks": _frameworks,
    "config_keys": _config_keys,
    "profiles": _profiles,
    "agents": _agents,
    "runs": _runs,
}


def source(name: str) -> Source:
    """The completion function for a ``Param.complete`` name (an unknown name offers nothing)."""
    return SOURCES.get(name, _nothing)
