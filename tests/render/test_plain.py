"""Plain rows for pipes: TSV (no header, full values, one line per item), CSV, NDJSON, --fields."""

from __future__ import annotations

import asyncio
import csv
import io
import json

import pytest

from dunetrace_cli.errors import UsageError
from dunetrace_cli.queries import get_patterns, list_agents, list_runs, search_signals
from dunetrace_cli.render import plain
from tests.render.injection import HOSTILE_AGENT, hostile_bytes, injected_dataset


@pytest.fixture
def result_of(api_client, make_fake):
    def run(fn, generation="latest", dataset=None, **kwargs):
        fake = make_fake(generation, **({"dataset": dataset} if dataset else {}))

        async def call():
            async with api_client(fake) as client:
                return await fn(client, **kwargs)

        return asyncio.run(call())

    return run


def tsv(result, fields=None) -> list[list[str]]:
    out = io.StringIO()
    plain.write(result, "tsv", fields=fields, out=out)
    return [line.split("\t") for line in out.getvalue().splitlines()]


def test_agents_rows_are_full_values(result_of, datasets) -> None:
    rows = tsv(result_of(list_agents))
    raw = sorted(datasets["latest"]["agents"], key=lambda a: -a["last_seen"])
    assert [r[0] for r in rows] == [a["agent_id"] for a in raw]  # no header row
    retry = next(r for r in rows if r[0] == "retry-agent")
    assert retry[5:7] == ["UNREAD_TOOL_ERROR", "9"]  # the top failure, unabridged
    assert retry[7] == "2026-11-24T11:50:47Z"
    assert {len(r) for r in rows} == {8}


def test_runs_rows_carry_full_ids_and_exit(result_of, datasets) -> None:
    rows = tsv(result_of(list_runs, agent_id="langchain-example-agent", limit=40))
    assert len(rows) == 40
    served = {r["run_id"] for r in datasets["latest"]["runs"]["langchain-example-agent"]}
    assert {r[0] for r in rows} <= served and all(len(r[0]) == 36 for r in rows)
    completed = sum(1 for r in datasets["latest"]["runs"]["langchain-example-agent"] if r["exit_reason"] == "run.completed")
    assert sum(1 for r in rows if r[6] == "run.completed") == completed


def test_fields_pick_and_order_columns(result_of) -> None:
    rows = tsv(result_of(search_signals, limit=5), ["failure_type", "id"])
    assert all(len(r) == 2 and r[1].isdigit() for r in rows)
    with pytest.raises(UsageError, match="unknown field 'nope'; choose from: id, severity"):
        tsv(result_of(search_signals, limit=5), ["nope"])


def test_csv_has_a_header_and_quotes(result_of) -> None:
    out = io.StringIO()
    plain.write(result_of(get_patterns, agent_id="retry-agent"), "csv", fields=["failure_type", "daily_counts"], out=out)
    parsed = list(csv.reader(io.StringIO(out.getvalue())))
    assert parsed[0] == ["failure_type", "daily_counts"]
    assert parsed[1] == ["UNREAD_TOOL_ERROR", "0,0,0,0,0,0,9"]


def test_ndjson_is_exact_json_per_item(result_of) -> None:
    out = io.StringIO()
    result = result_of(list_agents)
    plain.write(result, "ndjson", fields=None, out=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [x["agent_id"] for x in lines] == [a.agent_id for a in result.agents]
    assert lines[0]["top_failure"] == "UNREAD_TOOL_ERROR"  # derived fields ride along


def test_hostile_values_stay_one_clean_line(result_of, datasets) -> None:
    result = result_of(list_agents, dataset=injected_dataset(datasets["latest"]))
    out = io.StringIO()
    plain.write(result, "tsv", fields=None, out=out)
    assert hostile_bytes(out.getvalue()) == []
    assert len(out.getvalue().splitlines()) == len(result.agents)
    assert any(r[0].startswith("evil\\x1b[2J") for r in tsv(result))
    nd = io.StringIO()
    plain.write(result, "ndjson", fields=["agent_id"], out=nd)
    assert HOSTILE_AGENT in [json.loads(x)["agent_id"] for x in nd.getvalue().splitlines()]


def test_non_list_results_are_refused(result_of) -> None:
    from dunetrace_cli.queries import get_health

    with pytest.raises(UsageError, match="list commands only"):
        plain.write(result_of(get_health, agent_id="rag-agent"), "tsv", fields=None, out=io.StringIO())
