"""Synthetic SDK event streams for the local-store benchmarks, cloned from the real SDK fixture.

``tests/data/sdk-events/events-mixed.jsonl`` holds 53 runs (648 events) written by the official SDK
0.5.7: clean, looping, retry-storm, context-bloat, errored, RAG, parent/child and two unfinished runs,
interleaved across 6 agents. A clone of that file gets fresh run ids (parent links remapped inside the
clone), fresh event ids, agent ids spread over ``agents_per_family`` copies of each of the 6 agents
(``web-researcher-007``...), and timestamps shifted so the clones spread over the last ``span_days``
days, oldest first. Payloads are the fixture's own. Lines are produced one at a time (flat memory).

Usable as a script: ``python bench/_gen_events.py N OUT.jsonl`` writes the first N events.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "data" / "sdk-events" / "events-mixed.jsonl"
LOOPING = ROOT / "tests" / "data" / "sdk-events" / "scenario-a-looping.jsonl"


def fixture_events(path: Path = FIXTURE) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _dump(event: dict) -> str:
    """The FileBatchingEmitter's line format: compact, ASCII-escaped, AgentEvent.to_dict() key order."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=True, default=str)


def clone_events(
    total: int,
    *,
    agents_per_family: int = 10,
    span_days: float = 7.0,
    now: float | None = None,
    fixture: list[dict] | None = None,
) -> Iterator[dict]:
    """The first ``total`` events of an endless series of fixture clones (whole runs except at the cut)."""
    base = fixture if fixture is not None else fixture_events()
    per_clone = len(base)
    clones = max(1, -(-total // per_clone))
    first_ts = min(e["timestamp"] for e in base)
    last_ts = max(e["timestamp"] for e in base)
    # the newest event ten minutes before ``now``: past the 90 s stall timeout however long the ingest takes to
    # reach it, so a run left unfinished is stalled by every route and the signal counts cannot depend on timing
    end = (time.time() if now is None else now) - 600.0
    step = (span_days * 86400.0 - (last_ts - first_ts)) / max(clones - 1, 1)
    emitted = 0
    for k in range(clones):
        shift = end - (clones - 1 - k) * max(step, last_ts - first_ts + 1.0) - last_ts
        runs: dict[str, str] = {}
        suffix = f"-{k % agents_per_family:03d}"
        for e in base:
            if emitted >= total:
                return
            run_id = runs.setdefault(e["run_id"], str(uuid.uuid4()))
            parent = e["parent_run_id"]
            if parent is not None:
                parent = runs.setdefault(parent, str(uuid.uuid4()))
            out = dict(e)  # payload is shared, never modified
            out["run_id"] = run_id
            out["agent_id"] = e["agent_id"] + suffix
            out["timestamp"] = e["timestamp"] + shift
            out["parent_run_id"] = parent
            out["event_id"] = str(uuid.uuid4())
            yield out
            emitted += 1


def clone_lines(total: int, **kwargs: object) -> Iterator[str]:
    for event in clone_events(total, **kwargs):  # type: ignore[arg-type]
        yield _dump(event) + "\n"


def write_jsonl(path: Path, total: int, **kwargs: object) -> Path:
    with open(path, "w", encoding="ascii", buffering=1 << 20) as fh:
        for line in clone_lines(total, **kwargs):
            fh.write(line)
    return path


def looping_run(agent_id: str = "latency-probe") -> list[dict]:
    """One looping run (TOOL_LOOP) from the fixture, with fresh ids and current timestamps."""
    base = fixture_events(LOOPING)
    run_id = str(uuid.uuid4())
    shift = time.time() - max(e["timestamp"] for e in base)
    out = []
    for e in base:
        ev = dict(e, run_id=run_id, agent_id=agent_id, event_id=str(uuid.uuid4()))
        ev["timestamp"] = e["timestamp"] + shift
        out.append(ev)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python bench/_gen_events.py N OUT.jsonl")
    write_jsonl(Path(sys.argv[2]), int(sys.argv[1]))
