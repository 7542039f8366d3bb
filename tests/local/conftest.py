"""Fixtures for the local-store suites (store, ingest, detection, serve)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

SDK_EVENTS = Path(__file__).resolve().parents[1] / "data" / "sdk-events"


@pytest.fixture
def sdk_events() -> Path:
    """Folder of the SDK 0.5.7 fixture files (copied from shared/fixtures/sdk-events)."""
    return SDK_EVENTS


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "store" / "local.db"


@pytest.fixture
def store(db_file: Path) -> Iterator[object]:
    from dunetrace_cli.local.store import open_store

    s = open_store(db_file)
    try:
        yield s
    finally:
        s.close()
