"""Fuzzing the ingest body and the JSONL reader: a bad input gets a clear 4xx or a skipped-line report,
never a 500, a crash or a half-written batch."""

from __future__ import annotations

import json
import re
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from dunetrace_cli.local.ingest import LineProblem
from dunetrace_cli.local.load import NothingReadable, ingest_sources
from dunetrace_cli.local.server import create_ingest_app
from dunetrace_cli.local.store import open_store

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["run.started", "llm.called", "run.completed", "tool.responded", "", "\ud800", "x" * 2000]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12,
)

good_event = st.fixed_dictionaries(
    {
        "event_type": st.sampled_from(["run.started", "llm.called", "tool.called", "run.completed", "memory.read"]),
        "run_id": st.sampled_from(["r1", "r2", str(uuid.uuid4())]),
        "agent_id": st.sampled_from(["a", "b"]),
        "agent_version": st.just("v1"),
        "step_index": st.integers(min_value=0, max_value=50),
        "timestamp": st.floats(min_value=1e9, max_value=2e9),
        "payload": st.dictionaries(st.text(max_size=8), json_scalars, max_size=3),
        "event_id": st.uuids().map(str),
    }
)


@st.composite
def mutated_event(draw):
    event = dict(draw(good_event))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        key = draw(st.sampled_from(sorted(event) + ["parent_run_id", "trace_id", "conversation_id", "extra"]))
        if draw(st.booleans()):
            event.pop(key, None)
        else:
            event[key] = draw(json_values)
    return event


bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"api_key": st.one_of(st.just(""), json_scalars), "agent_id": st.one_of(st.just("a"), json_scalars),
         "events": st.one_of(st.lists(mutated_event(), max_size=6), json_values)},
    ),  # fmt: skip
)


@pytest.fixture(scope="module")
def client():
    tmp = tempfile.mkdtemp()
    store = open_store(Path(tmp) / "fuzz.db")
    with TestClient(create_ingest_app(store), raise_server_exceptions=True) as c:
        c.store = store  # type: ignore[attr-defined]
        yield c
    store.close()


def _check(resp, events_before: int, store) -> None:
    assert resp.status_code in (202, 400, 413, 422), resp.text
    body = resp.json()
    if resp.status_code == 202:
        assert body["accepted"] >= 1
    else:
        assert "detail" in body and body["detail"]
        # nothing of a rejected batch was written
        assert store.conn().execute("SELECT COUNT(*) FROM events").fetchone()[0] == events_before


@FUZZ
@given(body=bodies)
def test_ingest_body_fuzz(client, body) -> None:
    store = client.store
    before = store.conn().execute("SELECT COUNT(*) FROM events").fetchone()[0]
    try:
        raw = json.dumps(body).encode("utf-8", "surrogatepass")
    except (ValueError, UnicodeEncodeError):
        return
    _check(client.post("/v1/ingest", content=raw, headers={"Content-Type": "application/json"}), before, store)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(lambda s: s.encode("utf-8", "surrogatepass"))))
def test_ingest_raw_bytes_fuzz(client, raw: bytes) -> None:
    store = client.store
    before = store.conn().execute("SELECT COUNT(*) FROM events").fetchone()[0]
    _check(client.post("/v1/ingest", content=raw), before, store)


def test_deeply_nested_body(client) -> None:
    deep = b'{"agent_id": "a", "events": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
    r = client.post("/v1/ingest", content=deep)
    assert r.status_code == 422


line_text = st.one_of(
    good_event.map(json.dumps),
    mutated_event().map(lambda e: json.dumps(e)),
    st.text(max_size=80),
    json_values.map(lambda v: json.dumps(v)),
)


@FUZZ
@given(lines=st.lists(st.one_of(line_text.map(lambda s: s.encode("utf-8", "surrogatepass")), st.binary(max_size=60)), max_size=12))
def test_jsonl_reader_fuzz(tmp_path_factory, lines: list[bytes]) -> None:
    folder = tmp_path_factory.mktemp("jsonl")
    src = folder / "in.jsonl"
    data = b"\n".join(lines)
    src.write_bytes(data)
    store = open_store(folder / "s.db")
    problems: list[LineProblem] = []
    try:
        summary = ingest_sources(store, [str(src)], report=problems.append, finalize_stalled=True)
    except NothingReadable as exc:  # every line rejected: a usage error (exit 2) that says what was read
        summary = exc.summary
        assert summary.events_rejected == summary.lines > 0 and "JSON Lines" in exc.message
    finally:
        store.close()
    pattern = re.compile(re.escape(str(src)) + r":\d+: .+")
    for p in problems:
        assert pattern.fullmatch(str(p).replace("\n", " ")), str(p)
    non_blank = sum(1 for line in data.split(b"\n") if line.strip())
    total = data.count(b"\n") + 1
    assert summary.events_rejected == len(problems)
    assert summary.events_rejected <= summary.lines <= non_blank
    assert all(1 <= p.line <= total for p in problems)
