"""Deterministic detection (issue 11): the same events give the same signals through every route.

Six clones of the SDK 0.5.7 fixture (53 runs, 648 events each; fresh ids, one agent per family so the
cross-run baselines fill up: support-bot has 30 clean runs after three clones), sent

* as a JSONL file through the `local ingest` driver (file order = time order);
* as a JSONL file with the clones in reverse order (the newest runs first);
* over HTTP with the real SDK's ``HttpBatchingEmitter`` into `dunetrace local serve`, one client;
* over HTTP with three concurrent clients, each shipping its own clones (so one agent's runs arrive
  out of run-time order, and stalled runs are analysed seconds after the runs that followed them).

Every run's signals (type, severity, shadow, confidence) must be identical across the four stores.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from dunetrace_cli.local.load import ingest_sources
from dunetrace_cli.local.store import open_store
from tests.faultserver import free_ports

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from _gen_events import clone_events  # noqa: E402

CLONES = 6
PER_CLONE = 648


def _events() -> list[dict[str, Any]]:
    # an hour old, so every unfinished run is past the stall timeout on every route
    return list(clone_events(CLONES * PER_CLONE, agents_per_family=1, span_days=2, now=time.time() - 3600))


def _signals(db: Path) -> dict[tuple[str, str], tuple[str, int, float]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {
            (r[0], r[1]): (r[2], r[3], round(r[4], 6))
            for r in conn.execute("SELECT run_id, failure_type, severity, shadow, confidence FROM signals")
        }
    finally:
        conn.close()


def _jsonl(db: Path, events: list[dict[str, Any]]) -> None:
    src = db.with_suffix(".jsonl")
    with open(src, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(e) + "\n" for e in events)
    store = open_store(db)
    try:
        summary = ingest_sources(store, [str(src)], report=lambda p: None)
    finally:
        store.close()
    assert summary.events_new == len(events) and summary.runs_pending == 0


def _serve(db: Path, tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port, api = free_ports(2)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dunetrace_cli", "local", "serve", "--db", str(db), "--ingest-port", str(port),
         "--api-port", str(api), "--stall-seconds", "1"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(tmp / f"serve-{port}.log", "wb"),  # noqa: SIM115
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("local serve did not start")


def _http(db: Path, tmp: Path, shares: list[list[dict[str, Any]]]) -> None:
    from dunetrace.emitters import HttpBatchingEmitter
    from dunetrace.models import AgentEvent, EventType

    proc, url = _serve(db, tmp)
    try:
        errors: list[str] = []

        def client(share: list[dict[str, Any]]) -> None:
            emitter = HttpBatchingEmitter(url, max_retries=0)
            batch = [AgentEvent(**dict(e, event_type=EventType(e["event_type"]))) for e in share]
            for i in range(0, len(batch), 100):  # the SDK drain thread's batch size
                outcome = emitter.ship(batch[i : i + 100])
                if outcome.name != "DELIVERED":
                    errors.append(str(outcome))

        threads = [threading.Thread(target=client, args=(s,)) for s in shares]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == []
        # wait until every run is analysed and nothing is left to re-evaluate
        deadline = time.monotonic() + 120
        while True:
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
            left = conn.execute(
                "SELECT COUNT(*) FROM runs WHERE processed_at IS NULL OR needs_detection=1 OR needs_reeval=1"
            ).fetchone()[0]
            conn.close()
            if left == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert left == 0
    finally:
        proc.terminate()
        proc.wait(15)


def test_the_same_events_give_the_same_signals_through_every_route(tmp_path: Path) -> None:
    events = _events()
    clones = [events[k * PER_CLONE : (k + 1) * PER_CLONE] for k in range(CLONES)]
    _jsonl(tmp_path / "jsonl.db", events)
    _jsonl(tmp_path / "reversed.db", [e for clone in reversed(clones) for e in clone])
    _http(tmp_path / "http1.db", tmp_path, [events])
    _http(tmp_path / "http3.db", tmp_path, [[e for c in clones[k::3] for e in c] for k in range(3)])

    want = _signals(tmp_path / "jsonl.db")
    assert len(want) > CLONES * 30
    conn = sqlite3.connect(tmp_path / "jsonl.db")
    ready = conn.execute(
        "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM run_metrics WHERE clean=1 GROUP BY agent_id, agent_version)"
    ).fetchone()[0]
    conn.close()
    assert ready >= 40  # the baselines were in play
    for name in ("reversed", "http1", "http3"):
        got = _signals(tmp_path / f"{name}.db")
        assert got == want, (name, set(got) ^ set(want))
