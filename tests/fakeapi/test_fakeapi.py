"""The fake Customer API against the responses captured from real servers."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby
from pathlib import Path

import httpx
import pytest

from tests.fakeapi import FakeApi, load_capture, load_dataset, serve

GENERATIONS = ("march", "latest")
PROD_KEY = "dt_live_fixture_0001"  # the key row of the captured AUTH_MODE=prod instance


def _captured_requests(generation: str) -> list[dict]:
    """Index entries whose body was saved as JSON (the /docs HTML page was not)."""
    out = []
    for req in load_capture(generation, "index.json")["requests"]:
        if (req.get("file") or "").endswith(".json"):
            out.append(req)
    return out


def _call(fake: FakeApi, method: str, path: str, query=None, headers=None) -> httpx.Response:
    params = {k: str(v) for k, v in (query or {}).items()}
    return fake.handle(httpx.Request(method, "http://fake" + path, params=params, headers=headers or {}))


# Dev-mode fakes shared by the read-only tests (tests that set knobs build their own).
_FAKES = {gen: FakeApi(gen) for gen in GENERATIONS}


@pytest.fixture
def fakes() -> dict[str, FakeApi]:
    return _FAKES


def _get(fake: FakeApi, path: str, **query) -> dict:
    r = _call(fake, "GET", path, query)
    assert r.status_code == 200, r.text
    return r.json()


# ── fidelity: every captured request, replayed ─────────────────────────────


def _assert_signal_page_equivalent(ours: dict, captured: dict) -> None:
    """Signal lists equal up to the order of rows with identical detected_at.

    The server sorts by detected_at only (customer-api.md B.5: no tie-breaker).
    All signals of one run share detected_at, and Postgres returns such ties
    in a plan-dependent order: the same rows come back in different orders
    for limit=3, limit=5 and limit=50 (e.g. retry-agent 79/78/77), so no
    single deterministic order reproduces every capture. We require the same
    page object, the same detected_at sequence, identical bodies for shared
    ids and the same rows in every tie group; a tie group cut by the end of
    the page may hold other members of that group (other signals of the same
    run), since which ones Postgres keeps is arbitrary too.
    """
    assert ours["page"] == captured["page"]
    o, c = ours["signals"], captured["signals"]
    assert [s["detected_at"] for s in o] == [s["detected_at"] for s in c]
    by_id = {s["id"]: s for s in c}
    for s in o:
        if s["id"] in by_id:
            assert s == by_id[s["id"]]
    edge = {c[-1]["detected_at"]} if c else set()
    if captured["page"]["offset"]:
        edge.add(c[0]["detected_at"])
    for ts, group in groupby(c, key=lambda s: s["detected_at"]):
        cap_rows = sorted(s["id"] for s in group)
        our_rows = sorted(s["id"] for s in o if s["detected_at"] == ts)
        if ts in edge:
            assert {s["run_id"] for s in o if s["detected_at"] == ts} == {
                by_id[i]["run_id"] for i in cap_rows
            }
        else:
            assert our_rows == cap_rows


# Tie-order cases (see above); every other capture must match byte for byte
# in content and key order.
_TIE_ORDER = {
    "latest": {
        "GET_v1_agents_langchain-example-agent_signals__explain-false_limit-5.json",
        "GET_v1_agents_retry-agent_signals__explain-false_limit-5.json",
        "GET_v1_agents_rag-agent_signals__explain-false_limit-5.json",
        "GET_v1_agents_retry-agent_signals__limit-3.json",
        "GET_v1_signals.json",
        "GET_v1_signals__per_agent_limit-2.json",
        "GET_v1_signals__agent_id-retry-agent_limit-3.json",
    },
    "march": set(),
}
# failure_types comes from a SQL GROUP BY: its key order differs between two
# captures of the same agent (agents.json vs these), so only content is compared.
_DICT_ORDER = {"auth-prod-valid-key-agents.json", "auth-prod-valid-key-bare-token.json"}


@pytest.mark.parametrize(
    ("generation", "req"),
    [(g, r) for g in GENERATIONS for r in _captured_requests(g)],
    ids=lambda v: v if isinstance(v, str) else v["file"],
)
def test_replays_captured_request(generation: str, req: dict) -> None:
    prod = "AUTH_MODE=prod" in req.get("note", "")
    if prod:
        fake = FakeApi(generation, api_key=PROD_KEY, api_key_agents={"langchain-example-agent"})
    else:
        fake = _FAKES[generation]
    captured = load_capture(generation, req["file"])
    r = _call(fake, req["method"], req["path"], req["query"], req.get("headers"))
    assert r.status_code == req["status"]
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    if req["file"] in _TIE_ORDER[generation]:
        _assert_signal_page_equivalent(body, captured)
    elif req["file"] in _DICT_ORDER:
        assert body == captured
    else:
        assert json.dumps(body) == json.dumps(captured)


def test_replay_covers_every_saved_capture() -> None:
    assert len(_captured_requests("march")) == 110  # 111 in the index; /docs was HTML
    assert len(_captured_requests("latest")) == 57


def test_bodies_use_fastapi_compact_json(fakes) -> None:
    r = _call(fakes["march"], "GET", "/health")
    assert r.content == b'{"status":"ok","version":"0.1.0","db":"ok"}'


# ── ordering and paging ─────────────────────────────────────────────────────


@pytest.mark.parametrize("generation", GENERATIONS)
def test_agents_paging_echoes_limit(fakes, generation: str) -> None:
    fake = fakes[generation]
    first = _get(fake, "/v1/agents", limit=4)
    assert first["page"] == {"total": 6, "offset": 0, "limit": 4, "has_more": True}
    rest = _get(fake, "/v1/agents", limit=4, offset=4)
    assert rest["page"] == {"total": 6, "offset": 4, "limit": 4, "has_more": False}
    ids = [a["agent_id"] for a in first["agents"] + rest["agents"]]
    assert ids == [
        "retry-agent", "langchain-example-agent", "clean-agent",
        "support-agent-lc", "rag-agent", "onboarding-agent",
    ]
    seen = [a["last_seen"] for a in first["agents"] + rest["agents"]]
    assert seen == sorted(seen, reverse=True)
    assert _get(fake, "/v1/agents", limit=6)["page"]["has_more"] is False
    assert _get(fake, "/v1/agents", limit=500)["page"]["limit"] == 500


@pytest.mark.parametrize("generation", GENERATIONS)
def test_agent_runs_paging_and_filters(fakes, generation: str) -> None:
    fake = fakes[generation]
    path = "/v1/agents/langchain-example-agent/runs"
    all_runs = _get(fake, path, limit=500)["runs"]
    assert len(all_runs) == 40
    pages = [_get(fake, path, limit=7, offset=o) for o in range(0, 40, 7)]
    assert [r for p in pages for r in p["runs"]] == all_runs
    assert [p["page"]["has_more"] for p in pages] == [True] * 5 + [False]
    flagged = _get(fake, path, has_signals="true")
    clean = _get(fake, path, has_signals="false")
    assert flagged["page"]["total"] + clean["page"]["total"] == 40
    assert flagged["page"]["total"] == 16
    assert all(r["has_signals"] and r["signal_count"] > 0 for r in flagged["runs"])
    assert not any(r["has_signals"] for r in clean["runs"])
    assert _get(fake, "/v1/agents/nobody/runs", limit=3)["page"] == {
        "total": 0, "offset": 0, "limit": 3, "has_more": False,
    }


def test_org_wide_runs_keep_every_agents_order(fakes) -> None:
    fake = fakes["latest"]
    rows = _get(fake, "/v1/runs", limit=500)["runs"]
    assert len(rows) == 104
    for agent in fake.data["runs"]:
        assert [r for r in rows if r["agent_id"] == agent] == fake.data["runs"][agent]
    processed = [fake.data["_processed_at"][r["run_id"]] for r in rows]
    assert processed == sorted(processed, reverse=True)
    # per_agent_limit ranks after the has_signals filter, like ROW_NUMBER()
    two = _get(fake, "/v1/runs", per_agent_limit=2, has_signals="true")
    assert two["page"]["total"] == 8  # clean-agent and onboarding-agent have none
    assert {r["agent_id"] for r in two["runs"]} == {
        "retry-agent", "langchain-example-agent", "support-agent-lc", "rag-agent",
    }
    assert _get(fake, "/v1/runs", agent_id="")["page"]["total"] == 0


def test_custom_dataset_without_processed_times() -> None:
    data = {k: v for k, v in load_dataset("latest").items() if k != "_processed_at"}
    data["agents"] = [a for a in data["agents"] if a["agent_id"] in ("rag-agent", "clean-agent")]
    fake = FakeApi("latest", dataset=data, extra_agents=2)
    assert _get(fake, "/v1/agents")["page"]["total"] == 4
    rows = _get(fake, "/v1/runs", limit=500)["runs"]
    for agent in ("rag-agent", "clean-agent", "synthetic-agent-0000", "synthetic-agent-0001"):
        assert [r for r in rows if r["agent_id"] == agent] == fake.data["runs"][agent]
    assert "_processed_at" not in data  # the caller's dict is left alone


def test_org_wide_signals_filters(fakes) -> None:
    fake = fakes["latest"]
    everything = _get(fake, "/v1/signals", limit=500)
    assert everything["page"]["total"] == 96
    times = [s["detected_at"] for s in everything["signals"]]
    assert times == sorted(times, reverse=True)
    high = _get(fake, "/v1/signals", severity="high", limit=500)
    assert high["signals"] and all(s["severity"] == "HIGH" for s in high["signals"])
    loops = _get(fake, "/v1/signals", failure_type="tool_loop", limit=500)
    assert loops["page"]["total"] == 18
    one = _get(fake, "/v1/signals", per_agent_limit=1, failure_type="CONTEXT_BLOAT")
    assert len({s["agent_id"] for s in one["signals"]}) == len(one["signals"]) == one["page"]["total"]
    # latest accepts any UPPER_SNAKE-shaped type; it just matches nothing
    assert _get(fake, "/v1/signals", failure_type="NOT_A_REAL_TYPE")["page"]["total"] == 0


def test_explain_false_blanks_prose_but_keeps_keys(fakes) -> None:
    fake = fakes["latest"]
    full = _get(fake, "/v1/agents/rag-agent/signals", limit=2)["signals"]
    bare = _get(fake, "/v1/agents/rag-agent/signals", limit=2, explain="false")["signals"]
    for f, b in zip(full, bare, strict=True):
        assert list(f) == list(b)
        assert f["what"] and f["suggested_fixes"]
        assert (b["what"], b["why_it_matters"], b["suggested_fixes"]) == ("", "", [])
        assert b["title"] == f["title"] and b["evidence_summary"] == f["evidence_summary"]
    # March has no explain parameter: it is ignored like any unknown parameter
    march = _get(fakes["march"], "/v1/agents/rag-agent/signals", limit=1, explain="false")
    assert march["signals"][0]["what"]


# ── errors ──────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("generation", GENERATIONS)
def test_routing_errors(fakes, generation: str) -> None:
    fake = fakes[generation]
    assert _call(fake, "GET", "/v1/nope").json() == {"detail": "Not Found"}
    r = _call(fake, "POST", "/v1/agents")
    assert (r.status_code, r.headers["allow"]) == (405, "GET")
    assert r.json() == {"detail": "Method Not Allowed"}
    r = _call(fake, "GET", "/v1/agents/")
    assert (r.status_code, r.headers["location"]) == (307, "http://fake/v1/agents")
    r = _call(fake, "GET", "/v1/runs/it's")  # the server formats the id with repr()
    assert (r.status_code, r.json()) == (404, {"detail": "Run \"it's\" not found"})


def test_latest_only_routes_are_absent_in_march(fakes) -> None:
    agent = "/v1/agents/rag-agent"
    for path in ("/v1/runs", "/v1/signals", f"{agent}/health-score", f"{agent}/token-stats"):
        assert _call(fakes["march"], "GET", path).status_code == 404
        assert _call(fakes["latest"], "GET", path).status_code == 200


def test_validation_errors_follow_fastapi(fakes) -> None:
    query = {"offset": "-2", "limit": "x", "per_agent_limit": "0"}
    r = _call(fakes["latest"], "GET", "/v1/signals", query)
    assert r.status_code == 422
    assert [(e["type"], e["loc"][1]) for e in r.json()["detail"]] == [
        ("greater_than_equal", "offset"),
        ("int_parsing", "limit"),
        ("greater_than_equal", "per_agent_limit"),
    ]
    r = _call(fakes["latest"], "GET", "/v1/runs/anything", {"include_shadow": "maybe"})
    assert r.json()["detail"][0]["type"] == "bool_parsing"
    r = _call(fakes["march"], "GET", "/v1/runs/anything", {"include_shadow": "maybe"})
    assert r.status_code == 404  # March has no include_shadow: ignored, then run not found
    r = _call(fakes["latest"], "GET", "/v1/agents/x/signals", {"failure_type": "tool-loop"})
    assert r.status_code == 422
    expected = "Invalid failure_type 'tool-loop' — expected an UPPER_SNAKE_CASE name. Known types: "
    assert r.json()["detail"].startswith(expected)
    assert "TOOL_LOOP, TOOL_THRASHING" in r.json()["detail"]
    r = _call(fakes["march"], "GET", "/v1/agents/x/signals", {"failure_type": "UNREAD_TOOL_ERROR"})
    assert r.status_code == 422  # not in the March allow-list


def test_unknown_agent_bodies(fakes) -> None:
    hs = _get(fakes["latest"], "/v1/agents/ghost/health-score")
    assert hs == {
        "agent_id": "ghost", "score": None, "components": {}, "sample_runs": 0, "baseline_ready": False,
    }
    ts = _get(fakes["latest"], "/v1/agents/ghost/token-stats")
    assert ts["agent_id"] == "ghost" and ts["windows"]["7d"]["total_tokens"] == 0
    zero = load_capture("march", "error-unknown-agent-insights.json")
    assert _get(fakes["march"], "/v1/agents/ghost/insights") == zero


# ── auth ────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("generation", GENERATIONS)
def test_auth(generation: str) -> None:
    fake = FakeApi(generation, api_key="dt_live_k")
    assert _call(fake, "GET", "/health").status_code == 200
    assert _call(fake, "GET", "/v1/agents").json() == {"detail": "Missing Authorization header"}
    assert _call(fake, "GET", "/v1/agents", headers={"Authorization": ""}).status_code == 401
    wrong = _call(fake, "GET", "/v1/runs/x", headers={"Authorization": "Bearer dt_live_nope"})
    assert (wrong.status_code, wrong.json()) == (401, {"detail": "Invalid or inactive API key"})
    for header in ("Bearer dt_live_k", "dt_live_k", "Token  dt_live_k ", "bearer dt_live_k"):
        assert _call(fake, "GET", "/v1/agents", headers={"Authorization": header}).status_code == 200
    # auth runs before query validation, routing before auth
    assert _call(fake, "GET", "/v1/agents", {"limit": "0"}).status_code == 401
    assert _call(fake, "GET", "/v1/nope").status_code == 404
    dev = FakeApi(generation)
    assert _call(dev, "GET", "/v1/agents", headers={"Authorization": "Bearer junk"}).status_code == 200


# ── fault injection, request log, latency ──────────────────────────────────


def test_fail_next_and_malformed_paths() -> None:
    fake = FakeApi("latest")
    fake.fail_next = [503, 429]
    r1 = _call(fake, "GET", "/v1/agents")
    r2 = _call(fake, "GET", "/health")
    r3 = _call(fake, "GET", "/v1/agents")
    assert (r1.status_code, r1.json()) == (503, {"detail": "Service Unavailable"})
    assert (r2.status_code, r2.headers["retry-after"]) == (429, "0")
    assert r3.status_code == 200 and fake.fail_next == []
    fake.malformed_paths = {"/v1/agents"}
    bad = _call(fake, "GET", "/v1/agents", {"limit": "2"})
    assert bad.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad.content)
    assert fake.requests == [
        ("GET", "/v1/agents", {}),
        ("GET", "/health", {}),
        ("GET", "/v1/agents", {}),
        ("GET", "/v1/agents", {"limit": "2"}),
    ]


def test_async_transport_sleeps_without_blocking() -> None:
    fake = FakeApi("latest", latency=0.1)

    async def main() -> list[int]:
        async with httpx.AsyncClient(transport=fake.transport(), base_url="http://fake") as client:
            rs = await asyncio.gather(*(client.get(f"/v1/agents/{a}/runs") for a in ["rag-agent"] * 10))
        return [r.json()["page"]["total"] for r in rs]

    assert asyncio.run(main()) == [20] * 10
    assert fake.max_in_flight == 10  # all ten slept at once: the latency does not block the loop
    assert len(fake.requests) == 10


# ── synthetic agents ───────────────────────────────────────────────────────


def test_extra_agents_are_unique_and_ordered() -> None:
    fake = FakeApi("latest", extra_agents=300)
    agents = _get(fake, "/v1/agents", limit=500)
    assert agents["page"]["total"] == 306
    ids = [a["agent_id"] for a in agents["agents"]]
    assert len(set(ids)) == 306 and "synthetic-agent-0007" in ids and "synthetic-agent-0299" in ids
    seen = [a["last_seen"] for a in agents["agents"]]
    assert seen == sorted(seen, reverse=True)

    run_ids = [r["run_id"] for rs in fake.data["runs"].values() for r in rs]
    assert len(run_ids) == len(set(run_ids)) == len(fake.data["run_details"]) == 104 * 51
    signal_ids = [s["id"] for ss in fake.data["signals"].values() for s in ss]
    assert len(signal_ids) == len(set(signal_ids)) == 96 * 51

    # synthetic-agent-0001 is a clone of langchain-example-agent
    clone = _get(fake, "/v1/agents/synthetic-agent-0001/runs", limit=500)["runs"]
    real = fake.data["runs"]["langchain-example-agent"]
    assert len(clone) == 40 and all(c["agent_id"] == "synthetic-agent-0001" for c in clone)
    assert [c["step_count"] for c in clone] == [r["step_count"] for r in real]
    assert [c["started_at"] for c in clone] == [r["started_at"] - 2.0 for r in real]
    looping = next(c for c in clone if c["signal_count"])
    detail = _get(fake, f"/v1/runs/{looping['run_id']}")
    assert detail["agent_id"] == "synthetic-agent-0001" and detail["events"]
    listed = _get(fake, "/v1/agents/synthetic-agent-0001/signals", limit=500)["signals"]
    assert {s["id"] for s in detail["signals"]} <= {s["id"] for s in listed}
    assert {s["run_id"] for s in listed} <= {c["run_id"] for c in clone}

    org = _get(fake, "/v1/runs", per_agent_limit=1, limit=500)
    assert org["page"]["total"] == 306
    times = [fake.data["_processed_at"][r["run_id"]] for r in org["runs"]]
    assert times == sorted(times, reverse=True)
    score = _get(fake, "/v1/agents/synthetic-agent-0004/health-score")  # a rag-agent clone
    assert (score["agent_id"], score["score"]) == ("synthetic-agent-0004", 22)


# ── real HTTP ───────────────────────────────────────────────────────────────


@pytest.mark.slow
def test_serve_over_loopback() -> None:
    fake = FakeApi("latest", api_key="k", latency=0.1)
    with serve(fake) as url:
        assert url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=url, headers={"Authorization": "Bearer k"}) as client:
            assert client.get("/health").json() == {"status": "ok", "version": "0.5.0", "db": "ok"}
            missing = client.get("/v1/runs/does-not-exist")
            assert missing.json() == load_capture("latest", "GET_v1_runs_does-not-exist.json")
            assert client.get("/v1/runs/abc%2Fdef").json() == {"detail": "Not Found"}
            r = client.post("/v1/signals", json={"x": 1})
            assert (r.status_code, r.headers["allow"]) == (405, "GET")
            body = client.get("/v1/runs", params={"limit": 5, "offset": 5}).json()
            assert body == load_capture("latest", "GET_v1_runs__limit-5_offset-5.json")

            def fetch(agent: str) -> int:
                return client.get(f"/v1/agents/{agent}/signals").status_code

            with ThreadPoolExecutor(8) as pool:
                codes = list(pool.map(fetch, [a["agent_id"] for a in fake.data["agents"]] + ["x", "y"]))
            assert codes == [200] * 8
            assert fake.max_in_flight > 1  # the server handles requests concurrently
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/health")


@pytest.mark.slow
def test_module_entry_point_serves() -> None:
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakeapi", "--generation", "march", "--extra-agents", "2"],
        cwd=root,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stderr.readline()
        url = line.rsplit(" ", 1)[-1].strip()
        assert url.startswith("http://127.0.0.1:")
        r = httpx.get(url + "/v1/agents", timeout=5)
        assert r.json()["page"]["total"] == 8
        assert httpx.get(url + "/v1/signals", timeout=5).status_code == 404
    finally:
        proc.terminate()
        proc.wait(timeout=5)
