"""A late run in the detection process: one that ends before runs of its agent version the process already
evaluated (a slower SDK client, a batch sent again), answered there instead of handed back to the importer.

Its baselines are the store's, as of just before it (what one process would read), plus the runs this
process evaluated whose results are not written yet (:class:`Recent`): per agent version, the newest
``RECENT_RUNS`` results evaluated in run-time order, and every late one until it is seen written. The
in-order ones are kept in the order they were sent, so they hold every result of the version not written
yet while fewer than ``RECENT_RUNS`` are (``unwritten``, counted by the caller per version); else the run
goes back to the importer. A run in both is taken from the store. The runs after it that it joins the
baselines of are flagged for re-evaluation when its result is written (it is not at its version's tip),
as in one process.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from dunetrace_cli.local import baselines as bl

#: In-order results kept per agent version (each: run time, run id, clean, the metrics as a tuple).
RECENT_RUNS = 512

Group = tuple[str, str]
_Entry = tuple[tuple[float, str], bool, tuple[float | None, ...]]


class Recent:
    """Per agent version, the newest results this process made in run-time order, and the late ones."""

    def __init__(self) -> None:
        self._runs: dict[Group, deque[_Entry]] = {}
        self._late: dict[Group, list[_Entry]] = {}  # until seen written

    def add(self, group: Group, at: tuple[float, str], metrics: dict[str, Any] | None, clean: bool) -> None:
        if metrics is None:  # not part of the baselines
            return
        runs = self._runs.get(group)
        if runs is None:
            runs = self._runs[group] = deque(maxlen=RECENT_RUNS)
        entry = (at, clean, tuple(metrics.get(m) for m in bl.METRICS))
        if not runs or at > runs[-1][0]:
            runs.append(entry)  # (the oldest goes: RECENT_RUNS of this version were sent since)
        else:
            self._late.setdefault(group, []).append(entry)

    def forget(self, group: Group | None) -> None:
        """Drop a version's results (None: every version's)."""
        if group is None:
            self._runs.clear()
            self._late.clear()
        else:
            self._runs.pop(group, None)
            self._late.pop(group, None)

    def windows(self, conn: Any, group: Group, before: tuple[float, str] | None) -> dict[str, list[float]]:
        """Per metric, the newest 50 clean values before ``before`` (None: all), oldest first: the store's
        and the ones kept here (the store's where a run is in both)."""
        late = self._late.get(group, [])
        kept = [*self._runs.get(group, ()), *late]
        stored = _stored(conn, [at[1] for at, _, _ in kept])
        if late:
            self._late[group] = [e for e in late if e[0][1] not in stored]  # the store has the others
        out: dict[str, list[float]] = {}
        for i, (m, rows) in enumerate(bl.keyed_windows(conn, *group, before=before).items()):
            found = dict(rows)
            for at, clean, values in kept:
                value = values[i]
                if clean and value is not None and at[1] not in stored and (before is None or at < before):
                    found[at] = float(value)
            out[m] = [found[at] for at in sorted(found)[-bl.BASELINE_LOOKBACK :]]
        return out


def _stored(conn: Any, run_ids: list[str]) -> set[str]:
    """Of these runs, the ones with a written result (the store's figures are theirs)."""
    out: set[str] = set()
    for i in range(0, len(run_ids), 500):
        part = run_ids[i : i + 500]
        sql = f"SELECT run_id FROM run_metrics WHERE run_id IN ({','.join('?' * len(part))})"  # noqa: S608
        out.update(r[0] for r in conn.execute(sql, part))
    return out
