"""Checks of the stack on the test swarm, through nginx on the edge node (tests/swarm/run runs
them in the test image, on the cluster's network).

    python -m tests.swarm.checks spread   /api/info answers from replicas on at least two nodes
    python -m tests.swarm.checks events   an item written through one replica reaches SSE and
                                          WebSocket subscribers served by replicas on other nodes
    python -m tests.swarm.checks writes   writes until SIGTERM, each retried with its
                                          Idempotency-Key until acknowledged; then every
                                          acknowledged item must be stored; prints the longest
                                          time without an acknowledged write (node loss)

Exit 1 with what was seen when a check fails.
"""

import asyncio
import collections
import signal
import sys
import time
import uuid
from http import HTTPStatus

import httpx

from tests.e2e.conftest import AUTHORIZATION, BASE_URL
from tests.e2e.followers import Follower, SseFollower, WsFollower

SUBSCRIBERS = 8  # of each transport: nginx spreads them over the replicas round robin


def node_of(instance: str) -> str:
    """stack.yaml names each app task `<node>-app-<slot>`."""
    return instance.rsplit("-app-", 1)[0]


async def spread() -> None:
    async with httpx.AsyncClient(base_url=BASE_URL, timeout=10) as http:
        answers = [await http.get("/api/info") for _ in range(20)]
    assert all(a.status_code == HTTPStatus.OK for a in answers), [a.status_code for a in answers]
    instances = collections.Counter(a.json()["instance"] for a in answers)
    nodes = {node_of(instance) for instance in instances}
    print(f"spread: 20 answers from {dict(instances)}: {len(nodes)} nodes")
    assert len(nodes) >= 2, f"replicas on one node only: {instances}"


async def events() -> None:
    followers: list[Follower] = [SseFollower() for _ in range(SUBSCRIBERS)]
    followers += [WsFollower() for _ in range(SUBSCRIBERS)]
    async with FollowerGroup(followers):
        for follower in followers:
            await follower.until_connected(within=30)
        async with httpx.AsyncClient(base_url=BASE_URL, timeout=10, headers=AUTHORIZATION) as http:
            created = await http.post("/api/items", json={"name": "across nodes"})
            assert created.status_code == HTTPStatus.CREATED, created.text
            writer = (await http.get("/api/info")).json()["instance"]
        item_id = created.json()["id"]
        for follower in followers:
            await follower.until(
                lambda f: any(e.get("item", {}).get("id") == item_id for e in f.events),
                within=30,
                what=f"told of item {item_id}",
            )
    by_transport = {
        kind: {node_of(f.instances[0]) for f in followers if type(f) is kind and f.instances}
        for kind in (SseFollower, WsFollower)
    }
    print(
        f"events: item {item_id} written (a later request answered by {writer}) reached"
        f" {len(followers)} subscribers, SSE served on {sorted(by_transport[SseFollower])},"
        f" WebSocket on {sorted(by_transport[WsFollower])}"
    )
    for kind, nodes in by_transport.items():
        assert len(nodes) >= 2, f"{kind.__name__} subscribers all on one node: {nodes}"


async def writes() -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    acknowledged: list[str] = []
    counts: collections.Counter[str] = collections.Counter()
    longest = 0.0
    last = time.monotonic()
    async with httpx.AsyncClient(base_url=BASE_URL, timeout=5, headers=AUTHORIZATION) as http:
        while not stop.is_set():
            key = str(uuid.uuid4())
            while not stop.is_set():  # the same write until it is acknowledged
                counts["requests"] += 1
                try:
                    response = await http.post(
                        "/api/items",
                        json={"name": f"node loss {len(acknowledged)}"},
                        headers={"Idempotency-Key": key},
                    )
                except httpx.TransportError as error:
                    counts[f"failed: {type(error).__name__}"] += 1
                else:
                    if response.status_code in (HTTPStatus.CREATED, HTTPStatus.OK):
                        acknowledged.append(response.headers["location"])
                        now = time.monotonic()
                        longest, last = max(longest, now - last), now
                        break
                    counts[f"failed: {response.status_code}"] += 1
                counts["retried"] += 1
                await asyncio.sleep(0.5)
            await asyncio.sleep(0.1)
        lost = [
            location
            for location in acknowledged
            if (await http.get(location)).status_code != HTTPStatus.OK
        ]
    print(
        f"writes: {len(acknowledged)} acknowledged, {dict(counts)}, longest time without an"
        f" acknowledged write {longest:.1f}s; acknowledged but not stored: {lost}"
    )
    assert acknowledged, "no write was acknowledged"
    assert not lost, f"{len(lost)} acknowledged writes are not stored"
    assert longest < 60, f"no write acknowledged for {longest:.1f}s"


class FollowerGroup:
    """Enter every follower, exit them all."""

    def __init__(self, followers: list[Follower]) -> None:
        self.followers = followers

    async def __aenter__(self) -> None:
        for follower in self.followers:
            await follower.__aenter__()

    async def __aexit__(self, *exc: object) -> None:
        for follower in self.followers:
            await follower.__aexit__(None, None, None)


if __name__ == "__main__":
    check = {"spread": spread, "events": events, "writes": writes}[sys.argv[1]]
    try:
        asyncio.run(check())
    except AssertionError as error:
        sys.exit(f"{sys.argv[1]}: FAILED: {error}")
