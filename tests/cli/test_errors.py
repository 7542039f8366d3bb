"""Every error class through the CLI: exit code, one message on stderr, nothing on stdout, no traceback."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.cli._helpers import envelope, failed, ok
from tests.faultserver import refused_url


@pytest.fixture
def dead_url() -> str:
    return refused_url()


def test_unreachable_port(invoke, dead_url: str) -> None:
    stderr = failed(invoke(["agents"], env={"DUNETRACE_API_URL": dead_url}), 5)
    assert stderr.startswith(f"dunetrace: error: Dunetrace Customer API unreachable at {dead_url}.")
    assert "docker compose up -d" in stderr and "DUNETRACE_API_URL" in stderr


def test_unreachable_port_json_envelope(invoke, dead_url: str) -> None:
    stderr = failed(invoke(["--api-url", dead_url, "summary", "rag-agent", "--json"]), 5)
    lines = stderr.strip().splitlines()
    assert len(lines) == 2  # the sentence, then the one-line envelope
    err = envelope(stderr)
    assert err["code"] == "unavailable" and err["exit_code"] == 5
    assert err["message"].startswith(f"Dunetrace Customer API unreachable at {dead_url}.")


def test_401_with_a_required_key(served, invoke) -> None:
    url, fake = served("latest", api_key="dt_live_required_key")
    stderr = failed(invoke(["agents"], env={"DUNETRACE_API_URL": url}), 3)
    assert f"The Dunetrace API at {url} rejected the API key (HTTP 401: Invalid or inactive API key)" in stderr
    assert "DUNETRACE_API_KEY" in stderr
    err = envelope(failed(invoke(["agents", "--json"], env={"DUNETRACE_API_URL": url}), 3))
    assert err["code"] == "auth_or_config" and err["exit_code"] == 3
    # the right key, from the environment, works
    ok(invoke(["agents"], env={"DUNETRACE_API_URL": url, "DUNETRACE_API_KEY": "dt_live_required_key"}))


@pytest.mark.parametrize("gen", ["latest", "march"])
def test_404_run(cli, gen: str) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    stderr = failed(cli("run", missing, gen=gen), 4)
    assert f"no run matches '{missing}' among 104 processed runs of all agents" in stderr
    err = envelope(failed(cli("run", missing, "--json", gen=gen), 4))
    assert err["code"] == "not_found" and err["exit_code"] == 4


def test_unknown_agent(cli) -> None:
    stderr = failed(cli("summary", "rag-agnet"), 4)
    assert "no agent 'rag-agnet'" in stderr and "did you mean 'rag-agent'?" in stderr


def test_ambiguous_run_prefix_lists_candidates(served, invoke) -> None:
    url, fake = served("latest", extra_agents=3)
    ids = [r["run_id"] for rows in fake.data["runs"].values() for r in rows]
    prefix = next(p for p, n in Counter(i[:4] for i in ids).items() if n > 1)
    stderr = failed(invoke(["run", prefix], env={"DUNETRACE_API_URL": url}), 2)
    for candidate in (i for i in ids if i.startswith(prefix)):
        assert candidate in stderr


def test_422_from_the_server_string_detail(cli) -> None:
    # valid locally (UPPER_SNAKE), refused by the March server's failure_type allow-list
    stderr = failed(cli("signals", "rag-agent", "--type", "UNREAD_TOOL_ERROR", gen="march"), 2)
    assert "The Dunetrace API rejected the request:" in stderr
    assert "UNREAD_TOOL_ERROR" in stderr


def test_an_unknown_failure_type_is_refused_before_any_request(cli) -> None:
    stderr = failed(cli("signals", "--type", "TOOL_LOP"), 2)
    assert "unknown failure type 'TOOL_LOP'. Did you mean TOOL_LOOP?" in stderr
    assert cli.fake().requests == []


def test_422_injected(cli) -> None:
    cli.fake().fail_next = [422]
    stderr = failed(cli("agents"), 2)
    assert "The Dunetrace API rejected the request: Unprocessable" in stderr


def test_malformed_body(cli) -> None:
    url, fake = cli.server()
    fake.malformed_paths.add("/v1/agents")
    stderr = failed(cli("agents"), 5)
    assert f"malformed response for {url}/v1/agents (not JSON)" in stderr
    assert envelope(failed(cli("agents", "--json"), 5))["code"] == "unavailable"


def test_5xx(cli) -> None:
    cli.fake().fail_next = [503, 503, 503]
    stderr = failed(cli("agents"), 5)
    assert "failed with HTTP 503" in stderr


def test_timeout(served, invoke) -> None:
    url, _ = served("latest", latency=0.4)
    stderr = failed(invoke(["--timeout", "0.2", "agents"], env={"DUNETRACE_API_URL": url}), 5)
    assert f"Dunetrace Customer API at {url} did not answer within 0.2s" in stderr


def test_timeout_from_the_environment(served, invoke) -> None:
    url, _ = served("latest", latency=0.4)
    stderr = failed(invoke(["agents"], env={"DUNETRACE_API_URL": url, "DUNETRACE_TIMEOUT": "0.2"}), 5)
    assert "did not answer within 0.2s" in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["runs", "rag-agent", "--limit", "0"], "Invalid value for '--limit'"),
        (["runs", "rag-agent", "--limit", "many"], "Invalid value for '--limit'"),
        (["patterns", "rag-agent", "--days", "3"], "Invalid value for '--days'"),
        (["--timeout", "soon", "agents"], "Invalid value for '--timeout'"),
        (["signal", "abc"], "Invalid value for 'SIGNAL_ID'"),
        (["signals", "--color"], "No such option"),
        (["summary"], "Missing argument 'AGENT'"),
        (["nonsense"], "No such command 'nonsense'"),
    ],
)
def test_bad_flag_values(cli, args: list[str], message: str) -> None:
    stderr = failed(cli(*args), 2)
    assert message in stderr
    assert cli.fake().requests == []


def test_typo_severity(cli) -> None:
    stderr = failed(cli("signals", "rag-agent", "--severity", "Critcal"), 2)
    assert "Valid: CRITICAL, HIGH, MEDIUM, LOW" in stderr
    assert cli.fake().requests == []


def replace_list_agents(monkeypatch: pytest.MonkeyPatch, fn) -> None:
    """Swap the query behind `dunetrace agents` (the registry resolves it by module path at run time)."""
    import dunetrace_cli.queries.agents as module

    monkeypatch.setattr(module, "list_agents", fn)


def test_internal_errors_have_no_traceback_unless_debug(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(client, **kwargs):
        raise RuntimeError("boom")

    replace_list_agents(monkeypatch, broken)
    stderr = failed(cli("agents"), 70)
    assert stderr.strip() == "dunetrace: error: internal error (RuntimeError). Re-run with --debug for details and report it."
    assert envelope(failed(cli("agents", "--json"), 70))["code"] == "internal"
    for debug in (cli("--debug", "agents"), cli("agents", env={"DUNETRACE_DEBUG": "1"})):
        assert debug.exit_code == 70 and debug.stdout == ""
        assert "Traceback" in debug.stderr and "RuntimeError: boom" in debug.stderr


def test_interrupted(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    async def interrupted(client, **kwargs):
        raise KeyboardInterrupt

    replace_list_agents(monkeypatch, interrupted)
    assert failed(cli("agents"), 130).strip() == "dunetrace: error: interrupted."


def test_debug_shows_the_cause_of_a_user_error(cli) -> None:
    cli.fake().malformed_paths.add("/v1/agents")
    result = cli("--debug", "agents")
    assert result.exit_code == 5
    assert "Traceback" in result.stderr and "malformed response" in result.stderr
