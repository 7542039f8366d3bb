"""`dunetrace local export --to URL`: replay stored events to a real ingest endpoint, resumably.

Events go out in their original order (``events.seq``), in SDK-shaped bodies
``{"api_key", "agent_id", "events": [...]}`` of at most 500 events, each event in the SDK's
``AgentEvent.to_dict()`` shape with its original ``event_id``.

- **One HTTP layer**: the requests go through :class:`dunetrace_cli.client.ApiClient` (its transport,
  deadline per request, retries, Retry-After and error mapping), as the ingest API
  (:data:`~dunetrace_cli.http_errors.INGEST_API`).
- **Resumable, no duplicates**: every event id the target acknowledged (a 2xx, which ingest gives only once
  the batch is committed) is checkpointed in the store, in the ``export_checkpoints`` table keyed by the
  target URL (userinfo masked). A re-run sends only what is not checkpointed for that target, so an
  interrupted export picks up where it stopped and nothing is sent twice.
- **A window**: ``since`` keeps events whose own timestamp (the SDK's; ingest time when absent) is at or
  after the cutoff.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from dunetrace_cli.config import Settings, redact_url
from dunetrace_cli.errors import DunetraceError, UsageError
from dunetrace_cli.local.ingest import MAX_BATCH_EVENTS
from dunetrace_cli.local.store import Store

CHECKPOINT_DDL = """
CREATE TABLE IF NOT EXISTS export_checkpoints (
    target      TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    exported_at REAL NOT NULL,
    PRIMARY KEY (target, event_id)
) WITHOUT ROWID
"""
_COLUMNS = (
    "e.seq, e.event_type, e.run_id, e.agent_id, e.agent_version, e.step_index, e.timestamp, e.payload, "
    "e.parent_run_id, e.trace_id, e.conversation_id, e.event_id"
)
_PENDING = (
    "FROM events e WHERE e.seq > ? AND (? IS NULL OR COALESCE(e.timestamp, e.received_at) >= ?) "
    "AND NOT EXISTS (SELECT 1 FROM export_checkpoints c WHERE c.target = ? AND c.event_id = e.event_id)"
)
_IN_WINDOW = "FROM events e WHERE (? IS NULL OR COALESCE(e.timestamp, e.received_at) >= ?)"


@dataclass
class ExportSummary:
    to: str
    events_sent: int = 0
    batches_sent: int = 0
    retries: int = 0
    total_events: int = 0  # events in the window
    already_exported: int = 0  # checkpointed for this target by an earlier run: not sent again
    since: float | None = None
    resumable: bool = True  # False on a read-only store: no checkpoint could be kept

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ingest_url(base: str) -> str:
    text = base.strip().rstrip("/")
    if not text.startswith(("http://", "https://")):
        raise UsageError(f"--to must be an http(s) URL such as http://localhost:8001, not {redact_url(base)!r}.")
    return text if text.endswith("/v1/ingest") else text + "/v1/ingest"


def checkpoint_key(url: str) -> str:
    """The checkpoint's target: the ingest URL with any userinfo masked (no secret is stored)."""
    return redact_url(url)


def ensure_checkpoints(store: Store) -> bool:
    """Create the checkpoint table if needed; False when the store cannot be written (no resume)."""
    if store.readonly:
        return False
    with store.write() as conn:
        conn.execute(CHECKPOINT_DDL)
    return True


def forget_checkpoint(store: Store, to: str) -> int:
    """Drop the checkpoint for ``to`` (``--restart``): the next export sends everything again."""
    if not ensure_checkpoints(store):
        return 0
    with store.write() as conn:
        return conn.execute("DELETE FROM export_checkpoints WHERE target = ?", (checkpoint_key(ingest_url(to)),)).rowcount


def _event(r: sqlite3.Row) -> dict[str, Any]:
    try:
        payload = json.loads(r["payload"])
    except ValueError:
        payload = {}
    return {
        "event_type": r["event_type"],
        "run_id": r["run_id"],
        "agent_id": r["agent_id"],
        "agent_version": r["agent_version"] or "unknown",
        "step_index": r["step_index"],
        "timestamp": r["timestamp"],
        "payload": payload,
        "parent_run_id": r["parent_run_id"],
        "trace_id": r["trace_id"],
        "conversation_id": r["conversation_id"],
        "event_id": r["event_id"],
    }


def iter_batches(store: Store, batch_size: int, *, target: str, since: float | None) -> Iterator[list[dict[str, Any]]]:
    """Batches of events not yet checkpointed for ``target``, in ``seq`` order, inside the window."""
    conn = store.connect()  # its own connection: a long read must not pin this thread's one
    conn.row_factory = sqlite3.Row
    try:
        last = 0
        while True:
            rows = conn.execute(
                f"SELECT {_COLUMNS} {_PENDING} ORDER BY e.seq LIMIT ?", (last, since, since, target, batch_size)
            ).fetchall()
            if not rows:
                return
            last = rows[-1]["seq"]
            yield [_event(r) for r in rows]
    finally:
        conn.close()


def _count(store: Store, target: str, since: float | None, *, resumable: bool) -> tuple[int, int]:
    """(events in the window, of which already checkpointed for ``target``)."""
    conn = store.conn()
    total = conn.execute(f"SELECT COUNT(*) {_IN_WINDOW}", (since, since)).fetchone()[0]
    if not resumable:
        return total, 0
    pending = conn.execute(f"SELECT COUNT(*) {_PENDING}", (0, since, since, target)).fetchone()[0]
    return total, total - pending


def _checkpoint(store: Store, target: str, batch: list[dict[str, Any]]) -> None:
    now = time.time()
    with store.write() as conn:
        conn.executemany(
            "INSERT OR IGNORE INTO export_checkpoints (target, event_id, exported_at) VALUES (?, ?, ?)",
            [(target, e["event_id"], now) for e in batch],
        )


def export_events(
    store: Store,
    to: str,
    *,
    api_key: str = "",
    batch_size: int = MAX_BATCH_EVENTS,
    since: float | None = None,
    timeout_s: float = 30.0,
    progress: Callable[[ExportSummary], None] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Callable[[float], Any] | None = None,
) -> ExportSummary:
    """Send every event in the window that ``to`` has not acknowledged yet; the summary of this run."""
    if not 1 <= batch_size <= MAX_BATCH_EVENTS:
        raise UsageError(f"--batch-size must be between 1 and {MAX_BATCH_EVENTS}; ingest rejects bigger batches.")
    url = ingest_url(to)
    target = checkpoint_key(url)
    summary = ExportSummary(to=redact_url(url), since=since)
    summary.resumable = ensure_checkpoints(store)
    summary.total_events, summary.already_exported = _count(store, target, since, resumable=summary.resumable)
    return asyncio.run(_send_all(store, url, target, summary, api_key, batch_size, timeout_s, progress, transport, sleep))


async def _send_all(
    store: Store,
    url: str,
    target: str,
    summary: ExportSummary,
    api_key: str,
    batch_size: int,
    timeout_s: float,
    progress: Callable[[ExportSummary], None] | None,
    transport: httpx.AsyncBaseTransport | None,
    sleep: Callable[[float], Any] | None,
) -> ExportSummary:
    from dunetrace_cli.client import ApiClient
    from dunetrace_cli.http_errors import INGEST_API

    base = url[: -len("/v1/ingest")]
    settings = Settings(api_url=base, api_key=api_key, timeout=timeout_s, profile="export")
    options: dict[str, Any] = {"transport": transport, "service": INGEST_API, "max_concurrency": 1}
    if sleep is not None:
        options["sleep"] = _as_async(sleep)
    async with ApiClient(settings, **options) as client:
        try:
            for batch in iter_batches(store, batch_size, target=target, since=summary.since):
                agent = batch[0]["agent_id"]
                body = json.dumps({"api_key": api_key, "agent_id": agent, "events": batch}, default=str).encode("utf-8")
                before = client.request_count
                with client.command_scope():  # each batch is one "command": the export as a whole may take hours
                    await client.post("/v1/ingest", body, headers={"X-Dunetrace-Agent": agent})
                summary.retries += client.request_count - before - 1
                if summary.resumable:
                    _checkpoint(store, target, batch)
                summary.events_sent += len(batch)
                summary.batches_sent += 1
                if progress is not None:
                    progress(summary)
        except DunetraceError as exc:
            exc.message = exc.message.rstrip(".") + "; " + _resume_note(summary)
            raise
    return summary


def _resume_note(summary: ExportSummary) -> str:
    sent = summary.events_sent + summary.already_exported
    if not summary.resumable:
        return f"{summary.events_sent} of {summary.total_events} events were sent (the store is read-only: no checkpoint)."
    return (
        f"{sent} of {summary.total_events} events are exported and checkpointed; run the same export again to "
        "send the rest (nothing is sent twice)."
    )


def _as_async(sleep: Callable[[float], Any]) -> Callable[[float], Any]:
    async def wrapped(delay: float) -> None:
        result = sleep(delay)
        if inspect.isawaitable(result):
            await result

    return wrapped


def progress_printer(write: Callable[[str], None], *, tty: bool) -> Callable[[ExportSummary], None]:
    """Progress for stderr: one line rewritten in place on a terminal, else a line per tenth of the way."""
    last_tenth = [-1]

    def show(summary: ExportSummary) -> None:
        done = summary.already_exported + summary.events_sent
        total = max(summary.total_events, 1)
        line = f"exported {done:,}/{summary.total_events:,} events ({100 * done // total}%) to {summary.to}"
        if tty:
            write(f"\r{line}")
            return
        tenth = 10 * done // total
        if tenth > last_tenth[0]:
            last_tenth[0] = tenth
            write(line + "\n")

    return show
