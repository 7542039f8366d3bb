"""CLI fixtures: run `dunetrace ...` in process against a fake served on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.fakeapi import FakeApi


class Cli:
    """``cli("agents", "--json")`` runs against a served fake of ``gen`` (one server per generation)."""

    def __init__(self, served: Callable[..., tuple[str, FakeApi]], invoke: Callable[..., Any]) -> None:
        self._served = served
        self._invoke = invoke
        self._servers: dict[str, tuple[str, FakeApi]] = {}

    def server(self, gen: str = "latest") -> tuple[str, FakeApi]:
        if gen not in self._servers:
            self._servers[gen] = self._served(gen)
        return self._servers[gen]

    def fake(self, gen: str = "latest") -> FakeApi:
        return self.server(gen)[1]

    def __call__(self, *args: str, gen: str = "latest", env: dict[str, str] | None = None, input: str | None = None) -> Any:
        url, _ = self.server(gen)
        return self._invoke(list(args), env={"DUNETRACE_API_URL": url, **(env or {})}, input=input)


@pytest.fixture
def cli(served, invoke) -> Cli:
    return Cli(served, invoke)


@pytest.fixture
def query_result(api_client) -> Callable[..., dict[str, Any]]:
    """``query_result(fake, fn, **kwargs)``: what the query layer returns, as --json should print it."""

    def run(fake: FakeApi, fn: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
        async def call() -> Any:
            async with api_client(fake) as client:
                return await fn(client, **kwargs)

        return asyncio.run(call()).model_dump(mode="json")

    return run
