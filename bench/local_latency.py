"""Event-to-signal latency with `dunetrace local serve`: from the POST of a run's terminal event to the
signal being readable on the Customer API port.

A looping run of the real SDK fixture (scenario-a-looping.jsonl, 28 events, TOOL_LOOP) gets fresh ids
and current timestamps; its first 27 events are posted as one SDK batch, then the terminal
``run.completed`` alone (as the SDK's drain would ship it at the end of the run). The clock starts just
before that last POST; the API port (``GET /v1/runs/{id}``) is polled every 5 ms until the run is
there with its TOOL_LOOP signal. Median over several runs, on an empty store and on one preloaded with
fixture clones (so detection has history to compute baselines from). For comparison, the real backend's
detector polls every 5 s (observed: about 5.1 s on the March server).

Run from the repo root: ``python bench/local_latency.py`` (~1 min); ``--quick`` for fewer runs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from _common import print_table
from _gen_events import looping_run, write_jsonl

from dunetrace_cli.local.load import ingest_sources
from dunetrace_cli.local.store import open_store
from tests.local.test_reliability import Server  # `local serve` on two free loopback ports

POLL_S = 0.005
TIMEOUT_S = 30.0


def preload(db: Path, n: int, work: Path) -> None:
    src = write_jsonl(work / "preload.jsonl", n)
    store = open_store(db)
    try:
        ingest_sources(store, [str(src)], report=lambda p: None, finalize_stalled=True)
    finally:
        store.close()
        src.unlink()


def post(client: httpx.Client, events: list[dict]) -> None:
    """One SDK batch (the envelope `HttpBatchingEmitter` sends)."""
    r = client.post("/v1/ingest", json={"api_key": "", "agent_id": events[0]["agent_id"], "events": events})
    r.raise_for_status()


def one_run(ingest: httpx.Client, api: httpx.Client) -> tuple[float, float]:
    events = looping_run()
    run_id = events[0]["run_id"]
    head, terminal = events[:-1], events[-1:]
    assert terminal[0]["event_type"] == "run.completed"
    post(ingest, head)
    start = time.perf_counter()
    post(ingest, terminal)
    accepted = time.perf_counter()
    deadline = accepted + TIMEOUT_S
    while time.perf_counter() < deadline:
        resp = api.get(f"/v1/runs/{run_id}")
        if resp.status_code == 200 and any(s["failure_type"] == "TOOL_LOOP" for s in resp.json()["signals"]):
            return accepted - start, time.perf_counter() - start
        time.sleep(POLL_S)
    raise TimeoutError(f"run {run_id} not visible after {TIMEOUT_S} s")


def measure(db: Path, runs: int) -> list[object]:
    server = Server(db.parent, db)
    try:
        with httpx.Client(base_url=server.api, timeout=10) as api, \
                httpx.Client(base_url=server.ingest, timeout=10) as ingest:  # fmt: skip
            api.get("/health")
            one_run(ingest, api)  # warm-up: first request of each app, first detection
            samples = [one_run(ingest, api) for _ in range(runs)]
    finally:
        server.stop()
    posts = [a for a, _ in samples]
    totals = [t for _, t in samples]
    ms = lambda x: round(x * 1000, 1)  # noqa: E731
    return [ms(statistics.median(posts)), ms(statistics.median(totals)), ms(min(totals)), ms(max(totals))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="5 runs per store, 10k-event preload")
    args = ap.parse_args()
    runs = 5 if args.quick else 15
    preload_n = 10_000 if args.quick else 100_000
    rows = []
    with tempfile.TemporaryDirectory(prefix="dt-bench-latency-") as tmp:
        work = Path(tmp)
        rows.append(["empty store", runs, *measure(work / "empty.db", runs)])
        preload(work / "loaded.db", preload_n, work)
        rows.append([f"{preload_n:,} events preloaded", runs, *measure(work / "loaded.db", runs)])
    print_table(
        "Event-to-signal latency: POST of run.completed -> TOOL_LOOP readable on the API port (ms)",
        ["store", "runs", "POST (202) median", "to signal median", "min", "max"],
        rows,
    )
    print("  real backend: detector polls every 5 s (about 5,100 ms observed on the March server)")


if __name__ == "__main__":
    main()
