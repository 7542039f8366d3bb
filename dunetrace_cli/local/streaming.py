"""Detection while `local ingest` streams a file in: runs detected in run-time order as the input's own
clock passes them, on a second process when that pays (:mod:`dunetrace_cli.local.detect_proc`).

A completed run waits until the input's newest event is a stall timeout past its end, so a run that
stalled earlier is detected before it. The runs due are sent to the detection process as their ``runs``
rows (committed, with the newest stored event then): it reads their events from the store itself, off
this core; the results are written in the order sent (``local ingest``, and `local serve` while batches
come: by the detection process itself while it keeps up, :mod:`dunetrace_cli.local.detect_write`, the
importer parsing ahead meanwhile; else on
a thread of the importer's, on its connection, while it parses the next batch; every other use of the store waits for it first, so reads and
writes keep their order). Only detection in this
process keeps open runs' events in memory. A run detected
before (late events), one still in flight, or one the process handed back is detected in-process, in
its place in the order; its agent version goes back to the process once none of its runs is in flight
(its re-evaluations done here first, :meth:`StreamDetector._hand_back`). After the end the sweep takes
stalled runs and re-evaluations.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from dunetrace_cli.local import baselines as bl
from dunetrace_cli.local import detect
from dunetrace_cli.local import detect_proc as dp
from dunetrace_cli.local import store_errors as se
from dunetrace_cli.local.crossrun import lineage
from dunetrace_cli.local.detect_record import Batch
from dunetrace_cli.local.detect_write import processed_of, record_first
from dunetrace_cli.local.ingest import Event, WriteOutcome
from dunetrace_cli.local.stall import stalled_where
from dunetrace_cli.local.store import Store
from dunetrace_cli.local.sweep import SweepSummary, detect_runs

#: Events of still-open runs kept in memory for their detection in this process (beyond that they are
#: re-read); with a detection process none are (it reads them from the store).
MAX_BUFFERED = 50_000
#: What `local ingest` passes as ``record_every``: the detection process's results are written once this
#: many runs are back, one transaction for several batches (each commit rewrites every page it touched, the
#: aggregates' among them: a third of the importer's cost of detection at 300k events).
RECORD_EVERY = 2000
_CHUNK = 500
#: The detection process writes the results it sent (``write_behind``, :mod:`detect_write`) while it keeps
#: up: at most this many runs in flight (``inflight_events``: a job without events counts one). Behind
#: that, the importer writes them on its results thread, so neither core waits on the other.
CHILD_WRITES_UPTO = 3_000


class StreamDetector:
    """Detection of one `local ingest` (``use_process``: None decides by the input's size). The detection
    process's results are written as they come back, or (``record_every``) once that many are (``finish``
    writes the rest): until then their runs count as in flight."""

    def __init__(
        self, store: Store, *, stall_seconds: float | None, use_process: bool | None, total_bytes: int | None,
        record_every: int = 0, write_behind: threading.Lock | None = None,
    ) -> None:  # fmt: skip
        self.store = store
        self.stall_seconds = stall_seconds
        self.stall_s = float(stall_seconds) if stall_seconds is not None else detect.DEFAULT_STALL_SECONDS
        self.found = SweepSummary()
        self.cache = bl.BaselineCache()
        self.buffers: dict[str, list[Event]] = {}  # open runs' events, in arrival order
        self.buffered = 0
        self.waiting: dict[str, float] = {}  # ready runs -> their run time
        self.groups: dict[str, tuple[str, str]] = {}  # of the waiting runs (and some that waited): agent version
        self.event_counts: dict[str, int] = {}  # run -> its stored events (after the last write)
        self.taken: set[tuple[str, str]] = set()  # agent versions this process detects (not the child)
        self.sent_tip: dict[tuple[str, str], tuple[float, str]] = {}  # agent version -> its newest run sent
        self._kept: dict[tuple[str, str], tuple[float, str]] = {}  # taken, the store holding a run this later
        want = dp.worth_a_process(total_bytes) if use_process is None else use_process
        self._want_process = want
        self.proc: dp.DetectionProcess | None = None
        self.record_every = record_every
        self.held: list[tuple[dp.Job, bool, dp.Result]] = []  # results back, not written yet (in order)
        self.held_ids: set[str] = set()
        # write-behind (``local ingest``): the held results are written on a thread of their own, on this
        # thread's connection, holding ``write_behind`` (the importer's write lock), while the importer parses
        self._behind = write_behind
        self._writer: ThreadPoolExecutor | None = None
        self._writing: Future[set[str]] | None = None
        self._handed: list[tuple[dp.Job, bool, dp.Result]] | None = None  # being written by the child
        self._defer = write_behind is not None  # (until ``finish``: results are written as they come then)

    def start(self) -> None:
        """Start the detection process now, if one is wanted (before other threads exist, it forks)."""
        if self.proc is None and self._want_process:
            self._want_process = False
            self.proc = dp.DetectionProcess(self.store.path)

    # -- streaming ---------------------------------------------------------------------------
    def written(self, outcome: WriteOutcome, watermark: float | None) -> None:
        """A batch was stored: remember its runs' events (for detection here), then detect what the input's
        clock made due."""
        self.sync()
        self.event_counts.update(outcome.event_counts)
        if self.proc is None and not self._want_process:
            for run_id, evs in outcome.new_events.items():
                self.buffers.setdefault(run_id, []).extend(evs)
                self.buffered += len(evs)
        for run_id in outcome.ready_runs:  # (a waiting run written again is ready again: its version refreshed)
            self.waiting[run_id] = outcome.run_times.get(run_id) or 0.0
            self.groups[run_id] = outcome.groups[run_id]
        if len(self.groups) > 2 * len(self.waiting) + 1_000:  # (forgotten in bulk: cheap per run)
            self.groups = {r: g for r, g in self.groups.items() if r in self.waiting}
        self.due(watermark)
        if self.buffered > MAX_BUFFERED:  # runs that never finish: forget their events, detection re-reads them
            self.buffers.clear()
            self.buffered = 0

    def due(self, watermark: float | None) -> None:
        """Detect, in run-time order, the runs that ended before ``watermark`` (every ready run if None)."""
        self.sync()
        timed = [(at, r, "ready") for r, at in self.waiting.items() if watermark is None or at <= watermark]
        if watermark is not None and self.stall_seconds is not None:
            timed += [(at, r, "stalled") for r, at in stalled_by(self.store, watermark)]
        self.detect_due(timed)

    def detect_due(self, timed: list[tuple[float, str, str]]) -> None:
        """Detect ``timed`` ((run time, run_id, "ready" / "stalled")) in run-time order, then write what is
        back (``local serve`` decides itself which runs are due: its stall rule is the live one)."""
        self.sync()
        if timed:
            timed.sort()
            picks = [(r, kind) for _, r, kind in timed]
            events: dict[str, list[Event]] = {}
            for run_id, _kind in picks:
                self.waiting.pop(run_id, None)
                evs = self.buffers.pop(run_id, [])
                self.buffered -= len(evs)
                if evs and len(evs) == self.event_counts.get(run_id):  # all of the run's events are in memory
                    events[run_id] = evs
            for i in range(0, len(picks), _CHUNK):
                self._detect(picks[i : i + _CHUNK], events)
        self._poll(block=False)

    def _detect(self, picks: list[tuple[str, str]], events: dict[str, list[Event]]) -> None:
        self.start()
        if self.proc is None:
            known = {r: _replay_dicts(evs) for r, evs in events.items()}
            detect_runs(self.store, picks, summary=self.found, cache=self.cache, stall_seconds=self.stall_s,
                        events=known)  # fmt: skip
            return
        returning = self._hand_back()
        inflight, held = self.proc.inflight_ids, self.held_ids
        # (a stalled run still in flight or not written yet: its detection is on its way)
        picks = [(r, kind) for r, kind in picks if kind != "stalled" or (r not in inflight and r not in held)]
        conn = self.store.conn()
        rows = _rows(conn, [r for r, _ in picks])
        max_seq = conn.execute("SELECT MAX(seq) FROM events").fetchone()[0]
        jobs: list[tuple[dp.Job, bool]] = []
        for run_id, kind in picks:
            row = rows.get(run_id)
            if row is None:
                continue
            pending = run_id in inflight or run_id in held
            group, at = (row["agent_id"], row["agent_version"]), detect.run_time(row)
            if group in returning:  # it waits for its agent version to go back to the child
                if kind == "ready":
                    self.waiting[run_id] = at[0]
                    self.groups[run_id] = group
                continue  # (a stalled run is found again)
            if group not in self.sent_tip or at > self.sent_tip[group]:
                self.sent_tip[group] = at
            row["_max_seq"] = max_seq  # what this process would read now: the run's and its parent's events
            if row["parent_run_id"]:
                row["_chain"] = lineage(conn, row)
            evs = events.get(run_id)
            # A first detection goes to the child; a run detected before (late events) or still in flight
            # is detected here, in its place in the order.
            child = row["processed_at"] is None and not pending
            jobs.append(((row, kind, dp.event_tuples(evs) if evs is not None else None), child))  # None: read
        self.proc.submit(jobs)
        while self.proc is not None and self.proc.busy():
            self._poll(block=True)

    def _hand_back(self) -> set[tuple[str, str]]:
        """Give the agent versions this process took (a late run, late events) back to the detection
        process once none of their runs is in flight or held here: their re-evaluations first, here, so
        the store holds their final figures when the child reloads them. Returns the versions whose runs
        wait meanwhile (not sent: they would come back to this process). None is given back while the
        store holds a run of it later than any this stream sent (a file older than the store): the child
        would hand it back at once."""
        proc = self.proc
        if not self.taken or proc is None:
            return set()
        busy = {(j[0]["agent_id"], j[0]["agent_version"]) for jobs, _ in proc.inflight for j, _ in jobs}
        busy.update((job[0]["agent_id"], job[0]["agent_version"]) for job, _, _ in self.held)
        conn = self.store.conn()
        back: list[tuple[str, str]] = []
        returning: set[tuple[str, str]] = set()
        for group in sorted(self.taken):
            tip, kept = self.sent_tip.get(group), self._kept.get(group)
            if tip is None or (kept is not None and tip <= kept):
                continue
            newest = conn.execute(
                "SELECT run_time, run_id FROM run_metrics WHERE agent_id=? AND agent_version=? "
                "ORDER BY run_time DESC, run_id DESC LIMIT 1", group,
            ).fetchone()  # fmt: skip
            if newest is not None and (float(newest[0]), newest[1]) > tip:
                self._kept[group] = (float(newest[0]), newest[1])
                continue
            if group in busy:
                returning.add(group)
                continue
            self._reevaluate(group)
            self.taken.discard(group)
            self.cache.forget(*group)
            back.append(group)
        proc.forget(back)
        return returning

    def store_changed(self) -> None:
        """Runs were detected or re-evaluated in this process outside the stream (an idle sweep, nothing in
        flight): the detection process reloads every agent version from the store."""
        if self.proc is not None:
            self.proc.forget(None)

    def _reevaluate(self, group: tuple[str, str]) -> None:
        """The agent version's re-evaluations, here, in run-time order (each may flag later runs)."""
        sql = "SELECT run_id FROM runs WHERE needs_reeval=1 AND agent_id=? AND agent_version=?"
        while ids := [r[0] for r in self.store.conn().execute(sql, group)]:
            if not detect_runs(self.store, [(r, "reeval") for r in ids], summary=self.found, cache=self.cache,
                               stall_seconds=self.stall_s):  # fmt: skip
                return

    def _poll(self, *, block: bool) -> None:
        if self.proc is None or not self.proc.inflight:
            return
        results = self.proc.collect(block=block)
        if results:
            self.held += results
            self.held_ids.update(job[0]["run_id"] for job, _, _ in results)
            if len(self.held) >= self.record_every and not self._defer:
                self.write_held()
        if self.proc.failed is not None:
            self.write_held()
            self._fall_back()

    def write_held(self) -> None:
        """Write the results that are back here, now (the detection process forgets them)."""
        self.sync()
        if self.held:
            held, self.held = self.held, []
            if self.proc is not None:
                self.proc.release(write=False)  # the child forgets them
            self._record(held)
            self.held_ids.clear()

    def write_behind(self, *, force: bool = False) -> None:
        """With ``write_behind``: once ``record_every`` results are back (``force``: any), have the detection process write
        them (all first detections it made, and it keeps up: ``CHILD_WRITES_UPTO``), else write them on the
        writer thread (the caller holds no lock: the thread takes the importer's). Every other method waits
        for it first (``sync``), so the store is read and written in the same order as without it."""
        if not self._defer or not self.held or (len(self.held) < self.record_every and not force):
            return
        self.sync()
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dunetrace-record")
        held, self.held = self.held, []
        if self.proc is not None and self.proc.inflight_events <= CHILD_WRITES_UPTO and self._childs(held):
            if self.proc.release(write=True, stall_seconds=self.stall_s):
                self._handed = held  # the child writes them (detect_write); ``sync`` waits for it
                return
        elif self.proc is not None:
            self.proc.release(write=False)
        self._writing = self._writer.submit(self._record_behind, held, self.store.conn())

    def _childs(self, held: list[tuple[dp.Job, bool, dp.Result]]) -> bool:
        """Every result a first detection the child made, of an agent version it keeps: what the child can
        write itself (``_record`` takes the same path for each)."""
        taken = self.taken
        return all(child and res is not None and (job[0]["agent_id"], job[0]["agent_version"]) not in taken
                   for job, child, res in held)  # fmt: skip

    def behind(self) -> bool:
        """The detection process is writing results (the importer may parse, not touch the store)."""
        return self._handed is not None and self.proc is not None and not self.proc.write_done()

    def _record_behind(self, held: list[tuple[dp.Job, bool, dp.Result]], conn: Any) -> set[str]:
        assert self._behind is not None
        with self._behind:
            self._record(held, write=lambda: _transaction(self.store, conn))
        return {job[0]["run_id"] for job, _, _ in held}

    def sync(self) -> None:
        """Wait for the results being written by the detection process (written here if it failed) or on
        the writer thread (raising what it raised)."""
        handed, self._handed = self._handed, None
        if handed is not None:
            dets = self.proc.written() if self.proc is not None else None
            if dets is None:  # the child failed: written here (what it committed is skipped as analysed)
                self._record(handed)
            else:
                for det in dets:
                    self.found.add(det)
            self.held_ids -= {job[0]["run_id"] for job, _, _ in handed}
        writing, self._writing = self._writing, None
        if writing is not None:
            self.held_ids -= writing.result()

    def _record(self, results: list[tuple[dp.Job, bool, dp.Result]], write: Callable[[], Any] | None = None) -> None:
        """Write the results in the order sent; detect here the runs kept or handed back, in their place.
        An agent version the parent detected a run of stays with the parent (``taken``) until ``_hand_back``."""
        batch = Batch()
        with (write or self.store.write)() as conn:
            processed = processed_of(conn, [job[0]["run_id"] for job, _, _ in results])
            for (row, kind, evs), child, res in results:
                done = processed.get(row["run_id"])
                if done is None:
                    continue
                group = (row["agent_id"], row["agent_version"])
                if child and res is not None and group not in self.taken:
                    if done:
                        continue  # another process analysed it meanwhile
                    self.found.add(record_first(conn, row, res, batch, self.stall_s))
                    continue
                batch.write(conn)  # what follows reads the baselines
                self.taken.add(group)
                fresh = conn.execute("SELECT * FROM runs WHERE run_id=?", (row["run_id"],)).fetchone()
                self._here(conn, row, kind, evs, fresh)
            batch.write(conn)

    def _here(self, conn: Any, row: dict[str, Any], kind: str, evs: list[tuple[Any, ...]] | None, now_row: Any) -> None:
        """Detect one run in this process as it was when picked (its row then, the events stored then); a
        run analysed meanwhile is taken as it is now (late events)."""
        first = now_row["processed_at"] is None
        run = dict(row, needs_detection=1, needs_reeval=0) if first else now_row
        events = dp.event_dicts(row["run_id"], evs) if evs is not None else None
        det = detect.detect_in(
            conn, row["run_id"], now=None, stalled=kind == "stalled", recheck=None if first else kind,
            stall_seconds=self.stall_s, run=run, events=events, cache=self.cache, max_seq=row.get("_max_seq"),
            chain=row.get("_chain"),
        )  # fmt: skip
        if det is not None:
            self.found.add(det)

    def _fall_back(self) -> None:
        """The detection process failed: detect what was in flight here, and carry on in-process."""
        assert self.proc is not None
        lost = self.proc.lost()
        self.proc.close()
        self.proc = None
        with self.store.write() as conn:
            current = _rows(conn, [job[0]["run_id"] for job, _ in lost])
            for (row, kind, evs), _child in lost:
                now_row = current.get(row["run_id"])
                if now_row is not None:
                    self._here(conn, row, kind, evs, now_row)

    # -- the end -----------------------------------------------------------------------------
    def finish(self) -> None:
        """Every ready run detected, the process drained and stopped."""
        self.sync()
        self._defer = False
        while True:
            self.due(None)
            while self.proc is not None and self.proc.inflight:
                self._poll(block=True)
            self.write_held()
            if not self.waiting:  # (runs that waited for their agent version to go back: sent now)
                break
        self.close()

    def close(self) -> None:
        try:
            self.sync()
        except Exception:  # noqa: BLE001 - closing after a failure: the failure is what the caller reports
            pass
        if self._writer is not None:
            self._writer.shutdown()
            self._writer = None
        if self.proc is not None:
            self.proc.close()
            self.proc = None


@contextmanager
def _transaction(store: Store, conn: Any) -> Iterator[Any]:
    """``store.write()`` on a given connection (the importer's, used by the writer thread while the importer
    does not: its page cache holds the runs just written)."""
    with se.translated(store.path):
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")


def stalled_by(store: Store, watermark: float) -> list[tuple[str, float]]:
    """Unfinished runs whose last event is older than ``watermark`` (this input's own time, less the
    stall), with their run time."""
    where, params = stalled_where(watermark, None)
    sql = f"SELECT run_id, COALESCE(last_event_at, started_at, 0) FROM runs WHERE {where}"  # noqa: S608
    return [(r[0], float(r[1])) for r in store.conn().execute(sql, params)]


def _rows(conn: Any, run_ids: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    cols = ",".join(dp.ROW_KEYS)
    for i in range(0, len(run_ids), 500):
        part = run_ids[i : i + 500]
        for r in conn.execute(f"SELECT {cols} FROM runs WHERE run_id IN ({','.join('?' * len(part))})", part):  # noqa: S608
            out[r[0]] = dict(zip(dp.ROW_KEYS, r))
    return out


def _replay_dicts(events: list[Event]) -> list[dict[str, Any]]:
    """A run's events as detection reads them from the store: step, then time, then arrival."""
    ordered = sorted(events, key=lambda e: (e.step_index, e.timestamp))
    return [e.to_sdk_dict() for e in ordered]
