"""`dunetrace export`: files from both servers and the local store, private modes, CSV, resuming, errors."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from dunetrace_cli.queries.export import export_row, window_signals
from tests.cli._helpers import failed
from tests.conftest import FIXED_NOW
from tests.fakeapi import FakeApi

SDK_EVENTS = Path(__file__).resolve().parent.parent / "data" / "sdk-events"


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("gen", ["latest", "march"])
def test_export_ndjson(cli, tmp_path: Path, gen: str) -> None:
    out = tmp_path / "dump"
    data = cli.fake(gen).data
    result = cli("export", "retry-agent", "--to", str(out), "--since", "30d", "--json", gen=gen)
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    runs = lines(out / "runs.ndjson")
    assert [r["run_id"] for r in runs] == [r["run_id"] for r in data["runs"]["retry-agent"]]
    details = lines(out / "run-details.ndjson")
    assert [d["run_id"] for d in details] == [r["run_id"] for r in runs]
    stored = data["run_details"][runs[0]["run_id"]]
    assert details[0]["events"] == stored["events"] and details[0]["events"]
    signals = lines(out / "signals.ndjson")
    live = [s for s in data["signals"]["retry-agent"] if not s.get("shadow")]
    assert sorted(s["id"] for s in signals) == sorted(s["id"] for s in live)
    assert all(s["detected_at"].endswith("Z") and set(s) == {
        "id", "failure_type", "severity", "run_id", "agent_id", "agent_version", "step_index", "confidence",
        "detected_at", "evidence"} for s in signals)
    assert summary["files"] == {"runs.ndjson": len(runs), "signals.ndjson": len(signals), "run-details.ndjson": len(runs)}
    assert summary["signals_source"] == "list"
    assert mode(out) == 0o700
    assert {mode(p) for p in out.iterdir()} == {0o600}


def test_export_csv(cli, tmp_path: Path) -> None:
    out = tmp_path / "csv"
    result = cli("export", "langchain-example-agent", "--to", str(out), "--format", "csv", "--since", "7d")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"exported langchain-example-agent to {out}: ")
    runs = list(csv.DictReader(io.StringIO((out / "runs.csv").read_text())))
    signals = list(csv.DictReader(io.StringIO((out / "signals.csv").read_text())))
    data = cli.fake("latest").data
    assert len(runs) == len(data["runs"]["langchain-example-agent"])
    assert runs[0]["run_id"] == data["runs"]["langchain-example-agent"][0]["run_id"]
    assert json.loads(signals[0]["evidence"]) is not None  # nested values as JSON text
    assert (out / "run-details.ndjson").exists()


def test_since_window_keeps_only_newer(cli, tmp_path: Path) -> None:
    data = cli.fake("latest").data
    times = sorted((r["completed_at"] or r["started_at"]) for r in data["runs"]["retry-agent"])
    minutes = int((FIXED_NOW - times[len(times) // 2]) // 60)
    out = tmp_path / "w"
    cli("export", "retry-agent", "--to", str(out), "--since", f"{minutes}m")
    kept = lines(out / "runs.ndjson")
    cutoff = FIXED_NOW - minutes * 60
    assert 0 < len(kept) < len(times)
    assert all((r["completed_at"] or r["started_at"]) >= cutoff for r in kept)


def test_resume_after_an_interruption(cli, tmp_path: Path) -> None:
    fake = cli.fake("latest")
    runs = fake.data["runs"]["retry-agent"]
    broken = f"/v1/runs/{runs[-1]['run_id']}"  # the last run's detail fails: the export stops there
    fake.malformed_paths.add(broken)
    out = tmp_path / "resume"
    first = cli("export", "retry-agent", "--to", str(out), "--since", "30d")
    assert first.exit_code == 5 and "malformed" in first.stderr
    state = json.loads((out / "export.json").read_text())
    assert state["done"] == ["runs", "signals"]
    written = {d["run_id"] for d in lines(out / "run-details.ndjson")}
    assert written and runs[-1]["run_id"] not in written
    with open(out / "run-details.ndjson", "ab") as fh:  # a write cut off mid-line
        fh.write(b'{"run_id": "half')
    fake.malformed_paths.clear()
    before = len(fake.requests)
    again = cli("export", "retry-agent", "--to", str(out), "--since", "30d", "--json")
    assert again.exit_code == 0, again.stderr
    fetched = [p for _, p, _ in fake.requests[before:] if p.startswith("/v1/runs/")]
    assert sorted(fetched) == sorted(f"/v1/runs/{r['run_id']}" for r in runs if r["run_id"] not in written)
    assert json.loads(again.stdout)["resumed"] is True
    assert [d["run_id"] for d in lines(out / "run-details.ndjson")] == [
        *[r["run_id"] for r in runs if r["run_id"] in written], *[r["run_id"] for r in runs if r["run_id"] not in written]]


def test_from_the_local_store(invoke, tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    assert invoke(["local", "ingest", "--db", str(db), str(SDK_EVENTS / "events-mixed.jsonl")]).exit_code == 0
    out = tmp_path / "local-out"
    result = invoke(["export", "web-researcher", "--to", str(out), "--since", "3650d", "--json"],
                    env={"DUNETRACE_API_URL": f"local:{db}"})
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["files"]["runs.ndjson"] == 19 == summary["files"]["run-details.ndjson"]
    assert summary["files"]["signals.ndjson"] > 0


@pytest.mark.parametrize(("setup", "args", "code", "needle"), [
    ("file", [], 2, "is a file"),
    ("other", [], 2, "holds no export"),
    ("none", ["--format", "xml"], 2, "invalid --format 'xml'"),
    ("none", ["--since", "later"], 2, "invalid --since"),
])
def test_errors(cli, tmp_path: Path, setup: str, args: list[str], code: int, needle: str) -> None:
    out = tmp_path / "d"
    if setup == "file":
        out.write_text("x")
    elif setup == "other":
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    assert needle in failed(cli("export", "retry-agent", "--to", str(out), *args), code)


def test_unknown_agent_and_other_agents_dir(cli, tmp_path: Path) -> None:
    assert "no agent 'ghost'" in failed(cli("export", "ghost", "--to", str(tmp_path / "g")), 4)
    out = tmp_path / "x"
    assert cli("export", "clean-agent", "--to", str(out)).exit_code == 0
    assert "holds an export of 'clean-agent'" in failed(cli("export", "rag-agent", "--to", str(out)), 2)


def test_signal_export_route_is_used_where_present(make_fake, api_client) -> None:
    fake: FakeApi = make_fake("latest")
    rows = [export_row(s) for s in fake.data["signals"]["rag-agent"] if not s.get("shadow")]
    seen: list[dict[str, str]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/agents/rag-agent/signals/export":
            seen.append(dict(request.url.params))
            body = "".join(json.dumps(r) + "\n" for r in rows)
            return httpx.Response(200, text=body, headers={"content-type": "application/x-ndjson"})
        return await fake.ahandle(request)

    async def run() -> tuple[list[dict[str, Any]], str]:
        async with api_client(transport=httpx.MockTransport(handler)) as client:
            return await window_signals(client, "rag-agent", FIXED_NOW - 86400)

    got, source = asyncio.run(run())
    assert source == "export" and got == rows
    assert seen == [{"format": "ndjson", "include_shadow": "false", "from": "2026-11-23T12:50:47Z"}]
