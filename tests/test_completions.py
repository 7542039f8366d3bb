"""The shipped completion scripts match what the installed CLI generates."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dunetrace_cli.cli.app import app

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("shell", "name"), [("bash", "dunetrace.bash"), ("zsh", "_dunetrace"), ("fish", "dunetrace.fish")]
)
def test_completion_script_is_current(shell: str, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    result = CliRunner().invoke(app, ["--show-completion", shell], prog_name="dunetrace")
    assert result.exit_code == 0, result.output
    shipped = (ROOT / "completions" / name).read_text()
    assert "_DUNETRACE_COMPLETE" in shipped
    assert result.stdout == shipped, f"completions/{name} is stale: run scripts/gen_completions.sh"


# ---------------------------------------------------------------- value sources (cli/complete.py)

import os  # noqa: E402
import stat  # noqa: E402
import time  # noqa: E402

from dunetrace_cli.cli import complete  # noqa: E402


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("DUNETRACE_CACHE_DIR", str(folder))
    return folder


def test_static_sources() -> None:
    assert complete.source("severities")("h") == ["high"]  # in the case being typed
    assert complete.source("severities")("H") == ["HIGH"]
    assert "tool_loop" in complete.source("failure_types")("tool_")
    assert "TOOL_LOOP" in complete.source("failure_types")("TOOL_")
    assert complete.source("frameworks")("lang") == ["langchain"]
    assert complete.source("config_keys")("api") == ["api_url", "api_key"]
    assert complete.source("no-such-source")("x") == []


def test_profiles_from_config(cache: Path, invoke) -> None:
    assert invoke(["config", "set", "api_url", "http://127.0.0.1:9", "--profile", "prod"]).exit_code == 0
    assert complete.source("profiles")("") == ["default", "prod"]
    assert complete.source("profiles")("p") == ["prod"]


def test_agents_from_the_api_then_from_a_private_cache(cache: Path, served, monkeypatch) -> None:
    url, fake = served("latest")
    monkeypatch.setenv("DUNETRACE_API_URL", url)
    assert complete.source("agents")("r") == ["retry-agent", "rag-agent"]
    calls = len(fake.requests)
    assert complete.source("agents")("") == [a["agent_id"] for a in sorted(fake.data["agents"], key=lambda a: -a["last_seen"])]
    assert len(fake.requests) == calls  # the second completion came from the cache
    path = cache / "complete-agents.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700


def test_agents_cache_expires_and_is_per_api_url(cache: Path, served, monkeypatch) -> None:
    import json as _json

    url, fake = served("latest")
    monkeypatch.setenv("DUNETRACE_API_URL", url)
    complete.source("agents")("")
    path = cache / "complete-agents.json"
    data = _json.loads(path.read_text())
    assert data["key"] == url
    data["at"] -= complete.AGENTS_TTL + 1  # stale
    path.write_text(_json.dumps(data))
    before = len(fake.requests)
    complete.source("agents")("")
    assert len(fake.requests) > before  # refetched
    other, other_fake = served("march")
    monkeypatch.setenv("DUNETRACE_API_URL", other)
    complete.source("agents")("")
    assert other_fake.requests  # another server: its own list, not the cached one


def test_agents_when_the_api_is_down_is_quick_and_silent(cache: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DUNETRACE_API_URL", "http://127.0.0.1:9")
    start = time.monotonic()
    assert complete.source("agents")("") == []
    assert time.monotonic() - start < 1.5
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_agents_when_the_api_is_slow_gives_up_within_the_budget(cache: Path, served, monkeypatch) -> None:
    url, _ = served("latest", latency=3.0)
    monkeypatch.setenv("DUNETRACE_API_URL", url)
    start = time.monotonic()
    assert complete.source("agents")("") == []
    assert time.monotonic() - start < complete.BUDGET + 0.6


def test_hostile_agent_ids_are_never_offered(cache: Path, served, monkeypatch, datasets) -> None:
    from tests.render.injection import injected_dataset

    url, _ = served("latest", dataset=injected_dataset(datasets["latest"]))
    monkeypatch.setenv("DUNETRACE_API_URL", url)
    offered = complete.source("agents")("")
    assert "langchain-example-agent" in offered
    assert not any(not v.isprintable() for v in offered) and not any(v.startswith("evil") for v in offered)


def test_run_prefixes_of_the_last_listing(cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("DUNETRACE_API_URL", "http://127.0.0.1:9")
    complete.remember_runs(["566c867c-a39a-4880-b478-d19dbf1b1c3d", "9aaea63d-2b22-4ea4-95f6-83a51c85554b"])
    assert complete.source("runs")("") == ["566c867c-a39", "9aaea63d-2b2"]
    assert complete.source("runs")("9a") == ["9aaea63d-2b2"]
    assert complete.source("runs")("566c867c-a39a") == ["566c867c-a39a-4880-b478-d19dbf1b1c3d"]
    monkeypatch.setenv("DUNETRACE_API_URL", "http://127.0.0.1:10")
    assert complete.source("runs")("") == []  # another server's runs are not offered
    assert os.listdir(cache) == ["complete-runs.json"]


# ---------------------------------------------------------------- through each shell's protocol


def _complete(shell: str, line: str, env: dict[str, str]) -> list[str]:
    """What the shipped script for ``shell`` gets back from `dunetrace` for the command line ``line``."""
    import subprocess
    import sys

    words = line.split(" ")
    base = {**os.environ, **env, "_DUNETRACE_COMPLETE": f"complete_{shell}"}
    if shell == "bash":
        base.update({"COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)})
    else:
        base["_TYPER_COMPLETE_ARGS"] = line
        if shell == "fish":
            base["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    proc = subprocess.run([sys.executable, "-m", "dunetrace_cli"], env=base, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return [line for line in proc.stdout.splitlines() if line.strip()]


@pytest.mark.slow
@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_values_reach_every_shell(shell: str, cache: Path, served, monkeypatch) -> None:
    url, _ = served("latest")
    env = {"DUNETRACE_API_URL": url, "DUNETRACE_CACHE_DIR": str(cache)}
    cases = {
        "dunetrace summary r": ["retry-agent", "rag-agent"],
        "dunetrace signals --severity h": ["high"],
        "dunetrace signals --type TOOL_L": ["TOOL_LOOP"],
        "dunetrace guide lang": ["langchain"],
        "dunetrace config set api_": ["api_url", "api_key"],
    }
    for line, expected in cases.items():
        out = "\n".join(_complete(shell, line, env))
        for value in expected:
            assert value in out, (shell, line, out)


@pytest.mark.slow
def test_run_prefixes_after_a_listing(cache: Path, served, invoke) -> None:
    url, fake = served("latest")
    env = {"DUNETRACE_API_URL": url, "DUNETRACE_CACHE_DIR": str(cache)}
    assert invoke(["runs", "retry-agent", "--limit", "3"], env=env).exit_code == 0
    shown = [r["run_id"][:12] for r in fake.data["runs"]["retry-agent"]]
    offered = _complete("bash", "dunetrace run ", env)
    assert offered and set(offered) <= set(shown)
