"""Fidelity of the local Customer API (``dunetrace_cli.local.api``) against the real latest server.

The store is built directly with SQL from the data behind ``tests/data/real-api-latest`` (every run's
events, its processed_at/trigger, and the server's signals with their ids and detected_at), so this
tests the read side independently of ingest and detection. Every captured ``GET_*.json`` response
of the latest server is then requested from the local app and compared field by field.

What cannot match, and how it is compared instead (see docs/local-fidelity.md):

* Explainer prose (``title``/``what``/``why_it_matters``/``evidence_summary``/``suggested_fixes``):
  our templates are our own words, and the capture mostly shows the server's generic fallback.
  Only the keys, their types and the ``explain=false`` emptying are compared.
* Rows with equal ``detected_at`` (signals of one run, written in one detector pass) have no defined
  order on the server (Postgres returned them in different orders for different queries); the local
  store breaks the tie by id. Signal pages are compared as the same sequence of ``detected_at``
  values, with each tied group drawn from the same population, and every row identical to the
  server's row for that id.
* ``received_at`` is not in the dataset. The fixture uses the SDK timestamp, and gives each agent's
  newest event the captured ``last_seen``; that figure is therefore an input here, not a result.
  Token-stats windows and health-score token/latency windows use received_at, but every event of the
  capture lies well inside 1 day of the capture clock, so they are unaffected.
* ``processed_at`` is not returned by the server either; the dataset's ``_processed_at`` holds the
  exact value where the capture pins it (signals' detected_at, insights versions first/last_seen)
  and order-preserving estimates elsewhere. Orderings and per-version first/last_seen are compared.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from dunetrace_cli.local import aggregates
from dunetrace_cli.local.api import create_api_app
from dunetrace_cli.local.store import open_store

DATA = Path(__file__).resolve().parents[1] / "data"
LATEST = DATA / "real-api-latest"
CAPTURES = LATEST / "captures"
MARCH_CAPTURES = DATA / "real-api" / "captures"

PROSE_KEYS = ("title", "what", "why_it_matters", "evidence_summary", "suggested_fixes")

pytestmark = pytest.mark.skipif(not (LATEST / "dataset.json").exists(), reason="real-api-latest test data missing")


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _capture_clock() -> float:
    index = _load(CAPTURES / "index.json")
    return dt.datetime.fromisoformat(index["captured_at_utc"]).timestamp()


# ---------------------------------------------------------------------------------------------
# building the store from the captured dataset


def _estimate_processed_at(dataset: dict[str, Any]) -> dict[str, float]:
    """Fallback when the dataset has no ``_processed_at``: signals' detected_at where known, else
    completion + 2.5 s, forced strictly decreasing along each agent's (processed_at desc) run list."""
    known = {s["run_id"]: s["detected_at"] for ss in dataset["signals"].values() for s in ss}
    out: dict[str, float] = {}
    for runs in dataset["runs"].values():
        previous = float("inf")
        for r in runs:
            events = dataset["run_details"][r["run_id"]]["events"]
            guess = known.get(r["run_id"]) or (r["completed_at"] or max(e["timestamp"] for e in events)) + 2.5
            value = min(guess, previous - 0.001)
            out[r["run_id"]] = previous = value
    return out


def build_store(db_path: Path, dataset: dict[str, Any]) -> None:
    """Insert the dataset's events, runs and signals exactly as the local schema holds them."""
    processed_at = dataset.get("_processed_at") or _estimate_processed_at(dataset)
    last_seen = {a["agent_id"]: a["last_seen"] for a in dataset["agents"]}
    run_meta = {r["run_id"]: r for runs in dataset["runs"].values() for r in runs}
    signals = [s for ss in dataset["signals"].values() for s in ss]
    live_counts = Counter(s["run_id"] for s in signals if not s["shadow"])

    # the newest event of each agent was received at the captured last_seen; the rest at their SDK time
    newest: dict[str, tuple[float, str, int]] = {}
    for run_id, detail in dataset["run_details"].items():
        for i, e in enumerate(detail["events"]):
            key = (e["timestamp"], run_id, i)
            if detail["agent_id"] not in newest or key > newest[detail["agent_id"]]:
                newest[detail["agent_id"]] = key

    store = open_store(db_path)
    try:
        with store.write() as conn:
            for run_id, detail in dataset["run_details"].items():
                agent = detail["agent_id"]
                received = []
                for i, e in enumerate(detail["events"]):
                    at = last_seen[agent] if newest[agent] == (e["timestamp"], run_id, i) else e["timestamp"]
                    received.append(at)
                    conn.execute(
                        """
                        INSERT INTO events (event_id, run_id, agent_id, agent_version, event_type, step_index,
                                            timestamp, parent_run_id, payload, received_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                        (
                            f"{run_id}:{i}",
                            run_id,
                            agent,
                            detail["agent_version"],
                            e["event_type"],
                            e["step_index"],
                            e["timestamp"],
                            e["parent_run_id"],
                            json.dumps(e["payload"]),
                            at,
                        ),
                    )
                events = detail["events"]
                tool_steps = [e["step_index"] for e in events if e["event_type"] == "tool.called"]
                started = next((e["payload"] for e in events if e["event_type"] == "run.started"), {})
                input_text = started.get("input_text")
                meta = run_meta[run_id]
                conn.execute(
                    """
                    INSERT INTO runs (run_id, agent_id, agent_version, started_at, completed_at, first_received_at,
                                      last_received_at, event_count, max_step, processed_at, trigger, input_text,
                                      input_hash, first_tool_step, signal_count, has_started, processed_event_count)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    (
                        run_id,
                        agent,
                        detail["agent_version"],
                        meta["started_at"],
                        meta["completed_at"],
                        min(received),
                        max(received),
                        len(events),
                        max(e["step_index"] for e in events),
                        processed_at[run_id],
                        meta["exit_reason"],
                        input_text,
                        hashlib.md5(input_text.encode()).hexdigest() if input_text is not None else None,
                        min(tool_steps) if tool_steps else None,
                        live_counts[run_id],
                        int(bool(started)),
                        len(events),
                    ),
                )
            for s in signals:
                conn.execute(
                    """
                    INSERT INTO signals (id, run_id, agent_id, agent_version, failure_type, severity, step_index,
                                         confidence, evidence, detected_at, alerted, shadow, co_signal_count)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    (
                        s["id"],
                        s["run_id"],
                        s["agent_id"],
                        s["agent_version"],
                        s["failure_type"],
                        s["severity"],
                        s["step_index"],
                        s["confidence"],
                        json.dumps(s["evidence"]),
                        s["detected_at"],
                        int(s["alerted"]),
                        int(s["shadow"]),
                        s["co_signal_count"],
                    ),
                )
            aggregates.rebuild(conn)  # events written by plain SQL: the ingest-time aggregates from them
    finally:
        store.close()


@pytest.fixture(scope="module")
def dataset() -> dict[str, Any]:
    return _load(LATEST / "dataset.json")


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory, dataset: dict[str, Any]) -> Path:
    path = tmp_path_factory.mktemp("latest") / "local.db"
    build_store(path, dataset)
    return path


@pytest.fixture(scope="module")
def client(db_path: Path) -> TestClient:
    clock = _capture_clock()
    return TestClient(create_api_app(db_path, clock=lambda: clock))


# ---------------------------------------------------------------------------------------------
# comparison helpers


def _strip_prose(row: dict[str, Any], *, explained: bool = True) -> dict[str, Any]:
    """Drop the explainer prose after checking its keys and types (and the explain=false rule)."""
    for key in PROSE_KEYS:
        assert key in row, key
    assert isinstance(row["title"], str) and row["title"]
    assert isinstance(row["evidence_summary"], str)
    assert isinstance(row["what"], str) and isinstance(row["why_it_matters"], str)
    assert isinstance(row["suggested_fixes"], list)
    for fix in row["suggested_fixes"]:
        assert set(fix) == {"description", "language", "code"}
        assert all(isinstance(v, str) for v in fix.values())
    if not explained:
        assert row["what"] == "" and row["why_it_matters"] == "" and row["suggested_fixes"] == []
    return {k: v for k, v in row.items() if k not in PROSE_KEYS}


def _signal_population(dataset: dict[str, Any], query: dict[str, str], agent_id: str | None) -> list[dict[str, Any]]:
    """Every captured signal that the request's filters admit."""
    rows = [s for ss in dataset["signals"].values() for s in ss]
    agent = agent_id or query.get("agent_id")
    if agent is not None:
        rows = [s for s in rows if s["agent_id"] == agent]
    if query.get("include_shadow", "false").lower() not in ("true", "1"):
        rows = [s for s in rows if not s["shadow"]]
    if query.get("severity"):
        rows = [s for s in rows if s["severity"] == query["severity"].upper()]
    if query.get("failure_type"):
        rows = [s for s in rows if s["failure_type"] == query["failure_type"].upper()]
    return rows


def assert_signal_page(ours: dict, theirs: dict, dataset: dict, query: dict[str, str], agent_id: str | None) -> None:
    explained = query.get("explain", "true").lower() not in ("false", "0")
    assert ours["page"] == theirs["page"]
    assert [s["detected_at"] for s in ours["signals"]] == [s["detected_at"] for s in theirs["signals"]]
    population = _signal_population(dataset, query, agent_id)
    by_id = {s["id"]: s for s in population}
    tied: dict[float, set[int]] = {}
    for s in population:
        tied.setdefault(s["detected_at"], set()).add(s["id"])
    for row in ours["signals"]:
        assert row["id"] in tied[row["detected_at"]], "row outside the captured tie group"
        assert _strip_prose(row, explained=explained) == _strip_prose(by_id[row["id"]])
    for row in theirs["signals"]:
        _strip_prose(row, explained=explained)
    # no duplicates, and a tie group fully on the page holds the same rows as the server's
    assert len({s["id"] for s in ours["signals"]}) == len(ours["signals"])
    ours_by_ts = Counter(s["detected_at"] for s in ours["signals"])
    for ts, n in ours_by_ts.items():
        if n == len(tied[ts]) and "per_agent_limit" not in query:
            assert {s["id"] for s in ours["signals"] if s["detected_at"] == ts} == tied[ts]


def _canonical_insights(body: dict[str, Any]) -> dict[str, Any]:
    """Insights with the server's order-free ties put in a canonical order."""
    out = dict(body)
    out["failure_rates"] = sorted(
        body["failure_rates"], key=lambda r: (r["day"], -r["affected_runs"], r["failure_type"])
    )
    out["systemic_patterns"] = sorted(
        body["systemic_patterns"], key=lambda r: (-r["affected_runs"], r["failure_type"])
    )
    if body.get("cost_stats"):
        cost = dict(body["cost_stats"])
        cost["cost_by_failure_type"] = sorted(
            cost["cost_by_failure_type"], key=lambda r: (-r["wasted_usd"], r["failure_type"])
        )
        out["cost_stats"] = cost
    return out


def assert_insights(ours: dict, theirs: dict) -> None:
    # the server's ORDER BY clauses hold for our rows
    days = [r["day"] for r in ours["failure_rates"]]
    assert days == sorted(days, reverse=True)
    for a, b in zip(ours["failure_rates"], ours["failure_rates"][1:]):
        if a["day"] == b["day"]:
            assert a["affected_runs"] >= b["affected_runs"]
    affected = [r["affected_runs"] for r in ours["systemic_patterns"]]
    assert affected == sorted(affected, reverse=True)
    assert _canonical_insights(ours) == _canonical_insights(theirs)


def assert_token_stats(ours: dict, theirs: dict) -> None:
    waste = [r["wasted_cost_usd"] for r in ours["waste_by_failure_type"]]
    assert waste == sorted(waste, reverse=True)
    key = lambda r: (-r["wasted_cost_usd"], r["failure_type"])  # noqa: E731
    assert {**ours, "waste_by_failure_type": sorted(ours["waste_by_failure_type"], key=key)} == {
        **theirs,
        "waste_by_failure_type": sorted(theirs["waste_by_failure_type"], key=key),
    }


def assert_run_detail(ours: dict, theirs: dict) -> None:
    assert list(ours) == list(theirs)  # RunDetail field order
    assert {k: v for k, v in ours.items() if k != "signals"} == {k: v for k, v in theirs.items() if k != "signals"}
    order = [(s["shadow"], s["step_index"]) for s in ours["signals"]]
    assert order == sorted(order)

    def by_id(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:  # equal step_index: order left open
        return sorted((_strip_prose(s) for s in rows), key=lambda s: s["id"])

    assert by_id(ours["signals"]) == by_id(theirs["signals"])


# ---------------------------------------------------------------------------------------------
# every captured response of the latest server


def _captured_requests() -> list[dict[str, Any]]:
    if not (CAPTURES / "index.json").exists():
        return []
    return [r for r in _load(CAPTURES / "index.json")["requests"] if r["method"] == "GET"]


@pytest.mark.parametrize("req", _captured_requests(), ids=lambda r: r["file"].removesuffix(".json"))
def test_captured_response(client: TestClient, dataset: dict[str, Any], req: dict[str, Any]) -> None:
    theirs = _load(CAPTURES / req["file"])
    response = client.get(req["path"], params=req["query"])
    assert response.status_code == req["status"], response.text
    ours = response.json()
    path, query = req["path"], req["query"]
    parts = path.strip("/").split("/")

    if req["status"] != 200:
        assert ours == theirs
    elif path.endswith("/signals"):
        assert_signal_page(ours, theirs, dataset, query, parts[2] if parts[1] == "agents" else None)
    elif path.endswith("/insights"):
        assert_insights(ours, theirs)
    elif path.endswith("/token-stats"):
        assert_token_stats(ours, theirs)
    elif parts[:2] == ["v1", "runs"] and len(parts) == 3:
        assert_run_detail(ours, theirs)
    else:  # health, agents, run lists, health-score: byte-for-byte equal once parsed
        assert ours == theirs
        assert json.dumps(ours) == json.dumps(theirs) or path.endswith("/v1/agents")  # key order too


def test_every_capture_is_covered() -> None:
    files = {p.name for p in CAPTURES.glob("GET_*.json")}
    assert files == {r["file"] for r in _captured_requests()}
    assert len(files) >= 57


def test_health_scores_of_all_six_agents(client: TestClient) -> None:
    scores = {
        agent: client.get(f"/v1/agents/{agent}/health-score").json()["score"]
        for agent in (
            "langchain-example-agent",
            "support-agent-lc",
            "retry-agent",
            "clean-agent",
            "rag-agent",
            "onboarding-agent",
        )
    }
    assert scores == {
        "langchain-example-agent": 65,
        "support-agent-lc": 82,
        "retry-agent": 60,
        "clean-agent": 98,
        "rag-agent": 22,
        "onboarding-agent": None,
    }


def test_full_lists_match_the_dataset(client: TestClient, dataset: dict[str, Any]) -> None:
    """Beyond the captured pages: every agent's complete run list, and every agent's signals."""
    for agent, runs in dataset["runs"].items():
        body = client.get(f"/v1/agents/{agent}/runs", params={"limit": 500}).json()
        assert body["runs"] == runs
        assert body["page"] == {"total": len(runs), "offset": 0, "limit": 500, "has_more": False}
        signals = client.get(f"/v1/agents/{agent}/signals", params={"limit": 500}).json()
        assert_signal_page(
            signals,
            {"signals": dataset["signals"][agent], "page": signals["page"]},
            dataset,
            {"limit": "500"},
            agent,
        )
        assert signals["page"]["total"] == len(dataset["signals"][agent])
    for run_id, detail in dataset["run_details"].items():
        assert_run_detail(client.get(f"/v1/runs/{run_id}").json(), detail)


def test_agent_figures_match_dataset(client: TestClient, dataset: dict[str, Any]) -> None:
    agents = client.get("/v1/agents", params={"limit": 500}).json()["agents"]
    assert agents == dataset["agents"]
    for agent in agents:  # sparkline: today's bucket holds every signal (all detected on the capture day)
        assert agent["sparkline"] == ([0] * 6 + [agent["signal_count"]] if agent["signal_count"] else [])


# ---------------------------------------------------------------------------------------------
# errors: the March captures of the same FastAPI validation layer still describe the latest server


MARCH_ERRORS = [
    "error-runs-limit-0.json",
    "error-runs-limit-10000.json",
    "error-runs-limit-501.json",
    "error-runs-limit-abc.json",
    "error-runs-offset-negative.json",
    "error-runs-has_signals-maybe.json",
    "error-agents-limit-0.json",
    "error-agents-limit-10000.json",
    "error-signals-limit-0.json",
    "error-signals-limit-10000.json",
    "error-signals-severity-BOGUS.json",
    "error-unknown-run.json",
    "error-malformed-run-id.json",
    "error-run-id-encoded-slash.json",
    "error-not-found-path.json",
    "error-method-not-allowed-post-agents.json",
    "error-unknown-agent-runs.json",
    "error-unknown-agent-signals.json",
]


@pytest.mark.parametrize("name", MARCH_ERRORS)
def test_march_error_captures(client: TestClient, name: str) -> None:
    if not (MARCH_CAPTURES / "index.json").exists():
        pytest.skip("March captures missing")
    req = next(r for r in _load(MARCH_CAPTURES / "index.json")["requests"] if r.get("file") == name)
    url = req["path"]
    response = client.request(req["method"], url, params={k: str(v) for k, v in req["query"].items()})
    assert response.status_code == req["status"]
    assert response.json() == _load(MARCH_CAPTURES / name)


def test_unknown_agent_insights_has_the_latest_keys(client: TestClient) -> None:
    # The March capture lacks the I/L sections; the latest server adds them, empty.
    body = client.get("/v1/agents/nobody/insights").json()
    assert body == _load(CAPTURES / "GET_v1_agents_no-such-agent_insights.json")


def test_failure_type_is_validated_by_shape(client: TestClient) -> None:
    # Latest rule: known types or anything UPPER_SNAKE-shaped is accepted (case-insensitively) ...
    for value in ("BOGUS", "USER_DISSATISFACTION", "CUSTOM_MY_CHECK", "tool_loop"):
        response = client.get("/v1/agents/langchain-example-agent/signals", params={"failure_type": value})
        assert response.status_code == 200, value
    loops = client.get("/v1/agents/langchain-example-agent/signals", params={"failure_type": "tool_loop"}).json()
    assert loops["page"]["total"] == 13 and {s["failure_type"] for s in loops["signals"]} == {"TOOL_LOOP"}
    assert client.get("/v1/signals", params={"failure_type": "BOGUS"}).json()["page"]["total"] == 0
    # ... and a malformed name is a 422 with a string detail listing the known types.
    for value in ("tool-loop", "1ST", "TOOL__LOOP", "_X"):
        response = client.get("/v1/signals", params={"failure_type": value})
        assert response.status_code == 422, value
        detail = response.json()["detail"]
        expected = f"Invalid failure_type {value!r} — expected an UPPER_SNAKE_CASE name. Known types: "
        assert detail.startswith(expected)
        assert "TOOL_LOOP" in detail


def test_severity_filter_and_validation(client: TestClient) -> None:
    high = client.get("/v1/signals", params={"severity": "high", "limit": 500}).json()
    assert high["page"]["total"] == 23 + 14 + 1 + 1 and {s["severity"] for s in high["signals"]} == {"HIGH"}
    bad = client.get("/v1/agents/retry-agent/signals", params={"severity": "urgent"})
    assert bad.status_code == 422
    assert bad.json() == {"detail": "Invalid severity 'urgent'. Valid: ['CRITICAL', 'HIGH', 'LOW', 'MEDIUM']"}
    # severity is checked before failure_type, and only after the FastAPI-level validation
    both = client.get("/v1/signals", params={"severity": "x", "failure_type": "a-b", "limit": "0"})
    assert both.status_code == 422 and isinstance(both.json()["detail"], list)
    assert client.get("/v1/signals", params={"severity": "x", "failure_type": "a-b"}).json()["detail"].startswith(
        "Invalid severity 'x'"
    )


def test_several_validation_errors_are_reported_together(client: TestClient) -> None:
    params = {"offset": "-1", "limit": "abc", "has_signals": "maybe", "per_agent_limit": "0"}
    response = client.get("/v1/runs", params=params)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [d["loc"] for d in detail] == [
        ["query", "offset"],
        ["query", "limit"],
        ["query", "has_signals"],
        ["query", "per_agent_limit"],
    ]
    assert [d["type"] for d in detail] == ["greater_than_equal", "int_parsing", "bool_parsing", "greater_than_equal"]
    # include_shadow and explain are booleans too
    assert client.get("/v1/runs/x", params={"include_shadow": "nah"}).status_code == 422
    assert client.get("/v1/signals", params={"explain": "nah"}).json()["detail"][0]["loc"] == ["query", "explain"]
    # pydantic's lax booleans
    for value in ("1", "yes", "on", "T", "FALSE", "0"):
        assert client.get("/v1/signals", params={"explain": value}).status_code == 200, value


def test_unknown_params_are_ignored_and_auth_is_not_checked(client: TestClient) -> None:
    plain = client.get("/v1/agents").json()
    assert client.get("/v1/agents", params={"whatever": "1"}).json() == plain
    assert client.get("/v1/agents", headers={"Authorization": "Bearer dt_live_nope"}).json() == plain
    assert client.get("/v1/agents", headers={"Authorization": ""}).json() == plain


def test_method_and_path_errors(client: TestClient) -> None:
    for method in ("POST", "PUT", "DELETE", "HEAD"):
        response = client.request(method, "/v1/signals")
        assert response.status_code == 405
        if method != "HEAD":
            assert response.json() == {"detail": "Method Not Allowed"}
    for path in ("/v1/signals/1", "/v1/agents/x/nothing", "/v1", "/v1/runs/a/b"):  # fixes: routes_misc.py
        response = client.get(path)
        assert response.status_code == 404 and response.json() == {"detail": "Not Found"}, path
    assert client.get("/v1/runs/it's").json() == {"detail": "Run \"it's\" not found"}  # Python repr, as the server
    assert client.get("/v1/config").json() == {"github_configured": False}


def test_explain_true_gives_prose_for_every_row(client: TestClient) -> None:
    body = client.get("/v1/signals", params={"limit": 500}).json()
    assert body["page"]["total"] == 96
    for row in body["signals"]:
        _strip_prose(row)
        assert row["what"] and row["why_it_matters"] and row["suggested_fixes"]
    quiet = client.get("/v1/signals", params={"limit": 500, "explain": "false"}).json()
    assert [_strip_prose(r, explained=False) for r in quiet["signals"]] == [_strip_prose(r) for r in body["signals"]]
    assert [r["title"] for r in quiet["signals"]] == [r["title"] for r in body["signals"]]


def test_per_agent_limit_equals_per_agent_requests(client: TestClient, dataset: dict[str, Any]) -> None:
    for n in (1, 2, 3, 50):
        runs = client.get("/v1/runs", params={"per_agent_limit": n, "limit": 500}).json()
        expected = sorted(
            (r for agent in dataset["runs"] for r in dataset["runs"][agent][:n]),
            key=lambda r: -dataset["_processed_at"][r["run_id"]] if "_processed_at" in dataset else 0,
        )
        assert runs["page"]["total"] == len(expected)
        assert Counter(r["run_id"] for r in runs["runs"]) == Counter(r["run_id"] for r in expected)
        if "_processed_at" in dataset:
            assert runs["runs"] == expected
        # paging over the windowed set
        first = client.get("/v1/runs", params={"per_agent_limit": n, "limit": 3}).json()
        second = client.get("/v1/runs", params={"per_agent_limit": n, "limit": 3, "offset": 3}).json()
        assert first["runs"] + second["runs"] == runs["runs"][:6]
        assert first["page"]["total"] == second["page"]["total"] == len(expected)

        signals = client.get("/v1/signals", params={"per_agent_limit": n, "limit": 500, "explain": "false"}).json()
        per_agent = [
            client.get(f"/v1/agents/{agent}/signals", params={"limit": n, "explain": "false"}).json()["signals"]
            for agent in dataset["signals"]
        ]
        assert sorted(s["id"] for s in signals["signals"]) == sorted(s["id"] for rows in per_agent for s in rows)
        assert signals["page"]["total"] == sum(len(rows) for rows in per_agent)
    # with has_signals and agent_id
    params = {"agent_id": "retry-agent", "has_signals": "false", "per_agent_limit": 2}
    clean = client.get("/v1/runs", params=params).json()
    assert [r["run_id"][:8] for r in clean["runs"]] == ["2d6bbb11", "e502d11b"]


def test_has_signals_partitions_the_runs(client: TestClient, dataset: dict[str, Any]) -> None:
    for agent, runs in dataset["runs"].items():
        yes = client.get(f"/v1/agents/{agent}/runs", params={"has_signals": "true", "limit": 500}).json()
        no = client.get(f"/v1/agents/{agent}/runs", params={"has_signals": "false", "limit": 500}).json()
        assert yes["runs"] == [r for r in runs if r["has_signals"]]
        assert no["runs"] == [r for r in runs if not r["has_signals"]]
    every = client.get("/v1/runs", params={"limit": 500}).json()
    assert every["page"]["total"] == 104


def test_paging_is_consistent(client: TestClient) -> None:
    whole = client.get("/v1/runs", params={"limit": 500}).json()["runs"]
    pieces: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = client.get("/v1/runs", params={"limit": 7, "offset": offset}).json()
        pieces += page["runs"]
        assert page["page"]["has_more"] == (offset + 7 < 104)
        if not page["page"]["has_more"]:
            break
        offset += 7
    assert pieces == whole
    past = client.get("/v1/agents", params={"offset": 100}).json()
    assert past == {"agents": [], "page": {"total": 6, "offset": 100, "limit": 50, "has_more": False}}


def test_clock_moves_the_time_windows(db_path: Path) -> None:
    capture = _capture_clock()
    later = TestClient(create_api_app(db_path, clock=lambda: capture + 3 * 86400))
    retry = next(a for a in later.get("/v1/agents").json()["agents"] if a["agent_id"] == "retry-agent")
    assert retry["sparkline"] == [0, 0, 0, 26, 0, 0, 0]
    month = TestClient(create_api_app(db_path, clock=lambda: capture + 31 * 86400))
    assert month.get("/v1/agents/retry-agent/health-score").json() == {
        "agent_id": "retry-agent",
        "score": None,
        "components": {},
        "sample_runs": 0,
        "baseline_ready": False,
    }
    assert month.get("/v1/agents/retry-agent/token-stats").json()["windows"]["30d"]["run_count"] == 0
    retry = next(a for a in month.get("/v1/agents").json()["agents"] if a["agent_id"] == "retry-agent")
    assert retry["sparkline"] == []
    insights = month.get("/v1/agents/retry-agent/insights").json()
    assert insights["signal_trends"] == insights["failure_rates"] == insights["systemic_patterns"] == []
    assert insights["versions"][0]["run_count"] == 16  # versions and time_to_tool are not windowed
    assert insights["cost_stats"] is None


# ---------------------------------------------------------------------------------------------
# behaviour the captured data does not exercise: shadow signals, in-flight runs, inputs, deploys


@pytest.fixture()
def small_client(tmp_path: Path) -> TestClient:
    """A hand-made store: one processed run with a live and a shadow signal, one run still in flight."""
    path = tmp_path / "small.db"
    now = 1_800_000_000.0
    store = open_store(path)
    with store.write() as conn:
        def event(run: str, i: int, etype: str, step: int, payload: dict[str, Any], at: float) -> None:
            conn.execute(
                "INSERT INTO events (event_id, run_id, agent_id, agent_version, event_type, step_index, timestamp, "
                "payload, received_at) VALUES (?, ?, 'a1', 'v1', ?, ?, ?, ?, ?)",
                (f"{run}-{i}", run, etype, step, at, json.dumps(payload), at + 0.1),
            )

        for n, run in enumerate(("r1", "r2", "r3", "r4")):
            t = now - 3600 + n * 60
            event(run, 0, "run.started", 0, {"input_text": "same question", "model": "gpt-4o-mini"}, t)
            event(run, 1, "llm.called", 1, {"model": "gpt-4o-mini", "prompt_tokens": 100}, t + 1)
            responded = {"completion_tokens": 50, "prompt_tokens": 120, "latency_ms": 900}
            event(run, 2, "llm.responded", 1, responded, t + 2)
            event(run, 3, "tool.called", 2, {"tool_name": "search", "args": "{}"}, t + 3)
            processed = None if run == "r4" else t + 10
            conn.execute(
                "INSERT INTO runs (run_id, agent_id, agent_version, started_at, first_received_at, last_received_at, "
                "event_count, max_step, processed_at, trigger, input_text, input_hash, first_tool_step) "
                "VALUES (?, 'a1', 'v1', ?, ?, ?, 4, 2, ?, ?, 'same question', ?, 2)",
                (run, t, t + 0.1, t + 3.1, processed, None if processed is None else "stalled",
                 hashlib.md5(b"same question").hexdigest()),
            )
        insert_signal = (
            "INSERT INTO signals (id, run_id, agent_id, agent_version, failure_type, severity, step_index, "
            "confidence, evidence, detected_at, shadow) VALUES (?, 'r1', 'a1', 'v1', ?, ?, ?, ?, ?, ?, ?)"
        )
        conn.execute(insert_signal, (1, "TOOL_LOOP", "HIGH", 2, 0.9, '{"tool": "search"}', now - 3000, 0))
        conn.execute(insert_signal, (2, "SLOW_STEP", "CRITICAL", 1, 0.5, "{}", now - 2990, 1))
        conn.execute(
            "INSERT INTO deploy_events (agent_id, version, meta, deployed_at) VALUES ('a1', 'v2', ?, ?)",
            ('{"sha": "abc"}', now - 600),
        )
        aggregates.rebuild(conn)
    store.close()
    return TestClient(create_api_app(path, clock=lambda: now))


def test_shadow_signals(small_client: TestClient) -> None:
    agent = small_client.get("/v1/agents").json()["agents"][0]
    assert (agent["signal_count"], agent["critical_count"], agent["high_count"]) == (1, 0, 1)
    assert agent["failure_types"] == {"TOOL_LOOP": 1}
    assert [s["id"] for s in small_client.get("/v1/signals").json()["signals"]] == [1]
    with_shadow = small_client.get("/v1/agents/a1/signals", params={"include_shadow": "true"}).json()
    assert [(s["id"], s["shadow"]) for s in with_shadow["signals"]] == [(2, True), (1, False)]
    detail = small_client.get("/v1/runs/r1").json()
    assert [s["id"] for s in detail["signals"]] == [1]
    detail = small_client.get("/v1/runs/r1", params={"include_shadow": "true"}).json()
    assert [(s["id"], s["shadow"]) for s in detail["signals"]] == [(1, False), (2, True)]  # shadow last
    assert set(detail["signals"][0]) == {
        "id", "failure_type", "severity", "step_index", "confidence", "detected_at", "evidence", "shadow", *PROSE_KEYS
    }
    runs = small_client.get("/v1/runs").json()["runs"]
    assert next(r for r in runs if r["run_id"] == "r1")["signal_count"] == 1


def test_in_flight_runs_are_invisible_but_counted(small_client: TestClient) -> None:
    agent = small_client.get("/v1/agents").json()["agents"][0]
    assert agent["run_count"] == 4  # distinct runs seen, in flight included
    runs = small_client.get("/v1/agents/a1/runs").json()
    assert runs["page"]["total"] == 3 and "r4" not in {r["run_id"] for r in runs["runs"]}
    assert small_client.get("/v1/runs/r4").status_code == 404
    run = small_client.get("/v1/runs/r2").json()
    # exact llm.responded prompt tokens override the llm.called estimate; step_count is the max step
    figures = (run["total_tokens"], run["step_count"], run["exit_reason"], run["completed_at"])
    assert figures == (170, 2, "stalled", None)
    assert run["cost_usd"] == round((120 * 0.15 + 50 * 0.60) / 1e6, 6)
    assert runs["runs"][0]["total_tokens"] == 170


def test_inputs_deploys_and_health_on_small_store(small_client: TestClient) -> None:
    insights = small_client.get("/v1/agents/a1/insights").json()
    digest = hashlib.md5(b"same question").hexdigest()
    assert insights["input_patterns"] == [
        {"input_hash": digest, "failure_type": "TOOL_LOOP", "triggered_count": 1, "total_runs": 4, "rate": 0.25}
    ]
    assert insights["user_impact"] == [
        {"failure_type": "TOOL_LOOP", "affected_users": 1, "total_users": 1, "user_impact_rate": 1.0}
    ]
    assert insights["deploy_events"] == [
        {"id": 1, "version": "v2", "deployed_at": 1_800_000_000.0 - 600, "meta": {"sha": "abc"}}
    ]
    assert insights["deploy_regressions"] == []  # needs 3 runs on each side of the deploy
    assert insights["time_to_tool"]["p50"] == 2.0 and insights["time_to_tool"]["total_runs"] == 3
    health = small_client.get("/v1/agents/a1/health-score").json()
    assert health["sample_runs"] == 3 and health["components"]["failure_rate"]["value"] == 33.3
    assert health["components"]["token_efficiency"]["value"] == 110  # mean over called + responded events
    assert health["components"]["latency"]["value"] == 900
    assert health["score"] == 27 + 17 + 20 + 15


def test_store_that_cannot_be_opened(tmp_path: Path) -> None:
    app = create_api_app(tmp_path)  # a directory, not a database file
    client = TestClient(app)
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["db"] != "ok"
    response = client.get("/v1/agents")
    assert response.status_code == 503 and "directory" in response.json()["detail"]


def test_empty_store(tmp_path: Path) -> None:
    from dunetrace_cli.local.store import open_store

    open_store(tmp_path / "fresh.db").close()  # the API never creates a store; ingest does
    client = TestClient(create_api_app(tmp_path / "fresh.db"))
    assert client.get("/health").json() == {"status": "ok", "version": "0.5.0", "db": "ok"}
    empty_page = {"total": 0, "offset": 0, "limit": 50, "has_more": False}
    assert client.get("/v1/agents").json() == {"agents": [], "page": empty_page}
    assert client.get("/v1/runs", params={"per_agent_limit": 3}).json()["runs"] == []
    assert client.get("/v1/signals", params={"per_agent_limit": 3}).json()["signals"] == []
    zero = _load(CAPTURES / "GET_v1_agents_no-such-agent_token-stats.json")
    assert client.get("/v1/agents/x/token-stats").json() == {**zero, "agent_id": "x"}


def test_queries_use_indexes(db_path: Path) -> None:
    """No query of the read side walks a whole table it could reach through an index: list endpoints read
    one index range plus the page's rows, and per-run lookups inside aggregates go through run_id.
    (The 1M-event benchmark depends on it; only org-wide totals, which count every row, may scan.)"""
    from dunetrace_cli.local import readqueries as rq
    from dunetrace_cli.local import readqueries_health as rh
    from dunetrace_cli.local import readqueries_insights as ri
    from dunetrace_cli.local import readqueries_tokens as rt

    now = _capture_clock()
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    traced: list[str] = []
    conn.set_trace_callback(traced.append)
    rq.list_agents(conn, now=now, offset=0, limit=50)
    for agent in (None, "retry-agent"):
        for has_signals in (None, True, False):
            rq.list_runs(conn, agent_id=agent, offset=0, limit=50, has_signals=has_signals)
            rq.list_runs(conn, agent_id=agent, offset=0, limit=50, has_signals=has_signals, per_agent_limit=2)
        for severity, failure_type in ((None, None), ("HIGH", None), (None, "TOOL_LOOP"), ("HIGH", "TOOL_LOOP")):
            rq.list_signals(conn, agent_id=agent, offset=0, limit=50, severity=severity, failure_type=failure_type)
            rq.list_signals(conn, agent_id=agent, offset=0, limit=50, severity=severity, per_agent_limit=2)
    rq.run_detail(conn, "f32094eb-c4aa-4cff-abd9-932921edb15c", include_shadow=True)
    rh.health_score(conn, "retry-agent", now=now)
    rt.token_stats(conn, "retry-agent", now=now)
    ri.insights(conn, "retry-agent", now=now)
    conn.set_trace_callback(None)
    assert len(traced) > 40
    for sql in set(traced):
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
        for line in plan:
            if line.startswith("SCAN ") and line.split()[1] in ("events", "runs", "signals", "e", "r", "s"):
                if " USING " in line and "LIMIT" in sql:
                    continue  # an ordered index walk that stops after the page
                # an org-wide total must visit every row anyway; nothing else may scan
                assert sql.lstrip().startswith("SELECT COUNT(*) FROM") and "agent_id" not in sql, (sql, plan)
        for before, line in zip(plan, plan[1:]):
            if before.startswith("CORRELATED") or line.endswith("LEFT-JOIN"):
                assert "USING" in line, (sql, plan)
            if line.startswith("SEARCH s ") and "agent_id" in line and "run_id" not in line:
                # per-run probes into signals must use (run_id, failure_type), not the agent's whole range
                assert not before.startswith("CORRELATED") and not line.endswith("LEFT-JOIN"), (sql, plan)
    conn.close()
