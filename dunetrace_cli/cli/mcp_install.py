"""`dunetrace mcp install CLIENT`: merge our server entry into an MCP client's config file.

Clients and their files (user scope / project scope):

- claude-code: ``~/.claude.json`` / ``./.mcp.json``, servers under ``mcpServers``
- cursor: ``~/.cursor/mcp.json`` / ``./.cursor/mcp.json``, ``mcpServers``
- vscode: the user ``mcp.json`` (``~/.config/Code/User``) / ``./.vscode/mcp.json``, ``servers``
- codex: ``$CODEX_HOME/config.toml`` (``~/.codex``), ``[mcp_servers.dunetrace]``; user scope only
- claude-desktop: ``claude_desktop_config.json`` in Claude's config dir, ``mcpServers``; user scope only

The file is backed up first, only the ``dunetrace`` entry is added or replaced (every other server and
key is kept, JSON indentation and key order, TOML text byte for byte), and running it twice changes
nothing. The entry points at the active profile's URL; the API key goes in only with ``--with-key``,
and then the file is made 0600.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from dunetrace_cli.cli._run import guarded, settings_for

SERVER_NAME = "dunetrace"
CLIENTS = ("claude-code", "cursor", "vscode", "codex", "claude-desktop")


@dataclass(frozen=True)
class ClientFile:
    client: str
    scope: str  # user | project
    path: Path
    key: str  # the servers table: mcpServers, servers, mcp_servers
    fmt: str  # json | toml
    stdio_type: bool = False  # entries carry "type": "stdio"


def _home() -> Path:
    return Path(os.environ.get("HOME") or Path.home())


def _vscode_user_dir() -> Path:
    if sys.platform == "darwin":
        return _home() / "Library" / "Application Support" / "Code" / "User"
    if sys.platform.startswith("win"):
        return Path(os.environ.get("APPDATA", _home())) / "Code" / "User"
    return Path(os.environ.get("XDG_CONFIG_HOME") or _home() / ".config") / "Code" / "User"


def _claude_desktop_dir() -> Path:
    if sys.platform == "darwin":
        return _home() / "Library" / "Application Support" / "Claude"
    if sys.platform.startswith("win"):
        return Path(os.environ.get("APPDATA", _home())) / "Claude"
    return Path(os.environ.get("XDG_CONFIG_HOME") or _home() / ".config") / "Claude"


def client_file(client: str, scope: str, cwd: Path | None = None) -> ClientFile:
    """Where ``client`` keeps its MCP servers for ``scope``; UsageError for a scope it lacks."""
    from dunetrace_cli.errors import UsageError

    here = cwd or Path.cwd()
    home = _home()
    table: dict[tuple[str, str], ClientFile] = {
        ("claude-code", "user"): ClientFile("claude-code", "user", home / ".claude.json", "mcpServers", "json", True),
        ("claude-code", "project"): ClientFile("claude-code", "project", here / ".mcp.json", "mcpServers", "json", True),
        ("cursor", "user"): ClientFile("cursor", "user", home / ".cursor" / "mcp.json", "mcpServers", "json"),
        ("cursor", "project"): ClientFile("cursor", "project", here / ".cursor" / "mcp.json", "mcpServers", "json"),
        ("vscode", "user"): ClientFile("vscode", "user", _vscode_user_dir() / "mcp.json", "servers", "json", True),
        ("vscode", "project"): ClientFile("vscode", "project", here / ".vscode" / "mcp.json", "servers", "json", True),
        ("codex", "user"): ClientFile(
            "codex", "user", Path(os.environ.get("CODEX_HOME") or home / ".codex") / "config.toml", "mcp_servers", "toml"
        ),
        ("claude-desktop", "user"): ClientFile(
            "claude-desktop", "user", _claude_desktop_dir() / "claude_desktop_config.json", "mcpServers", "json"
        ),
    }
    if client not in CLIENTS:
        raise UsageError(f"unknown MCP client '{client}'. Valid: {', '.join(CLIENTS)}.")
    found = table.get((client, scope))
    if found is None:
        raise UsageError(f"{client} has no {scope} scope: use --scope user.")
    return found


def default_scope(client: str) -> str:
    return "project" if client == "vscode" else "user"


def known_files(cwd: Path | None = None) -> list[ClientFile]:
    """Every client config file this machine might have (for `dunetrace doctor`)."""
    out = []
    for client in CLIENTS:
        for scope in ("user", "project"):
            try:
                out.append(client_file(client, scope, cwd))
            except Exception:  # noqa: BLE001 - a scope the client lacks
                continue
    return out


# ------------------------------------------------------------------ the entry


def dunetrace_command() -> str:
    """The absolute path of this installation's `dunetrace` (editors start servers with their own PATH)."""
    import shutil

    beside = Path(sys.executable).parent / ("dunetrace.exe" if sys.platform.startswith("win") else "dunetrace")
    if beside.is_file():
        return str(beside)
    return shutil.which("dunetrace") or "dunetrace"


def strip_password(url: str) -> str:
    """``https://user:secret@host`` -> ``https://user@host``; other URLs unchanged."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc}" if user else netloc))


def build_entry(spec: ClientFile, *, api_url: str, api_key: str | None, command: str) -> dict[str, Any]:
    env = {"DUNETRACE_API_URL": api_url if api_key else strip_password(api_url)}
    if api_key:
        env["DUNETRACE_API_KEY"] = api_key
    entry: dict[str, Any] = {"type": "stdio"} if spec.stdio_type else {}
    entry.update({"command": command, "args": ["mcp", "serve"], "env": env})
    return entry


# ------------------------------------------------------------------ merging


def _indent_of(text: str) -> int | str:
    for line in text.splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and len(stripped) < len(line):
            lead = line[: len(line) - len(stripped)]
            return "\t" if lead.startswith("\t") else len(lead)
    return 2


def merge_json(text: str, spec: ClientFile, entry: dict[str, Any]) -> tuple[str, str]:
    """(new text, action) with ``entry`` under ``spec.key``; everything else kept in order."""
    from dunetrace_cli.errors import ConfigError

    data: Any = {} if not text.strip() else None
    if data is None:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{spec.path} is not plain JSON ({exc.msg}, line {exc.lineno}; comments and trailing commas are not "
                "supported): add the entry by hand, see `dunetrace mcp install "
                f"{spec.client} --print`."
            ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{spec.path} does not hold a JSON object: fix it or move it away.")
    servers = data.get(spec.key)
    if servers is None:
        servers = data[spec.key] = {}
    if not isinstance(servers, dict):
        raise ConfigError(f"'{spec.key}' in {spec.path} is not an object: fix it or move it away.")
    before = servers.get(SERVER_NAME)
    if before == entry:
        return text, "unchanged"
    servers[SERVER_NAME] = entry
    indent = _indent_of(text) if text.strip() else 2
    out = json.dumps(data, indent=indent, ensure_ascii=False)
    if not text or text.endswith("\n"):
        out += "\n"
    return out, "updated" if before is not None else "added"


def _toml_key(name: str) -> str:
    import re

    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def toml_block(entry: dict[str, Any]) -> str:
    lines = [f"[mcp_servers.{SERVER_NAME}]", f"command = {json.dumps(entry['command'])}",
             f"args = {json.dumps(entry['args'])}", "", f"[mcp_servers.{SERVER_NAME}.env]"]
    lines += [f"{_toml_key(k)} = {json.dumps(v)}" for k, v in entry["env"].items()]
    return "\n".join(lines) + "\n"


def _is_our_header(line: str) -> bool:
    import re

    match = re.match(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$", line)
    if not match:
        return False
    parts = [p.strip().strip('"').strip("'") for p in match.group(1).split(".")]
    return parts[:2] == ["mcp_servers", SERVER_NAME]


def merge_toml(text: str, spec: ClientFile, entry: dict[str, Any]) -> tuple[str, str]:
    """Replace the ``[mcp_servers.dunetrace]`` tables (and their sub-tables) in place, text otherwise untouched."""
    import tomllib

    from dunetrace_cli.errors import ConfigError

    try:
        original = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{spec.path} is not valid TOML ({exc}): fix it first.") from None
    servers = original.get("mcp_servers", {})
    before = servers.get(SERVER_NAME) if isinstance(servers, dict) else None
    wanted = {"command": entry["command"], "args": entry["args"], "env": entry["env"]}
    if before == wanted:
        return text, "unchanged"
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    insert_at: int | None = None
    skipping = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            if _is_our_header(line):
                skipping = True
                if insert_at is None:
                    insert_at = len(kept)
                continue
            skipping = False
        if not skipping:
            kept.append(line)
    block = toml_block(entry)
    if insert_at is None:
        body = "".join(kept)
        if body and not body.endswith("\n"):
            body += "\n"
        out = body + ("\n" if body.strip() else "") + block
    else:
        while insert_at > 0 and kept[insert_at - 1].strip() == "" and insert_at == len(kept):
            insert_at -= 1
        tail = kept[insert_at:]
        out = "".join(kept[:insert_at]) + block + ("\n" if tail and tail[0].strip() else "") + "".join(tail)
    refusal = ConfigError(
        f"{spec.path} defines mcp_servers.{SERVER_NAME} in a form this command does not rewrite "
        f"(inline or dotted keys): edit it by hand, see `dunetrace mcp install {spec.client} --print`."
    )
    try:
        merged = tomllib.loads(out)
    except tomllib.TOMLDecodeError:
        raise refusal from None
    rest_before = {k: v for k, v in original.items() if k != "mcp_servers"}
    rest_after = {k: v for k, v in merged.items() if k != "mcp_servers"}
    others_before = {k: v for k, v in (servers or {}).items() if k != SERVER_NAME}
    others_after = {k: v for k, v in merged.get("mcp_servers", {}).items() if k != SERVER_NAME}
    if rest_before != rest_after or others_before != others_after or merged["mcp_servers"].get(SERVER_NAME) != wanted:
        raise refusal
    return out, "updated" if before is not None else "added"


def write_config(path: Path, text: str, *, secret: bool) -> Path | None:
    """Back up ``path`` (if it exists), then replace it atomically. Returns the backup's path."""
    import shutil
    import time

    backup = None
    mode = 0o600 if secret else 0o644
    if path.exists():
        mode = 0o600 if secret else (path.stat().st_mode & 0o777)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        backup = path.with_name(f"{path.name}.{stamp}.bak")
        shutil.copy2(path, backup)
    else:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.dunetrace-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return backup


# ------------------------------------------------------------------ the command


def register(app: typer.Typer) -> None:
    app.command("install")(install)


def install(
    ctx: typer.Context,
    client: Annotated[str, typer.Argument(help=f"The MCP client: {', '.join(CLIENTS)}.", show_default=False)],
    scope: Annotated[str | None, typer.Option("--scope", help="user (every project) or project (this directory).")] = None,
    with_key: Annotated[bool, typer.Option("--with-key", help="Also write the API key (the file is then made 0600).")] = False,
    print_only: Annotated[bool, typer.Option("--print", help="Show the entry instead of writing it.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Add the dunetrace MCP server to an editor's or agent's config (backed up first; idempotent)."""

    def body() -> None:
        from dunetrace_cli.config import mask_key
        from dunetrace_cli.errors import UsageError
        from dunetrace_cli.render.sanitize import clean

        chosen = (scope or default_scope(client)).lower()
        if chosen not in ("user", "project"):
            raise UsageError(f"invalid --scope '{scope}'. Valid: user, project.")
        spec = client_file(client.lower(), chosen)
        settings = settings_for(ctx)
        if settings.is_local and settings.api_url in ("local", "local:"):
            api_url = "local"
        else:
            api_url = settings.api_url
        entry = build_entry(spec, api_url=api_url, api_key=settings.api_key if with_key else None,
                            command=dunetrace_command())
        shown = json.loads(json.dumps(entry))
        shown["env"]["DUNETRACE_API_URL"] = strip_password(api_url)
        if with_key:
            shown["env"]["DUNETRACE_API_KEY"] = mask_key(settings.api_key)
        if print_only:
            text = toml_block(shown) if spec.fmt == "toml" else json.dumps({spec.key: {SERVER_NAME: shown}}, indent=2)
            sys.stdout.write(clean(text) + ("\n" if not text.endswith("\n") else ""))
            if with_key:
                sys.stderr.write("dunetrace: the key is shown masked; the written entry holds the full key.\n")
            return
        try:
            text = spec.path.read_text(encoding="utf-8") if spec.path.exists() else ""
        except (OSError, UnicodeDecodeError) as exc:
            from dunetrace_cli.errors import ConfigError

            raise ConfigError(f"cannot read {spec.path} ({exc.__class__.__name__}): check its permissions.") from None
        merged, action = (merge_toml if spec.fmt == "toml" else merge_json)(text, spec, entry)
        backup = None
        if action != "unchanged":
            backup = write_config(spec.path, merged, secret=with_key)
        elif with_key and spec.path.exists() and spec.path.stat().st_mode & 0o077:
            os.chmod(spec.path, 0o600)
        report = {"client": spec.client, "scope": spec.scope, "path": str(spec.path), "action": action,
                  "backup": str(backup) if backup else None, "with_key": with_key, "entry": shown}
        if json_:
            sys.stdout.write(json.dumps(report, indent=2) + "\n")
            return
        where = clean(str(spec.path), newlines=False)
        verb = {"added": "added", "updated": "updated", "unchanged": "already up to date:"}[action]
        sys.stdout.write(f"{verb} '{SERVER_NAME}' in {where}" + (f" (backup: {clean(str(backup), newlines=False)})" if backup else "") + "\n")
        if action != "unchanged":
            sys.stderr.write(f"dunetrace: restart {spec.client} (or reload its MCP servers) to pick it up.\n")

    guarded(ctx, body, as_json=json_)
