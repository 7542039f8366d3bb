"""`run`/`compare` agree with `runs`: signal counts from the detail's signals, March step counts the list's way."""

from __future__ import annotations

import pytest

from dunetrace_cli.queries.runs import compare_runs, get_run
from tests.queries._data import runs

pytestmark = pytest.mark.anyio


async def test_detail_counts_match_the_run_list(api_client, fake) -> None:
    with_signals = 0
    for agent in ("langchain-example-agent", "rag-agent", "retry-agent"):
        for row in runs(fake, agent):
            view = await get_run(api_client(fake), run_id=row["run_id"])
            detail = fake.data["run_details"][row["run_id"]]
            live = [s for s in detail["signals"] if not s.get("shadow")]
            assert view.run.signal_count == len(live)
            assert view.run.has_signals is bool(live)
            assert view.run.step_count == row["step_count"], row["run_id"]  # what `runs` shows
            with_signals += bool(live)
    assert with_signals >= 30


async def test_march_detail_step_count_is_the_event_count(api_client, fake_march) -> None:
    run = next(r for r in runs(fake_march, "langchain-example-agent") if r["step_count"] == 35)
    detail = fake_march.data["run_details"][run["run_id"]]
    assert detail["step_count"] == len(detail["events"]) == 36  # the March detail counts events
    assert "signal_count" not in detail and len(detail["signals"]) == 2
    view = await get_run(api_client(fake_march), run_id=run["run_id"])
    assert view.run.step_count == 35  # as `runs` shows it
    assert view.run.has_signals is True and view.run.signal_count == 2
    dumped = view.model_dump(mode="json")["run"]
    assert (dumped["has_signals"], dumped["signal_count"], dumped["step_count"]) == (True, 2, 35)
    other = runs(fake_march, "langchain-example-agent")[1]["run_id"]
    comparison = await compare_runs(api_client(fake_march), run_id_1=run["run_id"], run_id_2=other)
    assert comparison.left.step_count == 35 and comparison.left.event_count == 36
