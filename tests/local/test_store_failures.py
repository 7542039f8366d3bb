"""The store's own failures: missing, full disk, read-only, locked, damaged; in process and through `local serve`.

Each gets its own sentence, exit code and next step (dunetrace_cli/local/store_errors.py). A full disk
is a real small tmpfs when the tests run as root, and SQLite's ``max_page_count`` otherwise; read-only is
a tmpfs remounted read-only as root (root ignores file modes), ``chmod`` otherwise.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from dunetrace_cli.local import store as store_mod
from dunetrace_cli.local.api import create_api_app
from dunetrace_cli.local.ingest import validate_batch
from dunetrace_cli.local.server import create_ingest_app
from dunetrace_cli.local.store import open_store
from dunetrace_cli.local.store_errors import OnceLog

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _failed(result: Any, code: int) -> str:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr  # one sentence
    return lines[0]


@pytest.fixture
def populated(invoke: Any, sdk_events: Path, tmp_path: Path) -> Path:
    db = tmp_path / "data" / "s.db"
    r = invoke(["local", "ingest", sdk_events / "events-mixed.jsonl", "--db", db])
    assert r.exit_code == 0, r.stderr
    return db


@pytest.fixture
def small(invoke: Any, sdk_events: Path, tmp_path: Path) -> Path:
    db = tmp_path / "small" / "s.db"
    r = invoke(["local", "ingest", sdk_events / "scenario-b-clean.jsonl", "--db", db])
    assert r.exit_code == 0, r.stderr
    return db


def _cap_pages(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every store connection may grow the file by at most 2 pages: a disk that is full."""
    pages = sqlite3.connect(db).execute("PRAGMA page_count").fetchone()[0]
    real = store_mod._configure

    def capped(conn: sqlite3.Connection, **kw: Any) -> None:
        real(conn, **kw)
        conn.execute(f"PRAGMA max_page_count={pages + 2}")

    monkeypatch.setattr(store_mod, "_configure", capped)


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    if not IS_ROOT or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _batch(sdk_events: Path, name: str = "scenario-b-clean.jsonl") -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in (sdk_events / name).read_text().splitlines() if line.strip()]


# ── missing: a reader never creates a store ──────────────────────────────────────────────────────
def test_a_mistyped_store_path_is_not_found_and_creates_nothing(invoke: Any, tmp_path: Path) -> None:
    db = tmp_path / "nonexistent" / "dir" / "x.db"
    r = invoke(["agents"], env={"DUNETRACE_API_URL": f"local:{db}"})
    line = _failed(r, 4)
    assert line == (
        f"dunetrace: error: no local store at {db} (create one with `dunetrace local ingest FILE` or `dunetrace demo`)."
    )
    assert not (tmp_path / "nonexistent").exists()
    r = invoke(["signals"], env={"DUNETRACE_API_URL": f"local:{db}"})
    assert r.exit_code == 4 and not (tmp_path / "nonexistent").exists()


# ── disk full ────────────────────────────────────────────────────────────────────────────────
def test_disk_full_on_a_real_small_tmpfs(invoke: Any, sdk_events: Path, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", "160k") as mnt:
        db = mnt / "s.db"
        r = invoke(["local", "ingest", sdk_events / "events-mixed.jsonl", "--db", db])
        line = _failed(r, 5)
    assert line.startswith(f"dunetrace: error: the disk holding the local store at {db} is full (")
    assert line.endswith("free some space and retry, or pass --db with a path on another disk.")


def test_disk_full_simulated_with_max_page_count(
    invoke: Any, sdk_events: Path, small: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cap_pages(small, monkeypatch)
    r = invoke(["local", "ingest", sdk_events / "events-mixed.jsonl", "--db", small])
    line = _failed(r, 5)
    assert line == (
        f"dunetrace: error: the disk holding the local store at {small} is full (database or disk is full); "
        "free some space and retry, or pass --db with a path on another disk."
    )
    # the store is intact: the failed batch was rolled back, reads still answer
    r = invoke(["agents", "--json"], env={"DUNETRACE_API_URL": f"local:{small}"})
    assert r.exit_code == 0, r.stderr
    assert '"agent_id"' in r.stdout


def test_serve_answers_503_and_logs_a_full_disk_once(
    sdk_events: Path, small: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cap_pages(small, monkeypatch)
    logged: list[str] = []
    store = open_store(small)
    try:
        client = TestClient(create_ingest_app(store, errors=OnceLog(logged.append)))
        body = {"api_key": "", "agent_id": "web-researcher", "events": _batch(sdk_events, "events-mixed.jsonl")[:400]}
        validate_batch(body)
        for _ in range(3):
            r = client.post("/v1/ingest", json=body)
            assert r.status_code == 503 and r.headers["retry-after"] == "5"
            assert r.json() == {"detail": "Event persistence failed; retry the batch."}
    finally:
        store.close()
    assert len(logged) == 1, logged
    assert logged[0].startswith(f"storage error while storing a batch of events: the disk holding the local store at {small} is full")


# ── read-only ────────────────────────────────────────────────────────────────────────────────
@contextlib.contextmanager
def read_only_copy(populated: Path, tmp_path: Path) -> Iterator[Path]:
    if IS_ROOT:
        with tmpfs(tmp_path / "ro", "4m") as mnt:
            db = mnt / "s.db"
            shutil.copy(populated, db)
            subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
            yield db
    else:
        folder = tmp_path / "ro"
        folder.mkdir()
        db = folder / "s.db"
        shutil.copy(populated, db)
        db.chmod(0o400)
        folder.chmod(0o500)
        try:
            yield db
        finally:
            folder.chmod(0o700)


def test_a_read_only_store_is_read_and_refuses_writes_with_a_sentence(
    invoke: Any, sdk_events: Path, populated: Path, tmp_path: Path
) -> None:
    with open_store(populated) as s:
        agents = {r[0] for r in s.conn().execute("SELECT DISTINCT agent_id FROM runs")}
    with read_only_copy(populated, tmp_path) as db:
        r = invoke(["agents", "--json"], env={"DUNETRACE_API_URL": f"local:{db}"})
        assert r.exit_code == 0, r.stderr
        import json

        assert {a["agent_id"] for a in json.loads(r.stdout)["agents"]} == agents
        r = invoke(["local", "status", "--db", db, "--json"])
        assert r.exit_code == 0 and json.loads(r.stdout)["runs"] > 0
        r = invoke(["local", "ingest", sdk_events / "scenario-b-clean.jsonl", "--db", db])
        line = _failed(r, 3)
        assert line.startswith(f"dunetrace: error: the local store at {db} is read-only (")
        assert line.endswith("make the file and its directory writable, or pass --db with a writable path.")


# ── locked ───────────────────────────────────────────────────────────────────────────────────
def test_a_store_locked_by_another_writer(
    invoke: Any, sdk_events: Path, populated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_mod, "BUSY_TIMEOUT_MS", 200)
    holder = sqlite3.connect(populated, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a second connection holds the write lock
    try:
        r = invoke(["agents", "--json"], env={"DUNETRACE_API_URL": f"local:{populated}"})
        assert r.exit_code == 0, r.stderr  # readers are not blocked by a writer (WAL)
        r = invoke(["local", "ingest", sdk_events / "scenario-b-clean.jsonl", "--db", populated])
        line = _failed(r, 5)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert line == (
        f"dunetrace: error: the local store at {populated} is locked by another process (database is locked); "
        "wait for it to finish (a running `dunetrace local ingest`, or stop `dunetrace local serve`) and retry."
    )
    r = invoke(["local", "ingest", sdk_events / "scenario-b-clean.jsonl", "--db", populated])
    assert r.exit_code == 0, r.stderr


def test_a_read_does_not_hang_on_an_exclusive_lock(invoke: Any, populated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time as _time

    monkeypatch.setattr(store_mod, "READ_BUSY_TIMEOUT_MS", 300)
    holder = sqlite3.connect(populated, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")  # another program's exclusive lock blocks even WAL readers
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO meta(key, value) VALUES ('held', '1')")
    try:
        started = _time.monotonic()
        r = invoke(["agents"], env={"DUNETRACE_API_URL": f"local:{populated}"})
        took = _time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    line = _failed(r, 5)
    assert line.startswith(f"dunetrace: error: the local store at {populated} is locked by another process (")
    assert took < 10, took  # the reader's bound (monkeypatched to 0.3 s), not the writers' 60 s
    assert invoke(["agents"], env={"DUNETRACE_API_URL": f"local:{populated}"}).exit_code == 0


# ── damaged ──────────────────────────────────────────────────────────────────────────────────
def _corrupt_pages(db: Path) -> None:
    with open_store(db) as s:  # fold the WAL in so the pages on disk are the store
        s.conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = db.stat().st_size
    with db.open("r+b") as f:
        for page in range(2, size // 4096, 2):
            f.seek(page * 4096)
            f.write(b"\xa5" * 4096)


def test_corrupted_pages_in_process(invoke: Any, populated: Path) -> None:
    _corrupt_pages(populated)
    for args in (["agents"], ["signals"], ["runs", "retry-agent"]):
        r = invoke(args, env={"DUNETRACE_API_URL": f"local:{populated}"})
        line = _failed(r, 3)
        assert line == (
            f"dunetrace: error: the local store at {populated} is damaged (database disk image is malformed); "
            f"recover what you can with `sqlite3 {populated} .recover | sqlite3 recovered.db`, "
            f"or start afresh with `dunetrace local reset --db {populated}`."
        ), args
    r = invoke(["local", "ingest", "--db", populated, Path(__file__).parents[1] / "data/sdk-events/scenario-b-clean.jsonl"])
    assert "is damaged" in _failed(r, 3)


def test_corrupted_pages_through_serve_answer_503_and_log_once(populated: Path) -> None:
    _corrupt_pages(populated)
    logged: list[str] = []
    app = create_api_app(populated)
    app.state.store_error_log = OnceLog(logged.append)
    with TestClient(app) as client:
        for path in ("/v1/agents", "/v1/signals", "/v1/agents"):
            r = client.get(path)
            assert r.status_code == 503
            assert r.json()["detail"].startswith(f"the local store at {populated} is damaged")
    expected = (
        f"storage error while answering GET /v1/agents: the local store at {populated} is damaged "
        f"(database disk image is malformed); recover what you can with `sqlite3 {populated} .recover | "
        f"sqlite3 recovered.db`, or start afresh with `dunetrace local reset --db {populated}`."
    )
    assert logged == [expected]


def test_not_a_database(invoke: Any, tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    db.write_bytes(b"SQLite format 2\x00" + b"\x00" * 5000)
    r = invoke(["agents"], env={"DUNETRACE_API_URL": f"local:{db}"})
    line = _failed(r, 3)
    assert line == (
        f"dunetrace: error: {db} is not a Dunetrace local store (file is not a database); "
        f"pass --db with the right file, or delete it with `dunetrace local reset --db {db}`."
    )


# ── private files ────────────────────────────────────────────────────────────────────────────
def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_new_store_files_are_0600_in_0700_dirs(invoke: Any, sdk_events: Path, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        db = tmp_path / "new" / "deeper" / "s.db"
        s = open_store(db)
        try:
            with s.write() as conn:
                conn.execute("INSERT INTO meta(key, value) VALUES ('x', 'y')")
            files = [p for p in s.files() if p.exists()]
            assert {p.name for p in files} >= {"s.db", "s.db-wal", "s.db-shm"}
            assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
        finally:
            s.close()
        assert _mode(tmp_path / "new") == 0o700 and _mode(tmp_path / "new" / "deeper") == 0o700
    finally:
        os.umask(old)


def test_an_existing_world_readable_store_is_tightened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("DUNETRACE_HOME", str(home))
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    db = home / "local.db"
    sqlite3.connect(db).execute("CREATE TABLE t(x)").connection.close()
    db.chmod(0o644)
    open_store(db).close()
    assert _mode(db) == 0o600 and _mode(home) == 0o700
    other = tmp_path / "shared"
    other.mkdir(mode=0o755)
    other.chmod(0o755)
    open_store(other / "s.db").close()
    assert _mode(other) == 0o755 and _mode(other / "s.db") == 0o600  # not our dir: left as it is


# ── the MCP face: the same sentence, as a tool error ─────────────────────────────────────────
@pytest.mark.anyio
async def test_mcp_tools_get_the_store_sentence_as_a_tool_error(populated: Path, tmp_path: Path) -> None:
    from mcp import Client

    from dunetrace_cli.mcp.server import build_server
    from tests.conftest import settings_for

    missing = tmp_path / "nowhere" / "x.db"
    async with Client(build_server(settings_for(f"local:{missing}"))) as c:
        r = await c.call_tool("list_agents", {})
    assert r.is_error and "no local store at" in r.content[0].text and str(missing) in r.content[0].text
    assert not missing.parent.exists()
    _corrupt_pages(populated)
    async with Client(build_server(settings_for(f"local:{populated}"))) as c:
        r = await c.call_tool("search_signals", {})
    assert r.is_error and f"the local store at {populated} is damaged" in r.content[0].text
    assert "HTTP 503" not in r.content[0].text and "internal" not in r.content[0].text


def test_local_serve_on_a_full_tmpfs_answers_503_and_logs_the_cause_once(tmp_path: Path) -> None:
    """End to end: the real `dunetrace local serve` process, its store on a small tmpfs that fills up."""
    import time as _time

    import httpx

    from tests.local.test_reliability import Server
    from tests.local.test_store_ingest import looping_run

    with tmpfs(tmp_path / "small", "1m") as mnt:  # schema v3 (read aggregates) starts at ~220 KB
        server = Server(tmp_path, mnt / "s.db")
        try:
            statuses = []
            with httpx.Client(timeout=10) as client:
                for i in range(40):
                    events = []
                    for j in range(10):
                        events.extend(looping_run(f"full-{i}-{j}", t0=_time.time(), agent_id="agent-full"))
                    r = client.post(server.ingest + "/v1/ingest", json={"api_key": "", "agent_id": "agent-full", "events": events})
                    statuses.append(r.status_code)
                    if statuses[-3:] == [503, 503, 503]:
                        break
                assert statuses[0] == 202 and statuses[-3:] == [503, 503, 503], statuses
                assert client.get(server.api + "/v1/agents").status_code in (200, 503)
        finally:
            server.stop()
        log = server.output()
    assert log.count("storage error while storing a batch of events: the disk holding the local store") == 1, log
    assert "free some space and retry, or pass --db with a path on another disk." in log
    assert "Traceback" not in log
