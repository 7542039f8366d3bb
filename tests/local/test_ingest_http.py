"""The SDK-facing ingest API, in process (ASGI), with the status codes and limits of the latest server."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from dunetrace_cli.local.server import create_ingest_app, is_loopback
from tests.local.test_store_ingest import clean_run, looping_run

pytestmark = pytest.mark.anyio


@pytest.fixture
def app_and_ready(store):
    ready: list[set[str]] = []
    return create_ingest_app(store, on_ingested=ready.append), ready


@pytest.fixture
async def client(app_and_ready):
    app, _ = app_and_ready
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest.test") as c:
        yield c


def body(events: list[dict], agent: str = "agent-a", key: str = "") -> dict:
    return {"api_key": key, "agent_id": agent, "events": events}


async def test_accepted_batch_is_durable_before_202(client, store, app_and_ready) -> None:
    events = looping_run("r1")
    resp = await client.post("/v1/ingest", json=body(events))
    assert resp.status_code == 202
    data = resp.json()
    assert data["accepted"] == len(events) and set(data) == {"accepted", "batch_id", "queued_at"}
    assert store.conn().execute("SELECT COUNT(*) FROM events").fetchone()[0] == len(events)
    assert app_and_ready[1][-1] == {"r1"}  # detection is woken for the completed run
    again = await client.post("/v1/ingest", json=body(events))  # the SDK's byte-identical retry
    assert again.status_code == 202
    assert store.conn().execute("SELECT COUNT(*) FROM events").fetchone()[0] == len(events)


async def test_sdk_byte_format_is_accepted(client, store) -> None:
    """Python's default separators and ASCII escaping, as HttpBatchingEmitter sends."""
    events = clean_run("r2")
    events[0]["payload"]["input_text"] = "caf\u00e9 \u2603"
    raw = json.dumps(body(events), default=str).encode()
    resp = await client.post("/v1/ingest", content=raw, headers={"Content-Type": "application/json"})
    assert resp.status_code == 202
    stored = store.conn().execute("SELECT input_text FROM runs WHERE run_id='r2'").fetchone()[0]
    assert stored == "caf\u00e9 \u2603"


async def test_422_over_500_events_and_list_shape(client) -> None:
    events = [dict(e, event_id=f"id{i}") for i, e in enumerate(clean_run("r") * 100)][:501]
    resp = await client.post("/v1/ingest", json=body(events))
    assert resp.status_code == 422
    detail = resp.json()["detail"]
    assert isinstance(detail, list) and detail[0]["type"] == "too_long" and detail[0]["loc"] == ["body", "events"]
    ok = await client.post("/v1/ingest", json=body(events[:500]))
    assert ok.status_code == 202


async def test_413_over_10_mib(client) -> None:
    big = clean_run("r")[:1]
    big[0]["payload"]["input_text"] = "x" * (10 * 1024 * 1024)
    resp = await client.post("/v1/ingest", json=body(big))
    assert resp.status_code == 413
    assert resp.json() == {"detail": "Request body exceeds 10485760 bytes."}


async def test_bad_bodies_get_clear_4xx(client, store) -> None:
    r = await client.post("/v1/ingest", content=b"not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"
    r = await client.post("/v1/ingest", content=b'{"a": NaN}')
    assert r.status_code == 422
    r = await client.post("/v1/ingest", json=body([]))
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "too_short"
    bad = clean_run("r")
    bad[1]["event_type"] = "llm.bogus"
    r = await client.post("/v1/ingest", json=body(bad))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "events", 1, "event_type"]
    assert store.conn().execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0  # all or nothing
    r = await client.post(
        "/v1/ingest", content=gzip.compress(json.dumps(body(clean_run("r"))).encode()), headers={"Content-Encoding": "gzip"}
    )
    assert r.status_code == 400
    r = await client.post("/v1/ingest", content=b"\xff\xfe\x00garbage")
    assert r.status_code == 422


async def test_every_sdk_event_type_is_accepted(client, store) -> None:
    from dunetrace.models import EventType

    events = [dict(clean_run("r")[0], event_type=t.value, event_id=f"e-{t.value}") for t in EventType]
    r = await client.post("/v1/ingest", json=body(events))
    assert r.status_code == 202


async def test_config_polls_deploy_health_and_errors(client, store) -> None:
    r = await client.get("/v1/policies", params={"agent_id": "a"}, headers={"Authorization": "Bearer dt_live_x"})
    assert r.status_code == 200 and r.json() == {"policies": []}
    r = await client.get("/v1/detector-config", params={"agent_id": "a", "agent_version": "v1"})
    cfg = r.json()
    assert r.status_code == 200 and cfg["schema_version"] == 1 and cfg["agent_id"] == "a"
    assert cfg["detectors"] == {} and cfg["packs"] == [] and cfg["baselines"] is None and cfg["ttl_s"] == 60
    r = await client.post("/v1/deploy", json={"api_key": "", "agent_id": "a", "version": "v2", "meta": {"sha": "1"}})
    assert r.status_code == 202 and r.json()["agent_id"] == "a"
    assert store.conn().execute("SELECT version FROM deploy_events").fetchone()[0] == "v2"
    r = await client.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["db"] == "ok"
    r = await client.get("/nope")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}
    r = await client.get("/v1/ingest")
    assert r.status_code == 405 and r.json() == {"detail": "Method Not Allowed"}


async def test_sdk_config_store_loads_our_answer(client) -> None:
    """The SDK's own loader for the detector-config answer takes ours (no warnings, default detectors)."""
    from dunetrace.detector_config import DetectorConfigStore

    r = await client.get("/v1/detector-config", params={"agent_id": "a"})
    cfg_store = DetectorConfigStore()
    cfg_store.load("a", r.json())
    assert cfg_store.has_config("a")
    assert cfg_store.baselines_for("a") is None
    assert len(cfg_store.detectors_for("a")) > 10


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")


async def test_replay_of_captured_sdk_traffic(client, store, sdk_events) -> None:
    """Every request the SDK 0.5.7 was seen making (sdk-http-capture.json) is answered with a 2xx."""
    captured = json.loads((sdk_events / "sdk-http-capture.json").read_text())["requests"]
    posted: set[str] = set()
    for req in captured:
        headers = {k: v for k, v in req["headers"].items() if k.lower() not in ("host", "content-length", "connection")}
        if req["method"] == "GET":
            resp = await client.get(req["path"], params=req["query"], headers=headers)
            assert resp.status_code == 200 and isinstance(resp.json(), dict)
        else:
            raw = json.dumps(req["body"]).encode()
            resp = await client.post(req["path"], content=raw, headers=headers)
            assert resp.status_code == 202, resp.text
            posted.update(e["event_id"] for e in req["body"]["events"])
    # the retried batches (phases C and D) were stored once
    assert store.conn().execute("SELECT COUNT(*) FROM events").fetchone()[0] == len(posted)


def test_listening_socket_is_tcp_so_keep_alive_responses_are_not_delayed() -> None:
    """asyncio sets TCP_NODELAY on accepted sockets only when the listener's proto is IPPROTO_TCP;
    without it every keep-alive response after the first waited ~40 ms (Nagle + delayed ACK)."""
    import socket

    from dunetrace_cli.local.server import bind_socket

    sock = bind_socket("127.0.0.1", 0, "ingest")
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


async def test_escaped_and_raw_text_store_the_same_and_a_lone_surrogate_is_replaced(client, store) -> None:
    """A body without a \\ud escape takes the one-pass path; one with it, the full path: the same rows."""
    raw = clean_run("plain")
    raw[0]["payload"]["input_text"] = "hi \U0001f600"
    escaped = clean_run("escaped")
    escaped[0]["payload"]["input_text"] = "hi \U0001f600"
    lone = clean_run("lone")
    lone[0]["payload"]["input_text"] = "hi \ud800"
    for events, ascii_ in ((raw, False), (escaped, True), (lone, True)):
        text = json.dumps(body(events), ensure_ascii=ascii_)
        assert ("\\ud83d" in text) == (events is escaped)
        r = await client.post("/v1/ingest", content=text.encode("utf-8", "surrogatepass"))
        assert r.status_code == 202, r.text
    rows = dict(store.conn().execute("SELECT run_id, input_text FROM runs"))
    assert rows["plain"] == rows["escaped"] == "hi \U0001f600"
    assert rows["lone"] == "hi ?"  # the full path scrubs it, as before


def test_the_gc_runs_rarely_while_local_serve_serves_and_as_before_after(tmp_path, monkeypatch) -> None:
    import asyncio
    import gc

    from dunetrace_cli.local import server
    from dunetrace_cli.local.load import IMPORT_GC_THRESHOLD

    during: list[tuple[int, ...]] = []

    def run(main):  # the servers' loop, as `serve` runs it: what the GC is set to meanwhile
        main.close()
        during.append(gc.get_threshold())

    before = gc.get_threshold()
    assert before != IMPORT_GC_THRESHOLD
    monkeypatch.setattr(asyncio, "run", run)
    server.serve(tmp_path / "s.db", ingest_port=0, api_port=0)
    assert during == [IMPORT_GC_THRESHOLD]
    assert gc.get_threshold() == before
