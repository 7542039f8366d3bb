"""`local ingest`'s detection process: the SDK's detectors on a second core while the first parses and writes.

The importing process decides every write to the store (the child writes only the results it sent, when the
importer hands it the store: :mod:`dunetrace_cli.local.detect_write`). It sends batches of runs due for their *first*
detection, in run-time order, each with a snapshot of its ``runs`` row (and the newest stored event then,
``_max_seq``); the child reads the run's events from the store, where they are committed before the run
is due, only those stored by then (:func:`read_events`). A job may still carry its events (``event_tuples``). The child keeps the baselines of every agent
version in memory (:class:`~dunetrace_cli.local.baselines.BaselineCache`), runs the detectors and sends
back, per run, what :func:`dunetrace_cli.local.detect_record.record` needs; the parent writes it (or has
the child write it), in the order it sent the runs. So each agent version's runs are still evaluated one after another in run time,
exactly as in one process.

A run earlier than one the child already evaluated (a late run) the child answers itself, from the store
and the results it sent that may not be written yet (:mod:`dunetrace_cli.local.late_runs`). What it cannot
answer it leaves to the parent (the run comes back as ``None``, and so does every later run of that agent
version): a group whose stored history holds runs later than the run (a file older than what the store
already has), or a late run while more of its version's results are unwritten than it keeps. The parent detects those
in-process, in their place in the order, where re-evaluation takes care of the order; once none of that
agent version's runs is in flight it hands the version back (``forget``: the child drops what it knew of
it and reloads it from the store). If the child dies, the parent detects whatever was in flight itself
and carries on alone.
"""

from __future__ import annotations

import gc
import itertools
import json
import multiprocessing as mp
import operator
import os
import queue
import signal
import threading
from collections import Counter, deque
from multiprocessing.connection import wait as wait_for
from pathlib import Path
from typing import Any

from dunetrace_cli.local import baselines as bl
from dunetrace_cli.local import late_runs
from dunetrace_cli.local.detect import evaluate, run_time
from dunetrace_cli.local.detect_write import ChildWriter
from dunetrace_cli.local.ingest import Event
from dunetrace_cli.local.store import Store

#: The ``runs`` columns evaluation and recording read from the snapshot (a child run's also carries
#: ``_max_seq``, the newest stored event when it was sent, and ``_chain``, its lineage then: its
#: cross-run detectors see the store as the importer did, not as it is when the child gets to it).
ROW_KEYS = (
    "run_id", "agent_id", "agent_version", "parent_run_id", "completed_at", "last_event_at", "started_at",
    "event_clock", "last_received_at", "terminal_event_type", "processed_at", "trigger", "baseline_key",
    "needs_detection", "needs_reeval",
)  # fmt: skip
#: Events in flight before the parent waits for results (bounds both processes' memory).
MAX_INFLIGHT_EVENTS = 20_000
#: Inputs smaller than this are detected in-process (a second process costs more than it saves).
MIN_INPUT_BYTES = 8 * 1024 * 1024
#: The detection process's young-generation GC threshold (Python's default: 700 allocations).
CHILD_GC_THRESHOLD = 10_000

Job = tuple[dict[str, Any], str, list[tuple[Any, ...]] | None]  # (row snapshot, kind, events or None)
Result = tuple[str, list[tuple[Any, ...]], dict[str, Any] | None, str | None, bool, int] | None


#: What detection reads of an event: ``build_run_state`` takes the type, step, time, payload and parent of
#: each and the identity of the first; the local detectors the type, time and payload. Trace, conversation
#: and event ids stay home (the event id alone is a unique 36-character string per event on the pipe).
_EVENT_FIELDS = operator.attrgetter(
    "event_type", "agent_id", "agent_version", "step_index", "timestamp", "payload_text", "parent_run_id"
)
_REPLAY_KEY = operator.itemgetter(3, 4)  # (step, time) of an event tuple


def event_tuples(events: list[Event]) -> list[tuple[Any, ...]]:
    """A run's events in arrival order, compact for the pipe: what detection reads of each (``_EVENT_FIELDS``),
    the payload as its stored JSON text (a string pickles as a copy; the child decodes it, and puts the
    events in replay order, off this core)."""
    return list(map(_EVENT_FIELDS, events))


def event_dicts(run_id: str, events: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The events of ``event_tuples`` in replay order (step, then time, then arrival) as the dicts
    ``build_run_state`` reads (the payload decoded as the store's reader does)."""
    return _as_dicts(run_id, sorted(events, key=_REPLAY_KEY))


def _as_dicts(run_id: str, events: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Event tuples (``_EVENT_FIELDS``), already in replay order, as the dicts ``build_run_state`` reads."""
    return [
        {"event_type": t[0], "run_id": run_id, "agent_id": t[1], "agent_version": t[2], "step_index": t[3],
         "timestamp": t[4], "payload": p, "parent_run_id": t[6]}
        for t, p in zip(events, _payloads([t[5] for t in events]))
    ]  # fmt: skip


#: A run's events as the child reads them from the store: the fields of ``_EVENT_FIELDS`` in replay order.
_SELECT_EVENTS = (
    "SELECT run_id, event_type, agent_id, agent_version, step_index, timestamp, payload, parent_run_id FROM events "
    "WHERE run_id IN ({marks}) AND seq <= ? ORDER BY run_id, step_index, COALESCE(timestamp, 0), seq"
)


def read_events(conn: Any, run_ids: list[str], max_seq: int | None) -> dict[str, list[dict[str, Any]]]:
    """The runs' events stored by ``max_seq`` (the newest event when the importer picked them), in replay
    order, as ``event_dicts`` gives them: one indexed range per run (``UNIQUE(run_id, event_id)``), the
    payloads of a run decoded with one ``json.loads``."""
    grouped: dict[str, list[tuple[Any, ...]]] = {r: [] for r in run_ids}
    upto = max_seq if max_seq is not None else (1 << 62)
    for i in range(0, len(run_ids), 500):
        part = run_ids[i : i + 500]
        for r in conn.execute(_SELECT_EVENTS.format(marks=",".join("?" * len(part))), [*part, upto]):
            grouped[r[0]].append(r[1:])  # the fields of _EVENT_FIELDS, in its order
    return {run_id: _as_dicts(run_id, rows) for run_id, rows in grouped.items()}


def _payloads(texts: list[str]) -> list[dict[str, Any]]:
    """The payloads of one run decoded with one ``json.loads`` (they are the importer's compact JSON of
    an object each); anything else is decoded one by one."""
    try:
        values = json.loads("[" + ",".join(texts) + "]")
    except ValueError:
        values = None
    if isinstance(values, list) and len(values) == len(texts) and all(type(v) is dict for v in values):
        return values
    return [_payload(t) for t in texts]


def _payload(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class _CountedIds:
    """``uuid`` as ``dunetrace.models`` sees it in the detection process, but ``uuid4()`` a counter.

    ``build_run_state`` rebuilds every event as an ``AgentEvent``, whose ``event_id`` defaults to a fresh
    ``str(uuid.uuid4())`` (the id the SDK's emitter de-duplicates on); detection never reads it, and
    ``os.urandom`` plus UUID formatting cost about 6% of this process. Nothing here emits events, so a
    counter stands in (ids stay unique); every other attribute is the real module's."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.uuid4 = itertools.count(1).__next__

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _counted_event_ids() -> None:
    import dunetrace.models as models

    real = getattr(models, "uuid", None)
    if real is not None and not isinstance(real, _CountedIds):
        models.uuid = _CountedIds(real)  # type: ignore[assignment]


# ── the child ─────────────────────────────────────────────────────────────────────────────────
class _Evaluator:
    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.cache = bl.BaselineCache()
        self.left: set[tuple[str, str]] = set()  # groups handed back to the parent
        self.recent = late_runs.Recent()

    def forget(self, groups: list[tuple[str, str]] | None) -> None:
        """The parent hands these agent versions back (None: it changed the store's figures of any): their
        runs' results are all in the store now."""
        if groups is None:
            self.left.clear()
            self.cache.clear()
            self.recent.forget(None)
        for agent_id, version in groups or ():
            self.left.discard((agent_id, version))
            self.cache.forget(agent_id, version)
            self.recent.forget((agent_id, version))

    def one(self, row: dict[str, Any], events: list[dict[str, Any]], unwritten: int | None = None) -> Result:
        """``unwritten``: at most this many results of its agent version sent are not in the store yet (None:
        not known)."""
        group = (row["agent_id"], row["agent_version"])
        at = run_time(row)
        if group in self.left:
            return None
        memory = self.cache.from_memory(*group, at)
        if memory is False:  # a late run, or the store would have to answer for runs still in flight
            if unwritten is None or unwritten >= late_runs.RECENT_RUNS or not self.cache.late(*group, at):
                self.left.add(group)
                return None
            return self._late(row, events, group, at)
        base, key = self.cache.get_keyed(self.conn, *group, at)
        outcome = evaluate(self.conn, row, events, base, max_seq=row.get("_max_seq"), chain=row.get("_chain"))
        clean = not any(r[5] == 0 for r in outcome.rows)
        self.cache.add(self.conn, *group, at, outcome.metrics, clean, run_id=row["run_id"])
        self.recent.add(group, at, outcome.metrics, clean)
        return (key, outcome.rows, outcome.metrics, outcome.error, memory is True, len(events))

    def _late(self, row: dict[str, Any], events: list[dict[str, Any]], group: tuple[str, str], at: tuple[float, str]) -> Result:
        """A run before the group's tip (:mod:`dunetrace_cli.local.late_runs`): not at its tip, so the
        later runs whose baselines it joins are flagged when its result is written."""
        base = bl.baselines_of(self.recent.windows(self.conn, group, at))
        outcome = evaluate(self.conn, row, events, base, max_seq=row.get("_max_seq"), chain=row.get("_chain"))
        clean = not any(r[5] == 0 for r in outcome.rows)
        self.recent.add(group, at, outcome.metrics, clean)
        self.cache.refill(*group, self.recent.windows(self.conn, group, None))
        return (bl.baseline_key(base), outcome.rows, outcome.metrics, outcome.error, False, len(events))


def _child(db: str, tasks: Any, results: Any, chan: Any = None, pending: Any = None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent ends this process; no second traceback
    _counted_event_ids()
    # What this process inherited stays put (not scanned by each collection); it allocates a run's worth of
    # short-lived objects at a time, so young collections come less often.
    gc.freeze()
    gc.set_threshold(CHILD_GC_THRESHOLD, 20, 20)
    store = Store(Path(db))
    parent = os.getppid()
    try:
        ev = _Evaluator(store.conn())
        writer = None
        if chan is not None:
            # it writes only when the importer hands it the store (its checkpoints are the importer's)
            ev.conn.execute("PRAGMA synchronous=NORMAL")
            ev.conn.execute("PRAGMA wal_autocheckpoint=0")
            writer = ChildWriter(ev.conn, chan, pending)
        waitable = [tasks._reader, chan] if chan is not None else [tasks._reader]
        while True:
            if writer is not None:
                writer.serve()
            if not wait_for(waitable, timeout=1.0):
                if os.getppid() != parent:  # the parent was killed: nobody will end this process
                    break
                continue
            if writer is not None and pending.value != writer.handled:
                continue  # a command first
            try:
                batch: list[Job] | tuple[str, list[tuple[str, str]] | None] | None = tasks.get(timeout=0.05)
            except queue.Empty:
                continue
            if batch is None:
                break
            if isinstance(batch, tuple):  # ("forget", agent versions)
                ev.forget(batch[1])
                continue
            loaded: dict[str, list[dict[str, Any]]] = {}
            by_seq: dict[int | None, list[str]] = {}  # the runs to read, by the store they were picked from
            for row, _kind, events in batch:
                if events is None:
                    by_seq.setdefault(row.get("_max_seq"), []).append(row["run_id"])
            for max_seq, run_ids in by_seq.items():
                loaded.update(read_events(ev.conn, run_ids, max_seq))
            out: list[Result] = []
            here: Counter[tuple[str, str]] = Counter()  # this batch's runs so far, per agent version
            for row, _kind, events in batch:
                if writer is not None:
                    writer.serve()  # the importer waits for it: between two runs
                dicts = event_dicts(row["run_id"], events) if events is not None else loaded.get(row["run_id"], [])
                group = (row["agent_id"], row["agent_version"])
                out.append(ev.one(row, dicts, writer.unwritten(group) + here[group] if writer is not None else None))
                here[group] += 1
            if writer is not None:
                writer.sent_batch([job[0] for job in batch], out)
            results.put(("ok", out))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which carries on alone
        results.put(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        store.close()


# ── the parent's handle ───────────────────────────────────────────────────────────────────────
class DetectionProcess:
    """The child and the batches in flight, in the order sent. A batch holds every run picked, the ones
    the parent keeps (``child=False``) in their place among those the child evaluates."""

    def __init__(self, db: Path) -> None:
        method = "fork" if threading.active_count() == 1 and "fork" in mp.get_all_start_methods() else "spawn"
        ctx = mp.get_context(method)
        self._tasks = ctx.Queue()
        self._results = ctx.Queue()
        self._chan, child_chan = ctx.Pipe()  # the importer's commands to write what the child sent (detect_write)
        self._pending = ctx.RawValue("i", 0)  # commands sent
        self._proc = ctx.Process(  # type: ignore[attr-defined]
            target=_child, args=(str(db), self._tasks, self._results, child_chan, self._pending), daemon=True,
            name="dunetrace-detect",
        )  # fmt: skip
        self._proc.start()
        child_chan.close()
        self.inflight: deque[tuple[list[tuple[Job, bool]], int]] = deque()
        self.inflight_events = 0
        self.inflight_ids: set[str] = set()
        self.failed: str | None = None
        self.messages = 0  # result batches of the child collected
        self._released = 0  # of those, the ones the child was told to write or to drop
        self._writing = False  # a "write" sent, not answered yet

    def submit(self, jobs: list[tuple[Job, bool]]) -> None:
        """Queue a batch: (job, whether the child evaluates it)."""
        if not jobs:
            return
        n = sum(len(j[2]) if j[2] is not None else 1 for j, _ in jobs)
        mine = [j for j, child in jobs if child]
        if mine:
            self._tasks.put(mine)
        self.inflight.append((jobs, n))
        self.inflight_events += n
        self.inflight_ids.update(j[0]["run_id"] for j, _ in jobs)

    def forget(self, groups: list[tuple[str, str]] | None) -> None:
        """Hand agent versions back to the child (none of their runs in flight; None: every version, after
        the parent changed the store's figures): before the next batch, it drops what it knew of them and
        reloads them from the store."""
        if groups is None or groups:
            self._tasks.put(("forget", groups))

    def busy(self) -> bool:
        return self.inflight_events > MAX_INFLIGHT_EVENTS

    def collect(self, *, block: bool) -> list[tuple[Job, bool, Result]]:
        """(job, evaluated by the child, its result) of the batches that are back, in order (``block``: wait
        for at least one if any is in flight). When the child failed, ``failed`` says why and the batches
        still in flight stay in ``inflight``."""
        out: list[tuple[Job, bool, Result]] = []
        while self.inflight and self.failed is None:
            jobs, n = self.inflight[0]
            results: list[Result] = []
            if any(child for _, child in jobs):
                try:
                    msg = self._results.get(timeout=1.0) if block and not out else self._results.get_nowait()
                except queue.Empty:
                    if block and not out and self._proc.is_alive():
                        continue
                    if not self._proc.is_alive() and self._results.empty():
                        self.failed = f"the detection process exited ({self._proc.exitcode})"
                    break
                if msg[0] != "ok":
                    self.failed = str(msg[1])
                    break
                results = list(msg[1])
                self.messages += 1
            self.inflight.popleft()
            self.inflight_events -= n
            it = iter(results)
            for job, child in jobs:
                self.inflight_ids.discard(job[0]["run_id"])
                out.append((job, child, next(it) if child else None))
        return out

    # -- the child writing its results (detect_write) -------------------------------------------
    def release(self, *, write: bool, stall_seconds: float = 0.0) -> bool:
        """Tell the child that the result batches collected since the last call are written (``write``
        False: by the parent) or that it is to write them now, one transaction; then the parent leaves the
        store alone until ``written()`` answers. False when the child cannot be told (it failed)."""
        n, self._released = self.messages - self._released, self.messages
        if n == 0 and not write:
            return True
        self._pending.value += 1  # first: the child that sees it waits for the command itself
        try:
            self._chan.send(("write", n, stall_seconds) if write else ("drop", n))
        except (OSError, ValueError):
            return False
        self._writing = write
        return True

    def write_done(self) -> bool:
        """No write of the child outstanding, or its answer is in (never blocks)."""
        try:
            return not self._writing or self._chan.poll()
        except (OSError, EOFError):
            return True

    def written(self) -> list[Any] | None:
        """Wait for the child's answer to ``release(write=True)``: the runs' ``RunDetection``; None when it
        failed or died (the parent writes them then: what the child committed is skipped as analysed)."""
        if not self._writing:
            return None
        self._writing = False
        try:
            while not self._chan.poll(0.5):
                if not self._proc.is_alive():
                    return None
            msg = self._chan.recv()
        except (OSError, EOFError):
            return None
        return list(msg[1]) if msg[0] == "written" else None

    def lost(self) -> list[tuple[Job, bool]]:
        """The jobs in flight when the child failed, in the order sent (the caller detects them)."""
        jobs = [job for batch, _ in self.inflight for job in batch]
        self.inflight.clear()
        self.inflight_ids.clear()
        self.inflight_events = 0
        return jobs

    def close(self) -> None:
        try:
            if self._proc.is_alive():
                self._tasks.put(None)
                self._proc.join(5)
        finally:
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join(5)
            self._tasks.close()
            self._results.close()
            self._chan.close()
            self._tasks.cancel_join_thread()
            self._results.cancel_join_thread()


def worth_a_process(total_bytes: int | None) -> bool:
    """A second process pays off on a second core and an input of some megabytes (or a stream)."""
    if (os.cpu_count() or 1) < 2:
        return False
    return total_bytes is None or total_bytes >= MIN_INPUT_BYTES
