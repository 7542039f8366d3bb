"""The ingest worker of `dunetrace local serve`: the store's one writer, and detection on a second process.

`local serve` runs it on a thread of its own with its own event loop (:mod:`dunetrace_cli.local.worker_thread`):
``POST /v1/ingest`` appends the validated batch to the intake log (:mod:`dunetrace_cli.local.intake`),
hands it over with :meth:`IngestWorker.accept` and answers 202 at once; the worker writes the batches
queued since its last commit in ONE transaction (a group commit: the faster they come, the more each
commit takes), while the server parses the next requests. :meth:`IngestWorker.submit` (same event
loop) returns once its batch is committed. The runs the batches made ready go to the same detection
machinery as `local ingest` (:class:`~dunetrace_cli.local.streaming.StreamDetector`: the SDK's
detectors on a second process, results written in the order sent: by that process itself while batches
come, the worker leaving it the store meanwhile, and by the worker once they stop).

Durability: an accepted batch is in the intake log before its 202 (it survives the server being killed)
and in the store within milliseconds; the Customer API of the same server waits for the batches accepted
before a read (:meth:`IngestWorker.wait_written`), so it reads what it was sent. A store that cannot write
(full disk, damaged file) keeps the accepted batches queued, retried every ``RETRY_S``, and new batches
are answered 503 until a write succeeds; what is still queued when the server stops is replayed from the
intake log at the next start. The worker's connection commits with ``synchronous=NORMAL`` in WAL mode, as
`local ingest` does; the WAL and the intake log are synced about once a second while batches come (the
first commit ``SYNC_EVERY_S`` after an unsynced one runs with ``synchronous=FULL``), and by a passive
checkpoint when they stop: a power loss or OS crash can cost the last second, never the store's
consistency. The upstream ingest service's 202 means "queued" too (its answer carries ``queued_at``).

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
import threading
import time
from collections.abc import Callable
from typing import Any

from dunetrace_cli.errors import DunetraceError
from dunetrace_cli.local import detect
from dunetrace_cli.local.ingest import Event, ValidationFailed, WriteOutcome, loads_strict, validate_batch, write_events
from dunetrace_cli.local.intake import IntakeLog
from dunetrace_cli.local.load import BULK_CACHE_KIB, BULK_CHECKPOINT_PAGES
from dunetrace_cli.local.store import Store
from dunetrace_cli.local.store_errors import OnceLog
from dunetrace_cli.local.streaming import RECORD_EVERY, StreamDetector
from dunetrace_cli.local.sweep import TXN_RUNS, SweepSummary
from dunetrace_cli.local.worker_due import due_runs

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
#: A write the store refused is retried this often (s); meanwhile new batches are answered 503.
RETRY_S = 1.0
#: How long a read of the same server waits for the batches accepted before it (s).
READ_WAIT_S = 2.0
#: While batches keep coming the worker looks for them this often instead of being woken for each (s).
INBOX_POLL_S = 0.002
#: Accepted events not written yet beyond which the next request waits for room (bounds the memory they take
#: while clients send faster than the store writes).
MAX_QUEUED_EVENTS = 20_000
#: While batches come, the detection process writes its results itself once this many runs are back, or
#: ``RESULTS_EVERY_S`` after the first of them, or when nothing is in flight (the writer meanwhile leaves the
#: store to it and the batches queue up: the next commit takes them all): the writer's core is the busier
#: one then. Once no batch came for ``IDLE_S`` the writer writes them itself: the detection process is the
#: busier one then. As many runs as `local ingest` hands over at once: fewer, larger writes cost both
#: processes less (one SDK client at 1M events: 2-3 s sooner analysed than with 500, in two pairs of runs).
SERVE_RECORD_EVERY = RECORD_EVERY
RESULTS_EVERY_S = 0.5
IDLE_S = 0.1
#: Events per transaction when the intake log's leftovers are replayed at start.
REPLAY_EVENTS = 5_000
_NEG_INF = float("-inf")


class WorkerStopped(DunetraceError):
    """The ingest worker is not running (the server is stopping)."""


class IngestWorker:
    """Writes the batches (one transaction for those that arrive together), detects the runs that are due.

    ``start()`` and every later call happen on the worker's event loop thread (``start_detection`` before
    it), except ``accept`` and ``wait_written``, which the server's threads call."""

    def __init__(
        self, store: Store, *, stall_seconds: float, poll_s: float = 1.0, errors: OnceLog | None = None,
        use_process: bool | None = None, now: Callable[[], float] = time.time, intake: IntakeLog | None = None,
    ) -> None:  # fmt: skip
        self.store = store
        self.intake = intake
        #: the store's error while accepted batches wait for a write that succeeds (new ones get 503)
        self.failing: Exception | None = None
        self._accepted = 0  # batches accepted (``accept``) / written, and their events not written, under ``_cond``
        self._written_n = 0
        self._queued = 0
        self._inbox: list[tuple[list[Event], float]] = []  # accepted (and when), not taken by the worker's loop yet
        self._awake = False  # the loop will look at the inbox without being woken
        self._cond = threading.Condition()
        self.stall_seconds = stall_seconds
        self.poll_s = poll_s
        self.errors = errors or OnceLog(lambda _m: None)
        self.last_error: str | None = None
        self.now = now
        # None: a second process when this machine has a second core (a server's input is a stream)
        # its own stall rule is the file's clock (off: _due applies the live one); stall_s stamps event-clock runs
        self._quiet = threading.Lock()  # held while the store is written (this thread, or the stream's results writer)
        self.stream = StreamDetector(store, stall_seconds=None, use_process=use_process, total_bytes=None,
                                     record_every=SERVE_RECORD_EVERY, write_behind=self._quiet)  # fmt: skip
        self._last_accept = 0.0  # when the last batch was accepted (monotonic)
        self._held_since: float | None = None  # when the oldest result not written yet came back (monotonic)
        self.stream.stall_s = float(stall_seconds)
        # queued batches: a future to answer (``submit``) or None (``accept``: answered already)
        # and when each arrived (its events' received time: the live stall rule counts from it)
        self._pending: list[tuple[list[Event], asyncio.Future[WriteOutcome] | None, float]] = []
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
        """On the event loop: the write settings, the intake log's leftovers, what an earlier session left
        due, then the ticks."""
        self._loop = asyncio.get_running_loop()
        self._guard(self._setup)
        self._schedule(0.0)

    def stop(self) -> None:
        """On the event loop, after the servers stopped: write what is queued and the results in flight;
        runs not sent yet are detected at the next start (batches the store refused: replayed then)."""
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        self._loop = None
        self._take_inbox()
        self._flush(defer=False)
        self.stream.waiting.clear()
        self._guard(self.stream.finish)
        self._guard(self._sync_now)
        self.stream.close()
        if self.intake is not None and not self._pending:
            self.intake.clear_if_written()
        with self._cond:
            self._cond.notify_all()  # readers waiting for batches that will not be written now

    def _setup(self) -> None:
        conn = self.store.conn()
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA wal_autocheckpoint={BULK_CHECKPOINT_PAGES}")
        conn.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
        if self.intake is not None:  # batches accepted before the last stop and not written then
            self._replay(self.intake)
        # in-process, before the detection process gets any run
        detect.sweep(self.store, stall_seconds=self.stall_seconds, cache=self.stream.cache)

    def _replay(self, intake: IntakeLog) -> None:
        events: list[Event] = []
        for body in intake.replay():
            try:
                events += validate_batch(loads_strict(body))
            except (ValidationFailed, ValueError, RecursionError):  # (validated when accepted: another version's rules)
                continue
            if len(events) >= REPLAY_EVENTS:
                self._flush_events(events)
                events = []
        if events:
            self._flush_events(events)
        intake.clear()

    # -- writes ------------------------------------------------------------------------------
    def accept(self, events: list[Event], body: bytes) -> None:
        """From the server's thread: make a validated batch durable in the intake log and queue it for the
        next commit (raises the store's error while it cannot write, or the log's: answer 503)."""
        loop = self._loop
        if loop is None:
            raise WorkerStopped("The server is stopping; retry the batch.")
        if self.failing is not None:
            raise self.failing.with_traceback(None)
        if self.intake is not None:
            self.intake.append(body)
        self._last_accept = time.monotonic()
        with self._cond:
            self._accepted += 1
            self._queued += len(events)
            self._inbox.append((events, self.now()))
            wake, self._awake = not self._awake, True
        if wake:  # (one wake-up per quiet spell, not one per request: each costs both threads a switch)
            loop.call_soon_threadsafe(self._take_inbox)

    def _take_inbox(self) -> None:
        """On the worker's loop: queue what was accepted; look again soon while batches keep coming."""
        with self._cond:
            batches, self._inbox = self._inbox, []
            self._awake = bool(batches)
        for events, at in batches:
            self._queue(events, None, at)
        if batches and self._loop is not None:
            self._loop.call_later(INBOX_POLL_S, self._take_inbox)

    async def room(self) -> None:
        """On the server's loop, before ``accept``: wait while ``MAX_QUEUED_EVENTS`` accepted events wait for
        their commit (not while the store fails: ``accept`` answers that)."""
        while self._queued > MAX_QUEUED_EVENTS and self.failing is None and self._loop is not None:
            await asyncio.sleep(0.002)

    async def submit(self, events: list[Event]) -> WriteOutcome:
        """On the worker's loop: store a validated batch; returns once it is committed (raises the store's error)."""
        loop = self._loop
        if loop is None:
            raise WorkerStopped("The server is stopping; retry the batch.")
        fut: asyncio.Future[WriteOutcome] = loop.create_future()
        self._queue(events, fut, self.now())
        return await fut

    def wait_written(self, timeout: float = READ_WAIT_S) -> None:
        """From a reader's thread: wait until the batches accepted before now are in the store (or the store
        cannot write them, or ``timeout``)."""
        with self._cond:
            target = self._accepted
            self._cond.wait_for(
                lambda: self._written_n >= target or self.failing is not None or self._loop is None, timeout
            )  # fmt: skip

    def _queue(self, events: list[Event], fut: asyncio.Future[WriteOutcome] | None, at: float) -> None:
        self._pending.append((events, fut, at))
        if self._flush_handle is None and self._loop is not None and self.failing is None:
            # the batches that come before it runs join this one
            self._flush_handle = self._loop.call_soon(self._flush)

    def _flush(self, *, defer: bool = True) -> None:
        self._flush_handle = None
        if defer and self.stream.behind() and self._loop is not None:
            # the detection process is writing its results: the store is its; these batches join the next commit
            self._flush_handle = self._loop.call_later(INBOX_POLL_S, self._flush)
            return
        items, self._pending = self._pending, []
        if not items:
            return
        try:
            # received when the newest of them arrived (a run is silent from then on)
            outcome = self._flush_events([ev for batch, _, _ in items for ev in batch], max(at for _, _, at in items))
        except Exception as exc:  # noqa: BLE001 - waiting requests answer it (503); accepted batches wait
            kept = [item for item in items if item[1] is None]
            for _, fut, _ in items:
                if fut is not None and not fut.done():
                    fut.set_exception(exc)
            if kept:
                self._pending = kept + self._pending
                self.failing = self.errors.error(exc, self.store.path, doing="storing a batch of events", channel="ingest")
                with self._cond:
                    self._cond.notify_all()
                if self._loop is not None:
                    self._flush_handle = self._loop.call_later(RETRY_S, self._flush)
            return
        accepted = sum(fut is None for _, fut, _ in items)
        queued = sum(len(batch) for batch, fut, _ in items if fut is None)
        if self.failing is not None:
            self.failing = None
            self.errors.ok("ingest")
            if self._pending and self._flush_handle is None and self._loop is not None:
                self._flush_handle = self._loop.call_soon(self._flush)
        if accepted:
            if self.intake is not None:
                self.intake.committed(accepted)
            with self._cond:
                self._written_n += accepted
                self._queued -= queued
                self._cond.notify_all()
        for _, fut, _ in items:
            if fut is not None and not fut.done():
                fut.set_result(outcome)
        # after the answers (they were scheduled first): the runs' events buffered for their detection
        self._unbuffered += 1  # (until then the idle sweep must not run: it would take these runs in-process)
        if defer and self._loop is not None:
            self._loop.call_soon(self._written, outcome)
        else:
            self._written(outcome)

    def _flush_events(self, events: list[Event], received_at: float | None = None) -> WriteOutcome:
        """One commit of ``events`` (received at ``received_at``, default now); about once a second it syncs
        the WAL (and the intake log)."""
        # the detection results being written are in first (the record thread's transaction is on this
        # thread's connection: no synchronous switch inside it)
        self.stream.sync()
        t = time.monotonic()
        sync = self._dirty_since is not None and t - self._dirty_since >= SYNC_EVERY_S
        if sync:  # this commit syncs the WAL (every frame before it too): no checkpoint needed
            self.store.conn().execute("PRAGMA synchronous=FULL")
            if self.intake is not None:
                self.intake.sync()
        try:
            with self._quiet:
                outcome = write_events(self.store, events, received_at=received_at)
        finally:
            if sync:
                self.store.conn().execute("PRAGMA synchronous=NORMAL")
        self._last_write = t
        if sync:
            self._dirty_since = None
        elif self._dirty_since is None:
            self._dirty_since = t
        return outcome

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
        if self.stream.behind():  # the detection process is writing its results: look again soon
            self._schedule(BUSY_POLL_S)
            return
        self._guard(self.stream.sync)
        self._guard(self._detect)
        self._guard(self._sync)
        self._guard(self._write_results)
        busy = bool(self.stream.waiting) or bool(self.stream.held) or self._inflight()
        self._schedule(BUSY_POLL_S if busy else min(DECIDE_EVERY_S, self.poll_s))

    def _write_results(self) -> None:
        """Hand the results that are back to the detection process to write (``SERVE_RECORD_EVERY``,
        ``RESULTS_EVERY_S``, or nothing in flight); the stream writes here what the child cannot."""
        if not self.stream.held:
            self._held_since = None
            return
        t = time.monotonic()
        if self._held_since is None:
            self._held_since = t
        if not self._queued and t - self._last_accept > IDLE_S:
            self.stream.write_held()
        else:
            self.stream.write_behind(force=not self._inflight() or t - self._held_since >= RESULTS_EVERY_S)
        if not self.stream.held:
            self._held_since = None

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
        stream = self.stream
        quiet = not stream.waiting and not stream.held and not self._unbuffered and not self._pending and not self._inbox
        if quiet and not self._inflight() and t >= self._next_sweep:
            self._next_sweep = t + self.poll_s
            # re-evaluations (and anything due the stream did not take), in-process, nothing in flight
            found = self.stream.found
            before = found.runs_changed
            detect.sweep(self.store, stall_seconds=None, cache=self.stream.cache, summary=found, max_runs=SWEEP_RUNS)
            if found.runs_changed != before:
                self.stream.store_changed()
            self._report()

    def _due(self) -> list[tuple[float, str, str]]:
        """The runs due now: (run time, run_id, kind)."""
        proc = self.stream.proc
        with self._cond:
            inbox = list(self._inbox)
        # runs with events accepted and not written yet are not silent, whatever the store says
        queued = {ev.run_id for batch in (*(b for b, _, _ in self._pending), *(b for b, _ in inbox)) for ev in batch}
        return due_runs(
            self.store.conn(), waiting=self.stream.waiting, ready_since=self._ready_since,
            inflight=proc.inflight_ids if proc is not None else set(), queued=queued, wall=self.now(),
            stall_seconds=self.stall_seconds, reorder_s=REORDER_S, hold_factor=HOLD_FACTOR, groups=self.stream.groups,
        )  # fmt: skip

    def _report(self) -> None:
        found = self.stream.found
        if found.errors:
            self.last_error = found.errors[-1]
        self.stream.found = SweepSummary()

    def _sync(self) -> None:
        """No batch came to sync the WAL with its commit (see ``_flush``): a passive checkpoint does. Not
        while batches wait for their commit (the detection process is writing): that commit syncs."""
        if (self._pending and self.failing is None) or self._inbox:
            return
        t = time.monotonic()
        if self._dirty_since is not None and t - self._dirty_since >= SYNC_EVERY_S and t - self._last_write > DECIDE_EVERY_S:
            self._sync_now()

    def _sync_now(self) -> None:
        self._dirty_since = None
        if self.intake is not None:
            self.intake.sync()
        self.store.conn().execute("PRAGMA wal_checkpoint(PASSIVE)")  # syncs the WAL first

