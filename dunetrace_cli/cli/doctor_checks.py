"""`dunetrace doctor`'s checks of this machine: the local store, the `dunetrace-mcp` script, MCP clients.

Each check returns :class:`Finding` rows: ``ok``, ``note`` (an optional piece is absent: no local store,
no MCP client configured) or ``problem`` (with the fix). Nothing here writes anything or prints a key.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass
class Finding:
    area: str  # settings, api, local store, mcp script, mcp clients
    name: str
    status: str  # ok | note | problem
    detail: str
    fix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _loose(path: Path) -> bool:
    try:
        return bool(stat.S_IMODE(path.stat().st_mode) & 0o077)
    except OSError:
        return False


# ------------------------------------------------------------------ the local store


def check_store(path: Path) -> list[Finding]:
    """The store's path, integrity and permissions, opened read-only (no migration, no write)."""
    import sqlite3

    area = "local store"
    if not path.exists():
        return [Finding(area, "store", "note", f"no local store at {path} (optional)",
                        "create one with `dunetrace local ingest FILE` or `dunetrace demo` if you want it")]
    found: list[Finding] = []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
        try:
            verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
            counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("events", "runs", "signals")}  # noqa: S608
            from dunetrace_cli.local.schema import current_version

            version = current_version(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return [Finding(area, "store", "problem", f"{path} cannot be read as a store ({exc})",
                        "move it away or run `dunetrace local reset`")]
    if verdict != "ok":
        found.append(Finding(area, "integrity", "problem", f"{path}: quick_check says {verdict}",
                             "restore a copy, or `dunetrace local reset` and ingest again"))
    else:
        size = path.stat().st_size
        detail = f"{path}: {counts['events']} events, {counts['runs']} runs, {counts['signals']} signals, {size // 1024} KiB"
        detail += f", schema {version}"
        found.append(Finding(area, "store", "ok", detail))
    if _loose(path) or _loose(path.parent):
        found.append(Finding(area, "permissions", "problem", f"{path} or its directory is readable by others (agent data)",
                             f"chmod 600 {path} && chmod 700 {path.parent}"))
    return found


# ------------------------------------------------------------------ dunetrace-mcp on PATH


def script_owner(path: Path) -> str:
    """'dunetrace-cli', 'dunetrace-mcp' (upstream's) or 'unknown', from the script's own text."""
    try:
        head = path.read_bytes()[:4096].decode("utf-8", "replace")
    except OSError:
        return "unknown"
    if "dunetrace_cli" in head:
        return "dunetrace-cli"
    if "dunetrace_mcp" in head:
        return "dunetrace-mcp"
    return "unknown"


def check_mcp_script() -> list[Finding]:
    area = "mcp script"
    found = shutil.which("dunetrace-mcp")
    if found is None:
        return [Finding(area, "dunetrace-mcp", "note", "not on PATH (optional: `dunetrace mcp serve` is the same server)")]
    owner = script_owner(Path(found))
    if owner == "dunetrace-cli":
        return [Finding(area, "dunetrace-mcp", "ok", f"{found} (this package's drop-in for the upstream server)")]
    if owner == "dunetrace-mcp":
        return [Finding(area, "dunetrace-mcp", "note", f"{found} is the upstream dunetrace-mcp package's script",
                        "pip uninstall dunetrace-mcp, then reinstall dunetrace-cli, to get this package's server")]
    return [Finding(area, "dunetrace-mcp", "note", f"{found} belongs to neither dunetrace-cli nor dunetrace-mcp")]


# ------------------------------------------------------------------ MCP clients


def _entries(data: Any, key: str) -> dict[str, Any]:
    servers = data.get(key) if isinstance(data, dict) else None
    return servers if isinstance(servers, dict) else {}


def _ours(entry: Any) -> bool:
    if not isinstance(entry, dict):
        return False
    command = Path(str(entry.get("command") or "")).name
    return command in ("dunetrace", "dunetrace-mcp", "dunetrace.exe", "dunetrace-mcp.exe")


def would_start(entry: dict[str, Any]) -> str | None:
    """None if the entry's command resolves and its arguments serve MCP; else why not."""
    command = str(entry.get("command") or "")
    args = [str(a) for a in entry.get("args") or []]
    path = Path(command).expanduser()
    if path.is_absolute():
        if not (path.is_file() and os.access(path, os.X_OK)):
            return f"{command} does not exist or is not executable"
    elif shutil.which(command) is None:
        return f"'{command}' is not on PATH (editors start servers with their own PATH: use an absolute path)"
    if path.name.startswith("dunetrace-mcp"):
        return None
    rest = [a for a in args if not a.startswith("-")]
    if rest[:2] != ["mcp", "serve"]:
        return f"runs `{command} {' '.join(args)}`, not `dunetrace mcp serve`"
    return None


def check_clients(cwd: Path) -> list[Finding]:
    """Every known client config file: parseable, has our entry, and the entry would start."""
    import tomllib

    from dunetrace_cli.cli.mcp_install import known_files

    area = "mcp clients"
    found: list[Finding] = []
    configured = 0
    for spec in known_files(cwd):
        if not spec.path.is_file():
            continue
        label = f"{spec.client} ({spec.scope})"
        try:
            text = spec.path.read_text(encoding="utf-8")
            data = tomllib.loads(text) if spec.fmt == "toml" else (json.loads(text) if text.strip() else {})
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            found.append(Finding(area, label, "problem", f"{spec.path} cannot be parsed ({exc.__class__.__name__})",
                                 f"fix the file's syntax; `dunetrace mcp install {spec.client} --print` shows our entry"))
            continue
        entries = dict(_entries(data, spec.key))
        if spec.client == "claude-code" and spec.scope == "user":  # local scope: per project in ~/.claude.json
            project = (data.get("projects") or {}).get(str(cwd)) if isinstance(data, dict) else None
            entries.update({f"{n} (local)": e for n, e in _entries(project, "mcpServers").items()})
        for name, entry in entries.items():
            if not _ours(entry):
                continue
            configured += 1
            problem = would_start(entry)
            secret = isinstance(entry.get("env"), dict) and "DUNETRACE_API_KEY" in entry["env"]
            where = f"{spec.path} server '{name}'"
            if problem:
                found.append(Finding(area, label, "problem", f"{where}: {problem}",
                                     f"dunetrace mcp install {spec.client} --scope {spec.scope}"))
            else:
                found.append(Finding(area, label, "ok", f"{where} would start"))
            if secret and _loose(spec.path):
                found.append(Finding(area, label, "problem", f"{spec.path} holds an API key and is readable by others",
                                     f"chmod 600 {spec.path}"))
    if configured == 0:
        found.append(Finding(area, "clients", "note", "no MCP client on this machine has a dunetrace entry (optional)",
                             "dunetrace mcp install claude-code (or cursor, vscode, codex, claude-desktop)"))
    return found
