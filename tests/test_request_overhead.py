"""A request over real HTTP imports nothing once the client is warm (issue 12).

httpcore 1.x runs ``import sniffio`` for every lock and cancel shield it makes (about 8 per request).
Without sniffio installed each of those imports fails after searching every ``sys.path`` entry
(~0.2 ms each), which made the client's CPU, not the server, the limit of an 8-in-flight scan.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from typing import Any

import pytest

pytestmark = pytest.mark.anyio


class _Recorder:
    """A meta-path finder that finds nothing and records every module name looked up."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        self.names.append(name)
        return None


@pytest.mark.skipif(
    importlib.util.find_spec("sniffio") is None,
    reason="sniffio (a declared dependency) is not installed here: run `pip install -e '.[test]'` again",
)
async def test_requests_on_a_warm_client_look_up_no_module(served, api_client) -> None:
    url, fake = served("march", extra_agents=20)
    client = api_client(api_url=url)
    agents = [a["agent_id"] for a in fake.data["agents"]]
    recorder = _Recorder()
    try:
        await client.get("/v1/agents", {"limit": 500, "offset": 0})  # warm-up: first use may import
        sys.meta_path.insert(0, recorder)
        bodies = await asyncio.gather(*(client.get(f"/v1/agents/{a}/runs", {"limit": 500}) for a in agents))
    finally:
        if recorder in sys.meta_path:
            sys.meta_path.remove(recorder)
        await client.aclose()
    assert [len(b["runs"]) for b in bodies] == [len(fake.data["runs"][a]) for a in agents]
    assert len(fake.requests) == 1 + len(agents)
    assert recorder.names == []  # e.g. ['sniffio', 'sniffio', ...] when sniffio is not installed
