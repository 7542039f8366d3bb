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
    text = text.removeprefix("local:")
    path = Path(text).expanduser()
    if path.is_dir():
        path = path / DB_FILENAME
    return path


# ── private files: agent data (inputs, system prompts) is readable by its owner only ─────────────
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def make_private_dir(directory: Path) -> None:
    """Create ``directory`` and any missing parents as 0700 (existing ones are left alone, except
    the data dir itself, which is ours and is tightened to 0700)."""
    missing = []
    d = Path(directory)
    while not d.exists() and d != d.parent:
        missing.append(d)
        d = d.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(d, PRIVATE_DIR_MODE)  # mkdir's mode is masked by the umask
    if Path(directory) == data_dir():
        tighten(Path(directory), PRIVATE_DIR_MODE)


def tighten(path: Path, mode: int = PRIVATE_FILE_MODE) -> None:
    """Remove group/other permissions from ``path`` if this user owns it (best effort)."""
    try:
        st = path.stat()
        if st.st_uid == os.getuid() and st.st_mode & 0o077:
            os.chmod(path, st.st_mode & 0o777 & mode)
    except (OSError, AttributeError):  # gone, not ours, or no getuid (Windows)
        pass


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (SQLite gives the WAL and SHM files its mode)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)
    os.chmod(path, PRIVATE_FILE_MODE)
