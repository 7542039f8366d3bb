"""get_token_stats: the server's /token-stats (failed_run_* with the wasted_* fallback), or computed."""

from __future__ import annotations

import pytest

from dunetrace_cli.models import TokenWindow
from dunetrace_cli.queries import get_token_stats
from dunetrace_cli.queries.tokens import compute_token_stats
from tests.queries._data import paths, rewriting, runs, without_route

pytestmark = pytest.mark.anyio

TOTALS = ("total_tokens", "prompt_tokens", "completion_tokens", "run_count")
FIELDS = (*TOTALS, "failed_run_tokens", "failed_run_count")


async def test_server_token_stats_on_latest(api_client, fake_latest) -> None:
    stats = await get_token_stats(api_client(fake_latest), agent_id="rag-agent")
    served = fake_latest.data["token_stats"]["rag-agent"]
    assert stats.source == "server" and stats.cost_known and stats.notes == []
    for name in ("1d", "7d", "30d"):
        window, raw = stats.windows[name], served["windows"][name]
        assert {f: getattr(window, f) for f in FIELDS} == {f: raw[f] for f in FIELDS}
        assert window.total_cost_usd == raw["total_cost_usd"]
        assert window.failed_run_cost_usd == raw["failed_run_cost_usd"]
        assert window.excess_tokens == raw["excess_tokens"]
    assert [(w.failure_type, w.wasted_tokens) for w in stats.waste_by_failure_type] == [
        (w["failure_type"], w["wasted_tokens"]) for w in served["waste_by_failure_type"]
    ]


async def test_server_token_stats_fall_back_to_wasted_names(api_client, fake_latest) -> None:
    """An older server names the failed-run figures wasted_* only."""
    renamed = {"failed_run_tokens", "failed_run_cost_usd", "failed_run_count", "failed_pct"}

    def legacy(body: dict) -> dict:
        windows = {n: {k: v for k, v in w.items() if k not in renamed} for n, w in body["windows"].items()}
        return {**body, "windows": windows}

    stats = await get_token_stats(api_client(transport=rewriting(fake_latest, "/token-stats", legacy)), agent_id="retry-agent")
    served = fake_latest.data["token_stats"]["retry-agent"]["windows"]["30d"]
    window = stats.windows["30d"]
    assert (window.failed_run_tokens, window.failed_run_cost_usd, window.failed_run_count, window.failed_pct) == (
        served["wasted_tokens"], served["wasted_cost_usd"], served["wasted_run_count"], served["wasted_pct"],
    )
    assert window.failed_run_tokens == served["failed_run_tokens"]  # the aliases agree on the real server


def test_new_names_win_over_the_aliases() -> None:
    window = TokenWindow.model_validate({"failed_run_tokens": 5, "wasted_tokens": 9, "wasted_run_count": 2})
    assert (window.failed_run_tokens, window.failed_run_count) == (5, 2)


async def test_client_token_stats_on_march_do_not_invent_cost(api_client, fake_march) -> None:
    stats = await get_token_stats(api_client(fake_march), agent_id="rag-agent")
    assert stats.source == "client" and stats.cost_known is False
    assert any(note.startswith("cost unknown") for note in stats.notes)
    for window in stats.windows.values():
        assert window.total_cost_usd is None and window.failed_run_cost_usd is None and window.failed_pct is None
    assert all(w.wasted_cost_usd is None for w in stats.waste_by_failure_type)


@pytest.mark.parametrize("agent", ["retry-agent", "langchain-example-agent", "clean-agent", "support-agent-lc", "rag-agent", "onboarding-agent"])
async def test_client_totals_match_the_latest_servers(api_client, fake_latest, fake_march, agent: str) -> None:
    """Both generations hold the same runs: tokens computed from March run details equal the latest server's.

    (Which runs failed differs: the March detectors found other signals.)
    """
    computed = await get_token_stats(api_client(fake_march), agent_id=agent)
    served = fake_latest.data["token_stats"][agent]["windows"]
    for name in ("1d", "7d", "30d"):
        window = computed.windows[name]
        assert {f: getattr(window, f) for f in TOTALS} == {f: served[name][f] for f in TOTALS}, name


@pytest.mark.parametrize("agent", ["retry-agent", "langchain-example-agent", "clean-agent", "support-agent-lc", "rag-agent", "onboarding-agent"])
async def test_client_computation_reproduces_the_latest_server(api_client, fake_latest, agent: str) -> None:
    """Latest data with the token-stats route removed: totals, failed-run figures and cost as the server."""
    client = api_client(transport=without_route(fake_latest, "/token-stats"))
    computed = await get_token_stats(client, agent_id=agent)
    served = fake_latest.data["token_stats"][agent]["windows"]
    assert computed.source == "client" and computed.cost_known
    for name in ("1d", "7d", "30d"):
        window = computed.windows[name]
        assert {f: getattr(window, f) for f in FIELDS} == {f: served[name][f] for f in FIELDS}, name
        assert window.total_cost_usd == served[name]["total_cost_usd"]
        assert window.failed_run_cost_usd == served[name]["failed_run_cost_usd"]


async def test_waste_by_failure_type_counts_runs_in_every_type(api_client, fake_march) -> None:
    stats = await get_token_stats(api_client(fake_march), agent_id="support-agent-lc")
    live = fake_march.data["signals"]["support-agent-lc"]
    for row in stats.waste_by_failure_type:
        assert row.affected_runs == len({s["run_id"] for s in live if s["failure_type"] == row.failure_type})
    tokens = [w.wasted_tokens for w in stats.waste_by_failure_type]
    assert tokens == sorted(tokens, reverse=True)


async def test_detail_cap_is_said(api_client, fake_march) -> None:
    stats = await compute_token_stats(api_client(fake_march), agent_id="langchain-example-agent", detail_cap=10)
    assert "covers the newest 10 runs of the last 30 days" in stats.notes
    details = [p for p in paths(fake_march) if p.startswith("/v1/runs/")]
    assert sorted(details) == sorted(f"/v1/runs/{r['run_id']}" for r in runs(fake_march, "langchain-example-agent")[:10])
