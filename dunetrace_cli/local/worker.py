"""The ingest worker of `dunetrace local serve`: the store's one writer, and detection on a second process.

It runs on the server's event loop thread (no hand-over between threads per request, no contention for
the GIL): ``POST /v1/ingest`` awaits :meth:`IngestWorker.submit` and answers 202 when it returns, the
batch committed. Batches that arrive together (several clients) are written in ONE transaction (a group
commit). The runs they made ready go to the same detection machinery as `local ingest`
(:class:`~dunetrace_cli.local.streaming.StreamDetector`: the SDK's detectors on a second process,
results written here, in the order sent, between requests).

Durability: the worker's connection commits with ``synchronous=NORMAL`` in WAL mode, as `local ingest`
does. A committed batch survives the server being killed (it is in the WAL); a power loss or OS crash
can cost the batches since the WAL was last synced, never the store's consistency. The WAL is synced
about once a second while batches come (the first commit ``SYNC_EVERY_S`` after an unsynced one runs
with ``synchronous=FULL``), and by a passive checkpoint when they stop. The upstream ingest service's 202 means
"queued" too (its answer carries ``queued_at``).

Which runs are due, in run-time order (the stall rule is the live one, docs/local-fidelity.md):

* a completed run ``REORDER_S`` after it became ready (with the earlier ready runs of its agent version:
  concurrent clients deliver runs a little out of order), once no unfinished run of the same agent version
  with an earlier run time is still open, so that a run that will stall is detected before the later runs
  whose baselines it joins (as `local ingest` orders them); at most ``HOLD_FACTOR`` stall timeouts;
* a stalled run when it is silent for the stall timeout (event time and server time);
* re-evaluations (an earlier run reached the baselines late) by the sweep, in-process, when nothing is
  in flight.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from dunetrace_cli.errors import DunetraceError
from dunetrace_cli.local import detect
from dunetrace_cli.local.ingest import Event, WriteOutcome, write_events
from dunetrace_cli.local.load import BULK_CACHE_KIB, BULK_CHECKPOINT_PAGES
from dunetrace_cli.local.stall import stalled_where
from dunetrace_cli.local.store import Store
from dunetrace_cli.local.store_errors import OnceLog
from dunetrace_cli.local.streaming import StreamDetector
from dunetrace_cli.local.sweep import RUN_TIME_SQL, TXN_RUNS, SweepSummary

#: How often the worker decides which runs are due (s), and looks for results while some are in flight.
DECIDE_EVERY_S = 0.2
BUSY_POLL_S = 0.02
#: A completed run waits for an earlier open run of its agent version at most this many stall timeouts.
HOLD_FACTOR = 2.0
#: A completed run is sent this long after it became ready (at most the stall timeout), with every earlier
#: ready run of its agent version: clients shipping concurrently deliver runs a little out of run-time order.
REORDER_S = 1.0
#: The WAL is synced at most this long after a commit (s).
SYNC_EVERY_S = 1.0
#: Runs one idle sweep (re-evaluations) detects before the loop serves requests again.
SWEEP_RUNS = 4 * TXN_RUNS
_NEG_INF = float("-inf")


class WorkerStopped(DunetraceError):
    """The ingest worker is not running (the server is stopping)."""


class IngestWorker:
    """Writes the batches (one transaction for those that arrive together), detects the runs that are due.

    ``start()`` and every later call happen on the event loop's thread (``start_detection`` before it)."""

    def __init__(
        self, store: Store, *, stall_seconds: float, poll_s: float = 1.0, errors: OnceLog | None = None,
        use_process: bool | None = None, now: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.store = store
        self.stall_seconds = stall_seconds
        self.poll_s = poll_s
        self.errors = errors or OnceLog(lambda _m: None)
        self.last_error: str | None = None
        self.now = now
        # None: a second process when this machine has a second core (a server's input is a stream)
        # its own stall rule is the file's clock (off: _due applies the live one); stall_s stamps event-clock runs
        self.stream = StreamDetector(store, stall_seconds=None, use_process=use_process, total_bytes=None)
        self.stream.stall_s = float(stall_seconds)
        self._pending: list[tuple[list[Event], asyncio.Future[WriteOutcome]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._flush_handle: asyncio.Handle | None = None
        self._tick_handle: asyncio.TimerHandle | None = None
        self._ready_since: dict[str, float] = {}  # waiting run -> when it became ready (monotonic)
        self._dirty_since: float | None = None  # first commit since the WAL was last synced
        self._last_write = 0.0
        self._unbuffered = 0  # batches committed whose runs the stream has not been told of yet
        self._next_decide = 0.0
        self._next_sweep = 0.0

    # -- life --------------------------------------------------------------------------------
    def start_detection(self) -> None:
        """Start the detection process (call before other threads exist, so that it forks)."""
        self.stream.start()

    def start(self) -> None:
        """On the event loop: the write settings, what an earlier session left due, then the ticks."""
        self._loop = asyncio.get_running_loop()
        self._guard(self._setup)
        self._schedule(0.0)

    def stop(self) -> None:
        """On the event loop, after the servers stopped: write what is queued and the results in flight;
        runs not sent yet are detected at the next start."""
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        self._loop = None
        self._flush(defer=False)
        self.stream.waiting.clear()
        self._guard(self.stream.finish)
        self._guard(self._sync_now)
        self.stream.close()

    def _setup(self) -> None:
        conn = self.store.conn()
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA wal_autocheckpoint={BULK_CHECKPOINT_PAGES}")
        conn.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
        # in-process, before the detection process gets any run
        detect.sweep(self.store, stall_seconds=self.stall_seconds, cache=self.stream.cache)

    # -- writes ------------------------------------------------------------------------------
    async def submit(self, events: list[Event]) -> WriteOutcome:
        """Store a validated batch; returns once it is committed (raises the store's error)."""
        loop = self._loop
        if loop is None:
            raise WorkerStopped("The server is stopping; retry the batch.")
        fut: asyncio.Future[WriteOutcome] = loop.create_future()
        self._pending.append((events, fut))
        if self._flush_handle is None:  # the batches of requests handled before it runs join this one
            self._flush_handle = loop.call_soon(self._flush)
        return await fut

    def _flush(self, *, defer: bool = True) -> None:
        self._flush_handle = None
        items, self._pending = self._pending, []
        if not items:
            return
        events = [ev for batch, _ in items for ev in batch]
        t = time.monotonic()
        sync = self._dirty_since is not None and t - self._dirty_since >= SYNC_EVERY_S
        try:
            if sync:  # this commit syncs the WAL (every frame before it too): no checkpoint needed
                self.store.conn().execute("PRAGMA synchronous=FULL")
            try:
                outcome = write_events(self.store, events)
            finally:
                if sync:
                    self.store.conn().execute("PRAGMA synchronous=NORMAL")
        except Exception as exc:  # noqa: BLE001 - every waiting request answers it (503)
            for _, fut in items:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for _, fut in items:
            if not fut.done():
                fut.set_result(outcome)
        self._last_write = t
        if sync:
            self._dirty_since = None
        elif self._dirty_since is None:
            self._dirty_since = t
        # after the answers (they were scheduled first): the runs' events buffered for their detection
        self._unbuffered += 1  # (until then the idle sweep must not run: it would take these runs in-process)
        if defer and self._loop is not None:
            self._loop.call_soon(self._written, outcome)
        else:
            self._written(outcome)

    def _written(self, outcome: WriteOutcome) -> None:
        self._unbuffered -= 1
        t = time.monotonic()
        for run_id in outcome.ready_runs:
            self._ready_since.setdefault(run_id, t)
        self._guard(lambda: self.stream.written(outcome, _NEG_INF))  # due when _due says so
        if self._tick_handle is None:
            self._schedule(0.0)

    # -- the ticks ---------------------------------------------------------------------------
    def _schedule(self, delay: float) -> None:
        if self._loop is None:
            return
        if self._tick_handle is not None:
            if delay > 0:
                return  # one is on its way
            self._tick_handle.cancel()
        self._tick_handle = self._loop.call_later(delay, self.tick)

    def tick(self, *, decide: bool = False) -> None:
        """One round: detect what is due (``decide``: now, else every ``DECIDE_EVERY_S``), write the results
        that are back, sync the WAL when due."""
        self._tick_handle = None
        if decide:
            self._next_decide = self._next_sweep = 0.0
        self._guard(self._detect)
        self._guard(self._sync)
        busy = bool(self.stream.waiting) or self._inflight()
        self._schedule(BUSY_POLL_S if busy else min(DECIDE_EVERY_S, self.poll_s))

    def _guard(self, step: Callable[[], Any]) -> None:
        try:
            step()
            self.last_error = None
            self.errors.ok("detect")
        except (DunetraceError, sqlite3.Error, OSError) as exc:  # retried on the next tick
            self.last_error = self.errors.error(exc, self.store.path, doing="analysing runs", channel="detect").message
        except Exception as exc:  # noqa: BLE001 - keep the server alive; retried on the next tick
            self.last_error = f"{type(exc).__name__}: {exc}"

    # -- detection ---------------------------------------------------------------------------
    def _inflight(self) -> bool:
        proc = self.stream.proc
        return proc is not None and bool(proc.inflight)

    def _detect(self) -> None:
        t = time.monotonic()
        if t >= self._next_decide:
            self._next_decide = t + DECIDE_EVERY_S
            self.stream.detect_due(self._due())
        else:
            self.stream.detect_due([])  # write the results that are back
        self._report()
        if not self.stream.waiting and not self._unbuffered and not self._inflight() and t >= self._next_sweep:
            self._next_sweep = t + self.poll_s
            # re-evaluations (and anything due the stream did not take), in-process, nothing in flight
            detect.sweep(self.store, stall_seconds=None, cache=self.stream.cache, summary=self.stream.found,
                         max_runs=SWEEP_RUNS)  # fmt: skip
            self._report()

    def _due(self) -> list[tuple[float, str, str]]:
        """The runs due now: (run time, run_id, kind)."""
        conn = self.store.conn()
        proc = self.stream.proc
        inflight = proc.inflight_ids if proc is not None else set()
        wall = self.now()
        where, params = stalled_where(wall - self.stall_seconds, wall - self.stall_seconds)
        stalled = [
            (float(at), rid, "stalled")
            for rid, at in conn.execute(f"SELECT run_id, {RUN_TIME_SQL} FROM runs WHERE {where}", params)  # noqa: S608
            if rid not in inflight
        ]
        timed: list[tuple[float, str, str]] = list(stalled)
        if self.stream.waiting:
            stalling = {rid for _, rid, _ in stalled}
            earliest: dict[tuple[str, str], tuple[float, str]] = {}  # agent version -> its earliest open run
            for rid, agent, version, at in conn.execute(
                f"SELECT run_id, agent_id, agent_version, {RUN_TIME_SQL} FROM runs "  # noqa: S608
                "WHERE processed_at IS NULL AND terminal_event_type IS NULL"
            ):
                if rid in stalling or rid in inflight:
                    continue
                key, at_run = (agent, version), (float(at), rid)
                if key not in earliest or at_run < earliest[key]:
                    earliest[key] = at_run
            groups = _groups(conn, list(self.stream.waiting))
            t = time.monotonic()
            settled, limit = t - min(REORDER_S, self.stall_seconds), t - HOLD_FACTOR * self.stall_seconds
            cut: dict[tuple[str, str], tuple[float, str]] = {}  # agent version -> its newest settled run
            for rid, at in self.stream.waiting.items():
                if self._ready_since.get(rid, 0.0) <= settled:
                    key = groups.get(rid, ("", ""))
                    if key not in cut or (at, rid) > cut[key]:
                        cut[key] = (at, rid)
            for rid, at in list(self.stream.waiting.items()):
                key = groups.get(rid, ("", ""))
                if self._ready_since.get(rid, 0.0) > limit:
                    last = cut.get(key)
                    if last is None or (at, rid) > last:
                        continue  # ready just now: an earlier run of its agent version may still arrive
                    first_open = earliest.get(key)
                    if first_open is not None and first_open < (at, rid):
                        continue  # an earlier run of its agent version may still stall: it goes first
                del self.stream.waiting[rid]
                self._ready_since.pop(rid, None)
                timed.append((at, rid, "ready"))
        return timed

    def _report(self) -> None:
        found = self.stream.found
        if found.errors:
            self.last_error = found.errors[-1]
        self.stream.found = SweepSummary()

    def _sync(self) -> None:
        """No batch came to sync the WAL with its commit (see ``_flush``): a passive checkpoint does."""
        t = time.monotonic()
        if self._dirty_since is not None and t - self._dirty_since >= SYNC_EVERY_S and t - self._last_write > DECIDE_EVERY_S:
            self._sync_now()

    def _sync_now(self) -> None:
        self._dirty_since = None
        self.store.conn().execute("PRAGMA wal_checkpoint(PASSIVE)")  # syncs the WAL first


def _groups(conn: Any, run_ids: list[str]) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for i in range(0, len(run_ids), 500):
        part = run_ids[i : i + 500]
        sql = f"SELECT run_id, agent_id, agent_version FROM runs WHERE run_id IN ({','.join('?' * len(part))})"  # noqa: S608
        out.update((r[0], (r[1], r[2])) for r in conn.execute(sql, part))
    return out
