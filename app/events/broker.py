"""One LISTEN connection per process, fanned out to in-process subscribers.

PostgreSQL NOTIFY reaches every connection that LISTENs on the channel, so every app process
(and every replica) sees every change, whichever process made it. Each process keeps one
dedicated psycopg async connection (outside the pool: pooled connections are reset between
requests, which would drop the LISTEN) and hands each notification to every subscriber's queue.

Payloads are JSON objects with at least `id` (an increasing event number) and `type`; this
module knows nothing else about them.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any
from weakref import WeakKeyDictionary

import psycopg
from django.conf import settings
from django.db import connections
from psycopg import sql

logger = logging.getLogger(__name__)

Event = dict[str, Any]


class Unavailable(Exception):
    """The database cannot be listened to now."""


class Subscription:
    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=size)
        self.overflowed = False

    async def get(self) -> Event | None:
        """The next event; None once the subscription was dropped for falling behind."""
        return await self.queue.get()

    def offer(self, event: Event) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            # A subscriber that stopped reading must not hold events (or memory) for ever.
            self.overflowed = True
            self.queue.get_nowait()
            self.queue.put_nowait(None)


class Broker:
    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.subscribers: set[Subscription] = set()
        self.listening = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._listen(), name="events")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None

    async def ready(self, within: float) -> None:
        """Wait until the LISTEN is active; raises Unavailable after `within` seconds."""
        self.start()
        try:
            await asyncio.wait_for(self.listening.wait(), within)
        except TimeoutError:
            raise Unavailable("not listening to the database") from None

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        subscription = Subscription(settings.EVENTS_QUEUE_SIZE)
        self.subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self.subscribers.discard(subscription)

    def publish(self, event: Event) -> None:
        for subscription in list(self.subscribers):
            subscription.offer(event)

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    **_connection_params(), autocommit=True
                ) as connection:
                    await connection.execute(
                        sql.SQL("LISTEN {}").format(sql.Identifier(self.channel))
                    )
                    self.listening.set()
                    delay = 0.5
                    logger.info("listening on %r", self.channel)
                    async for notify in connection.notifies():
                        self._deliver(notify.payload)
            except psycopg.Error as exc:
                logger.warning("listener lost the database (%s); retrying in %.1fs", exc, delay)
            finally:
                self.listening.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    def _deliver(self, payload: str) -> None:
        try:
            event = json.loads(payload)
        except ValueError:
            logger.error("ignoring a notification that is not JSON: %.200r", payload)
            return
        self.publish(event)


def _connection_params() -> dict[str, Any]:
    """libpq parameters of the default database, without Django's cursor and adapter choices."""
    params = dict(connections["default"].get_connection_params())
    for django_only in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(django_only, None)
    return params


# One broker per event loop: a process runs one loop, tests run one per test.
_brokers: WeakKeyDictionary[asyncio.AbstractEventLoop, Broker] = WeakKeyDictionary()


def broker() -> Broker:
    loop = asyncio.get_running_loop()
    if loop not in _brokers:
        _brokers[loop] = Broker(settings.EVENTS_CHANNEL)
    return _brokers[loop]
