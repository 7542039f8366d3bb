"""Parent/child runs from the SDK's parent_run_id, on both generations."""

from __future__ import annotations

import pytest

from dunetrace_cli.queries.runs import get_run
from dunetrace_cli.render.markdown import render_run_view

pytestmark = pytest.mark.anyio

PARENT, CHILD = "947895d9-ab30-4fb0-b21d-64925259ab23", "e05a319a-e3c9-4d15-bde7-d840d2fa1910"


async def test_child_names_its_parent_and_the_parent_finds_its_child(api_client, fake) -> None:
    quick = await get_run(api_client(fake), run_id=CHILD)
    assert quick.parent is not None and quick.parent.run_id == PARENT and quick.parent.agent_id == ""
    child = await get_run(api_client(fake), run_id=CHILD, links=True)
    assert child.parent is not None and child.parent.run_id == PARENT
    assert child.parent.agent_id == "langchain-example-agent"  # from the run list
    assert child.children == []
    parent = await get_run(api_client(fake), run_id=PARENT, links=True)
    assert parent.parent is None
    assert [(c.run_id, c.agent_id) for c in parent.children] == [(CHILD, "rag-agent")]
    text = render_run_view(parent, now=1795524647)
    assert f"Child runs: `{CHILD[:12]}` (`rag-agent`" in text  # MCP text: 12-character prefixes


async def test_a_run_without_links(api_client, fake) -> None:
    lone = next(rid for rid, d in fake.data["run_details"].items()
                if d["agent_id"] == "retry-agent")
    view = await get_run(api_client(fake), run_id=lone, links=True)
    assert view.parent is None and view.children == [] and view.notes == []
