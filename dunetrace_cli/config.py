"""Settings and the config file: flag > environment > active profile > defaults.

The file is ``config.toml`` in the platformdirs user config dir (``DUNETRACE_CONFIG_DIR``
overrides the dir). It holds profiles so one user can switch between a local and a
production backend::

    active_profile = "prod"

    [profiles.default]
    api_url = "http://localhost:8002"

    [profiles.prod]
    api_url = "https://dunetrace.example.com"
    api_key = "dt_live_..."

There is deliberately no ``--api-key`` flag: it would leak into ``ps`` and shell history.
The file is always written with mode 0600 because it may hold a key.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dunetrace_cli.errors import ConfigError, UsageError


class EnvVars:
    API_URL = "DUNETRACE_API_URL"
    API_KEY = "DUNETRACE_API_KEY"
    TIMEOUT = "DUNETRACE_TIMEOUT"
    PROFILE = "DUNETRACE_PROFILE"
    CONFIG_DIR = "DUNETRACE_CONFIG_DIR"
    DEBUG = "DUNETRACE_DEBUG"
    MCP_TOKEN = "DUNETRACE_MCP_TOKEN"


DEFAULTS: dict[str, object] = {
    "api_url": "http://localhost:8002",
    "api_key": "dt_dev_test",
    "timeout": 15.0,
}
KEYS = tuple(DEFAULTS)
DEFAULT_PROFILE = "default"
_PROFILE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Settings:
    api_url: str
    api_key: str
    timeout: float
    profile: str
    # where each value came from: "flag", "env", "profile <name>" or "default"
    sources: dict[str, str] = field(default_factory=dict)
    config_path: Path | None = None

    @property
    def is_local(self) -> bool:
        return is_local_url(self.api_url)

    @property
    def display_url(self) -> str:
        """The API URL as it may be shown: any password in it masked."""
        return redact_url(self.api_url)

    @property
    def command_deadline(self) -> float:
        """Seconds one command (or one MCP tool call) may take in all: COMMAND_DEADLINE_FACTOR x timeout."""
        return COMMAND_DEADLINE_FACTOR * self.timeout


#: A command (all its requests, retries and waits) stops after this many request timeouts.
COMMAND_DEADLINE_FACTOR = 4

_USERINFO_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/?#]*)@")


def redact_url(url: str) -> str:
    """``url`` with its userinfo masked (``http://****@host``): a user name can be a token too.

    The one rule for every output (errors, `config show`, banners, export summaries).
    """
    match = _USERINFO_RE.match(url)
    if not match:
        return url
    return f"{match.group(1)}****@{url[match.end():]}"


def is_local_url(url: str) -> bool:
    return url == "local" or url.startswith("local:")


def mask_key(key: str) -> str:
    """Show just enough of a key to recognise it, never the whole key."""
    if not key:
        return ""
    if len(key) <= 8:
        return "*" * len(key)
    return f"{key[:4]}…{key[-2:]}"


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    override = env.get(EnvVars.CONFIG_DIR)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("dunetrace", appauthor=False))


def config_path(env: Mapping[str, str] | None = None) -> Path:
    return config_dir(env) / "config.toml"


# ---------------------------------------------------------------- validation


def validate_value(key: str, raw: object) -> object:
    """Return the typed value for ``key`` or raise UsageError naming what is accepted."""
    if key not in DEFAULTS:
        raise UsageError(f"unknown setting '{key}'. Valid settings: {', '.join(KEYS)}.")
    if key == "api_url":
        url = str(raw).strip().rstrip("/")
        if is_local_url(url) or re.match(r"^https?://[^\s/]+", url):
            return url
        raise UsageError(
            f"invalid api_url '{raw}': use an http(s) URL such as http://localhost:8002, "
            "or 'local' / 'local:PATH' for the embedded store."
        )
    if key == "api_key":
        value = str(raw).strip()
        if not value or any(c.isspace() for c in value):
            raise UsageError("invalid api_key: it must be non-empty and contain no spaces.")
        return value
    # timeout
    try:
        seconds = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UsageError(f"invalid timeout '{raw}': give a number of seconds, e.g. 15.") from None
    if not 0 < seconds <= 600:
        raise UsageError(f"invalid timeout '{raw}': it must be more than 0 and at most 600 seconds.")
    return seconds


def validate_profile_name(name: str) -> str:
    if not _PROFILE_RE.match(name):
        raise UsageError(
            f"invalid profile name '{name}': use letters, digits, '.', '_' or '-' (at most 64)."
        )
    return name


# ---------------------------------------------------------------- the file


HEADER = "dunetrace-cli settings. This file may hold an API key: keep it private (mode 0600)."
_WARNED: set[Path] = set()


def warn_if_exposed(path: Path) -> None:
    """A warning on stderr (once per file and process) when others may read or change the config file."""
    if os.name == "nt" or path in _WARNED:
        return
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & 0o066:
        _WARNED.add(path)
        sys.stderr.write(
            f"dunetrace: warning: {path} is readable or writable by other users (mode {stat.S_IMODE(mode):04o}) "
            f"and may hold an API key; run `chmod 600 {path}`.\n"
        )


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and its parents) if missing; a directory this creates is 0700."""
    if path.is_dir():
        return
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)  # mkdir's mode is masked by the umask


@dataclass
class ConfigFile:
    path: Path
    active_profile: str | None = None
    profiles: dict[str, dict[str, object]] = field(default_factory=dict)
    #: the file's text as read: :meth:`save` edits it in place, so comments and layout survive
    text: str | None = None

    @classmethod
    def load(cls, path: Path) -> ConfigFile:
        if not path.exists():
            return cls(path=path)
        try:
            text = path.read_text(encoding="utf-8")
            data = tomllib.loads(text)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc.__class__.__name__}. Fix its permissions or remove it.") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"{path} is not valid TOML ({exc}). Fix it by hand or remove it and run `dunetrace config set` again."
            ) from exc
        warn_if_exposed(path)
        active = data.get("active_profile")
        profiles_raw = data.get("profiles", {})
        if not isinstance(profiles_raw, dict) or (active is not None and not isinstance(active, str)):
            raise ConfigError(f"{path} has an unexpected layout. Remove it and run `dunetrace config set` again.")
        profiles: dict[str, dict[str, object]] = {}
        for name, values in profiles_raw.items():
            if not isinstance(values, dict):
                raise ConfigError(f"{path}: profile '{name}' must be a table. Fix or remove the file.")
            clean: dict[str, object] = {}
            for key, value in values.items():
                if key not in DEFAULTS:
                    raise ConfigError(
                        f"{path}: unknown setting '{key}' in profile '{name}'. Valid settings: {', '.join(KEYS)}."
                    )
                try:
                    clean[key] = validate_value(key, value)
                except UsageError as exc:
                    raise ConfigError(f"{path}: profile '{name}': {exc}") from exc
            profiles[name] = clean
        return cls(path=path, active_profile=active, profiles=profiles, text=text)

    def dumps(self) -> str:
        """The file with this object's values: the text as read, edited by tomlkit (comments kept)."""
        import tomlkit
        from tomlkit.items import Table

        if self.text:
            doc = tomlkit.parse(self.text)
        else:
            doc = tomlkit.document()
            doc.add(tomlkit.comment(HEADER))
            doc.add(tomlkit.nl())
        if self.active_profile and doc.get("active_profile") != self.active_profile:
            doc["active_profile"] = self.active_profile
        if self.profiles and "profiles" not in doc:
            doc["profiles"] = tomlkit.table(is_super_table=True)
        tables = doc.get("profiles")
        for name in sorted(self.profiles):
            assert isinstance(tables, Table)
            if name not in tables:
                tables[name] = tomlkit.table()
            table = tables[name]
            for key in KEYS:
                if key in self.profiles[name] and table.get(key) != self.profiles[name][key]:
                    table[key] = self.profiles[name][key]
        return tomlkit.dumps(doc)

    def save(self) -> None:
        text = self.dumps()
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            make_private_dir(self.path.parent)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise ConfigError(f"cannot write {self.path}: {exc.strerror}. Check the directory's permissions.") from exc
        self.text = text


# ---------------------------------------------------------------- resolution


def load_settings(
    *,
    api_url: str | None = None,
    timeout: float | None = None,
    profile: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve settings: flag > env > active profile in config.toml > defaults."""
    env = os.environ if env is None else env
    path = config_path(env)
    cfg = ConfigFile.load(path)

    chosen = profile or env.get(EnvVars.PROFILE) or cfg.active_profile or DEFAULT_PROFILE
    explicit = profile is not None or bool(env.get(EnvVars.PROFILE)) or cfg.active_profile is not None
    if chosen not in cfg.profiles and chosen != DEFAULT_PROFILE and explicit:
        known = ", ".join(sorted(cfg.profiles)) or "none yet"
        raise ConfigError(
            f"no profile '{chosen}' in {path} (profiles: {known}). "
            f"Create it with `dunetrace config set api_url URL --profile {chosen}`."
        )
    from_profile = cfg.profiles.get(chosen, {})

    flags: dict[str, object] = {"api_url": api_url, "timeout": timeout}
    env_names = {"api_url": EnvVars.API_URL, "api_key": EnvVars.API_KEY, "timeout": EnvVars.TIMEOUT}
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    for key in KEYS:
        raw: object
        if flags.get(key) is not None:
            raw, source = flags[key], "flag"
        elif env.get(env_names[key]):
            raw, source = env[env_names[key]], f"env {env_names[key]}"
        elif key in from_profile:
            raw, source = from_profile[key], f"profile {chosen}"
        else:
            raw, source = DEFAULTS[key], "default"
        try:
            values[key] = validate_value(key, raw)
        except UsageError as exc:
            if source.startswith("env"):
                raise ConfigError(f"{exc} (from {env_names[key]})") from exc
            raise
        sources[key] = source
    return Settings(
        api_url=str(values["api_url"]),
        api_key=str(values["api_key"]),
        timeout=float(values["timeout"]),  # type: ignore[arg-type]
        profile=chosen,
        sources=sources,
        config_path=path,
    )
