"""`--follow` for list commands (signals, runs): poll newest-first and print only what is new.

Each poll asks the query for the newest ``window`` rows. Rows already printed are remembered by id;
the window doubles (up to :data:`WINDOW_CAP`) until a poll reaches a row seen before, so a burst
between two polls is printed whole and paging stops at the last seen id. New rows are printed oldest
first, so the stream reads in time order: one line per row, or one JSON object per line with --json.

A backend that is down, slow or rate limiting (exit-5 errors) is retried with a doubling back-off
(capped at :data:`MAX_BACKOFF` seconds) and a note on stderr; errors that retrying cannot fix (a bad
key, an unknown agent, a bad flag) end the loop with their usual exit code. Ctrl-C exits 130.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from dunetrace_cli.errors import ApiUnavailable

Row = TypeVar("Row")

DEFAULT_INTERVAL = 5.0
MIN_INTERVAL = 0.5
MAX_BACKOFF = 60.0
WINDOW_CAP = 2000  # rows asked for in one poll at most; a longer gap is reported, not re-paged forever
SEEN_CAP = 20000  # ids remembered (oldest forgotten first)


class _Seen:
    def __init__(self, cap: int = SEEN_CAP) -> None:
        self._ids: OrderedDict[Hashable, None] = OrderedDict()
        self._cap = cap

    def __contains__(self, key: Hashable) -> bool:
        return key in self._ids

    def add(self, key: Hashable) -> None:
        self._ids[key] = None
        self._ids.move_to_end(key)
        while len(self._ids) > self._cap:
            self._ids.popitem(last=False)

    def __len__(self) -> int:
        return len(self._ids)


async def follow(
    fetch: Callable[[int], Awaitable[Sequence[Row]]],
    key: Callable[[Row], Hashable],
    emit: Callable[[Row], None],
    *,
    first: int,
    interval: float = DEFAULT_INTERVAL,
    note: Callable[[str], None],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    polls: int | None = None,
) -> None:
    """Print the newest ``first`` rows, then every new row as it appears, until interrupted.

    ``fetch(n)`` returns the newest ``n`` rows, newest first. ``polls`` bounds the loop (tests).
    """
    seen = _Seen()
    delay = interval
    done = 0
    primed = False
    while polls is None or done < polls:
        done += 1
        try:
            if not primed:
                rows = list(await fetch(first))
                fresh = rows
                primed = True
            else:
                fresh = await _new_rows(fetch, key, seen, first, note)
        except ApiUnavailable as exc:
            delay = min(MAX_BACKOFF, max(delay * 2, interval))
            note(f"{exc.message} Retrying in {delay:g}s (Ctrl-C to stop).")
            await sleep(delay)
            continue
        if delay != interval:
            note("the API answers again; following.")
            delay = interval
        for row in reversed(fresh):  # oldest first
            k = key(row)
            if k in seen:
                continue
            seen.add(k)
            emit(row)
        if polls is not None and done >= polls:
            break
        await sleep(delay)


async def _new_rows(
    fetch: Callable[[int], Awaitable[Sequence[Row]]],
    key: Callable[[Row], Hashable],
    seen: _Seen,
    window: int,
    note: Callable[[str], None],
) -> list[Row]:
    """The rows above the last one printed, newest first: widen the window until it reaches it."""
    size = max(1, window)
    while True:
        rows = list(await fetch(size))
        for i, row in enumerate(rows):
            if key(row) in seen:  # the last row printed: everything above it is new
                return rows[:i]
        if len(rows) < size or not len(seen):
            return rows
        if size >= WINDOW_CAP:
            note(f"more than {WINDOW_CAP} new rows since the last poll: showing the newest {WINDOW_CAP}.")
            return rows
        size = min(WINDOW_CAP, size * 2)


# ------------------------------------------------------------------ lines for people


def signal_line(row: Any) -> str:
    from dunetrace_cli.models.common import iso
    from dunetrace_cli.render.sanitize import clean

    stamp = (iso(row.detected_at) or "—").replace("T", " ").rstrip("Z")
    title = clean(row.title or row.failure_type, newlines=False)
    return "  ".join(
        [stamp, f"#{row.id}", f"{row.severity or '?':<8}", clean(row.failure_type, newlines=False),
         clean(row.agent_id, newlines=False), f"run {clean(row.run_id[:12], newlines=False)}", title]
    )


def run_line(row: Any) -> str:
    from dunetrace_cli.models.common import iso
    from dunetrace_cli.render.sanitize import clean

    stamp = (iso(row.completed_at or row.started_at) or "—").replace("T", " ").rstrip("Z")
    exit_reason = clean(row.exit_reason or "—", newlines=False)
    return "  ".join(
        [stamp, clean(row.run_id, newlines=False), clean(row.agent_id, newlines=False),
         f"{row.step_count} steps", f"{row.signal_count} signals", exit_reason]
    )


def json_line(row: Any) -> str:
    import json

    return json.dumps(row.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"))


# ------------------------------------------------------------------ the command side

FOLLOWABLE = {
    # operation -> (the result's row list attribute, the row's key, the line for people)
    "signals": ("signals", lambda r: r.id, signal_line),
    "runs": ("runs", lambda r: r.run_id, run_line),
}


def run_follow(
    settings: Any,
    query: Callable[..., Awaitable[Any]],
    kwargs: dict[str, Any],
    *,
    op: str,
    as_json: bool,
    interval: float,
    polls: int | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> None:
    """Follow ``query`` (a list query taking ``limit``) against ``settings``; blocks until Ctrl-C."""
    import sys

    from dunetrace_cli import clock
    from dunetrace_cli.client import ApiClient
    from dunetrace_cli.render.console import make_console

    attr, key, line = FOLLOWABLE[op]
    err = make_console(stderr=True)
    first = int(kwargs.pop("limit", 20) or 20)

    def emit(row: Any) -> None:
        sys.stdout.write((json_line(row) if as_json else line(row)) + "\n")
        sys.stdout.flush()

    def note(text: str) -> None:
        from dunetrace_cli.render.sanitize import clean

        err.print(f"dunetrace: {clean(text, newlines=False)}", soft_wrap=True)

    async def main() -> None:
        async with ApiClient(settings, clock=clock.now, command_deadline=False) as client:

            async def fetch(n: int) -> Sequence[Any]:
                with client.command_scope():  # each poll is one command, with its own deadline
                    result = await query(client, **kwargs, limit=n)
                return list(getattr(result, attr))

            await follow(
                fetch, key, emit, first=first, interval=max(MIN_INTERVAL, interval), note=note,
                sleep=sleep or asyncio.sleep, polls=polls,
            )

    asyncio.run(main())
