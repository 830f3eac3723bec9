"""Events: NOTIFY from the trigger, the per-process listener, and the SSE stream."""

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator
from http import HTTPStatus
from typing import Any

import pytest
from django.test import AsyncClient

from events.broker import Broker, broker
from items import services

pytestmark = pytest.mark.django_db(transaction=True)


async def next_event(subscription: Any, within: float = 5) -> dict[str, Any]:
    event = await asyncio.wait_for(subscription.get(), within)
    assert event is not None
    return dict(event)


async def test_every_change_is_announced_in_order_with_increasing_ids() -> None:
    await broker().ready(within=5)
    async with broker().subscribe() as subscription:
        item, _ = await services.item_create(name="Watched")
        await services.item_update(item_id=item.pk, name="Renamed")
        await services.item_delete(item_id=item.pk)

        events = [await next_event(subscription) for _ in range(3)]

    assert [e["type"] for e in events] == ["item.created", "item.updated", "item.deleted"]
    assert [e["item"]["id"] for e in events] == [item.pk] * 3
    assert [e["item"]["name"] for e in events] == ["Watched", "Renamed", "Renamed"]
    assert events[0]["id"] < events[1]["id"] < events[2]["id"]
    await broker().stop()


async def test_a_subscriber_that_falls_behind_is_dropped_not_buffered_for_ever() -> None:
    small = Broker("events")
    async with small.subscribe() as subscription:
        for n in range(1001):  # one more than EVENTS_QUEUE_SIZE
            small.publish({"id": n, "type": "test"})

        drained = [subscription.queue.get_nowait() for _ in range(subscription.queue.qsize())]

    assert subscription.overflowed
    assert drained[-1] is None
    assert len(drained) == 1000
    assert small.subscribers == set()


class Stream:
    """Reads a streaming response in a task, as the server does, so that it can be cancelled
    the way Django cancels it when the client disconnects."""

    def __init__(self, response: Any) -> None:
        self.chunks: asyncio.Queue[str] = asyncio.Queue()
        self.task = asyncio.create_task(self._read(response.streaming_content))

    async def _read(self, content: AsyncGenerator[bytes]) -> None:
        async for chunk in content:
            await self.chunks.put(chunk.decode())

    async def next(self) -> str:
        return await asyncio.wait_for(self.chunks.get(), 5)

    async def disconnect(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def test_sse_stream_delivers_changes_and_unsubscribes_on_disconnect() -> None:
    response = await AsyncClient().get("/api/events")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-store"
    stream = Stream(response)

    greeting = await stream.next()
    assert greeting.startswith("retry: 3000\n: subscribed on ")
    assert len(broker().subscribers) == 1

    item, _ = await services.item_create(name="Streamed")
    message = await stream.next()

    fields = dict(line.split(": ", 1) for line in message.strip().splitlines())
    data = json.loads(fields["data"])
    assert fields["event"] == "item.created"
    assert fields["id"] == str(data["id"])
    assert data["item"]["id"] == item.pk
    assert data["item"]["name"] == "Streamed"

    await stream.disconnect()
    assert broker().subscribers == set()
    await broker().stop()


async def test_sse_sends_a_heartbeat_comment_when_idle(settings: Any) -> None:
    settings.EVENTS_HEARTBEAT_SECONDS = 0.2
    stream = Stream(await AsyncClient().get("/api/events"))
    await stream.next()

    assert await stream.next() == ": heartbeat\n\n"
    await stream.disconnect()
    await broker().stop()
