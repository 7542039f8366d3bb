"""Where the local store lives."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

# Seconds of silence after which a run with no terminal event counts as stalled (the server's default).
DEFAULT_STALL_SECONDS = 90.0

DB_FILENAME = "local.db"
DEMO_DB_FILENAME = "demo.db"
HOME_ENV = "DUNETRACE_HOME"


def data_dir() -> Path:
    """Directory of the local store: ``$DUNETRACE_HOME`` if set, else the platform user data dir."""
    home = os.environ.get(HOME_ENV, "").strip()
    if home:
        return Path(home).expanduser()
    return Path(platformdirs.user_data_dir("dunetrace", appauthor=False))


def default_db_path() -> Path:
    return data_dir() / DB_FILENAME


def default_demo_db_path() -> Path:
    return data_dir() / DEMO_DB_FILENAME


def resolve_db_path(spec: str | None) -> Path:
    """Turn ``None``, ``"local"``, ``"local:PATH"`` (as in DUNETRACE_API_URL) or a plain path into a db path.

    A path naming an existing directory means the ``local.db`` inside it.
    """
    if spec is None:
        return default_db_path()
    text = spec.strip()
    if text in ("", "local", "local:"):
        return default_db_path()
    if text.startswith("local:"):
        text = text[len("local:") :]
    path = Path(text).expanduser()
    if path.is_dir():
        path = path / DB_FILENAME
    return path
