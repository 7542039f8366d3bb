"""`dunetrace demo`: a deterministic week through the real SDK, and every command it prints runs as printed."""

from __future__ import annotations

import http.server
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dunetrace_cli.local.demo import LOOPING_AGENT, RESEARCH_LOOPS, run_demo
from dunetrace_cli.local.store import open_store

NOW = datetime(2026, 11, 30, 15, 30, tzinfo=UTC).timestamp()


def _rows(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    run_demo(db, now=NOW)
    return db


def test_the_same_seed_gives_the_same_week(week: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.db"
    run_demo(again, now=NOW)
    runs = "SELECT run_id, agent_id, started_at, processed_at FROM runs ORDER BY run_id"
    signals = "SELECT id, run_id, failure_type, severity, detected_at FROM signals ORDER BY id"
    events = "SELECT event_id, run_id, event_type, timestamp FROM events ORDER BY event_id"
    for sql in (runs, signals, events):
        assert _rows(week, sql) == _rows(again, sql)
    assert len(_rows(week, runs)) == 126


def test_seven_days_of_backdated_history(week: Path) -> None:
    first, last = _rows(week, "SELECT MIN(timestamp), MAX(timestamp) FROM events")[0]
    assert last < NOW and NOW - first < 7 * 86400
    days = {d for (d,) in _rows(week, "SELECT DISTINCT date(started_at, 'unixepoch') FROM runs")}
    today = datetime.fromtimestamp(NOW, tz=UTC).date()
    assert days == {(today - timedelta(days=k)).isoformat() for k in range(7)}
    # runs take time: events are spaced by the latencies the SDK recorded
    longest = _rows(week, "SELECT MAX(MAX(completed_at, started_at) - started_at) FROM runs")[0][0]
    assert longest > 1.0
    # processed when they ran (the events' own clock), not when the demo wrote them
    assert _rows(week, "SELECT MAX(processed_at) FROM runs")[0][0] < NOW


def test_the_loop_escalates_until_systemic_and_the_others_fail_their_own_way(week: Path) -> None:
    per_day = dict(
        _rows(
            week,
            "SELECT date(r.started_at, 'unixepoch'), COUNT(DISTINCT s.run_id) FROM runs r LEFT JOIN signals s "
            "ON s.run_id = r.run_id AND s.failure_type = 'TOOL_LOOP' AND s.shadow = 0 "
            "WHERE r.agent_id = ? GROUP BY 1 ORDER BY 1",
            LOOPING_AGENT,
        )
    )
    assert list(per_day.values()) == list(RESEARCH_LOOPS)
    runs = _rows(week, "SELECT COUNT(*) FROM runs WHERE agent_id = ?", LOOPING_AGENT)[0][0]
    assert sum(RESEARCH_LOOPS) / runs >= 0.10  # systemic
    types = {
        agent: {t for (t,) in _rows(week, "SELECT DISTINCT failure_type FROM signals WHERE agent_id=? AND shadow=0", agent)}
        for agent in ("support-bot", "report-writer", "docs-qa")
    }
    assert "RETRY_STORM" in types["support-bot"] and "CONTEXT_BLOAT" in types["report-writer"]
    assert types["docs-qa"] == set()  # the clean agent
    errored = _rows(week, "SELECT agent_id FROM runs WHERE terminal_event_type = 'run.errored'")
    assert errored == [("support-bot",)]


def test_health_trend_falls_as_the_loop_spreads(tmp_path: Path) -> None:
    result = run_demo(tmp_path / "d.db", now=NOW)
    scores = [score for _, score in result.health_trend]
    assert len(scores) == 7 and all(isinstance(s, int) for s in scores)
    assert scores == sorted(scores, reverse=True) and scores[0] - scores[-1] >= 15
    today = datetime.fromtimestamp(NOW, tz=UTC).date()
    assert result.health_trend[-1][0] == today.isoformat()
    with open_store(tmp_path / "d.db") as store:
        from dunetrace_cli.local.readqueries_health import health_score

        assert health_score(store.conn(), LOOPING_AGENT, now=NOW)["score"] == scores[-1]


# ── the command ──────────────────────────────────────────────────────────────────────────────
class _Counter(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's spelling
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"agents": [], "page": {"total": 0, "offset": 0, "limit": 50, "has_more": false}}')

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def other_server() -> Iterator[tuple[str, list[str]]]:
    """A server the configuration points at (as anything on :8002 would be): the demo must never ask it."""
    _Counter.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Counter.hits
    finally:
        server.shutdown()
        server.server_close()


def _next_lines(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    start = lines.index("Next (each runs against the demo store as printed):")
    out = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        out.append(line.strip())
    return out


def test_every_printed_command_runs_as_printed_and_never_asks_the_configured_server(
    invoke: Any, tmp_path: Path, other_server: tuple[str, list[str]]
) -> None:
    url, hits = other_server
    db = tmp_path / "demo store.db"  # a space: the printed commands quote the path
    env = {"DUNETRACE_API_URL": url}
    r = invoke(["demo", "--db", db], env=env)
    assert r.exit_code == 0, r.stderr
    assert "exited with code" not in r.stderr and "Traceback" not in r.stderr
    out = r.stdout
    assert out.startswith(f"Demo store {db}: 4 agents, 126 runs over 7 days")
    assert "Agent research-agent" in out and "TOOL_LOOP" in out
    assert "Health of research-agent at the end of each of the last 7 days: " in out
    commands = _next_lines(out)
    assert len(commands) >= 6
    for line in commands:
        args = shlex.split(line, comments=True)
        assert args[:3] == ["dunetrace", "--api-url", f"local:{db}"], line
        done = invoke(args[1:], env=env)
        assert done.exit_code == 0, (line, done.stderr)
        assert done.stdout.strip(), line
    export = next(line.strip() for line in out.splitlines() if line.strip().startswith("export "))
    name, value = shlex.split(export[len("export ") :])[0].split("=", 1)
    assert (name, value) == ("DUNETRACE_API_URL", f"local:{db}")
    assert invoke(["agents"], env={name: value}).exit_code == 0
    assert hits == []


def test_a_second_demo_recreates_its_store_and_never_overwrites_another(invoke: Any, tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    assert invoke(["demo", "--db", db]).exit_code == 0
    assert invoke(["demo", "--db", db]).exit_code == 0
    assert _rows(db, "SELECT COUNT(*) FROM runs")[0][0] == 126
    other = tmp_path / "real.db"
    shutil.copy(db, other)
    with open_store(other) as s, s.write() as conn:
        conn.execute("DELETE FROM meta WHERE key='demo_store'")
    r = invoke(["demo", "--db", other])
    assert r.exit_code == 2 and "not a demo store" in r.stderr


def test_demo_piped_into_head_stops_quietly(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("dunetrace")
    if not exe.exists() or shutil.which("bash") is None:
        pytest.skip("needs the installed dunetrace script and bash")
    db = tmp_path / "demo.db"
    started = time.monotonic()
    done = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {shlex.quote(str(exe))} demo --db {shlex.quote(str(db))} | head -1"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "DUNETRACE_API_URL": "http://127.0.0.1:9"},
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Demo store {db}: 4 agents") and done.stdout.count("\n") == 1
    assert "exited with code" not in done.stderr and "Error" not in done.stderr and "Traceback" not in done.stderr
    assert time.monotonic() - started < 120


def test_the_demo_command_does_not_import_the_whole_cli() -> None:
    code = "import sys, dunetrace_cli.cli.demo_cmd; print('dunetrace_cli.cli.app' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
