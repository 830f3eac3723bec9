"""The event log as an app process follows it: one reader of the table, fanned out in memory.

Each process keeps two connections of its own, outside Django's pool (a pooled connection is
reset between uses, which drops a LISTEN, and a stream must never hold a pool connection):

- the listener LISTENs on `events`. NOTIFY is only a wake-up: the trigger sends an empty
  payload, and whatever the notifications say, the table is the truth;
- the reader fetches new rows (`id > head`) when woken, and serves the subscribers that are
  behind this process's memory (a resume from long ago, a client that read slowly). Its reads
  go one at a time, so however many subscribers catch up, a process costs the database one
  query at a time.

The newest EVENTS_BUFFER_SIZE events stay in memory, contiguous and ending at `head`: a
subscriber within them (a live one, or one reconnecting after a blip, a deploy or a reload)
costs no query at all. Each event is formatted once per process, not once per subscriber.

Subscribers do not queue events: each holds a position (the last id it was given) and asks for
what follows it, from memory or from the table (events/streams.py). So a slow subscriber
holds no memory and is never dropped; it just reads from further back.

When the server is told to stop (SIGTERM), every stream ends at once, cleanly (SSE: the
response ends; WebSocket: close 1012), and new ones are told to retry: a stream has no natural
end, and otherwise the server's graceful shutdown would wait GRACEFUL_TIMEOUT for each. Clients
resume on another replica, or on this one once it is back, from their last id.
"""

import asyncio
import contextlib
import logging
import random
import signal
import threading
import weakref
from dataclasses import dataclass
from typing import Any

import psycopg
from django.conf import settings
from psycopg import sql

from events.db import connect
from events.services import event_prune

logger = logging.getLogger(__name__)

CHANNEL = "events"
FETCH_BATCH = 1000  # rows per query when following the table
READ_BATCH = 500  # events handed to a subscriber at once
PRUNE_EVERY = 600.0  # seconds between two prunes by a process (one runs at a time)


class Unavailable(Exception):
    """The event log cannot be read now (the database is unreachable, or the server stops)."""


@dataclass(slots=True, eq=False)
class Event:
    id: int
    type: str
    data: str  # the event's JSON, as clients receive it
    frame: bytes = b""  # its Server-Sent Events frame, made once (sse())

    def sse(self) -> bytes:
        if not self.frame:
            self.frame = f"id: {self.id}\nevent: {self.type}\ndata: {self.data}\n\n".encode()
        return self.frame


SELECT_AFTER = sql.SQL(
    "SELECT id, type, payload::text FROM events_event WHERE id > %s ORDER BY id LIMIT %s"
)
SELECT_RANGE = sql.SQL(
    "SELECT id, type, payload::text FROM events_event WHERE id > %s AND id <= %s"
    " ORDER BY id LIMIT %s"
)
SELECT_HEAD = sql.SQL("SELECT coalesce((SELECT last_id FROM events_head WHERE id = 1), 0)")


async def _rows(
    connection: psycopg.AsyncConnection[Any], query: sql.SQL, *params: int
) -> list[Event]:
    cursor = await connection.execute(query, params)
    return [Event(id, type, data) for id, type, data in await cursor.fetchall()]


async def _head(connection: psycopg.AsyncConnection[Any]) -> int:
    cursor = await connection.execute(SELECT_HEAD)
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


class EventLog:
    def __init__(self) -> None:
        self.head = 0  # the newest event this process has read
        self.closing = False
        self._ring: list[Event] = []  # the newest events, contiguous, the last one is `head`
        self._waiters: list[asyncio.Future[bool]] = []
        self._connected = asyncio.Event()
        self._wake = asyncio.Event()
        self._reader: psycopg.AsyncConnection[Any] | None = None
        self._reader_broken = asyncio.Event()
        self._read_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []

    # Running ----------------------------------------------------------------------------------

    def start(self) -> None:
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [
                loop.create_task(self._run(), name="events: follow"),
                loop.create_task(self._tick(), name="events: heartbeat"),
                loop.create_task(self._prune(), name="events: prune"),
            ]
            _close_streams_on_sigterm()

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def ready(self, within: float) -> None:
        """Wait until this process follows the log; raises Unavailable after `within` seconds."""
        if self.closing:
            raise Unavailable("the server is restarting")
        self.start()
        try:
            await asyncio.wait_for(self._connected.wait(), within)
        except TimeoutError:
            raise Unavailable("the event log cannot be read: the database is unreachable") from None

    def close_streams(self) -> None:
        """End every stream now and refuse new ones: the server is stopping."""
        self.closing = True
        self._resolve(True)

    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._session()
            except* (psycopg.Error, OSError) as failure:
                logger.warning(
                    "events: lost the database (%s); retrying in %.1fs",
                    failure.exceptions[0],
                    delay,
                )
            else:
                delay = 0.5
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _session(self) -> None:
        async with await connect() as listener, await connect() as reader:
            await listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
            self._reader = reader
            self._reader_broken.clear()
            try:
                await self._load()
                self._connected.set()
                logger.info("events: following the log from id %d", self.head)
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._listen(listener))
                    group.create_task(self._follow())
                    group.create_task(self._watch_reader())
            finally:
                self._connected.clear()
                self._reader = None

    async def _listen(self, listener: psycopg.AsyncConnection[Any]) -> None:
        async for _ in listener.notifies():
            self._wake.set()
        raise psycopg.OperationalError("the listening connection ended")

    async def _follow(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._fetch_new()

    async def _watch_reader(self) -> None:
        await self._reader_broken.wait()
        raise psycopg.OperationalError("the reading connection failed")

    async def _tick(self) -> None:
        """Wakes idle subscribers every EVENTS_HEARTBEAT_SECONDS (SSE sends a heartbeat): one
        timer for the process, not one per subscriber."""
        while True:
            await asyncio.sleep(settings.EVENTS_HEARTBEAT_SECONDS)
            self._resolve(False)

    async def _prune(self) -> None:
        # Processes started together do not all try at once; one prunes, the others skip.
        await asyncio.sleep(random.uniform(30, 90))  # noqa: S311 (not for security)
        while True:
            try:
                pruned = await event_prune(older_than=settings.EVENTS_RETENTION)
            except (psycopg.Error, OSError) as exc:
                logger.warning("events: could not prune the log (%s)", exc)
            else:
                if pruned:
                    logger.info("events: pruned %d events older than the retention", pruned)
            await asyncio.sleep(PRUNE_EVERY)

    # Following the table ----------------------------------------------------------------------

    async def _load(self) -> None:
        """On (re)connection: the head, and the newest events in memory."""
        reader = self._require_reader()
        async with self._read_lock:
            head = await _head(reader)
            # Ids never go back on their own: the database was restored or flushed. Subscribers
            # ahead of it are reset (events/streams.py).
            restored = head < self.head
            if restored:
                logger.warning("events: the log went back from id %d to %d", self.head, head)
                self._ring = []
            known = 0 if restored else self.head
            start = max(head - settings.EVENTS_BUFFER_SIZE, known)
            rows = await _rows(reader, SELECT_RANGE, start, head, head - start)
            if head > known:
                if rows and rows[0].id == known + 1 and rows[-1].id == head:
                    self._ring.extend(rows)
                else:  # more new events than memory holds, or some pruned meanwhile
                    self._ring = rows if rows and rows[-1].id == head else []
            self.head = head
            self._trim()
        self._resolve(True)

    async def _fetch_new(self) -> None:
        reader = self._require_reader()
        fetched = False
        async with self._read_lock:
            try:
                while True:
                    rows = await _rows(reader, SELECT_AFTER, self.head, FETCH_BATCH)
                    if not rows:
                        break
                    if rows[0].id != self.head + 1:  # a gap: pruned while this process was away
                        self._ring = []
                    self._ring.extend(rows)
                    self.head = rows[-1].id
                    fetched = True
                    if len(rows) < FETCH_BATCH:
                        break
                if not fetched and await _head(reader) < self.head:
                    raise psycopg.OperationalError("the log went back (restored or flushed)")
            except psycopg.Error:
                self._reader_broken.set()
                raise
            self._trim()
        if fetched:
            self._resolve(True)

    def _trim(self) -> None:
        excess = len(self._ring) - settings.EVENTS_BUFFER_SIZE
        if excess > settings.EVENTS_BUFFER_SIZE // 4:  # amortized: not a copy per event
            del self._ring[:excess]

    def _require_reader(self) -> psycopg.AsyncConnection[Any]:
        if self._reader is None:
            raise Unavailable("the event log cannot be read: the database is unreachable")
        return self._reader

    # What subscribers use ---------------------------------------------------------------------

    async def start_position(self, since: int | None) -> tuple[int, str | None]:
        """Where a new subscriber starts, and why it is reset if it is: `since` is the last id
        it saw (None: a new subscriber, which starts at the head)."""
        await self.ready(within=settings.EVENTS_READY_TIMEOUT)
        if since is None:
            return self.head, None
        if since > self.head:
            # Another replica may have served it an event this process has not read yet.
            await self._fetch_new_or_unavailable()
        if since > self.head:
            return self.head, "ahead"
        if self.head - since > settings.EVENTS_REPLAY_MAX:
            return self.head, "behind"
        return since, None

    async def _fetch_new_or_unavailable(self) -> None:
        try:
            await self._fetch_new()
        except psycopg.Error as exc:
            raise Unavailable(f"the event log cannot be read: {exc}") from exc

    def recent_after(self, position: int) -> list[Event] | None:
        """The events after `position` from memory ([] if none yet), or None if they are older
        than what this process keeps."""
        if position >= self.head:
            return []
        first = self._ring[0].id if self._ring else self.head + 1
        if position + 1 < first:
            return None
        start = position + 1 - first
        return self._ring[start : start + READ_BATCH]

    async def read_after(self, position: int) -> list[Event]:
        """The events after `position` from the table (at most READ_BATCH), up to the head:
        never beyond what this process has read, so that a subscriber stays behind it."""
        reader = self._require_reader()
        async with self._read_lock:
            try:
                return await _rows(reader, SELECT_RANGE, position, self.head, READ_BATCH)
            except psycopg.Error as exc:
                self._reader_broken.set()
                raise Unavailable(f"the event log cannot be read: {exc}") from exc

    async def wait(self, position: int) -> bool:
        """Until there is an event after `position` (True), the server stops (True), or the
        heartbeat tick (False)."""
        if self.head > position or self.closing:
            return True
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        return bool(await waiter)

    def _resolve(self, value: bool) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(value)


# One log per event loop: a server process runs one loop, tests one per test.
_logs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, EventLog] = weakref.WeakKeyDictionary()


def event_log() -> EventLog:
    loop = asyncio.get_running_loop()
    if loop not in _logs:
        _logs[loop] = EventLog()
    return _logs[loop]


_sigterm_chained = False


def _close_streams_on_sigterm() -> None:
    """Chain a SIGTERM handler in front of the server's own (uvicorn's, or config/daphne.py's,
    both installed before the first request), so that streams end as soon as the server is
    told to stop. Once per process, from the main thread only (where signal handlers live)."""
    global _sigterm_chained
    previous = signal.getsignal(signal.SIGTERM)
    if _sigterm_chained or threading.current_thread() is not threading.main_thread():
        return
    if not callable(previous):  # no server handler (a test run): nothing to chain in front of
        return
    _sigterm_chained = True

    def on_sigterm(signum: int, frame: Any) -> None:
        for loop, log in list(_logs.items()):
            if not loop.is_closed():
                loop.call_soon_threadsafe(log.close_streams)
        previous(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
