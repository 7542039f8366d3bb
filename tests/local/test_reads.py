"""Read routes of the store that answer from indexes and ingest-time aggregates (issue 11)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from dunetrace_cli.local.api import create_api_app
from dunetrace_cli.local.load import ingest_sources
from dunetrace_cli.local.readqueries_runs import _run_filters
from dunetrace_cli.local.store import open_store


@pytest.fixture
def fixture_db(tmp_path: Path, sdk_events: Path) -> Path:
    db = tmp_path / "s.db"
    store = open_store(db)
    try:
        ingest_sources(store, [str(sdk_events / "events-mixed.jsonl")], report=lambda p: None)
    finally:
        store.close()
    return db


def test_run_lookup_by_prefix(fixture_db: Path) -> None:
    conn = sqlite3.connect(fixture_db)
    ids = [r[0] for r in conn.execute("SELECT run_id FROM runs WHERE processed_at IS NOT NULL")]
    where, params = _run_filters(None, None, "abc")
    plan = " ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN SELECT run_id FROM runs WHERE {where}", params))
    conn.close()
    assert "SCAN" not in plan and "sqlite_autoindex_runs_1" in plan  # a primary-key range, not a scan
    heads = Counter(run_id[:1] for run_id in ids)
    shared, _ = heads.most_common(1)[0]
    unique = next(r for r in ids if sum(1 for x in ids if x.startswith(r[:8])) == 1)
    with TestClient(create_api_app(fixture_db)) as client:
        body = client.get("/v1/runs", params={"run_id_prefix": unique[:8]}).json()
        assert [r["run_id"] for r in body["runs"]] == [unique] and body["page"]["total"] == 1
        body = client.get("/v1/runs", params={"run_id_prefix": shared, "limit": 500}).json()
        assert sorted(r["run_id"] for r in body["runs"]) == sorted(r for r in ids if r.startswith(shared))
        assert body["page"]["total"] == heads[shared] >= 2
        assert client.get("/v1/runs", params={"run_id_prefix": "zzzz"}).json()["runs"] == []
        # with an agent: both filters apply
        agent = body["runs"][0]["agent_id"]
        scoped = client.get("/v1/runs", params={"run_id_prefix": shared, "agent_id": agent, "limit": 500}).json()
        assert {r["agent_id"] for r in scoped["runs"]} == {agent}


AGGREGATES = {
    "agent_stats": "agent_id",
    "agent_signal_types": "agent_id, failure_type, severity",
    "agent_signal_days": "agent_id, day",
    "agent_llm_days": "agent_id, day",
    "run_llm": "run_id",
}


def _snapshot(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
    out = {}
    for table, key in AGGREGATES.items():
        rows = conn.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall()
        out[table] = [tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in rows if r[-1] != 0]
    return out


def test_aggregates_kept_at_ingest_equal_a_rebuild_from_the_rows(tmp_path: Path, sdk_events: Path) -> None:
    """The Python that keeps the aggregates while ingesting (file and HTTP clocks, re-evaluations,
    triggers) and the SQL that rebuilds them from the stored rows give the same tables."""
    import json

    from dunetrace_cli.local import aggregates, detect
    from dunetrace_cli.local.ingest import normalize_event, write_events

    db = tmp_path / "s.db"
    store = open_store(db)
    try:
        ingest_sources(store, [str(sdk_events / "events-mixed.jsonl")], report=lambda p: None)
        with open(sdk_events / "scenario-c-retry-storm.jsonl", encoding="utf-8") as fh:  # as over HTTP
            events = [normalize_event(json.loads(line)) for line in fh if line.strip()]
        write_events(store, events[: len(events) // 2], received_at=1_900_000_000.0)
        write_events(store, events, received_at=1_900_000_100.0)  # a retry plus the rest
        detect.sweep(store, finalize_stalled=True)
        conn = store.conn()
        kept = _snapshot(conn)
        assert all(kept[t] for t in AGGREGATES)
        with store.write() as w:
            aggregates.rebuild(w)
        assert _snapshot(conn) == kept
    finally:
        store.close()


def test_health_score_equals_the_domain_formula_on_the_fixture(fixture_db: Path, sdk_events: Path) -> None:
    """The health route's SQL (day buckets, run counts) against the domain functions fed in Python from
    the fixture's own lines and the stored verdicts."""
    import json

    from dunetrace_cli.domain import health
    from dunetrace_cli.domain.loops import LOOP_TYPE_SET

    with open(sdk_events / "events-mixed.jsonl", encoding="utf-8") as fh:
        events = [json.loads(line) for line in fh if line.strip()]
    now = max(e["timestamp"] for e in events) + 3600
    conn = sqlite3.connect(fixture_db)
    live: dict[str, set[str]] = {}
    for run_id, ft in conn.execute("SELECT run_id, failure_type FROM signals WHERE shadow = 0"):
        live.setdefault(run_id, set()).add(ft)
    conn.close()
    with TestClient(create_api_app(fixture_db, clock=lambda: now)) as client:
        for agent in sorted({e["agent_id"] for e in events}):
            mine = [e for e in events if e["agent_id"] == agent]
            runs = {e["run_id"] for e in mine}
            prompts = [float(e["payload"]["prompt_tokens"]) for e in mine
                       if e["event_type"] in ("llm.called", "llm.responded") and e["payload"].get("prompt_tokens") is not None]  # fmt: skip
            latencies = [float(e["payload"]["latency_ms"]) for e in mine
                         if e["event_type"] == "llm.responded" and e["payload"].get("latency_ms") is not None]  # fmt: skip
            body = client.get(f"/v1/agents/{agent}/health-score").json()
            assert body["sample_runs"] == len(runs)
            if len(runs) < health.MIN_RUNS:
                assert body["score"] is None
                continue
            failing = sum(1 for r in runs if live.get(r))
            looping = sum(1 for r in runs if live.get(r, set()) & LOOP_TYPE_SET)
            avg_p = sum(prompts) / len(prompts) if prompts else None
            avg_l = sum(latencies) / len(latencies) if latencies else None
            want = (
                health.failure_score(failing / len(runs)) + health.loop_score(looping / len(runs))
                + health.token_score(avg_p) + health.latency_score(avg_l)
            )  # fmt: skip
            assert body["score"] == want, agent
            assert body["components"]["token_efficiency"]["value"] == (round(avg_p) if avg_p is not None else None)
            assert body["components"]["latency"]["value"] == (round(avg_l) if avg_l is not None else None)
