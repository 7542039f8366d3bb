"""Fixtures for the MCP suite: an in-memory MCP client over the fake Customer API."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.conftest import settings_for
from tests.fakeapi import FakeApi

LC = "langchain-example-agent"
RUN_FULL = "f32094eb-c4aa-4cff-abd9-932921edb15c"
RUN_CLEAN = "94ece585-01c6-4ffa-8f3f-aec07f160f7b"


def text_of(result: Any) -> str:
    """The single text block of a tool result."""
    assert len(result.content) == 1, result.content
    return result.content[0].text


@pytest.fixture
def mcp_client(fake_latest: FakeApi) -> Callable[..., Any]:
    """``async with mcp_client(fake=None, transport=None, **settings) as client``: in-memory MCP client.

    Defaults to the latest-generation fake in process (no sockets).
    """
    from mcp import Client

    from dunetrace_cli.mcp.server import build_server

    @contextlib.asynccontextmanager
    async def make(
        fake: FakeApi | None = None, *, transport: httpx.AsyncBaseTransport | None = None, mode: str = "auto", **kw: Any
    ) -> AsyncIterator[Any]:
        fake = fake or fake_latest
        server = build_server(settings_for(**kw), transport=transport or fake.transport())
        async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
            client.fake = fake  # type: ignore[attr-defined]
            yield client

    return make


def with_ambiguous_run(dataset: dict, *, source: str = RUN_FULL, new: str = "f32094eb-0000-4000-8000-000000000000") -> dict:
    """A copy of ``dataset`` with a second run sharing the 8-character prefix of ``source``."""
    data = copy.copy(dataset)
    data["runs"] = {k: list(v) for k, v in dataset["runs"].items()}
    data["run_details"] = dict(dataset["run_details"])
    data["_processed_at"] = dict(dataset["_processed_at"])
    agent = next(a for a, runs in data["runs"].items() if any(r["run_id"] == source for r in runs))
    template = next(r for r in data["runs"][agent] if r["run_id"] == source)
    data["runs"][agent].append({**template, "run_id": new})
    detail = dict(dataset["run_details"][source])
    detail["run_id"] = new
    detail["signals"] = []
    data["run_details"][new] = detail
    data["_processed_at"][new] = data["_processed_at"][source] - 0.5
    return data
