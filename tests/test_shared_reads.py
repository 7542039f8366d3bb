"""Shared reads (issue 12): identical GETs of a long-lived client share one request for a few seconds."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dunetrace_cli.errors import NotFound, UsageError
from dunetrace_cli.shared_reads import SharedReads

pytestmark = pytest.mark.anyio


def paths(fake) -> list[str]:
    return [path for _, path, _ in fake.requests]


async def test_concurrent_identical_gets_make_one_request(api_client, make_fake) -> None:
    fake = make_fake("latest", latency=0.02)
    client = api_client(fake, shared_reads_ttl=2.0)
    bodies = await asyncio.gather(*(client.get("/v1/agents", {"limit": 500, "offset": 0}) for _ in range(20)))
    assert paths(fake) == ["/v1/agents"]
    assert bodies[0]["agents"] and all(b is bodies[0] for b in bodies)  # one parse, shared
    assert client.request_count == 1 and client.shared_reads.hits == 19
    again = await client.get("/v1/agents", {"offset": 0, "limit": 500})  # same params, other order
    assert again is bodies[0] and len(fake.requests) == 1
    other = await client.get("/v1/agents", {"limit": 1, "offset": 0})
    assert len(other["agents"]) == 1 and len(fake.requests) == 2


async def test_without_a_ttl_every_get_is_a_request(api_client, fake_latest) -> None:
    client = api_client(fake_latest)
    assert client.shared_reads is None
    await asyncio.gather(*(client.get("/v1/agents") for _ in range(3)))
    assert paths(fake_latest) == ["/v1/agents"] * 3


async def test_errors_are_not_kept(api_client, fake_latest) -> None:
    client = api_client(fake_latest, shared_reads_ttl=2.0)
    for _ in range(2):
        with pytest.raises(NotFound):
            await client.get("/v1/runs/no-such-run")
    assert paths(fake_latest) == ["/v1/runs/no-such-run"] * 2
    assert len(client.shared_reads) == 0


async def test_a_write_forgets_every_kept_read(api_client, fake_latest) -> None:
    client = api_client(fake_latest, shared_reads_ttl=2.0)
    await client.get("/v1/agents")
    await client.get("/v1/agents")
    assert len(fake_latest.requests) == 1
    with pytest.raises(UsageError):  # refused (422), but a write may have changed things all the same
        await client.send("POST", "/v1/policies", {"name": "p"})
    await client.get("/v1/agents")
    assert paths(fake_latest) == ["/v1/agents", "/v1/policies", "/v1/agents"]


async def test_kept_bodies_expire_and_are_bounded() -> None:
    now = [100.0]
    reads = SharedReads(2.0, max_entries=3, monotonic=lambda: now[0])
    fetched: list[str] = []

    def fetch(name: str) -> Any:
        async def run() -> dict[str, str]:
            fetched.append(name)
            return {"name": name}

        return run

    assert await reads.get("a", fetch("a")) == {"name": "a"}
    now[0] += 1.9
    await reads.get("a", fetch("a"))
    assert fetched == ["a"]
    now[0] += 0.2  # 2.1 s after the request: asked again
    await reads.get("a", fetch("a"))
    assert fetched == ["a", "a"]
    for name in "bcd":
        await reads.get(name, fetch(name))
    assert len(reads) == 3  # "a" (the oldest) made room for "d"
    now[0] += 2.0
    assert await reads.get("e", fetch("e")) == {"name": "e"} and len(reads) == 1  # the expired ones went
    await reads.get("a", fetch("a"))
    assert fetched == ["a", "a", "b", "c", "d", "e", "a"]


async def test_a_caller_that_gives_up_does_not_cancel_the_shared_request() -> None:
    reads = SharedReads(2.0)
    started = asyncio.Event()

    async def slow() -> str:
        started.set()
        await asyncio.sleep(0.05)
        return "body"

    first = asyncio.create_task(reads.get("k", slow))
    await started.wait()
    second = asyncio.create_task(reads.get("k", slow))
    await asyncio.sleep(0)
    first.cancel()
    assert await second == "body"
    assert first.cancelled()


async def test_a_call_after_a_write_does_not_join_a_read_begun_before_it() -> None:
    reads = SharedReads(2.0)
    release = asyncio.Event()
    answers = iter(["before the write", "after the write"])

    async def fetch() -> str:
        answer = next(answers)
        if answer == "before the write":
            await release.wait()
        return answer

    early = asyncio.create_task(reads.get("k", fetch))
    await asyncio.sleep(0)  # its flight is in the air
    reads.clear()  # a write
    asyncio.get_running_loop().call_later(0.05, release.set)  # the early read ends whatever happens
    late = await reads.get("k", fetch)
    assert (await early, late) == ("before the write", "after the write")
    assert await reads.get("k", fetch) == "after the write"  # kept: the pre-write flight kept nothing
