"""With two app replicas behind nginx, every replica delivers every event, whichever replica
made the change: each process LISTENs to PostgreSQL itself. Run by `make test` after
`docker compose up --scale app=2`."""

import contextlib
from http import HTTPStatus

import httpx
import pytest

from tests.e2e.sse import EventStream, event_stream

pytestmark = pytest.mark.replicas


async def test_each_replica_streams_every_change(client: httpx.AsyncClient) -> None:
    async with contextlib.AsyncExitStack() as stack:
        streams: dict[str, EventStream] = {}
        for _ in range(20):  # nginx balances round-robin: a few tries reach both replicas
            stream = await stack.enter_async_context(event_stream(client))
            streams.setdefault(await stream.subscribed_on(), stream)
            if len(streams) == 2:
                break
        assert len(streams) == 2, f"reached only {set(streams)}"

        created = await client.post("/api/items", json={"name": "Replicated"})
        assert created.status_code == HTTPStatus.CREATED

        for instance, stream in streams.items():
            event = await stream.event()
            assert event["event"] == "item.created", instance
            assert event["data"]["item"]["id"] == created.json()["id"], instance


async def test_both_replicas_answer_through_nginx(client: httpx.AsyncClient) -> None:
    instances = {(await client.get("/api/info")).json()["instance"] for _ in range(10)}

    assert len(instances) == 2
