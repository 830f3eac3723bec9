"""With two app replicas behind nginx: writers on both replicas at once, subscribers on both,
and every subscriber gets every event id, contiguous, in order, once, with the same events.
Run by `make test` after `docker compose up --scale app=2`, under each server."""

import asyncio
import contextlib
import random
from http import HTTPStatus

import httpx
import pytest

from tests.e2e.docker import Stack
from tests.e2e.followers import Follower, SseFollower, WsFollower
from tests.e2e.test_events import db_head

pytestmark = pytest.mark.replicas

WRITERS = 8
CYCLES = 25  # each a create, an update and a delete: 3 events


async def writer(client: httpx.AsyncClient, number: int) -> None:
    for cycle in range(CYCLES):
        created = await client.post("/api/items", json={"name": f"writer {number}.{cycle}"})
        assert created.status_code == HTTPStatus.CREATED, created.text
        location = created.headers["location"]
        await asyncio.sleep(random.random() / 100)
        patched = await client.patch(location, json={"description": f"cycle {cycle}"})
        assert patched.status_code == HTTPStatus.OK, patched.text
        deleted = await client.delete(location)
        assert deleted.status_code == HTTPStatus.NO_CONTENT, deleted.text


async def test_concurrent_writers_on_both_replicas_reach_every_subscriber_in_order(
    client: httpx.AsyncClient, stack: Stack
) -> None:
    first = db_head(stack) + 1
    async with contextlib.AsyncExitStack() as followers_stack:
        followers: list[Follower] = []
        for kind in (SseFollower, WsFollower):
            # nginx balances round-robin: a few subscribers reach both replicas.
            for _ in range(3):
                follower = await followers_stack.enter_async_context(kind())
                await follower.until_connected()
                followers.append(follower)
            instances = {f.instances[0] for f in followers if isinstance(f, kind)}
            assert len(instances) == 2, f"{kind.__name__}s reached only {instances}"

        await asyncio.gather(*(writer(client, n) for n in range(WRITERS)))
        last = db_head(stack)
        assert last - first + 1 == WRITERS * CYCLES * 3
        for follower in followers:
            await follower.until_id(last, within=60)

    reference = followers[0].events
    for follower in followers:
        assert follower.resets == []
        assert follower.ids == list(range(first, last + 1))
        assert follower.events == reference  # the same events, whichever replica served them


async def test_both_replicas_answer_through_nginx(client: httpx.AsyncClient) -> None:
    instances = {(await client.get("/api/info")).json()["instance"] for _ in range(10)}

    assert len(instances) == 2
