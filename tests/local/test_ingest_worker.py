"""`local serve`'s ingest worker: batches durable in the intake log before 202 and written behind it (those
that queue up in one transaction), the store's failures (accepted batches kept, new ones 503), and which
runs are due when (the live stall rule)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from dunetrace_cli.local import worker as worker_mod
from dunetrace_cli.local.ingest import normalize_event
from dunetrace_cli.local.intake import IntakeLog, intake_path, records
from dunetrace_cli.local.server import create_ingest_app
from dunetrace_cli.local.worker import IngestWorker, WorkerStopped
from dunetrace_cli.local.worker_thread import WorkerThread
from tests.local.test_store_ingest import clean_run, looping_run

pytestmark = pytest.mark.anyio


def _body(events: list[dict]) -> dict:
    return {"api_key": "", "agent_id": events[0]["agent_id"], "events": events}


def _count(store, sql: str) -> int:
    return int(store.conn().execute(sql).fetchone()[0])


def _processed(store, run_id: str) -> int:
    return _count(store, f"SELECT COUNT(*) FROM runs WHERE run_id='{run_id}' AND processed_at IS NOT NULL")  # noqa: S608


@contextmanager
def running(store, **kw) -> Iterator[IngestWorker]:
    """A started worker (in-process detection, a 60 s stall timeout unless ``kw`` says otherwise), stopped after."""
    w = IngestWorker(store, **{"stall_seconds": 60, "use_process": False, **kw})
    w.start()
    try:
        yield w
    finally:
        w.stop()


async def test_batches_that_queue_up_share_one_commit_and_completed_runs_are_detected(
    store, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = worker_mod.write_events

    def counting(store_, events, **kw):
        calls.append(len(events))
        return real(store_, events, **kw)

    monkeypatch.setattr(worker_mod, "write_events", counting)
    monkeypatch.setattr(worker_mod, "REORDER_S", 0.0)
    with running(store) as w:
        runs = [clean_run(f"g{i}") for i in range(3)] + [looping_run("h1")]
        outcomes = await asyncio.gather(*(w.submit([normalize_event(e) for e in r]) for r in runs))
        assert calls == [sum(len(r) for r in runs)]  # four batches, one transaction
        assert all(o.new == calls[0] for o in outcomes)
        assert _count(store, "SELECT COUNT(*) FROM events") == calls[0]
        await asyncio.sleep(0.01)  # the loop buffers the runs' events for their detection
        w.tick(decide=True)
        # the completed runs are detected (no earlier run of their agent version is open)
        assert _count(store, "SELECT COUNT(*) FROM runs WHERE processed_at IS NULL") == 0
        assert _count(store, "SELECT COUNT(*) FROM signals WHERE run_id='h1' AND failure_type='TOOL_LOOP'") == 1


@contextmanager
def threaded(store, db_file, **kw) -> Iterator[IngestWorker]:
    """A worker on its own thread with an intake log, as `local serve` runs it; stopped after."""
    log = IntakeLog(intake_path(db_file))
    w = IngestWorker(store, **{"stall_seconds": 60, "use_process": False, "intake": log, **kw})
    w.start_detection()  # (``use_process``: the detection process, as `local serve` starts it)
    runner = WorkerThread(w)
    runner.start()
    try:
        yield w
    finally:
        runner.stop()
        log.close()


def _records(db_file) -> int:
    return len(records(intake_path(db_file)))


async def test_202_once_the_batch_is_in_the_intake_log_and_the_store_has_it_for_the_next_read(store, db_file) -> None:
    with threaded(store, db_file) as w:
        app = create_ingest_app(store, worker=w)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://i.test") as c:
            events = looping_run("h1")
            r = await c.post("/v1/ingest", json=_body(events))
            assert r.status_code == 202 and r.json()["accepted"] == len(events)
            assert _records(db_file) == 1  # durable before the answer
            w.wait_written()  # what the served Customer API does before each read
            assert _count(store, "SELECT COUNT(*) FROM events WHERE run_id='h1'") == len(events)
            received = _count(store, "SELECT COUNT(DISTINCT received_at) FROM events WHERE run_id='h1'")
            assert received == 1  # the server's arrival time, not the events' own
    assert _records(db_file) == 0  # every batch written: emptied when the server stops


async def test_a_store_failure_keeps_the_accepted_batches_answers_503_until_a_write_works(
    store, db_file, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_mod, "RETRY_S", 0.05)
    broken = [True]
    real = worker_mod.write_events

    def flaky(store_, events, **kw):
        if broken[0]:
            raise sqlite3.OperationalError("disk I/O error")
        return real(store_, events, **kw)

    monkeypatch.setattr(worker_mod, "write_events", flaky)
    with threaded(store, db_file) as w:
        app = create_ingest_app(store, worker=w)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://i.test") as c:
            rs = [await c.post("/v1/ingest", json=_body(clean_run(f"f{i}"))) for i in range(2)]
            assert [r.status_code for r in rs][:1] == [202]  # durable in the intake log
            deadline = time.monotonic() + 5
            while w.failing is None and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert w.failing is not None
            r = await c.post("/v1/ingest", json=_body(clean_run("f9")))
            assert r.status_code == 503 and r.headers["retry-after"] == "5"  # the SDK retries it later
            assert _count(store, "SELECT COUNT(*) FROM events") == 0
            broken[0] = False  # the store works again: the next retry writes what was accepted
            while w.failing is not None and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            w.wait_written()
            accepted = [f"f{i}" for i, r in enumerate(rs) if r.status_code == 202]
            stored = {row[0] for row in store.conn().execute("SELECT DISTINCT run_id FROM events")}
            assert stored == set(accepted)
            assert (await c.post("/v1/ingest", json=_body(clean_run("f9")))).status_code == 202
    with pytest.raises(WorkerStopped):
        w.accept([normalize_event(e) for e in clean_run("late")], b"{}")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://i.test") as c:
        r = await c.post("/v1/ingest", json=_body(clean_run("late")))
    assert r.status_code == 503 and r.headers["retry-after"] == "5"


async def test_batches_accepted_while_the_store_failed_are_written_by_the_next_start(
    store, db_file, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(store_, events, **kw):
        raise sqlite3.OperationalError("disk I/O error")

    with monkeypatch.context() as m:
        m.setattr(worker_mod, "write_events", failing)
        with threaded(store, db_file) as w:
            w.accept([normalize_event(e) for e in clean_run("kept")], json.dumps(_body(clean_run("kept"))).encode())
            deadline = time.monotonic() + 5
            while w.failing is None and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
    assert _count(store, "SELECT COUNT(*) FROM events") == 0
    assert _records(db_file) == 1  # still in the intake log after the server stopped
    with threaded(store, db_file):
        pass  # the next start replays it
    assert _count(store, "SELECT COUNT(*) FROM events WHERE run_id='kept'") == len(clean_run("kept"))
    assert _records(db_file) == 0


async def test_a_completed_run_waits_for_an_earlier_open_run_of_its_agent_version(
    store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So that a run that will stall joins the baselines before the later runs, as `local ingest` orders them."""
    monkeypatch.setattr(worker_mod, "REORDER_S", 0.0)
    clock = [0.0]
    with running(store, stall_seconds=5, now=lambda: time.time() + clock[0]) as w:
        open_run = looping_run("open", 1000.0, terminal=False)  # will stall
        later = clean_run("later", 2000.0)  # same agent version, ends after it
        other = clean_run("other", 2000.0, agent_id="agent-b")  # another agent version
        for r in (open_run, later, other):
            await w.submit([normalize_event(e) for e in r])
        await asyncio.sleep(0.01)
        w.tick(decide=True)
        assert (_processed(store, "open"), _processed(store, "later"), _processed(store, "other")) == (0, 0, 1)
        clock[0] = 6.0  # the open run has been silent for the stall timeout (server time)
        await asyncio.sleep(0.01)
        w.tick(decide=True)
        assert (_processed(store, "open"), _processed(store, "later")) == (1, 1)
        trigger = store.conn().execute("SELECT trigger FROM runs WHERE run_id='open'").fetchone()[0]
        assert trigger == "stalled"
        first, second = (
            store.conn().execute("SELECT processed_at FROM runs WHERE run_id=?", (rid,)).fetchone()[0]
            for rid in ("open", "later")
        )
        assert first <= second


async def test_a_stalled_run_waits_for_an_earlier_completed_run_of_its_agent_version_not_due_yet(
    store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both in one commit (a backlog): the stalled run must not reach detection before the earlier completed
    one, or the detection process gets that agent version out of run-time order and hands it back for good."""
    monkeypatch.setattr(worker_mod, "REORDER_S", 0.4)
    clock = [0.0]
    with running(store, stall_seconds=5, now=lambda: time.time() + clock[0]) as w:
        await w.submit([normalize_event(e) for e in looping_run("open", 3000.0, terminal=False)])  # will stall
        clock[0] = 6.0  # silent for the stall timeout (server time)
        await w.submit([normalize_event(e) for e in clean_run("earlier", 1000.0)])  # ready just now
        await asyncio.sleep(0.01)
        w.tick(decide=True)
        assert (_processed(store, "earlier"), _processed(store, "open")) == (0, 0)  # the stalled one waits
        await asyncio.sleep(0.45)  # the earlier run's window is over
        w.tick(decide=True)
        assert (_processed(store, "earlier"), _processed(store, "open")) == (1, 1)
        first, second = (
            store.conn().execute("SELECT processed_at FROM runs WHERE run_id=?", (rid,)).fetchone()[0]
            for rid in ("earlier", "open")
        )
        assert first <= second
        assert _count(store, "SELECT COUNT(*) FROM runs WHERE needs_reeval=1") == 0


def test_while_batches_come_the_detection_process_writes_the_results_and_the_writer_once_they_stop(
    store, db_file, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer's core is the busier one while batches come, the detection process's once they stop."""
    monkeypatch.setattr(worker_mod, "REORDER_S", 0.0)
    monkeypatch.setattr(worker_mod, "SERVE_RECORD_EVERY", 3)
    with threaded(store, db_file, use_process=True) as w:
        assert w.stream.proc is not None
        handed: list[bool] = []
        here: list[int] = []
        real_release, real_held = w.stream.proc.release, w.stream.write_held

        def release(*, write: bool, stall_seconds: float = 0.0) -> bool:
            handed.append(write)
            return real_release(write=write, stall_seconds=stall_seconds)

        def write_held() -> None:
            here.append(len(w.stream.held))
            real_held()

        monkeypatch.setattr(w.stream.proc, "release", release)
        monkeypatch.setattr(w.stream, "write_held", write_held)
        n, deadline = 0, time.monotonic() + 3.0
        while time.monotonic() < deadline and not any(handed):  # batches keep coming
            events = clean_run(f"c{n}", 1000.0 + n)
            w.accept([normalize_event(e) for e in events], json.dumps(_body(events)).encode())
            n += 1
            time.sleep(0.01)
        assert any(handed)  # the detection process wrote results while batches came
        before = len(here)
        for k in range(n, n + 3):  # the last runs, then nothing more comes
            events = clean_run(f"c{k}", 1000.0 + k)
            w.accept([normalize_event(e) for e in events], json.dumps(_body(events)).encode())
        n += 3
        deadline = time.monotonic() + 10.0
        while _count(store, "SELECT COUNT(*) FROM runs WHERE processed_at IS NOT NULL") < n:
            assert time.monotonic() < deadline, "the runs were not all analysed"
            time.sleep(0.05)
        assert sum(here[before:]) > 0  # once they stopped, the writer wrote the last results itself
    assert _count(store, "SELECT COUNT(*) FROM runs") == n
    assert _count(store, "SELECT COUNT(*) FROM runs WHERE needs_detection=1 OR needs_reeval=1") == 0


async def test_events_are_received_when_their_batch_was_accepted_not_when_the_worker_wrote_it(store) -> None:
    """The backend stamps a batch when its ingest API takes it; the live stall rule counts from then."""
    with running(store) as w:
        accepted = time.time()
        w.accept([normalize_event(e) for e in clean_run("r1")], b"")
        time.sleep(0.3)  # the worker's loop is busy: the batch waits in its inbox
        await asyncio.sleep(0.05)
        got = store.conn().execute("SELECT last_received_at, last_write_at FROM runs WHERE run_id='r1'").fetchone()
        assert got is not None
        assert accepted <= got[0] < accepted + 0.1 and got[1] == got[0]
        assert store.conn().execute("SELECT MIN(received_at) FROM events WHERE run_id='r1'").fetchone()[0] == got[0]


async def test_a_run_with_events_accepted_but_not_written_yet_is_not_stalled(store) -> None:
    clock = [0.0]
    with running(store, stall_seconds=5, now=lambda: time.time() + clock[0]) as w:
        events = [normalize_event(e) for e in looping_run("busy", 1000.0, terminal=False)]
        await w.submit(events[:4])
        clock[0] = 6.0  # silent for the stall timeout, as far as the store knows
        w.accept(events[4:], b"")  # its next events: accepted, still in the inbox
        w.tick(decide=True)  # (before the loop took them)
        assert _processed(store, "busy") == 0
        await asyncio.sleep(0.05)  # written now, received just now: not silent
        w.tick(decide=True)
        assert _processed(store, "busy") == 0
        clock[0] = 12.0
        w.tick(decide=True)
        assert _processed(store, "busy") == 1


async def test_the_wal_is_synced_by_the_next_commit_once_a_commit_went_unsynced_for_a_while(
    store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_mod, "SYNC_EVERY_S", 0.0)
    with running(store) as w:
        seen: list[str] = []
        store.conn().set_trace_callback(seen.append)
        try:
            assert store.conn().execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
            await w.submit([normalize_event(e) for e in clean_run("s1")])
            assert not any("synchronous=FULL" in q for q in seen)  # nothing unsynced before it
            await w.submit([normalize_event(e) for e in clean_run("s2")])
            commits = [q for q in seen if q in ("PRAGMA synchronous=FULL", "COMMIT", "PRAGMA synchronous=NORMAL")]
            assert commits[-3:] == ["PRAGMA synchronous=FULL", "COMMIT", "PRAGMA synchronous=NORMAL"]
            assert store.conn().execute("PRAGMA synchronous").fetchone()[0] == 1
        finally:
            store.conn().set_trace_callback(None)


def test_a_commit_that_syncs_the_wal_waits_for_the_results_being_written_on_the_record_thread(
    store, db_file, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Results the detection process cannot write are written on a thread, on the worker's connection: a
    commit that switches to synchronous=FULL meanwhile failed ("Safety level may not be changed inside a
    transaction"), and its batches were refused with 503 until the retry."""
    from dunetrace_cli.local import streaming
    from dunetrace_cli.local.store_errors import OnceLog

    monkeypatch.setattr(worker_mod, "REORDER_S", 0.0)
    monkeypatch.setattr(worker_mod, "SERVE_RECORD_EVERY", 1)
    monkeypatch.setattr(worker_mod, "SYNC_EVERY_S", 0.0)  # every commit after an unsynced one syncs
    real_processed = streaming.processed_of
    on_thread: list[str] = []

    def slow_processed(conn, run_ids):  # the record thread's transaction stays open a while
        if threading.current_thread().name.startswith("dunetrace-record"):
            on_thread.append(run_ids[0])
            time.sleep(0.05)
        return real_processed(conn, run_ids)

    monkeypatch.setattr(streaming, "processed_of", slow_processed)
    said: list[str] = []
    with threaded(store, db_file, use_process=True, errors=OnceLog(said.append)) as w:
        monkeypatch.setattr(w.stream, "_childs", lambda held: False)  # (an agent version it handed back)
        n, deadline = 0, time.monotonic() + 2.0
        while time.monotonic() < deadline:
            events = clean_run(f"r{n}", 1000.0 + n)
            w.accept([normalize_event(e) for e in events], json.dumps(_body(events)).encode())
            n += 1
            time.sleep(0.005)
        deadline = time.monotonic() + 10.0
        while _count(store, "SELECT COUNT(*) FROM runs WHERE processed_at IS NOT NULL") < n:
            assert time.monotonic() < deadline, "the runs were not all analysed"
            time.sleep(0.05)
    assert on_thread  # results were written on the record thread while batches came
    assert said == []  # and no commit failed meanwhile


async def test_no_checkpoint_runs_while_batches_wait_for_their_commit_which_syncs_the_wal_itself(
    store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the detection process writes its results the batches queue; the tick after it must not checkpoint."""
    monkeypatch.setattr(worker_mod, "SYNC_EVERY_S", 0.0)
    with running(store) as w:
        await w.submit([normalize_event(e) for e in clean_run("c1")])  # committed, the WAL not synced yet
        monkeypatch.setattr(w.stream, "behind", lambda: True)  # the detection process is writing its results
        w.accept([normalize_event(e) for e in clean_run("c2")], b"")
        await asyncio.sleep(0.3)  # no commit for longer than a tick waits before it checkpoints
        assert _count(store, "SELECT COUNT(*) FROM runs WHERE run_id='c2'") == 0  # c2 waits for the store
        seen: list[str] = []
        store.conn().set_trace_callback(seen.append)
        try:
            monkeypatch.setattr(w.stream, "behind", lambda: False)  # its results are in
            w.tick()
            assert not any("wal_checkpoint" in q for q in seen)
            await asyncio.sleep(0.05)  # c2's commit syncs the WAL
            assert _count(store, "SELECT COUNT(*) FROM runs WHERE run_id='c2'") == 1
            sync = [q for q in seen if q in ("PRAGMA synchronous=FULL", "COMMIT", "PRAGMA synchronous=NORMAL")]
            assert sync[:3] == ["PRAGMA synchronous=FULL", "COMMIT", "PRAGMA synchronous=NORMAL"]
            assert not any("wal_checkpoint" in q for q in seen)
        finally:
            store.conn().set_trace_callback(None)


async def test_the_served_customer_api_leaves_stalled_runs_to_the_worker(store, db_file) -> None:
    """An in-process sweep beside the worker would detect runs the detection process's baselines never see."""
    from dunetrace_cli.local.api import create_api_app
    from dunetrace_cli.local.server import load_api_app
    from tests.local.test_store_ingest import store_events

    store_events(store, looping_run("quiet", 1000.0, terminal=False), received_at=1000.0)  # silent for ages
    pending = "SELECT COUNT(*) FROM runs WHERE run_id='quiet' AND processed_at IS NULL"
    served = load_api_app(db_file)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=served), base_url="http://api.test") as c:
        assert (await c.get("/v1/agents")).status_code == 200
    assert _count(store, pending) == 1
    alone = create_api_app(db_file)  # the API on its own (no worker) sweeps before it reads
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=alone), base_url="http://api.test") as c:
        assert (await c.get("/v1/agents")).status_code == 200
    assert _count(store, pending) == 0


async def test_a_completed_run_is_sent_after_the_reorder_window_with_the_earlier_runs_of_its_agent_version(
    store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Concurrent clients deliver an agent version's runs a little out of run-time order."""
    monkeypatch.setattr(worker_mod, "REORDER_S", 0.4)
    with running(store) as w:
        await w.submit([normalize_event(e) for e in clean_run("later", 2000.0)])
        await asyncio.sleep(0.01)
        w.tick(decide=True)
        assert _processed(store, "later") == 0  # within the window
        await asyncio.sleep(0.3)
        await w.submit([normalize_event(e) for e in clean_run("earlier", 1000.0)])  # arrives second
        await asyncio.sleep(0.15)  # the later run's window is over, the earlier one's is not
        w.tick(decide=True)
        assert (_processed(store, "earlier"), _processed(store, "later")) == (1, 1)  # sent together, in run-time order
        assert _count(store, "SELECT COUNT(*) FROM runs WHERE needs_reeval=1") == 0


async def test_a_replayed_record_that_no_longer_validates_is_skipped_and_the_rest_written(store, db_file) -> None:
    log = IntakeLog(intake_path(db_file))
    log.append(b'{"api_key": "", "events": [{"event_type": "no.such.type"}]}')
    log.append(json.dumps(_body(clean_run("after"))).encode())
    log.close()
    with threaded(store, db_file):
        pass
    assert _count(store, "SELECT COUNT(DISTINCT run_id) FROM events") == 1
    assert _count(store, "SELECT COUNT(*) FROM events WHERE run_id='after'") == len(clean_run("after"))
    assert _records(db_file) == 0


async def test_the_waiting_runs_agent_versions_come_from_their_writes_not_from_a_query_each_decision(
    store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dunetrace_cli.local import worker_due

    queried: list[list[str]] = []
    real = worker_due._groups
    monkeypatch.setattr(worker_due, "_groups", lambda conn, ids: queried.append(ids) or real(conn, ids))
    monkeypatch.setattr(worker_mod, "REORDER_S", 30.0)  # they stay waiting
    with running(store, stall_seconds=60) as w:
        start = clean_run("late-start", 1000.0, agent_version="v2")[0]
        await w.submit([normalize_event(e) for e in clean_run("late-start", 1000.0)[1:]])  # its run.started: later
        await w.submit([normalize_event(e) for e in clean_run("b", 2000.0)])
        await asyncio.sleep(0.01)
        w.tick(decide=True)
        assert set(w.stream.waiting) == {"late-start", "b"}
        assert w.stream.groups["late-start"] == ("agent-a", "v1")
        await w.submit([normalize_event(start)])  # its run.started names another version: the run's
        await asyncio.sleep(0.01)
        w.tick(decide=True)
        assert w.stream.groups == {"late-start": ("agent-a", "v2"), "b": ("agent-a", "v1")}
        row = store.conn().execute("SELECT agent_version FROM runs WHERE run_id='late-start'").fetchone()
        assert row[0] == "v2"
    assert queried == []
