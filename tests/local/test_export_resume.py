"""`local export --to URL`: one HTTP layer, a checkpoint per event id (resume, no duplicates), a window, progress.

The SDK's own fixture events (``events-mixed.jsonl``, 648 events) go into a store and out to a loopback
ingest server that accepts, fails or drops batches on demand; the test counts what arrived per event id.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dunetrace_cli.errors import ApiUnavailable
from dunetrace_cli.local.export import export_events
from dunetrace_cli.local.ingest import parse_line, write_events
from dunetrace_cli.local.store import open_store

KEY = "dt_live_EXPORTKEY00000042"


class Ingest:
    """A loopback ingest endpoint: 202 per batch, or ``fail_after`` batches then 503 until reset."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self.batches = 0
        self.fail_after: int | None = None
        self.auth: list[str | None] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.auth.append(self.headers.get("authorization"))
                if outer.fail_after is not None and outer.batches >= outer.fail_after:
                    data = b'{"detail": "Service Unavailable"}'
                    self.send_response(503)
                else:
                    events = json.loads(body)["events"]
                    outer.received.update(e["event_id"] for e in events)
                    outer.batches += 1
                    data = json.dumps({"accepted": len(events)}).encode()
                    self.send_response(202)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Ingest:
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ingest() -> Iterator[Ingest]:
    with Ingest() as server:
        yield server


@pytest.fixture
def loaded(tmp_path: Path, sdk_events: Path) -> Path:
    db = tmp_path / "s.db"
    store = open_store(db)
    for line in (sdk_events / "events-mixed.jsonl").read_text().splitlines():
        write_events(store, parse_line(line))
    store.close()
    return db


def stored_ids(db: Path, since: float | None = None) -> list[str]:
    store = open_store(db, create=False)
    try:
        rows = store.conn().execute(
            "SELECT event_id FROM events WHERE ? IS NULL OR COALESCE(timestamp, received_at) >= ? ORDER BY seq",
            (since, since),
        )
        return [r[0] for r in rows]
    finally:
        store.close()


def no_sleep(_delay: float) -> None:
    return None


def test_an_interrupted_export_resumes_without_duplicates(loaded: Path, ingest: Ingest) -> None:
    ids = stored_ids(loaded)
    assert len(ids) == 648
    ingest.fail_after = 3  # three batches of 100 arrive, then the backend keeps failing
    store = open_store(loaded, create=False)
    with pytest.raises(ApiUnavailable) as info:
        export_events(store, ingest.url, api_key=KEY, batch_size=100, timeout_s=5, sleep=no_sleep)
    assert info.value.message.startswith(f"The Dunetrace API at {ingest.url} failed with HTTP 503 (Service Unavailable)")
    assert "300 of 648 events are exported and checkpointed; run the same export again" in info.value.message
    assert sum(ingest.received.values()) == 300

    ingest.fail_after = None
    summary = export_events(store, ingest.url + "/", api_key=KEY, batch_size=100, timeout_s=5, sleep=no_sleep)
    store.close()
    assert (summary.already_exported, summary.events_sent, summary.total_events) == (300, 348, 648)
    assert set(ingest.received) == set(ids)
    assert max(ingest.received.values()) == 1  # every event exactly once across both runs
    assert set(ingest.auth) == {f"Bearer {KEY}"}


def test_a_rerun_sends_nothing_and_restart_sends_everything(loaded: Path, ingest: Ingest, invoke) -> None:
    env = {"DUNETRACE_API_KEY": KEY}
    first = invoke(["local", "export", "--db", loaded, "--to", ingest.url, "--json"], env=env)
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout)["events_sent"] == 648
    again = invoke(["local", "export", "--db", loaded, "--to", ingest.url], env=env)
    assert again.exit_code == 0, again.stderr
    assert again.stdout.strip() == f"Exported 0 events in 0 batch(es) to {ingest.url}/v1/ingest; 648 already there, not sent again."
    assert max(ingest.received.values()) == 1
    restart = invoke(["local", "export", "--db", loaded, "--to", ingest.url, "--restart", "--json"], env=env)
    assert json.loads(restart.stdout)["events_sent"] == 648
    assert set(ingest.received.values()) == {2}


def test_since_window_then_the_rest(loaded: Path, ingest: Ingest, invoke) -> None:
    store = open_store(loaded, create=False)
    stamps = sorted(r[0] for r in store.conn().execute("SELECT COALESCE(timestamp, received_at) FROM events"))
    store.close()
    cutoff = stamps[len(stamps) // 2]
    from datetime import UTC, datetime

    iso = datetime.fromtimestamp(cutoff, tz=UTC).isoformat()
    cutoff = datetime.fromisoformat(iso).timestamp()  # what --since ISO means, to the microsecond
    windowed = stored_ids(loaded, since=cutoff)
    assert 0 < len(windowed) < 648
    r = invoke(["local", "export", "--db", loaded, "--to", ingest.url, "--since", iso, "--json"])
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert (data["events_sent"], data["total_events"], data["since"]) == (len(windowed), len(windowed), cutoff)
    assert set(ingest.received) == set(windowed)
    everything = invoke(["local", "export", "--db", loaded, "--to", ingest.url, "--json"])
    assert json.loads(everything.stdout)["events_sent"] == 648 - len(windowed)
    assert set(ingest.received) == set(stored_ids(loaded)) and max(ingest.received.values()) == 1


def test_progress_goes_to_stderr_and_secrets_nowhere(loaded: Path, ingest: Ingest, invoke) -> None:
    to = ingest.url.replace("http://", "http://ops:pw-EXPORT-0042@")
    r = invoke(["local", "export", "--db", loaded, "--to", to, "--batch-size", "50"], env={"DUNETRACE_API_KEY": KEY})
    assert r.exit_code == 0, r.stderr
    masked = ingest.url.replace("http://", "http://****@") + "/v1/ingest"
    lines = r.stderr.strip().splitlines()
    assert lines[0] == f"exported 50/648 events (7%) to {masked}"
    assert lines[-1] == f"exported 648/648 events (100%) to {masked}"
    assert 2 <= len(lines) <= 11  # a line per tenth of the way when stderr is not a terminal
    assert r.stdout.strip() == f"Exported 648 events in 13 batch(es) to {masked}."
    text = r.stdout + r.stderr
    assert "pw-EXPORT-0042" not in text and KEY not in text
    store = open_store(loaded, create=False)
    targets = {row[0] for row in store.conn().execute("SELECT DISTINCT target FROM export_checkpoints")}
    store.close()
    assert targets == {masked}  # the checkpoint keeps no secret either


def test_a_bad_since_is_a_usage_error(loaded: Path, ingest: Ingest, invoke) -> None:
    r = invoke(["local", "export", "--db", loaded, "--to", ingest.url, "--since", "yesterday"])
    assert r.exit_code == 2
    assert "invalid --since 'yesterday'" in r.stderr
    assert not ingest.received
