"""Local store, in one run: ingest next to its floor, HTTP next to JSONL, reads at 1M, signals per route.

Events are clones of the real SDK fixture (bench/_gen_events.py: 53 runs / 648 events per clone, fresh
run/event ids, 60 agents, spread over 7 days ending 10 minutes ago, so every unfinished run is past the
stall timeout by its own clock).

* **floor**: a plain parse-and-insert of the same lines into the same ``events`` table with the same
  indexes and the same write settings as ``local ingest`` (``json.loads``, compact ``json.dumps`` of the
  payload, ``executemany`` in transactions of ``load.COMMIT_EVERY`` rows inside ``load.bulk_writes``:
  WAL, ``synchronous=NORMAL``, the same checkpoint interval), no validation, no run rows, no detection.
* **JSONL**: ``dunetrace local ingest FILE --json`` as a user runs it (validation, run bookkeeping,
  detection while streaming, the stall sweep), in a child process; peak RSS = its VmHWM plus its
  detection process's (both counted in full, though a forked child shares pages with its parent).
* **HTTP**: ``dunetrace local serve --stall-seconds 2`` in a subprocess; the real SDK's
  ``HttpBatchingEmitter`` ships 100-event batches (its drain size) from 1 or 4 client processes (each
  owning whole clones, its events built from the file before the clock starts, as an agent makes them
  while it runs; all clients start together); the rate runs until every run is analysed (stalled runs included), and again
  without the stall timeout the live rule waits after the last event (a server cannot know sooner that a
  run left open was abandoned; `local ingest` knows from the file's own clock). The SDK clients' CPU is
  shown next to the server's (writer) and its detection process's: on two cores, their sum over two is
  the least wall time any server could take; "batches sent again" counts first attempts that got a 503 or timed out
  (each client sends them until they are delivered). **HTTP floor**: the same clients against a bare server of
  the same stack (uvicorn + starlette, each body parsed and validated as `local serve` does, 202, nothing
  stored): its time to the last 202, plus the stall wait, is the least the HTTP route can take here.
  JSONL runs again after the HTTP runs: this machine's speed drifts by 10-20% over minutes, so each HTTP
  rate is compared with the mean of the JSONL rates before and after it (both rows shown).
* **signals**: live signals stored through each route, which must be equal.
* **reads at 1M**: in-process ASGI exactly as ``DUNETRACE_API_URL=local:PATH`` sends them, median wall
  and CPU time of 20 warm calls next to the targets (30 ms; 5 ms for a run prefix), an ambiguous prefix
  (its candidates listed), and the scans the aggregates replaced (``tests/local/scan_reference``) on the
  same store in the same run. ``--reads DB`` measures only this section on an existing store.

Run from the repo root: ``python bench/local_ingest.py`` (about 10 minutes on 2 cores; ``--quick``: 20k
and 100k events, HTTP at 20k; ``--routes N``: only JSONL and HTTP at N events, e.g. 1,000,000).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import ROOT, median_ms, print_table
from _gen_events import write_jsonl

from tests.faultserver import free_ports

PY = sys.executable
PER_CLONE = 648
#: `local serve --stall-seconds` in the HTTP runs: the live rule waits this long after a run's last event.
HTTP_STALL_S = 2
TREE_ENV = "DT_BENCH_TREE"  # set: the floor child imports dunetrace_cli from that tree


def vm_hwm_kb(pid: int | str = "self") -> int:
    """The RSS high-water mark of a live process (VmHWM)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children_of(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (/proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def written_mib(pid: int) -> float:
    """Bytes a live process has written so far (``wchar`` of /proc/PID/io: the WAL, checkpoints), MiB."""
    try:
        with open(f"/proc/{pid}/io") as fh:
            for line in fh:
                if line.startswith("wchar:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


#: The last run_measured's figures: CPU seconds of "main" and "helper" (its busiest child), and "written"
#: (MiB the main process wrote, sampled until its last 20 ms).
CPU: dict[str, float] = {}


def run_measured(
    cmd: list[str], timeout: float, *, cwd: Path | str = ROOT, env: dict[str, str] | None = None
) -> tuple[str, int, float]:
    """Run a child; return (stdout, its peak RSS in KiB plus the largest peak of its own children (the
    detection process of `local ingest`), wall seconds). ``CPU`` gets the CPU seconds of both."""
    peak = 0
    helpers: dict[int, int] = {}
    cpu: dict[int, float] = {}
    written = 0.0
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, cwd=cwd, env=env)
        deadline = time.monotonic() + timeout
        try:
            while proc.poll() is None:
                peak = max(peak, vm_hwm_kb(proc.pid))
                cpu[proc.pid] = max(cpu.get(proc.pid, 0.0), cpu_s(proc.pid))
                written = max(written, written_mib(proc.pid))
                for child in children_of(proc.pid):
                    helpers[child] = max(helpers.get(child, 0), vm_hwm_kb(child))
                    cpu[child] = max(cpu.get(child, 0.0), cpu_s(child))
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{cmd[:4]} took longer than {timeout:.0f} s")
                time.sleep(0.02)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        wall = time.perf_counter() - start
        out.seek(0)
        text = out.read().decode()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} exited {proc.returncode}: {text[-500:]}")
    CPU["main"] = cpu.get(proc.pid, 0.0)
    CPU["helper"] = max((v for k, v in cpu.items() if k != proc.pid), default=0.0)
    CPU["written"] = written
    return text, peak + max(helpers.values(), default=0), wall


# ── children ──────────────────────────────────────────────────────────────────────────────────
def child_floor(source: str, db: str) -> None:
    """Plain parse + insert of the same rows into the same table and indexes."""
    from dunetrace_cli.local.load import COMMIT_EVERY, bulk_writes
    from dunetrace_cli.local.store import open_store

    store = open_store(db)
    conn = store.conn()
    sql = (
        "INSERT OR IGNORE INTO events(event_id, run_id, agent_id, agent_version, event_type, step_index, "
        "timestamp, parent_run_id, trace_id, conversation_id, payload, received_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
    )
    start = time.perf_counter()
    rows = []
    n = 0

    def commit() -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
        rows.clear()

    with bulk_writes(store), open(source, "rb") as fh:
        for line in fh:
            e = json.loads(line)
            rows.append((e["event_id"], e["run_id"], e["agent_id"], e["agent_version"], e["event_type"],
                         e["step_index"], e["timestamp"], e["parent_run_id"], e["trace_id"], e["conversation_id"],
                         json.dumps(e["payload"], separators=(",", ":"), ensure_ascii=False), e["timestamp"]))  # fmt: skip
            n += 1
            if len(rows) >= COMMIT_EVERY:
                commit()
        if rows:
            commit()
    store.close()
    print(json.dumps({"events": n, "seconds": time.perf_counter() - start, "peak_rss_kb": vm_hwm_kb()}))


def child_client(url: str, source: str) -> None:
    """One SDK process: the real HttpBatchingEmitter shipping this share in 100-event batches. The events
    are built from the file first (an agent makes them as it runs; reading the bench's file is not part of
    shipping them); it says "ready", ships on "go" and reports the CPU seconds of shipping."""
    from dunetrace.emitters import HttpBatchingEmitter
    from dunetrace.models import AgentEvent, EventType

    emitter = HttpBatchingEmitter(url, max_retries=5)
    with open(source, encoding="utf-8") as fh:
        events = [AgentEvent(**dict(e, event_type=EventType(e["event_type"]))) for e in map(json.loads, fh)]
    batches = [events[i : i + 100] for i in range(0, len(events), 100)]
    print("ready", flush=True)
    sys.stdin.readline()  # go
    cpu = time.process_time()
    failed = sum(emitter.ship(batch).name != "DELIVERED" for batch in batches)
    while emitter.pending_events:
        emitter.retry_pending()
        time.sleep(0.2)
    print(json.dumps({"failed": failed, "cpu": time.process_time() - cpu}))


# ── HTTP: a `local serve` subprocess ──────────────────────────────────────────────────────────
def counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=60)
    try:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "events": one("SELECT COUNT(*) FROM events"),
            "runs": one("SELECT COUNT(*) FROM runs WHERE processed_at IS NOT NULL"),
            "left": one("SELECT COUNT(*) FROM runs WHERE processed_at IS NULL OR needs_detection=1 OR needs_reeval=1"),
            "signals": one("SELECT COUNT(*) FROM signals WHERE shadow=0"),
        }
    finally:
        conn.close()


def child_null_server(port: str) -> None:
    """The HTTP route's floor: the same server stack as `local serve` (uvicorn + starlette), each body read,
    parsed and validated as `local serve` does, answered 202; nothing stored, nothing detected."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from dunetrace_cli.local.ingest import loads_strict, validate_batch

    async def ingest(request: Request) -> JSONResponse:
        body = await request.body()
        events = validate_batch(loads_strict(body.decode("utf-8", "surrogatepass")),
                                no_surrogates=b"\\ud" not in body and b"\\uD" not in body)  # fmt: skip
        return JSONResponse({"accepted": len(events), "batch_id": "-", "queued_at": time.time()}, status_code=202)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = Starlette(routes=[Route("/v1/ingest", ingest, methods=["POST"]), Route("/health", health)])
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning", access_log=False, server_header=False)


def _shares(src: Path, clients: int, work: Path) -> list[Path]:
    shares = [work / f"share-{clients}-{c}.jsonl" for c in range(clients)]
    handles = [open(p, "w", encoding="utf-8") for p in shares]  # noqa: SIM115
    with open(src, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            handles[(i // PER_CLONE) % clients].write(line)  # whole clones per client
    for h in handles:
        h.close()
    return shares


def _wait_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server at {url} did not start") from None
            time.sleep(0.05)


def _ship(url: str, shares: list[Path]) -> tuple[float, float, float, int]:
    """The SDK clients ship their shares, all starting together once each has built its events; (start,
    seconds to the last 202, the clients' CPU seconds of shipping, batches the SDK had to send again: a
    503 or a timeout on the first attempt; each client sends them until delivered)."""
    procs = [subprocess.Popen([PY, __file__, "--child-client", url, str(p)], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for p in shares]  # fmt: skip
    for p in procs:
        assert p.stdout is not None
        if p.stdout.readline().strip() != "ready":
            raise RuntimeError("an SDK client did not start")
    start = time.perf_counter()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    cpu, again = 0.0, 0
    for p in procs:
        out, _ = p.communicate(timeout=3600)
        if p.returncode != 0:
            raise RuntimeError(f"an SDK client failed: {out[-300:]!r}")
        report = json.loads(out)
        cpu += report["cpu"]
        again += report["failed"]
    return start, time.perf_counter() - start, cpu, again


def http_floor_case(src: Path, clients: int, work: Path) -> dict[str, float]:
    """The same SDK clients against ``child_null_server``: the least time the HTTP route takes here."""
    shares = _shares(src, clients, work)
    (port,) = free_ports(1)
    server = subprocess.Popen([PY, __file__, "--child-null-server", str(port)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        _wait_up(f"http://127.0.0.1:{port}")
        base = cpu_s(server.pid)
        _, accepted, client_cpu, _ = _ship(f"http://127.0.0.1:{port}", shares)
        server_cpu = cpu_s(server.pid) - base
    finally:
        server.terminate()
        server.wait(30)
    return {"accepted_s": accepted, "client_cpu": client_cpu, "server_cpu": server_cpu}


def http_case(src: Path, n: int, clients: int, work: Path) -> dict[str, float]:
    db = work / f"http-{n}-{clients}.db"
    shares = _shares(src, clients, work)
    port, api = free_ports(2)
    server = subprocess.Popen(
        [PY, "-m", "dunetrace_cli", "local", "serve", "--db", str(db), "--ingest-port", str(port),
         "--api-port", str(api), "--stall-seconds", str(HTTP_STALL_S)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_up(url)
        start, accepted, client_cpu, again = _ship(url, shares)
        while True:
            c = counts(db)
            if c["left"] == 0 and c["events"] == n:
                break
            time.sleep(0.2)
        done = time.perf_counter() - start
        rss = vm_hwm_kb(server.pid)
        cpu = (cpu_s(server.pid), max((cpu_s(c) for c in children_of(server.pid)), default=0.0))
    finally:
        server.terminate()
        server.wait(30)
    return {"accepted_s": accepted, "done_s": done, "rss_kb": rss, "cpu": cpu, "client_cpu": client_cpu, "again": again,
            **counts(db)}


def jsonl_row(label: str, n: int, seconds: float, c: dict[str, int], rss_kb: int) -> list[object]:
    """A JSONL route row: the last ``run_measured``'s CPU (``CPU``), its store's counts ``c``."""
    return [label, f"{n:,}", f"{n / seconds:,.0f}", "-", "-", "-", "-", f"{seconds:.1f}", f"{c['runs']:,}",
            f"{c['signals']:,}", f"{rss_kb / 1024:.0f}", f"- / {CPU['main']:.1f} / {CPU['helper']:.1f}", "-"]  # fmt: skip


def routes(
    src: Path, n: int, work: Path, first: list[object], rate: float, first_cpu: float, *, floors: bool
) -> list[list[object]]:
    """The route rows: JSONL (``first``, at ``rate``, taking ``first_cpu`` CPU seconds), HTTP x1 and x4 (and
    their floors), then JSONL again. The machine's speed drifts by 10-20% over minutes here, so each HTTP row
    is compared with the mean rate of the JSONL runs before and after the HTTP runs (both shown), and by CPU:
    the JSONL runs' mean CPU seconds over the HTTP run's (SDK clients, server, detection), what its rate
    would be next to JSONL's if both kept the cores as busy (every route here is CPU-bound on two cores)."""
    cases = [(k, http_case(src, n, k, work), http_floor_case(src, k, work) if floors else None) for k in (1, 4)]
    out, rss, _ = run_measured(
        [PY, "-m", "dunetrace_cli", "local", "ingest", str(src), "--db", str(work / f"jsonl-again-{n}.db"), "--json"], 7200
    )  # fmt: skip
    s = json.loads(out)
    again, c = n / s["seconds"], counts(work / f"jsonl-again-{n}.db")
    jsonl_rate = (rate + again) / 2
    jsonl_cpu = (first_cpu + CPU["main"] + CPU["helper"]) / 2
    rows = [first, jsonl_row("JSONL again, after the HTTP runs", n, s["seconds"], c, rss)]
    for clients, h, f in cases:
        busy = h["done_s"] - HTTP_STALL_S  # the live rule's wait after the last event is not work
        cpu = h["client_cpu"] + h["cpu"][0] + h["cpu"][1]
        rows.append([
            f"HTTP, HttpBatchingEmitter x{clients}", f"{n:,}", f"{n / h['done_s']:,.0f}",
            f"{n / h['done_s'] / jsonl_rate:.2f}", f"{n / busy:,.0f}", f"{n / busy / jsonl_rate:.2f}",
            f"{jsonl_cpu / cpu:.2f}", f"{h['accepted_s']:.1f} / {h['done_s']:.1f}", f"{h['runs']:,}",
            f"{h['signals']:,}", f"{h['rss_kb'] / 1024:.0f}",
            f"{h['client_cpu']:.1f} / {h['cpu'][0]:.1f} / {h['cpu'][1]:.1f}", f"{h['again']:,}",
        ])  # fmt: skip
        if f is None:
            continue
        best = f["accepted_s"] + HTTP_STALL_S  # the least any server could take to "analysed" here
        rows.append([
            f"HTTP floor x{clients}: same clients, bare server (no store)", f"{n:,}",
            f"{n / best:,.0f}", f"{n / best / jsonl_rate:.2f}", f"{n / f['accepted_s']:,.0f}",
            f"{n / f['accepted_s'] / jsonl_rate:.2f}", "-", f"{f['accepted_s']:.1f} / -", "-", "-", "-",
            f"{f['client_cpu']:.1f} / {f['server_cpu']:.1f} / -", "-",
        ])  # fmt: skip
    return rows


# ── reads ─────────────────────────────────────────────────────────────────────────────────────
READ_TARGETS = {"agents": 30.0, "insights": 30.0, "health-score": 30.0, "token-stats": 30.0,
                "run by 12-char prefix": 5.0}  # fmt: skip


async def reads(db: Path, calls: int = 20) -> list[list[object]]:
    """Each route in-process as ``DUNETRACE_API_URL=local:PATH`` sends it: median wall and CPU ms of
    ``calls`` warm calls next to its target; health, insights and token stats also next to the scans
    they replaced (``tests/local/scan_reference``), called on the same store in the same run."""
    import httpx

    from dunetrace_cli.local.api import create_api_app

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    agent, run_id = conn.execute(
        "SELECT agent_id, run_id FROM runs WHERE processed_at IS NOT NULL GROUP BY agent_id ORDER BY COUNT(*) DESC"
    ).fetchone()
    conn.close()
    short = run_id[:3]
    queries = {
        "agents": ("/v1/agents", {}),
        "insights": (f"/v1/agents/{agent}/insights", {}),
        "health-score": (f"/v1/agents/{agent}/health-score", {}),
        "token-stats": (f"/v1/agents/{agent}/token-stats", {}),
        "run by 12-char prefix": ("/v1/runs", {"run_id_prefix": run_id[:12]}),
        f"ambiguous prefix {short!r} (candidates listed)": ("/v1/runs", {"run_id_prefix": short, "limit": 500}),
        "run detail": (f"/v1/runs/{run_id}", {}),
    }
    scans = _scan_medians(db, agent, calls // 2)
    rows: list[list[object]] = []
    transport = httpx.ASGITransport(app=create_api_app(db))
    async with httpx.AsyncClient(transport=transport, base_url="http://dunetrace.local") as client:
        for name, (path, params) in queries.items():
            wall, cpu = [], []
            note = ""
            for _ in range(calls + 1):
                start, start_cpu = time.perf_counter(), time.process_time()
                resp = await client.get(path, params=params)
                wall.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
                if resp.status_code != 200:
                    raise RuntimeError(f"{path} answered {resp.status_code}: {resp.text[:200]}")
                if "ambiguous" in name:
                    note = f"{resp.json()['page']['total']} runs"
            target = READ_TARGETS.get(name)
            scan = scans.get(name)
            rows.append([
                f"{name} ({agent})" if "agents/" in path else name, median_ms(wall[1:]), median_ms(cpu[1:]),
                f"< {target:g}" if target else "-", f"{scan[0]} / {scan[1]}" if scan else "-",
                f"x{scan[0] / max(median_ms(wall[1:]), 0.1):.0f}" if scan else "-", note or round(wall[0] * 1000, 1),
            ])  # fmt: skip
    return rows


def _scan_medians(db: Path, agent: str, calls: int) -> dict[str, tuple[float, float]]:
    """Median wall / CPU ms of the scan reference of health, insights and token stats (direct calls)."""
    from tests.local.scan_reference import health_scan, insights_scan, tokens_scan

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    out = {}
    try:
        for name, fn in (("insights", insights_scan.insights), ("health-score", health_scan.health_score),
                         ("token-stats", tokens_scan.token_stats)):  # fmt: skip
            wall, cpu = [], []
            for _ in range(max(calls, 3)):
                start, start_cpu = time.perf_counter(), time.process_time()
                fn(conn, agent, now=time.time())
                wall.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
            out[name] = (median_ms(wall), median_ms(cpu))
    finally:
        conn.close()
    return out


# ── main ──────────────────────────────────────────────────────────────────────────────────────
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="20k and 100k events, HTTP at 20k")
    ap.add_argument("--keep", metavar="DIR", help="build in DIR and keep the largest JSONL store (for more reads)")
    ap.add_argument("--reads", metavar="DB", help="only the read section, on an existing store")
    ap.add_argument("--routes", type=int, metavar="N", help="only JSONL and HTTP x1 / x4 at N events (no floors, no reads)")
    ap.add_argument("--child-floor", nargs=2, metavar=("FILE", "DB"), help=argparse.SUPPRESS)
    ap.add_argument("--child-client", nargs=2, metavar=("URL", "FILE"), help=argparse.SUPPRESS)
    ap.add_argument("--child-null-server", metavar="PORT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_floor:
        if os.environ.get(TREE_ENV):  # a baseline's package tree (bench/local_scale.py): its code, its schema
            sys.path.insert(0, os.environ[TREE_ENV])
        child_floor(*args.child_floor)
        return
    if args.child_client:
        child_client(*args.child_client)
        return
    if args.child_null_server:
        child_null_server(args.child_null_server)
        return
    if args.reads:
        print_table(
            f"Reads on {args.reads}, in-process, median of 20 warm calls; the scans they replaced, same run",
            ["query", "wall ms", "CPU ms", "target ms", "scan wall / CPU ms", "scan / now", "1st call ms / note"],
            asyncio.run(reads(Path(args.reads))),
        )
        return

    sizes = [20_000, 100_000] if args.quick else [100_000, 1_000_000]
    http_n = 20_000 if args.quick else 100_000
    if args.routes:
        sizes, http_n = [args.routes], args.routes
    ingest_rows: list[list[object]] = []
    route_rows: list[list[object]] = []
    cpu_rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="dt-bench-local-", dir=args.keep) as tmp:
        work = Path(tmp)
        read_rows: list[list[object]] = []
        for n in sizes:
            src = write_jsonl(work / f"{n}.jsonl", n, now=time.time() - 600)
            if args.routes:
                frss, floor = 0, {"events": n, "seconds": float("nan")}
                CPU.update(main=float("nan"), written=float("nan"))
            else:
                out, frss, _ = run_measured([PY, __file__, "--child-floor", str(src), str(work / f"floor-{n}.db")], 3600)
                floor = json.loads(out)
            floor_cpu, floor_mib = CPU["main"], CPU["written"]
            db = work / f"jsonl-{n}.db"
            out, rss, wall = run_measured(
                [PY, "-m", "dunetrace_cli", "local", "ingest", str(src), "--db", str(db), "--json"], 7200
            )
            s = json.loads(out)
            cpu_rows.append([f"{n:,}", f"{floor_cpu:.1f}", f"{CPU['main']:.1f}", f"{CPU['helper']:.1f}",
                             f"{floor_cpu / max(CPU['main'], CPU['helper'], 0.01):.2f}", f"{floor_mib:,.0f}",
                             f"{CPU['written']:,.0f}", f"{os.getloadavg()[0]:.1f}"])  # fmt: skip
            floor_rate, rate = floor["events"] / floor["seconds"], n / s["seconds"]
            c = counts(db)
            ingest_rows.append([
                f"{n:,}", f"{floor_rate:,.0f}", f"{rate:,.0f}", f"{rate / floor_rate:.2f}", f"{s['seconds']:.1f}",
                f"{c['runs']:,}", f"{c['signals']:,}", s["runs_reevaluated"], f"{frss / 1024:.0f}", f"{rss / 1024:.0f}",
            ])  # fmt: skip
            if n == http_n:
                first = jsonl_row("JSONL (`local ingest`)", n, s["seconds"], c, rss)
                route_rows += routes(src, n, work, first, rate, CPU["main"] + CPU["helper"], floors=not args.routes)
            if n == sizes[-1] and not args.routes:
                read_rows = asyncio.run(reads(db))
            for p in work.glob(f"*{n}*"):
                if args.keep and n == sizes[-1] and p.name.startswith(f"jsonl-{n}.db"):
                    p.rename(Path(args.keep) / p.name)  # kept for more read measurements
                    continue
                p.unlink()
    if not args.routes:
        print_table(
            "Ingest with detection (`dunetrace local ingest FILE`) next to its floor (plain parse + insert, same table "
            "and indexes), same run",
            ["events", "floor ev/s", "ingest ev/s", "x floor", "ingest s", "runs", "live signals", "re-evaluated",
             "floor RSS MiB", "ingest RSS MiB"],
            ingest_rows,
        )  # fmt: skip
        print_table(
            "CPU seconds of the same two runs (the floor's process; the importer and its detection process): on two "
            "free cores the busier of the two sets the pace, so floor / busier is the ratio an idle machine shows",
            ["events", "floor CPU s", "importer CPU s", "detection CPU s", "floor / busier", "floor MiB written",
             "importer MiB written", "load 1 min"],
            cpu_rows,
        )
    print_table(
        "The three routes, same events (HTTP until every run is analysed, stalled ones included; the runs "
        f"left open are stalled {HTTP_STALL_S} s after their last event, as the live rule says, so the next "
        "two columns leave that wait out; x JSONL: of the mean rate of the two JSONL runs, before and after; "
        "by CPU: the JSONL runs' mean CPU seconds over the route's, its x JSONL if both kept the cores as busy)",
        ["route", "events", "ev/s", "x JSONL", f"ev/s less the {HTTP_STALL_S} s stall wait", "x JSONL", "by CPU",
         "s: all 202s / analysed", "runs", "live signals", "peak RSS MiB",
         "CPU s: SDK clients / writer / detection", "batches sent again"],
        route_rows,
    )
    if args.routes:
        return
    print_table(
        f"Reads at {sizes[-1]:,} events, in-process (DUNETRACE_API_URL=local:PATH), median of 20 warm calls; "
        "the scans they replaced (tests/local/scan_reference) on the same store, same run",
        ["query", "wall ms", "CPU ms", "target ms", "scan wall / CPU ms", "scan / now", "1st call ms / note"],
        read_rows,
    )


if __name__ == "__main__":
    main()
