"""`dunetrace local export --to URL`: replay stored events to a real ingest endpoint.

Events go out in their original order (``events.seq``), in SDK-shaped bodies
``{"api_key", "agent_id", "events": [...]}`` of at most 500 events, each event in the SDK's
``AgentEvent.to_dict()`` shape with its original ``event_id`` (so a backend that de-duplicates, like
the latest one, can take a re-run of the export without double counting).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from dunetrace_cli import __version__
from dunetrace_cli.errors import ApiUnavailable, AuthError, ConfigError, NotFound, UsageError
from dunetrace_cli.local.ingest import MAX_BATCH_EVENTS
from dunetrace_cli.local.store import Store

_RETRYABLE = {408, 429, 500, 502, 503, 504}


@dataclass
class ExportSummary:
    to: str
    events_sent: int = 0
    batches_sent: int = 0
    retries: int = 0
    total_events: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ingest_url(base: str) -> str:
    text = base.strip().rstrip("/")
    if not text.startswith(("http://", "https://")):
        raise UsageError(f"--to must be an http(s) URL such as http://localhost:8001, not {base!r}.")
    return text if text.endswith("/v1/ingest") else text + "/v1/ingest"


def iter_batches(store: Store, batch_size: int) -> Iterator[list[dict[str, Any]]]:
    conn = store.connect()  # its own connection: a long read must not pin this thread's one
    try:
        last = 0
        while True:
            rows = conn.execute(
                "SELECT seq, event_type, run_id, agent_id, agent_version, step_index, timestamp, payload, "
                "parent_run_id, trace_id, conversation_id, event_id FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (last, batch_size),
            ).fetchall()
            if not rows:
                return
            last = rows[-1]["seq"]
            batch = []
            for r in rows:
                try:
                    payload = json.loads(r["payload"])
                except ValueError:
                    payload = {}
                batch.append(
                    {
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
                )
            yield batch
    finally:
        conn.close()


def _detail(resp: httpx.Response) -> str:
    try:
        body = resp.json()
        detail = body.get("detail") if isinstance(body, dict) else body
    except ValueError:
        detail = resp.text
    text = detail if isinstance(detail, str) else json.dumps(detail)[:300]
    return text[:300]


def export_events(
    store: Store,
    to: str,
    *,
    api_key: str = "",
    batch_size: int = MAX_BATCH_EVENTS,
    max_retries: int = 5,
    timeout_s: float = 30.0,
    progress: Callable[[int, int], None] | None = None,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ExportSummary:
    if not 1 <= batch_size <= MAX_BATCH_EVENTS:
        raise UsageError(f"--batch-size must be between 1 and {MAX_BATCH_EVENTS}; ingest rejects bigger batches.")
    url = ingest_url(to)
    summary = ExportSummary(to=url)
    summary.total_events = store.conn().execute("SELECT COUNT(*) FROM events").fetchone()[0]
    headers = {"Content-Type": "application/json", "User-Agent": f"dunetrace-cli/{__version__} (local export)"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    own = client is None
    http = client or httpx.Client(timeout=timeout_s)
    try:
        for batch in iter_batches(store, batch_size):
            body = json.dumps(
                {"api_key": api_key, "agent_id": batch[0]["agent_id"], "events": batch}, default=str
            ).encode("utf-8")
            attempt = 0
            while True:
                try:
                    resp = http.post(url, content=body, headers={**headers, "X-Dunetrace-Agent": batch[0]["agent_id"]})
                except httpx.TimeoutException as exc:
                    resp = None
                    error: Exception | None = exc
                except httpx.HTTPError as exc:
                    if attempt == 0 and summary.batches_sent == 0 and isinstance(exc, httpx.ConnectError):
                        raise ApiUnavailable(
                            f"Cannot connect to {url}; check --to and that the Dunetrace ingest service is running."
                        ) from exc
                    resp = None
                    error = exc
                else:
                    error = None
                if resp is not None and 200 <= resp.status_code < 300:
                    break
                retryable = resp is None or resp.status_code in _RETRYABLE
                if retryable and attempt < max_retries:
                    attempt += 1
                    summary.retries += 1
                    delay = min(30.0, 2.0 ** (attempt - 1))
                    if resp is not None:
                        ra = resp.headers.get("retry-after", "")
                        if ra.strip().isdigit():
                            delay = max(delay, min(60.0, float(ra)))
                    sleep(delay)
                    continue
                done = f"{summary.events_sent} of {summary.total_events} events were sent before this"
                if resp is None:
                    raise ApiUnavailable(f"Export to {url} failed ({error}); {done}; run the export again.")
                code = resp.status_code
                if code in (401, 403):
                    raise AuthError(
                        f"{url} rejected the API key (HTTP {code}); set the key in the variable named by "
                        f"--api-key-env ({done})."
                    )
                if code in (404, 405):
                    raise NotFound(f"No ingest endpoint at {url} (HTTP {code}); point --to at the ingest service's base URL.")
                if code in (400, 413, 422):
                    raise UsageError(
                        f"{url} refused a batch (HTTP {code}: {_detail(resp)}); {done}; try a smaller --batch-size."
                    )
                if code in _RETRYABLE:
                    raise ApiUnavailable(f"{url} kept failing (HTTP {code}) after {max_retries} retries; {done}; retry later.")
                raise ConfigError(f"{url} answered HTTP {code} ({_detail(resp)}); {done}; check --to.")
            summary.events_sent += len(batch)
            summary.batches_sent += 1
            if progress is not None:
                progress(summary.events_sent, summary.total_events)
    finally:
        if own:
            http.close()
    return summary
