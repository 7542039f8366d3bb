"""`dunetrace local ingest|status|reset|export`, in process (`dunetrace demo`: test_demo.py)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import httpx
import pytest

from dunetrace_cli.local.export import export_events
from dunetrace_cli.local.ingest import validate_batch, write_events
from dunetrace_cli.local.store import open_store


def _json(result) -> dict:
    return json.loads(result.stdout)


def test_ingest_summary_and_idempotence(invoke, sdk_events: Path, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    src = sdk_events / "events-mixed.jsonl"
    r = invoke(["local", "ingest", src, "--db", db, "--json"])
    assert r.exit_code == 0, r.stderr
    s = _json(r)
    assert (s["events_new"], s["events_duplicate"], s["events_rejected"]) == (648, 0, 0)
    # the file's own clock: its two unfinished runs went silent long ago, so they are analysed as stalled
    assert (s["runs_completed"], s["runs_stalled"], s["runs_pending"], s["signals_found"]) == (51, 2, 0, 36)
    r = invoke(["local", "ingest", src, "--db", db, "--json", "--finalize-stalled"])
    s = _json(r)
    assert (s["events_new"], s["events_duplicate"], s["runs_stalled"], s["runs_pending"]) == (0, 648, 0, 0)
    r = invoke(["local", "ingest", src, "--db", db])
    assert r.exit_code == 0 and "0 new, 648 duplicate, 0 rejected" in r.stdout


def test_malformed_lines_are_reported_and_skipped(invoke, sdk_events: Path, tmp_path: Path) -> None:
    lines = (sdk_events / "scenario-h-parent-child.jsonl").read_text().splitlines()
    bad = tmp_path / "mixed.jsonl"
    bad.write_bytes(
        (lines[0] + "\n" + "{not json\n" + "\n" + '{"event_type": "run.started"}\n' + "[1, 2]\n").encode()
        + b"\xff\xfe broken utf8\n"
        + ("\n".join(lines[1:]) + "\n" + lines[2][: len(lines[2]) // 2]).encode()  # a torn last line
    )
    db = tmp_path / "s.db"
    r = invoke(["local", "ingest", bad, "--db", db, "--json"])
    assert r.exit_code == 0
    s = _json(r)
    assert s["events_new"] == len(lines) and s["events_rejected"] == 5
    err = r.stderr
    assert f"{bad}:2: invalid JSON" in err
    assert f"{bad}:4: run_id: Field required" in err
    assert f"{bad}:5: expected a JSON object" in err
    assert f"{bad}:6: not valid UTF-8" in err
    assert f"{bad}:{len(lines) + 6}: invalid JSON" in err
    assert "Traceback" not in err


def test_gzip_stdin_and_other_sdk_line_formats(invoke, sdk_events: Path, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    gz = tmp_path / "events.jsonl.gz"
    gz.write_bytes(gzip.compress((sdk_events / "scenario-h-parent-child.jsonl").read_bytes()))
    r = invoke(["local", "ingest", gz, "--db", db, "--json"])
    assert r.exit_code == 0 and _json(r)["events_new"] > 0 and _json(r)["events_rejected"] == 0
    # ConsoleBatchingEmitter output, through stdin
    console = (sdk_events / "stdout-console-emitter.ndjson").read_text()
    r = invoke(["local", "ingest", "-", "--db", db, "--json"], input=console)
    assert r.exit_code == 0 and _json(r)["events_new"] == len(console.splitlines())
    # emit_as_json (Loki-style) lines: ids are minted from the line, so a re-ingest is idempotent
    loki = sdk_events / "stdout-emit-as-json.ndjson"
    n = len(loki.read_text().splitlines())
    first = _json(invoke(["local", "ingest", loki, "--db", db, "--json"]))
    second = _json(invoke(["local", "ingest", loki, "--db", db, "--json"]))
    assert (first["events_new"], second["events_duplicate"], first["runs_completed"]) == (n, n, 1)


def test_ingest_usage_errors(invoke, tmp_path: Path) -> None:
    r = invoke(["local", "ingest", tmp_path / "missing.jsonl", "--db", tmp_path / "s.db"])
    assert r.exit_code == 2 and "No such file" in r.stderr
    r = invoke(["local", "ingest", tmp_path, "--db", tmp_path / "s.db"])
    assert r.exit_code == 2 and "is a directory" in r.stderr


def test_status_and_reset(invoke, sdk_events: Path, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    r = invoke(["local", "status", "--db", db])
    assert r.exit_code == 4 and "No local store" in r.stderr
    invoke(["local", "ingest", sdk_events / "scenario-a-looping.jsonl", "--db", db])
    r = invoke(["local", "status", "--db", db, "--json"])
    info = _json(r)
    assert info["events"] == 28 and info["runs"] == 1 and info["agents"] == 1 and info["signals"] == 1
    assert info["size_bytes"] > 0 and info["newest_event_at"] > 1.7e9
    r = invoke(["local", "status"], env={"DUNETRACE_API_URL": f"local:{db}"})
    assert r.exit_code == 0 and "Events" in r.stdout and str(db) in r.stdout
    r = invoke(["local", "reset", "--db", db])  # no TTY, no --yes: refuse
    assert r.exit_code == 2 and "--yes" in r.stderr and db.exists()
    Path(f"{db}-intake").write_bytes(b"")  # what `local serve` leaves next to it
    r = invoke(["local", "reset", "--db", db, "--yes"])
    assert r.exit_code == 0 and not db.exists() and not Path(f"{db}-wal").exists()
    assert not Path(f"{db}-intake").exists()
    r = invoke(["local", "reset", "--db", db, "--yes"])
    assert r.exit_code == 0 and "Nothing to delete" in r.stdout


def test_export_round_trip(store, sdk_events: Path, tmp_path: Path) -> None:
    from dunetrace_cli.local.ingest import parse_line

    for line in (sdk_events / "events-mixed.jsonl").read_text().splitlines():
        write_events(store, parse_line(line))
    target = open_store(tmp_path / "target.db")
    seen: list[int] = []
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 2:
            return httpx.Response(503, headers={"Retry-After": "0"}, json={"detail": "busy"})
        body = json.loads(request.content)
        assert request.url.path == "/v1/ingest" and body["api_key"] == "k" and len(body["events"]) <= 500
        assert request.headers["authorization"] == "Bearer k"
        seen.append(len(body["events"]))
        write_events(target, validate_batch(body))
        return httpx.Response(202, json={"accepted": len(body["events"])})

    summary = export_events(
        store, "http://up.test:8001/", api_key="k", transport=httpx.MockTransport(handler), sleep=lambda s: None
    )
    assert (summary.events_sent, summary.batches_sent, summary.retries) == (648, 2, 1)
    assert seen == [500, 148]
    a = [tuple(r) for r in store.conn().execute("SELECT event_id, payload FROM events ORDER BY seq")]
    b = [tuple(r) for r in target.conn().execute("SELECT event_id, payload FROM events ORDER BY seq")]
    assert a == b  # same events, same order
    target.close()


def test_export_errors_map_to_exit_codes(invoke, sdk_events: Path, tmp_path: Path, monkeypatch) -> None:
    from tests.faultserver import refused_url

    db = tmp_path / "s.db"
    invoke(["local", "ingest", sdk_events / "scenario-a-looping.jsonl", "--db", db])
    r = invoke(["local", "export", "--db", db, "--to", refused_url()])
    assert r.exit_code == 5 and "Dunetrace ingest API unreachable at" in r.stderr and "--to" in r.stderr
    r = invoke(["local", "export", "--db", db, "--to", "ftp://x"])
    assert r.exit_code == 2

    def rejecting(status: int):
        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(status, json={"detail": "Invalid or inactive API key"})

        return httpx.MockTransport(handler)

    from dunetrace_cli.errors import AuthError, NotFound, UsageError

    s = open_store(db)
    for status, exc in ((401, AuthError), (404, NotFound), (422, UsageError)):
        with pytest.raises(exc):
            export_events(s, "http://x.test", transport=rejecting(status), sleep=lambda _s: None)
    s.close()


def test_control_characters_in_agent_ids_and_tool_names_are_rejected_with_the_line(
    invoke, sdk_events: Path, tmp_path: Path
) -> None:
    lines = (sdk_events / "scenario-a-looping.jsonl").read_text().splitlines()
    hostile = []
    for bad in ("nul\u0000agent\u001b[2J", "evil\u202eagent", "c1\u009bagent"):
        hostile.append(json.dumps(dict(json.loads(lines[0]), agent_id=bad, event_id=f"x-{len(hostile)}")))
    tool = next(json.loads(x) for x in lines if '"tool.called"' in x)
    tool["payload"]["tool_name"] = "web\u001b]0;pwned\u0007search"
    tool["event_id"] = "x-tool"
    src = tmp_path / "hostile.jsonl"
    src.write_text("\n".join([*lines, *hostile, json.dumps(tool)]) + "\n")
    r = invoke(["local", "ingest", src, "--db", tmp_path / "s.db", "--json"])
    assert r.exit_code == 0
    s = _json(r)
    assert (s["events_new"], s["events_rejected"]) == (len(lines), 4)
    n = len(lines)
    assert f"{src}:{n + 1}: agent_id: agent_id contains the control character U+0000" in r.stderr
    assert f"{src}:{n + 2}: agent_id: agent_id contains the control character U+202E" in r.stderr
    assert f"{src}:{n + 3}: agent_id: agent_id contains the control character U+009B" in r.stderr
    assert f"{src}:{n + 4}: payload.tool_name: tool_name contains the control character U+001B" in r.stderr
    # the same rule over HTTP: a 422
    with pytest.raises(Exception) as info:
        validate_batch({"agent_id": "a", "events": [json.loads(hostile[1])]})
    assert info.value.errors[0]["type"] == "string_pattern_mismatch"  # type: ignore[attr-defined]


def test_a_pretty_printed_json_file_is_one_sentence_and_exit_2(invoke, sdk_events: Path, tmp_path: Path) -> None:
    events = [json.loads(x) for x in (sdk_events / "scenario-b-clean.jsonl").read_text().splitlines()]
    pretty = tmp_path / "events.json"
    pretty.write_text(json.dumps(events, indent=2))
    r = invoke(["local", "ingest", pretty, "--db", tmp_path / "s.db"])
    assert r.exit_code == 2
    last = r.stderr.strip().splitlines()[-1]
    assert "looks like one pretty-printed JSON document" in last and "expects JSON Lines" in last
    assert "Traceback" not in r.stderr
