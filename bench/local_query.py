"""Local store query latency at 10k, 100k and 1M events, through the in-process ASGI client.

Each store is built with the `dunetrace local ingest` driver from clones of the real SDK fixture
(bench/_gen_events.py: 60 agents, ~8.2 runs per 100 events, timestamps over 7 days, every run detected).
Queries go exactly the way ``DUNETRACE_API_URL=local:PATH`` sends them: ``httpx.AsyncClient`` over
``httpx.ASGITransport(create_api_app(PATH))``, one app per store. Prints the median of N warm calls (and
the first call of each query) per endpoint and size, and how each grows. The per-agent queries (health,
insights, token stats, agent runs) are for web-researcher-000, whose own runs grow with the store.

Run from the repo root: ``python bench/local_query.py`` (~5 min, most of it building the 1M store);
``--quick`` for 10k and 100k only.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import httpx
from _common import median_ms, print_table
from _gen_events import write_jsonl

from dunetrace_cli.local.api import create_api_app
from dunetrace_cli.local.load import ingest_sources
from dunetrace_cli.local.store import open_store

AGENT = "web-researcher-000"


def build(db: Path, n: int, work: Path) -> tuple[float, dict[str, int]]:
    src = write_jsonl(work / f"q-{n}.jsonl", n)
    store = open_store(db)
    start = time.perf_counter()
    try:
        summary = ingest_sources(store, [str(src)], report=lambda p: None, finalize_stalled=True)
        conn = store.conn()
        counts = {
            "runs": conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0],
            "signals": conn.execute("SELECT COUNT(*) FROM signals WHERE shadow=0").fetchone()[0],
            "agents": conn.execute("SELECT COUNT(DISTINCT agent_id) FROM runs").fetchone()[0],
            "agent_runs": conn.execute("SELECT COUNT(*) FROM runs WHERE agent_id = ?", (AGENT,)).fetchone()[0],
            "agent_events": conn.execute("SELECT COUNT(*) FROM events WHERE agent_id = ?", (AGENT,)).fetchone()[0],
        }
        assert summary.events_new == n, summary
    finally:
        store.close()
        src.unlink()
    return time.perf_counter() - start, counts


def pick_run(db: Path) -> str:
    """The newest looping run of AGENT (about 28 events, TOOL_LOOP + company)."""
    store = open_store(db, create=False)
    try:
        row = store.conn().execute(
            "SELECT r.run_id FROM runs r JOIN signals s ON s.run_id = r.run_id "
            "WHERE r.agent_id = ? AND s.failure_type = 'TOOL_LOOP' ORDER BY r.processed_at DESC LIMIT 1",
            (AGENT,),
        ).fetchone()
        return row[0]
    finally:
        store.close()


async def measure(db: Path, calls: int) -> dict[str, tuple[float, float]]:
    run_id = pick_run(db)
    queries = {
        "agents list": ("/v1/agents", {}),
        "signals across agents, severity=HIGH": ("/v1/signals", {"severity": "HIGH"}),
        "run detail (looping run)": (f"/v1/runs/{run_id}", {}),
        "health-score": (f"/v1/agents/{AGENT}/health-score", {}),
        "insights": (f"/v1/agents/{AGENT}/insights", {}),
        "token-stats": (f"/v1/agents/{AGENT}/token-stats", {}),
        "agent runs, has_signals=true": (f"/v1/agents/{AGENT}/runs", {"has_signals": "true"}),
    }
    out: dict[str, tuple[float, float]] = {}
    transport = httpx.ASGITransport(app=create_api_app(db))
    async with httpx.AsyncClient(transport=transport, base_url="http://dunetrace.local") as client:
        for name, (path, params) in queries.items():
            samples = []
            for _ in range(calls + 1):
                start = time.perf_counter()
                resp = await client.get(path, params=params)
                samples.append(time.perf_counter() - start)
                if resp.status_code != 200:
                    raise RuntimeError(f"{path} answered {resp.status_code}: {resp.text[:200]}")
            out[name] = (median_ms(samples[1:]), round(samples[0] * 1000, 1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="10k and 100k events only, 10 calls each")
    ap.add_argument("--calls", type=int, default=None, help="warm calls per query (default 20, quick 10)")
    args = ap.parse_args()
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    calls = args.calls or (10 if args.quick else 20)

    results: dict[int, dict[str, tuple[float, float]]] = {}
    build_rows = []
    with tempfile.TemporaryDirectory(prefix="dt-bench-query-") as tmp:
        work = Path(tmp)
        for n in sizes:
            db = work / f"q-{n}.db"
            seconds, counts = build(db, n, work)
            size = sum(p.stat().st_size for p in work.glob(f"q-{n}.db*"))
            build_rows.append([f"{n:,}", f"{counts['runs']:,}", f"{counts['signals']:,}", counts["agents"],
                               f"{counts['agent_runs']:,} / {counts['agent_events']:,}",
                               f"{size / 2**20:,.0f}", f"{seconds:.0f}"])  # fmt: skip
            results[n] = asyncio.run(measure(db, calls))
            for p in work.glob(f"q-{n}.db*"):
                p.unlink()

    print_table("Stores (built with the `local ingest` driver)",
                ["events", "runs", "live signals", "agents", f"{AGENT} runs / events", "db MiB", "build s"],
                build_rows)  # fmt: skip
    names = list(results[sizes[0]])
    rows = []
    for name in names:
        row: list[object] = [name]
        row += [results[n][name][0] for n in sizes]
        row.append(f"x{results[sizes[-1]][name][0] / max(results[sizes[0]][name][0], 0.1):.1f}")
        row.append(results[sizes[-1]][name][1])
        rows.append(row)
    print_table(
        f"Query latency through DUNETRACE_API_URL=local:PATH (in-process ASGI), median ms of {calls} warm calls",
        ["query"] + [f"{n // 1000:,}k ev" for n in sizes] + [f"{sizes[-1] // 1000:,}k / {sizes[0] // 1000}k",
                                                              f"1st call ms @{sizes[-1] // 1000:,}k"],
        rows,
    )  # fmt: skip


if __name__ == "__main__":
    main()
