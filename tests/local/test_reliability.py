"""Reliability of `dunetrace local serve`, as real subprocesses.

* SIGKILL mid-ingest, restart: every event that got a 202 is stored, nothing twice, run rows consistent.
* Several processes posting at once, another process ingesting a file into the same store, and a
  reader querying meanwhile: no error and no lock timeout reaches anyone.
* The official SDK with its defaults (HTTP emitter, DUNETRACE_ENDPOINT) shows up in the Customer API.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.faultserver import free_ports
from tests.local.test_store_ingest import looping_run

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUNETRACE_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["DUNETRACE_HOME"] = str(tmp_path / "home")
    env["DUNETRACE_CONFIG_DIR"] = str(tmp_path / "config")
    return env


class Server:
    def __init__(self, tmp_path: Path, db: Path, *, stall: float = 90, host: str = "127.0.0.1") -> None:
        self.db = db
        self.ingest_port, self.api_port = free_ports(2)
        self.ingest = f"http://127.0.0.1:{self.ingest_port}"
        self.api = f"http://127.0.0.1:{self.api_port}"
        cmd = [
            sys.executable, "-m", "dunetrace_cli", "local", "serve", "--db", str(db),
            "--ingest-port", str(self.ingest_port), "--api-port", str(self.api_port), "--stall-seconds", str(stall),
            "--host", host,
        ]  # fmt: skip
        self.log = open(tmp_path / f"serve-{self.ingest_port}.log", "w+")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, env=_env(tmp_path), stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(self.ingest + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                raise AssertionError(f"serve did not start: {self.log.read()}")
            time.sleep(0.1)

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return f"exit {self.proc.returncode}: {self.log.read()}"

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def _batch(run_prefix: str, n_runs: int) -> list[dict]:
    events: list[dict] = []
    for i in range(n_runs):
        events.extend(looping_run(f"{run_prefix}-{i}", t0=time.time(), agent_id=f"agent-{i % 3}"))
    return events


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _ro(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def test_sigkill_mid_ingest_loses_no_acknowledged_event(tmp_path: Path) -> None:
    db = tmp_path / "kill.db"
    server = Server(tmp_path, db)
    acked: set[str] = set()
    sent: list[list[dict]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def poster(worker: int) -> None:
        with httpx.Client(timeout=5) as client:
            k = 0
            while not stop.is_set():
                events = _batch(f"w{worker}-b{k}", 4)  # 4 runs x 26 events = 104 per POST
                k += 1
                with lock:
                    sent.append(events)
                try:
                    r = client.post(server.ingest + "/v1/ingest", json={"api_key": "", "agent_id": "a", "events": events})
                except httpx.HTTPError:
                    continue  # the server died under us: not acknowledged
                if r.status_code == 202:
                    with lock:
                        acked.update(e["event_id"] for e in events)

    threads = [threading.Thread(target=poster, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    # kill mid-ingest: once this many events were acknowledged, while the posters keep going
    deadline = time.monotonic() + 60
    while True:
        with lock:
            n_acked = len(acked)
        if n_acked >= 600 or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    children = _children(server.proc.pid)  # the detection process
    assert children or (os.cpu_count() or 1) < 2
    server.kill()
    stop.set()
    for t in threads:
        t.join(10)
    assert len(acked) > 500, "the kill came too early to prove anything"
    deadline = time.monotonic() + 20  # it notices within a second or so that nobody will end it
    while any(_alive(p) for p in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in children if _alive(p)], "the detection process outlived the killed server"

    restarted = Server(tmp_path, db)
    try:
        conn = _ro(db)
        stored = {r[0] for r in conn.execute("SELECT event_id FROM events")}
        assert acked <= stored  # 202 meant durable
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == len(stored)
        # run rows were committed with their events: the aggregate matches the rows
        bad = conn.execute(
            "SELECT COUNT(*) FROM runs r WHERE event_count != (SELECT COUNT(*) FROM events e WHERE e.run_id = r.run_id)"
        ).fetchone()[0]
        assert bad == 0
        # the SDK re-sends whatever it was not sure about: byte-identical retries add nothing twice
        with httpx.Client(timeout=10) as client:
            for events in sent:
                r = client.post(restarted.ingest + "/v1/ingest", json={"api_key": "", "agent_id": "a", "events": events})
                assert r.status_code == 202
            # the served Customer API reads once the batches answered before it are written
            assert client.get(restarted.api + "/v1/agents").status_code == 200
        every = {e["event_id"] for events in sent for e in events}
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == len(every)
        conn.close()
    finally:
        assert restarted.stop() == 0, restarted.output()


_POSTER = textwrap.dedent(
    """
    import json, sys, time, uuid, httpx
    sys.path.insert(0, sys.argv[3])
    from tests.local.test_store_ingest import looping_run
    url, worker = sys.argv[1], sys.argv[2]
    codes = {}
    with httpx.Client(timeout=30) as client:
        for k in range(12):
            events = []
            for i in range(4):
                events += looping_run(f"p{worker}-{k}-{i}", t0=time.time(), agent_id=f"proc-{worker}")
            r = client.post(url + "/v1/ingest", json={"api_key": "", "agent_id": "x", "events": events})
            codes[r.status_code] = codes.get(r.status_code, 0) + 1
    print(json.dumps(codes))
    """
)


def test_concurrent_writers_and_a_reader(tmp_path: Path, sdk_events: Path) -> None:
    db = tmp_path / "busy.db"
    server = Server(tmp_path, db)
    env = _env(tmp_path)
    try:
        posters = [
            subprocess.Popen(
                [sys.executable, "-c", _POSTER, server.ingest, str(w), str(ROOT)],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
            )  # fmt: skip
            for w in range(4)
        ]
        # a second process writing into the same file at the same time
        big = tmp_path / "big.jsonl"
        with open(big, "w") as fh:
            for i in range(30):
                for e in looping_run(f"file-{i}", t0=1000.0 + i, agent_id="from-file"):
                    fh.write(json.dumps(e) + "\n")
            fh.write((sdk_events / "events-mixed.jsonl").read_text())
        loader = subprocess.Popen(
            [sys.executable, "-m", "dunetrace_cli", "local", "ingest", str(big), "--db", str(db), "--json"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        errors: list[str] = []
        reads = 0
        with httpx.Client(timeout=30) as client:
            while any(p.poll() is None for p in [*posters, loader]):
                for path in ("/v1/agents", "/v1/signals?limit=50", "/v1/runs?limit=20"):
                    r = client.get(server.api + path)
                    reads += 1
                    if r.status_code != 200:
                        errors.append(f"{path}: {r.status_code} {r.text[:200]}")
                time.sleep(0.05)
        assert errors == []
        assert reads > 3
        for p in posters:
            out, err = p.communicate(30)
            assert p.returncode == 0, err
            assert json.loads(out) == {"202": 12}
        out, err = loader.communicate(30)
        assert loader.returncode == 0, err
        assert "locked" not in err.lower() and "Traceback" not in err
        summary = json.loads(out)
        assert summary["events_rejected"] == 0 and summary["events_new"] == 30 * 26 + 648
        # detection keeps up: every completed run gets processed
        deadline = time.monotonic() + 20
        conn = _ro(db)
        while True:
            pending = conn.execute("SELECT COUNT(*) FROM runs WHERE needs_detection=1").fetchone()[0]
            if pending == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert pending == 0
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 4 * 12 * 4 * 26 + 30 * 26 + 648
        looped = conn.execute(
            "SELECT COUNT(DISTINCT run_id) FROM signals WHERE failure_type='TOOL_LOOP' AND agent_id LIKE 'proc-%'"
        ).fetchone()[0]
        assert looped == 4 * 12 * 4
        conn.close()
        r = httpx.get(server.api + "/v1/agents", timeout=10)
        agents = {a["agent_id"] for a in r.json()["agents"]}
        assert {"proc-0", "proc-3", "from-file", "web-researcher"} <= agents
    finally:
        assert server.stop() == 0, server.output()
    assert "Stopped." in server.output()


_SDK_AGENT = textwrap.dedent(
    """
    from dunetrace import Dunetrace
    dt = Dunetrace()  # SDK defaults: HTTP emitter to DUNETRACE_ENDPOINT, no key
    with dt.run("sdk-default-agent", user_input="find x", model="gpt-4o-mini", tools=["web_search"]) as run:
        for i in range(6):
            run.llm_called("gpt-4o-mini", prompt_tokens=100 + i)
            run.llm_responded(completion_tokens=5, latency_ms=50, output="again", output_length=5)
            run.tool_called("web_search", {"q": "same"})
            run.tool_responded("web_search", success=True, output="[]", output_length=2, latency_ms=20)
        run.final_answer()
    dt.shutdown(timeout=10)
    """
)


def test_sdk_with_default_settings_reaches_the_customer_api(tmp_path: Path) -> None:
    db = tmp_path / "sdk.db"
    server = Server(tmp_path, db)
    try:
        env = _env(tmp_path)
        env["DUNETRACE_ENDPOINT"] = server.ingest
        done = subprocess.run([sys.executable, "-c", _SDK_AGENT], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "WARNING" not in done.stderr, done.stderr
        deadline = time.monotonic() + 10
        while True:
            runs = httpx.get(server.api + "/v1/agents/sdk-default-agent/runs", timeout=10).json()["runs"]
            if runs or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert len(runs) == 1 and runs[0]["exit_reason"] == "run.completed" and runs[0]["has_signals"]
        detail = httpx.get(server.api + f"/v1/runs/{runs[0]['run_id']}", timeout=10).json()
        assert "TOOL_LOOP" in {s["failure_type"] for s in detail["signals"]}
        agents = httpx.get(server.api + "/v1/agents", timeout=10).json()["agents"]
        assert "sdk-default-agent" in {a["agent_id"] for a in agents}
    finally:
        assert server.stop() == 0, server.output()




def test_stall_sweeper_and_non_loopback_warning(tmp_path: Path) -> None:
    """Runs that stop talking are analysed as stalled by the background sweeper; a non-loopback host warns."""
    db = tmp_path / "stall.db"
    server = Server(tmp_path, db, stall=1, host="0.0.0.0")
    try:
        assert "warning: Listening on 0.0.0.0" in server.output()
        events = looping_run("hung", t0=time.time(), terminal=False)
        r = httpx.post(server.ingest + "/v1/ingest", json={"api_key": "", "agent_id": "a", "events": events}, timeout=10)
        assert r.status_code == 202
        deadline = time.monotonic() + 15
        while True:
            resp = httpx.get(server.api + "/v1/runs/hung", timeout=10)
            if resp.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert resp.status_code == 200, resp.text
        detail = resp.json()
        assert detail["exit_reason"] == "stalled" and detail["completed_at"] is None
        assert "TOOL_LOOP" in {s["failure_type"] for s in detail["signals"]}
    finally:
        assert server.stop() == 0, server.output()
