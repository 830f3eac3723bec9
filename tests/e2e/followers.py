"""Subscribers that resume by themselves, for the tests: an SSE client that follows the
EventSource algorithm of the HTML standard (reconnect after `retry` ms, with the last event id
in `Last-Event-ID`, give up on any answer but 200 text/event-stream), and a WebSocket client
that reconnects with `?since=` its last id. They record everything they were told."""

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from tests.e2e.conftest import BASE_URL

WS_URL = BASE_URL.replace("http://", "ws://") + "/ws/events"


@dataclass
class Follower:
    since: int | None = None
    events: list[dict[str, Any]] = field(default_factory=list)  # each event's data
    resets: list[dict[str, Any]] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)  # ids told before any event
    instances: list[str] = field(default_factory=list)  # the replica of each connection
    connections: int = 0
    failures: list[str] = field(default_factory=list)  # what ended a connection, if not clean
    gave_up: str | None = None  # what a browser would have given up on
    task: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def ids(self) -> list[int]:
        return [event["id"] for event in self.events]

    async def __aenter__(self) -> Self:
        self.task = asyncio.create_task(self._run())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def _run(self) -> None:
        raise NotImplementedError

    def _record(self, message: dict[str, Any]) -> None:
        if message["type"] == "reset":
            self.resets.append(message)
        else:
            self.events.append(message)
        self._changed.set()

    async def until(self, condition: Any, *, within: float, what: str) -> None:
        """Wait until `condition(self)` holds; fail with what was seen after `within` s."""
        try:
            async with asyncio.timeout(within):
                while not condition(self):
                    if self.gave_up:
                        raise AssertionError(f"gave up: {self.gave_up}")
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"{type(self).__name__}: not {what} within {within}s; ids {self.ids[-10:]},"
                f" resets {self.resets}, connections {self.connections}, failures"
                f" {self.failures[-5:]}"
            ) from None

    async def until_id(self, event_id: int, *, within: float = 30) -> None:
        await self.until(lambda f: event_id in f.ids, within=within, what=f"at id {event_id}")

    async def until_connected(self, count: int = 1, *, within: float = 30) -> None:
        await self.until(
            lambda f: f.connections >= count and len(f.positions) + len(f.resets) >= count,
            within=within,
            what=f"connected {count} times",
        )


@dataclass
class SseFollower(Follower):
    retry: float = 3.0
    last_event_id: str = ""

    async def _run(self) -> None:
        url = "/api/events" if self.since is None else f"/api/events?since={self.since}"
        timeout = httpx.Timeout(10, read=60)
        async with httpx.AsyncClient(base_url=BASE_URL, timeout=timeout) as http:
            while True:
                headers = {"Last-Event-ID": self.last_event_id} if self.last_event_id else {}
                try:
                    async with http.stream("GET", url, headers=headers) as response:
                        kind = response.headers.get("content-type", "")
                        if response.status_code != httpx.codes.OK or kind != "text/event-stream":
                            self.gave_up = f"{response.status_code} {kind}"
                            self._changed.set()
                            return
                        self.connections += 1
                        await self._read(response)
                except httpx.TransportError as exc:
                    self.failures.append(repr(exc))
                self._changed.set()
                await asyncio.sleep(self.retry)

    async def _read(self, response: httpx.Response) -> None:
        event_type, data, event_id = "", [], self.last_event_id
        async for line in response.aiter_lines():
            if line.startswith(":"):
                if line.startswith(": subscribed on "):
                    self.instances.append(line.removeprefix(": subscribed on "))
                continue
            if line:
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "id":
                    event_id = value
                elif name == "event":
                    event_type = value
                elif name == "data":
                    data.append(value)
                elif name == "retry" and value.isdigit():
                    self.retry = int(value) / 1000
                continue
            self.last_event_id = event_id  # set on every dispatch, data or not
            if data:
                message = json.loads("\n".join(data))
                assert message["type"] == (event_type or "message"), (message, event_type)
                self._record(message)
            elif event_id:
                self.positions.append(int(event_id))
                self._changed.set()
            event_type, data = "", []


@dataclass
class WsFollower(Follower):
    last: int | None = None
    closes: list[int | None] = field(default_factory=list)

    async def _run(self) -> None:
        self.last = self.since
        while True:
            url = WS_URL if self.last is None else f"{WS_URL}?since={self.last}"
            try:
                async with connect(url, open_timeout=10) as websocket:
                    self.connections += 1
                    try:
                        async for text in websocket:
                            self._message(json.loads(text))
                    finally:
                        self.closes.append(websocket.close_code)
            except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError) as exc:
                self.failures.append(repr(exc))
            self._changed.set()
            await asyncio.sleep(1)

    def _message(self, message: dict[str, Any]) -> None:
        self.last = message["id"]
        if message["type"] == "subscribed":
            self.positions.append(message["id"])
            self.instances.append(message["instance"])
            self._changed.set()
        else:
            self._record(message)
