"""Local store ingest: throughput from JSONL and over HTTP, and peak memory on a 1,000,000-event file.

Events are clones of the real SDK fixture (bench/_gen_events.py: 53 runs / 648 events per clone, fresh
run/event ids, 60 agents, timestamps spread over 7 days), detected as the store does it (baselines,
post-processing, explanations on read).

* JSONL: the `dunetrace local ingest` driver (``ingest_sources``) in a child process; the write phase
  (parse, validate, store in 2,000-event transactions) and the detection sweep are timed apart.
* HTTP: ``dunetrace local serve`` in a subprocess on 127.0.0.1; ``POST /v1/ingest`` the way the SDK's
  HttpBatchingEmitter does (urllib, a new connection per POST, the SDK's body and byte format), with the
  drain thread's 100-event batches, the 500-event maximum, and 4 SDK processes at once. "accepted" is
  the rate until the last 202; "+ detection" until every completed run is detected by the server's
  worker (the two unfinished runs per clone wait for the 90 s stall timeout and are not counted).
* Peak memory: `dunetrace local ingest FILE --finalize-stalled` as a user runs it, on 100k and 1M events:
  the process's RSS high-water mark (VmHWM). "peak RSS" of the other rows: the driver child, or the server.

Run from the repo root: ``python bench/local_ingest.py`` (a few minutes; ``--quick`` for a small run).
"""

from __future__ import annotations

import argparse
import json
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from _common import ROOT, print_table
from _gen_events import clone_events, write_jsonl

PY = sys.executable


# ── child: the `local ingest` driver, timed by phase ──────────────────────────────────────────
def vm_hwm_kb(pid: int | str = "self") -> int:
    """The RSS high-water mark of a live process (VmHWM; per address space, so reset by exec, unlike
    ru_maxrss, which on Linux carries the forking parent's size over into the child)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def child_jsonl(source: str, db: str) -> None:
    from dunetrace_cli.local.load import ingest_sources
    from dunetrace_cli.local.store import open_store

    marks: dict[str, float] = {}

    def progress(name: str, total: int | None):
        def hook(_name: str, done: int, total_: int | None) -> None:
            if total_ is not None and done >= total_:
                marks.setdefault("written", time.perf_counter())  # final call: the file's last flush is done

        return hook

    store = open_store(db)
    start = time.perf_counter()
    summary = ingest_sources(store, [source], report=lambda p: None, progress=progress, finalize_stalled=True)
    end = time.perf_counter()
    store.close()
    written = marks.get("written", end)
    print(
        json.dumps(
            {
                "events": summary.events_new,
                "runs": summary.runs_completed + summary.runs_stalled,
                "signals": summary.signals_found,
                "total_s": end - start,
                "write_s": written - start,
                "detect_s": end - written,
                "peak_rss_kb": vm_hwm_kb(),
            }
        )
    )


def run_measured(cmd: list[str], timeout: float) -> tuple[str, int]:
    """Run a child; return (stdout, its peak RSS in KiB, sampled from VmHWM every 20 ms until it exits)."""
    peak = 0
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, cwd=ROOT)
        deadline = time.monotonic() + timeout
        try:
            while proc.poll() is None:
                peak = max(peak, vm_hwm_kb(proc.pid))  # a high-water mark: a late sample still sees the peak
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{cmd[:4]} took longer than {timeout:.0f} s")
                time.sleep(0.02)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        out.seek(0)
        text = out.read().decode()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} exited {proc.returncode}: {text[-500:]}")
    return text, peak


# ── HTTP: a `local serve` subprocess ──────────────────────────────────────────────────────────
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, db: Path) -> None:
        self.ingest_port, self.api_port = free_port(), free_port()
        self.proc = subprocess.Popen(
            [PY, "-m", "dunetrace_cli", "local", "serve", "--db", str(db),
             "--ingest-port", str(self.ingest_port), "--api-port", str(self.api_port)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.ingest_port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("dunetrace local serve did not start")
            time.sleep(0.05)

    def peak_rss_kb(self) -> int:
        return vm_hwm_kb(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def sdk_bodies(events: list[dict], batch: int) -> list[bytes]:
    """The HttpBatchingEmitter's body: default separators, ASCII escaping, api_key always present."""
    out = []
    for i in range(0, len(events), batch):
        chunk = events[i : i + batch]
        body = {"api_key": "", "agent_id": chunk[0]["agent_id"], "events": chunk}
        out.append(json.dumps(body, default=str).encode())
    return out


def post(url: str, body: bytes) -> None:
    req = urllib.request.Request(
        f"{url}/v1/ingest", data=body, method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "dunetrace-sdk-py/0.5.7"},
    )  # fmt: skip
    with urllib.request.urlopen(req, timeout=30) as resp:
        if resp.status != 202:
            raise RuntimeError(f"ingest answered {resp.status}")


def pending_completed(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(
            "SELECT COUNT(*) FROM runs WHERE terminal_event_type IS NOT NULL AND needs_detection=1"
        ).fetchone()[0]
    finally:
        conn.close()


def http_case(events: list[dict], batch: int, clients: int, workdir: Path) -> list[object]:
    db = workdir / f"http-{batch}-{clients}.db"
    # each SDK process owns some agents (so all of a run's events), and posts its batches in order
    owner = {a: i % clients for i, a in enumerate(sorted({e["agent_id"] for e in events}))}
    shares = [sdk_bodies([e for e in events if owner[e["agent_id"]] == c], batch) for c in range(clients)]
    bodies = [b for share in shares for b in share]
    server = Server(db)
    try:
        errors: list[BaseException] = []

        def client(share: list[bytes]) -> None:
            try:
                for body in share:
                    post(server.url, body)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        start = time.perf_counter()
        threads = [threading.Thread(target=client, args=(s,)) for s in shares]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        accepted = time.perf_counter() - start
        if errors:
            raise errors[0]
        deadline = time.monotonic() + 600
        while pending_completed(db) and time.monotonic() < deadline:
            time.sleep(0.05)
        detected = time.perf_counter() - start
        rss = server.peak_rss_kb()
    finally:
        server.stop()
    n = len(events)
    return [
        f"HTTP, {batch}/POST, {clients} client{'s' if clients > 1 else ''}", f"{n:,}", len(bodies),
        f"{n / accepted:,.0f}", f"{n / detected:,.0f}", f"{detected:.1f}", f"{rss / 1024:.0f}",
    ]  # fmt: skip


# ── main ──────────────────────────────────────────────────────────────────────────────────────
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="20k events for throughput, 100k for memory")
    ap.add_argument("--child-jsonl", nargs=2, metavar=("FILE", "DB"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_jsonl:
        child_jsonl(*args.child_jsonl)
        return

    throughput_n = 20_000 if args.quick else 100_000
    memory_sizes = [100_000] if args.quick else [100_000, 1_000_000]
    with tempfile.TemporaryDirectory(prefix="dt-bench-ingest-") as tmp:
        work = Path(tmp)
        rows: list[list[object]] = []

        # JSONL through the driver
        src = write_jsonl(work / "throughput.jsonl", throughput_n)
        out, _ = run_measured([PY, __file__, "--child-jsonl", str(src), str(work / "jsonl.db")], timeout=900)
        r = json.loads(out)
        rss = r["peak_rss_kb"]
        rows.append([
            "JSONL, `local ingest` driver", f"{r['events']:,}", "-", f"{r['events'] / r['write_s']:,.0f}",
            f"{r['events'] / r['total_s']:,.0f}", f"{r['total_s']:.1f}", f"{rss / 1024:.0f}",
        ])  # fmt: skip
        jsonl_detail = r

        # HTTP, SDK-shaped
        events = list(clone_events(throughput_n))
        for batch, clients in ((100, 1), (500, 1), (100, 4)):
            rows.append(http_case(events, batch, clients, work))
        del events

        print_table(
            f"Ingest throughput, {throughput_n:,} SDK events ({jsonl_detail['runs']:,} runs, "
            f"{jsonl_detail['signals']:,} signals), 2 cores",
            ["path", "events", "POSTs", "accepted ev/s", "+ detection ev/s", "total s", "peak RSS MiB"],
            rows,
        )
        print(
            f"  JSONL phases: write {jsonl_detail['write_s']:.1f} s, detection {jsonl_detail['detect_s']:.1f} s "
            f"({jsonl_detail['runs'] / max(jsonl_detail['detect_s'], 1e-9):,.0f} runs/s)"
        )

        # peak memory of the real command
        mem_rows: list[list[object]] = []
        for n in memory_sizes:
            started = time.perf_counter()
            src = write_jsonl(work / f"mem-{n}.jsonl", n)
            gen_s = time.perf_counter() - started
            db = work / f"mem-{n}.db"
            started = time.perf_counter()
            out, rss = run_measured(
                [PY, "-m", "dunetrace_cli", "local", "ingest", str(src), "--db", str(db), "--finalize-stalled", "--json"],
                timeout=1800,
            )
            wall = time.perf_counter() - started
            s = json.loads(out)
            size = sum(p.stat().st_size for p in work.glob(f"mem-{n}.db*"))
            mem_rows.append([
                f"{n:,}", f"{src.stat().st_size / 2**20:,.0f}", f"{s['runs_completed'] + s['runs_stalled']:,}",
                f"{s['signals_found']:,}", f"{wall:.0f}", f"{n / wall:,.0f}", f"{rss / 1024:.0f}",
                f"{size / 2**20:,.0f}", f"{gen_s:.0f}",
            ])  # fmt: skip
            src.unlink()
            for p in work.glob(f"mem-{n}.db*"):
                p.unlink()
        print_table(
            "`dunetrace local ingest FILE --finalize-stalled`: peak memory (RSS high-water of the process)",
            ["events", "file MiB", "runs", "signals", "wall s", "ev/s", "peak RSS MiB", "db MiB", "generate s"],
            mem_rows,
        )


if __name__ == "__main__":
    main()
