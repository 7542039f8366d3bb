"""`local ingest` checkpoints the WAL on a thread of its own: the WAL stays about as long as the pages it
stands for (each round finishes, so the next batch starts the WAL over), and the store is the same."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from dunetrace_cli.local import load
from dunetrace_cli.local.load import ingest_sources
from dunetrace_cli.local.store import open_store


def _digest(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        h = hashlib.sha256()
        for table in ("events", "signals", "run_metrics", "run_llm", "agent_stats"):
            cols = "*" if table != "signals" else "run_id, failure_type, severity, confidence, evidence, shadow"
            for row in conn.execute(f"SELECT {cols} FROM {table} ORDER BY 1, 2"):  # noqa: S608
                h.update(repr(row).encode())
        return h.hexdigest()
    finally:
        conn.close()


def _ingest(db: Path, files: list[Path]) -> None:
    store = open_store(db)
    try:
        ingest_sources(store, [str(f) for f in files], report=lambda p: None, commit_every=25)
    finally:
        store.close()


def test_the_wal_is_checkpointed_beside_the_import_and_starts_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from _gen_events import write_jsonl

    src = write_jsonl(tmp_path / "e.jsonl", 4000, now=1_800_000_000.0)
    db = tmp_path / "thread.db"
    wal = Path(str(db) + "-wal")
    runs: list[int] = []
    sizes: list[int] = []
    real_close, real_committed = load.Checkpointer.close, load.Checkpointer.committed

    def close(self: load.Checkpointer) -> None:
        real_close(self)
        runs.append(self.runs)

    def committed(self: load.Checkpointer) -> None:
        sizes.append(wal.stat().st_size)
        real_committed(self)

    monkeypatch.setattr(load.Checkpointer, "close", close)
    monkeypatch.setattr(load.Checkpointer, "committed", committed)
    monkeypatch.setattr(load, "FILE_CHECKPOINT_PAGES", 100)
    _ingest(db, [src])
    assert len(sizes) >= 150 and runs and runs[0] >= 5  # it ran, several times
    # the WAL started over each time: a few hundred pages long (more when the machine is busy and the thread
    # late), where it reaches about 8,700 pages (36 MB) if no pass finishes its round
    assert max(sizes) < 2400 * 4120
    assert not wal.exists()  # the store closed clean
    monkeypatch.setattr(load, "Checkpointer", _Inline)
    _ingest(tmp_path / "inline.db", [src])
    assert _digest(db) == _digest(tmp_path / "inline.db")


class _Inline:
    """No thread: the store's own autocheckpoint (as before)."""

    def __init__(self, store: Any, pages: int, quiet: Any) -> None:
        self.quiet = quiet

    def committed(self) -> None:
        pass

    def close(self) -> None:
        pass

