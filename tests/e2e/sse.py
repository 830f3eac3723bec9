"""A small Server-Sent Events reader over httpx, for the tests."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx


class EventStream:
    """Reads an open text/event-stream in a task; events and comments arrive on queues."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.comments: asyncio.Queue[str] = asyncio.Queue()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        fields: dict[str, str] = {}
        async for line in self.response.aiter_lines():
            if line.startswith(":"):
                await self.comments.put(line[1:].strip())
            elif line:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
            elif "data" in fields:
                await self.events.put({**fields, "data": json.loads(fields["data"])})
                fields = {}

    async def event(self, within: float = 5) -> dict[str, Any]:
        return await asyncio.wait_for(self.events.get(), within)

    async def comment(self, within: float = 5) -> str:
        return await asyncio.wait_for(self.comments.get(), within)

    async def subscribed_on(self) -> str:
        """Wait for the greeting; answer the app instance the stream is served by."""
        greeting = await self.comment()
        assert greeting.startswith("subscribed on "), greeting
        return greeting.removeprefix("subscribed on ")

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@contextlib.asynccontextmanager
async def event_stream(client: httpx.AsyncClient) -> AsyncIterator[EventStream]:
    async with client.stream("GET", "/api/events", timeout=httpx.Timeout(10, read=60)) as response:
        assert response.status_code == httpx.codes.OK
        assert response.headers["content-type"] == "text/event-stream"
        stream = EventStream(response)
        try:
            yield stream
        finally:
            await stream.close()
