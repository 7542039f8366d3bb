"""`--follow`: only new rows, oldest first, NDJSON under --json, back-off on outages, fatal errors end it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from dunetrace_cli.cli.follow import follow, run_follow
from dunetrace_cli.errors import ApiUnavailable, AuthError
from dunetrace_cli.queries.runs import list_runs
from dunetrace_cli.queries.signals import search_signals
from tests.conftest import settings_for
from tests.fakeapi import FakeApi


def _inject_signals(fake: FakeApi, agent: str, count: int, *, start_id: int) -> list[int]:
    """New signals for ``agent``, newer than anything stored, copied from its newest real one."""
    rows = fake.data["signals"][agent]
    template = max(rows, key=lambda s: s["detected_at"])
    newest = max(s["detected_at"] for ss in fake.data["signals"].values() for s in ss)
    new = [{**template, "id": start_id + i, "detected_at": newest + 1 + i} for i in range(count)]
    fake.data["signals"] = {**fake.data["signals"], agent: [*reversed(new), *rows]}
    fake._index()
    return [s["id"] for s in new]


def _inject_runs(fake: FakeApi, agent: str, count: int) -> list[str]:
    rows = fake.data["runs"][agent]
    new = [{**rows[0], "run_id": f"00000000-0000-4000-8000-{i:012d}"} for i in range(count)]
    fake.data["runs"] = {**fake.data["runs"], agent: [*reversed(new), *rows]}
    return [r["run_id"] for r in new]


@pytest.mark.parametrize("gen", ["latest", "march"])
def test_signals_follow_prints_only_new_rows(served, capsys, gen: str) -> None:
    url, fake = served(gen)
    injected: list[list[int]] = []
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:  # between polls, new signals arrive
        sleeps.append(seconds)
        if len(injected) < 2:
            base = 9_000_000 + 100 * len(injected)
            injected.append(_inject_signals(fake, "retry-agent", 3 if not injected else 1, start_id=base))

    run_follow(settings_for(url), search_signals, {"limit": 5}, op="signals", as_json=True, interval=2,
               polls=3, sleep=sleep)
    out = capsys.readouterr()
    rows = [json.loads(line) for line in out.out.splitlines()]
    newest_stored = sorted((s for ss in fake.data["signals"].values() for s in ss if not s.get("shadow")
                            and s["id"] < 9_000_000), key=lambda s: (s["detected_at"], s["id"]), reverse=True)
    first = [r["id"] for r in rows[:5]]
    assert sorted(first) == sorted(s["id"] for s in newest_stored[:5])
    assert [r["id"] for r in rows[5:]] == injected[0] + injected[1]  # oldest first, each once
    assert sleeps == [2, 2]
    assert out.err == ""


def test_a_burst_bigger_than_the_window_is_printed_whole(served, capsys) -> None:
    url, fake = served("latest")
    burst: list[int] = []

    async def sleep(seconds: float) -> None:
        if not burst:
            burst.extend(_inject_signals(fake, "rag-agent", 12, start_id=8_000_000))

    run_follow(settings_for(url), search_signals, {"agent_id": "rag-agent", "limit": 3}, op="signals",
               as_json=True, interval=1, polls=2, sleep=sleep)
    ids = [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()]
    assert ids[3:] == burst  # all 12, although one poll asks for 3 at first


def test_runs_follow_plain_lines(served, capsys) -> None:
    url, fake = served("latest")
    added: list[str] = []

    async def sleep(seconds: float) -> None:
        if not added:
            added.extend(_inject_runs(fake, "clean-agent", 2))

    run_follow(settings_for(url), list_runs, {"agent_id": "clean-agent", "limit": 1}, op="runs", as_json=False,
               interval=1, polls=2, sleep=sleep)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert [line.split("  ")[1] for line in lines[1:]] == added
    assert "clean-agent" in lines[0] and "steps" in lines[0]


def test_outage_backs_off_with_a_note_then_recovers(served, capsys) -> None:
    url, fake = served("latest")
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 1:
            fake.fail_next.extend([503] * 9)  # three polls' worth of retries (3 attempts each)

    run_follow(settings_for(url), search_signals, {"agent_id": "retry-agent", "limit": 2}, op="signals",
               as_json=True, interval=1, polls=5, sleep=sleep)
    out = capsys.readouterr()
    assert sleeps[:4] == [1, 2, 4, 8]
    assert out.err.count("Retrying in") == 3 and "the API answers again" in out.err
    assert len(out.out.splitlines()) == 2


def test_a_bad_key_ends_the_loop(served) -> None:
    url, _ = served("latest", api_key="dt_live_right")
    with pytest.raises(AuthError):
        run_follow(settings_for(url, api_key="dt_live_wrong"), search_signals, {"limit": 2}, op="signals",
                   as_json=True, interval=1, polls=3, sleep=_no_sleep)


async def _no_sleep(_: float) -> None:
    return None


def test_backoff_is_capped() -> None:
    sleeps: list[float] = []
    notes: list[str] = []

    async def fetch(n: int) -> list[Any]:
        raise ApiUnavailable("down.")

    async def sleep(s: float) -> None:
        sleeps.append(s)

    asyncio.run(follow(fetch, lambda r: r, lambda r: None, first=1, interval=5, note=notes.append, sleep=sleep, polls=6))
    assert sleeps == [10, 20, 40, 60, 60, 60]
    assert all(n.startswith("down. Retrying in") for n in notes)


def test_cli_flags_and_ctrl_c_exit_130(served) -> None:
    """`dunetrace signals --follow` in a real process: the first rows, then SIGINT ends it with 130, no traceback."""
    import os
    import signal
    import subprocess
    import sys

    url, _ = served("latest")
    # The child gets SIGINT's default disposition, as a terminal gives it: a suite started in the background
    # of a non-interactive shell (`.ci/run &`) inherits SIGINT ignored, and an ignored SIGINT rightly does
    # not stop the follow loop (the faulthandler dump below showed it idle in select, waiting). If Ctrl-C
    # ever fails to end it, SIGABRT with PYTHONFAULTHANDLER puts its stacks in the failure.
    env = {**os.environ, "DUNETRACE_API_URL": url, "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dunetrace_cli", "signals", "retry-agent", "--follow", "--interval", "0.5", "-n", "2",
         "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        first = [json.loads(proc.stdout.readline()) for _ in range(2)]  # type: ignore[union-attr]
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"SIGINT did not end `signals --follow` within 20 s; its stacks:\n{err[-6000:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert [r["agent_id"] for r in first] == ["retry-agent", "retry-agent"]
    assert proc.returncode == 130
    assert "Traceback" not in err


def test_follow_and_interval_are_cli_only(invoke) -> None:
    from dunetrace_cli import registry

    for name in ("signals", "runs"):
        op = registry.get(name)
        assert {p.name for p in op.cli_params()} >= {"follow", "interval"}
        assert not {p.name for p in op.mcp_params()} & {"follow", "interval"}
    result = invoke(["signals", "--follow", "--interval", "0.1"])
    assert result.exit_code == 2 and "--interval" in result.stderr and "0.5" in result.stderr


def test_follow_the_local_store_as_runs_are_ingested(tmp_path, capsys) -> None:
    from pathlib import Path

    from dunetrace_cli.local.load import ingest_sources
    from dunetrace_cli.local.store import open_store

    events = Path(__file__).resolve().parent.parent / "data" / "sdk-events"
    db = tmp_path / "store.db"

    def ingest(name: str) -> None:
        store = open_store(db)
        try:
            ingest_sources(store, [str(events / name)], report=lambda p: None, finalize_stalled=True)
        finally:
            store.close()

    ingest("scenario-b-clean.jsonl")
    arrived: list[str] = []

    async def sleep(seconds: float) -> None:
        if not arrived:
            ingest("scenario-c-retry-storm.jsonl")
            arrived.append("c")

    run_follow(settings_for(f"local:{db}"), search_signals, {"limit": 20}, op="signals", as_json=True, interval=1,
               polls=2, sleep=sleep)
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows and {r["run_id"] for r in rows} == {
        json.loads(line)["run_id"] for line in (events / "scenario-c-retry-storm.jsonl").read_text().splitlines()
    }  # the clean run raised nothing; every row printed came from the run ingested between polls
