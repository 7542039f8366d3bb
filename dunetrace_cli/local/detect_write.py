"""`local ingest`'s detection results written by the detection process itself, when the importer says so.

The importer stays in charge of the order: it collects each batch of results as before, and once
``RECORD_EVERY`` runs are back it either writes them itself (a batch holding a run it must detect in-process)
or hands the store's write lock to the child for them (``ChildWriter``): it sends "write the next N batches
you sent me", parses ahead meanwhile and writes nothing, and reads or writes the store again only once
the child answers (``StreamDetector.sync``). So the store is written in the same order as when the importer
wrote the results, and no writer ever waits in SQLite's busy handler; the importer's core is spared the
writing (about a fifth of its work at 1M events), the child's idle time takes it. What the child writes for
a result is what the importer would have: ``record_first``, the one path both take.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

from dunetrace_cli.local import detect
from dunetrace_cli.local.detect import RunDetection, run_time
from dunetrace_cli.local.detect_record import Batch, record


def processed_of(conn: Any, run_ids: list[str]) -> dict[str, bool]:
    """Of these runs, the ones still stored, and whether each was analysed."""
    out: dict[str, bool] = {}
    for i in range(0, len(run_ids), 500):
        part = run_ids[i : i + 500]
        sql = f"SELECT run_id, processed_at IS NOT NULL FROM runs WHERE run_id IN ({','.join('?' * len(part))})"  # noqa: S608
        out.update((r[0], bool(r[1])) for r in conn.execute(sql, part))
    return out


def record_first(conn: Any, row: dict[str, Any], res: tuple[Any, ...], batch: Batch, stall_s: float) -> RunDetection:
    """Record the child's result for a run's first detection (inside the caller's transaction)."""
    key, rows, metrics, error, at_tip, seen = res
    det = RunDetection(run_id=row["run_id"], trigger=row["terminal_event_type"] or "stalled")
    record(conn, row, det, run_time(row), detect.Outcome(rows, metrics, error), key, seen, now=None,
           replace=False, stall_seconds=stall_s, cache=None, at_tip=at_tip, batch=batch)  # fmt: skip
    return det


def write_results(conn: Any, results: list[tuple[dict[str, Any], Any]], stall_s: float) -> list[RunDetection]:
    """The child's results for first detections, in order, inside the caller's transaction (what the
    importer's ``StreamDetector._record`` does with them): a run gone or analysed meanwhile is skipped."""
    batch = Batch()
    processed = processed_of(conn, [row["run_id"] for row, _ in results])
    dets: list[RunDetection] = []
    for row, res in results:
        if processed.get(row["run_id"]) is not False:
            continue  # gone, or another process analysed it meanwhile
        dets.append(record_first(conn, row, res, batch, stall_s))
    batch.write(conn)
    return dets


class ChildWriter:
    """The detection process's side: the batches of results it sent, kept until the importer says to write
    them (``("write", n, stall_s)``: one transaction on the child's connection, answered with the runs'
    ``RunDetection``) or that it wrote them itself (``("drop", n)``). ``pending`` counts the commands sent
    (the importer adds one after each), so the child looks at the pipe only when one is waiting."""

    def __init__(self, conn: Any, chan: Any, pending: Any) -> None:
        self.conn, self.chan, self.pending = conn, chan, pending
        self.sent: deque[list[tuple[dict[str, Any], Any]]] = deque()
        self.handled = 0
        self._unsent: Counter[tuple[str, str]] = Counter()  # results in ``sent``, per agent version
        self._dropped: Counter[tuple[str, str]] = Counter()  # of the last "drop": the importer may be writing them

    def sent_batch(self, rows: list[dict[str, Any]], results: list[Any]) -> None:
        self.sent.append(list(zip(rows, results)))
        self._unsent.update((row["agent_id"], row["agent_version"]) for row in rows)

    def unwritten(self, group: tuple[str, str]) -> int:
        """At most this many of the agent version's results sent may not be in the store yet."""
        return self._unsent[group] + self._dropped[group]

    def serve(self) -> None:
        """Carry out the commands waiting (between two runs, or while idle)."""
        while self.pending.value != self.handled:
            self.handled += 1
            cmd = self.chan.recv()
            batches = [self.sent.popleft() for _ in range(cmd[1])]
            done = Counter((row["agent_id"], row["agent_version"]) for b in batches for row, _ in b)
            self._unsent -= done
            self._dropped = Counter() if cmd[0] == "write" else done
            if cmd[0] != "write":
                continue
            try:
                dets = self._write([r for b in batches for r in b], float(cmd[2]))
            except Exception as exc:  # noqa: BLE001 - the importer writes them itself
                self.chan.send(("error", f"{type(exc).__name__}: {exc}"))
            else:
                self.chan.send(("written", dets))

    def _write(self, results: list[tuple[dict[str, Any], Any]], stall_s: float) -> list[RunDetection]:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            dets = write_results(conn, results, stall_s)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return dets
