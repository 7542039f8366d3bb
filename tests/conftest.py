"""Fixtures shared by every suite: an isolated environment, the fake Customer API
(in process and on loopback), an ApiClient factory and a CliRunner helper.

Suites with needs of their own add a ``conftest.py`` in their folder.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fakeapi import FakeApi, load_dataset, serve

# One hour after the newest timestamp in the stored datasets (last_seen 1795521047):
# relative ages ("1h ago") and time windows are stable.
FIXED_NOW = 1795524647

_UNSET = (
    "DUNETRACE_API_URL",
    "DUNETRACE_API_KEY",
    "DUNETRACE_PROFILE",
    "DUNETRACE_TIMEOUT",
    "DUNETRACE_DEBUG",
    "DUNETRACE_HOME",
    "DUNETRACE_MCP_TOKEN",
    "FORCE_COLOR",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
    "CLICOLOR_FORCE",
)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test sees the user's config, the caller's DUNETRACE_* variables or the wall clock."""
    monkeypatch.setenv("DUNETRACE_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))
    for name in _UNSET:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.setenv("DUNETRACE_NOW", str(FIXED_NOW))
    from dunetrace_cli.client import reset_feature_cache

    reset_feature_cache()  # endpoint detection is per process: start every test from scratch


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def datasets() -> dict[str, dict]:
    """The stored datasets, read once. Treat them as read-only."""
    return {"latest": load_dataset("latest"), "march": load_dataset("march")}


@pytest.fixture
def make_fake(datasets: dict[str, dict]) -> Callable[..., FakeApi]:
    """``make_fake("march", api_key=..., latency=..., extra_agents=...)``: a fresh FakeApi."""

    def make(generation: str = "latest", **kwargs: Any) -> FakeApi:
        kwargs.setdefault("dataset", datasets[generation])
        return FakeApi(generation, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def fake_latest(make_fake: Callable[..., FakeApi]) -> FakeApi:
    return make_fake("latest")


@pytest.fixture
def fake_march(make_fake: Callable[..., FakeApi]) -> FakeApi:
    return make_fake("march")


@pytest.fixture(params=["latest", "march"])
def fake(request: pytest.FixtureRequest, make_fake: Callable[..., FakeApi]) -> FakeApi:
    """Both server generations, one test run each."""
    return make_fake(request.param)


def settings_for(api_url: str = "http://fake.test", **overrides: Any):
    from dunetrace_cli.config import Settings

    values = {"api_url": api_url, "api_key": "dt_dev_test", "timeout": 5.0, "profile": "default"}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def api_client() -> Callable[..., Any]:
    """``api_client(fake, **settings)``: an ApiClient over ``fake.transport()`` that never sleeps.

    The delays it was asked to sleep are recorded in ``client.slept``. Pass ``transport=``
    to wrap or replace the fake's transport, any Settings field (``api_url=``, ``timeout=``...)
    and any ApiClient keyword (``max_concurrency=``...).
    """
    from dunetrace_cli.client import ApiClient

    def make(fake: FakeApi | None = None, *, transport: Any = None, **kwargs: Any) -> ApiClient:
        slept: list[float] = []

        async def no_sleep(delay: float) -> None:
            slept.append(delay)

        settings_keys = {"api_url", "api_key", "timeout", "profile"}
        settings = settings_for(**{k: v for k, v in kwargs.items() if k in settings_keys})
        options = {k: v for k, v in kwargs.items() if k not in settings_keys}
        options.setdefault("sleep", no_sleep)
        options.setdefault("clock", lambda: float(FIXED_NOW))
        if transport is None and fake is not None:
            transport = fake.transport()  # neither: real HTTP to api_url (e.g. a `served` fake)
        client = ApiClient(settings, transport=transport, **options)
        client.slept = slept  # type: ignore[attr-defined]
        return client

    return make


@pytest.fixture
def served(make_fake: Callable[..., FakeApi]) -> Iterator[Callable[..., tuple[str, FakeApi]]]:
    """``url, fake = served("latest" | "march", **FakeApi kwargs)``: a real loopback server."""
    slowest = 0.0
    with contextlib.ExitStack() as stack:

        def start(generation: str = "latest", **kwargs: Any) -> tuple[str, FakeApi]:
            nonlocal slowest
            fake = make_fake(generation, **kwargs)
            url = stack.enter_context(serve(fake))
            slowest = max(slowest, fake.latency)
            return url, fake

        yield start
        if slowest:
            # let handlers a client gave up on finish while output is still captured
            time.sleep(slowest + 0.05)


@pytest.fixture
def invoke() -> Callable[..., Any]:
    """``invoke(args, env=None, input=None)``: run ``dunetrace ARGS`` in process.

    The result keeps stdout and stderr apart (``result.stdout``, ``result.stderr``).
    """
    from typer.testing import CliRunner

    from dunetrace_cli.cli.app import app

    runner = CliRunner()

    def run(args: list[str], env: dict[str, str] | None = None, input: str | None = None) -> Any:
        return runner.invoke(app, [str(a) for a in args], env=env, input=input, prog_name="dunetrace")

    return run
