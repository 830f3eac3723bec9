"""The event log: the triggers (every change recorded, in commit order, without gaps), the
process's follower, the streams (resume, reset, catching up), pruning, SSE and WebSocket."""

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncGenerator, AsyncIterator
from http import HTTPStatus
from typing import Any

import psycopg
import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test import AsyncClient

from events import log as log_module
from events.db import connect
from events.log import EventLog, event_log
from events.models import Event
from events.services import event_prune
from events.streams import HEARTBEAT, Reset, Start, follow
from events.websocket import events_websocket
from items import services

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def log() -> AsyncIterator[EventLog]:
    log = event_log()
    await log.ready(within=10)
    yield log
    await log.stop()


async def head() -> int:
    async with await connect() as db:
        cursor = await db.execute("SELECT coalesce(max(last_id), 0) FROM events_head")
        row = await cursor.fetchone()
        assert row is not None
        return int(row[0])


async def recorded(after: int) -> list[dict[str, Any]]:
    return [event.payload async for event in Event.objects.filter(id__gt=after).order_by("id")]


async def caught_up(log: EventLog) -> int:
    """Once the process has read every committed event (it is woken within milliseconds)."""
    newest = await head()
    async with asyncio.timeout(10):
        while log.head < newest:
            await log.wait(log.head)
    return newest


async def take(stream: AsyncIterator[Any], count: int, within: float = 10) -> list[Any]:
    """The next `count` events of a follow() stream, skipping heartbeats."""
    events: list[Any] = []
    async with asyncio.timeout(within):
        while len(events) < count:
            message = await anext(stream)
            if isinstance(message, list):
                events.extend(message)
            elif message is not HEARTBEAT:
                raise AssertionError(f"expected events, got {message!r}")
    return events


# The triggers ---------------------------------------------------------------------------------


async def test_every_change_is_recorded_with_the_whole_item_as_the_api_shows_it() -> None:
    before = await head()
    item, _ = await services.item_create(name="Watched", description="a long story")
    created = (await AsyncClient().get(f"/api/items/{item.pk}")).json()
    await services.item_update(item_id=item.pk, name="Renamed")
    updated = (await AsyncClient().get(f"/api/items/{item.pk}")).json()
    await services.item_delete(item_id=item.pk)

    events = await recorded(before)

    assert [e["id"] for e in events] == [before + 1, before + 2, before + 3]
    assert [e["type"] for e in events] == ["item.created", "item.updated", "item.deleted"]
    assert [e["item"] for e in events] == [created, updated, updated]
    assert all(e["at"].endswith("Z") for e in events)


async def test_a_write_made_in_sql_is_recorded_too() -> None:
    before = await head()

    def write_in_sql() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO items_item (name, description, created_at, updated_at,"
                " request_digest) VALUES ('from psql', '', now(), now(), '')"
            )

    await sync_to_async(write_in_sql)()

    [event] = await recorded(before)
    assert event["type"] == "item.created"
    assert event["item"]["name"] == "from psql"


async def test_a_truncate_is_recorded_and_a_rollback_leaves_no_gap() -> None:
    await services.item_create(name="Doomed")
    before = await head()
    async with await connect() as db:
        async with db.transaction(force_rollback=True):
            await db.execute(
                "INSERT INTO items_item (name, description, created_at, updated_at,"
                " request_digest) VALUES ('rolled back', '', now(), now(), '')"
            )
        await db.execute("TRUNCATE items_item")

    events = await recorded(before)

    assert [(e["id"], e["type"]) for e in events] == [(before + 1, "items.truncated")]
    assert "item" not in events[0]


async def test_concurrent_writers_get_contiguous_ids_in_commit_order() -> None:
    """16 writers on their own connections insert, update and delete as fast as they can while a
    reader polls for new events: every poll must continue exactly where the last one ended. An id
    committed after a higher one (the fault of ids from a sequence) would show as a gap."""
    writers, writes_each = 16, 60
    before = await head()
    done = asyncio.Event()
    polls: list[list[int]] = []

    async def write(number: int) -> None:
        async with await connect() as db:
            for n in range(writes_each // 3):
                cursor = await db.execute(
                    "INSERT INTO items_item (name, description, created_at, updated_at,"
                    " request_digest) VALUES (%s, '', now(), now(), '') RETURNING id",
                    [f"writer {number} item {n}"],
                )
                row = await cursor.fetchone()
                assert row is not None
                await asyncio.sleep(random.random() / 1000)
                await db.execute("UPDATE items_item SET name = name || '!' WHERE id = %s", row)
                await db.execute("DELETE FROM items_item WHERE id = %s", row)

    async def poll() -> None:
        last = before
        async with await connect() as db:
            while not done.is_set() or last < before + writers * writes_each:
                cursor = await db.execute(
                    "SELECT id FROM events_event WHERE id > %s ORDER BY id", [last]
                )
                ids = [row[0] for row in await cursor.fetchall()]
                if ids:
                    polls.append(ids)
                    last = ids[-1]

    poller = asyncio.create_task(poll())
    await asyncio.gather(*(write(n) for n in range(writers)))
    done.set()
    await asyncio.wait_for(poller, 30)

    seen = [event_id for ids in polls for event_id in ids]
    assert seen == list(range(before + 1, before + writers * writes_each + 1))
    assert len(polls) > 10  # the reader really read while the writers wrote
    assert await head() == before + writers * writes_each


# The follower and its streams ------------------------------------------------------------------


async def test_a_new_subscriber_starts_at_the_head_then_gets_every_change(log: EventLog) -> None:
    await services.item_create(name="Before")
    newest = await caught_up(log)
    stream = follow(None)
    start = await anext(stream)
    assert start == Start(newest)

    item, _ = await services.item_create(name="After")
    await services.item_update(item_id=item.pk, description="changed")
    events = await take(stream, 2)

    assert [e.id for e in events] == [start.id + 1, start.id + 2]
    assert [json.loads(e.data)["type"] for e in events] == ["item.created", "item.updated"]
    assert events[0].sse().startswith(f"id: {start.id + 1}\nevent: item.created\ndata: ".encode())


async def test_a_resumed_subscriber_gets_exactly_what_followed_then_live_events(
    log: EventLog,
) -> None:
    since = await head()
    for n in range(5):
        await services.item_create(name=f"missed {n}")
    stream = follow(since)

    assert await anext(stream) == Start(since)
    replayed = await take(stream, 5)
    await services.item_create(name="live")
    live = await take(stream, 1)

    assert [e.id for e in replayed + live] == list(range(since + 1, since + 7))


async def test_resuming_from_an_id_newer_than_the_newest_is_a_reset(log: EventLog) -> None:
    newest = await head()
    stream = follow(newest + 5)

    assert await anext(stream) == Reset(newest, "ahead")
    await services.item_create(name="after the reset")
    assert [e.id for e in await take(stream, 1)] == [newest + 1]


async def test_resuming_further_back_than_the_replay_limit_is_a_reset(
    log: EventLog, settings: Any
) -> None:
    settings.EVENTS_REPLAY_MAX = 3
    since = await head()
    for n in range(4):
        await services.item_create(name=f"many {n}")
    await caught_up(log)

    assert await anext(follow(since + 1)) == Start(since + 1)  # 3 to replay: within the limit
    assert await anext(follow(since)) == Reset(since + 4, "behind")


async def test_resuming_from_pruned_events_is_a_reset(log: EventLog) -> None:
    since = await head()
    await services.item_create(name="old")
    await services.item_create(name="old too")
    await asyncio.sleep(0.05)
    assert (await event_prune(older_than=0.01) or 0) >= 2  # every event so far
    await services.item_create(name="kept")
    fresh = EventLog()  # a process that started after the pruning: nothing older in memory
    log_module._logs[asyncio.get_running_loop()] = fresh
    try:
        stream = follow(since)
        assert await anext(stream) == Start(since)
        assert await anext(stream) == Reset(since + 3, "pruned")
    finally:
        await fresh.stop()


async def test_a_subscriber_that_falls_behind_catches_up_from_the_table(
    log: EventLog, settings: Any
) -> None:
    """It is never dropped: what is no longer in the process's memory is read from the table."""
    settings.EVENTS_BUFFER_SIZE = 10
    stream = follow(None)
    start = await anext(stream)
    assert isinstance(start, Start)
    for n in range(60):
        await services.item_create(name=f"while it slept {n}")
    await caught_up(log)
    assert log.recent_after(start.id) is None  # older than the 10 (+ a quarter) in memory

    events = await take(stream, 60)

    assert [e.id for e in events] == list(range(start.id + 1, start.id + 61))


async def test_streams_end_when_the_server_stops_and_new_ones_are_refused(log: EventLog) -> None:
    stream = follow(None)
    await anext(stream)
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.05)

    log.close_streams()

    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, 5)
    with pytest.raises(log_module.Unavailable):
        await anext(follow(None))


async def test_idle_subscribers_get_a_heartbeat(settings: Any) -> None:
    settings.EVENTS_HEARTBEAT_SECONDS = 0.2
    log = event_log()
    try:
        stream = follow(None)
        await anext(stream)
        assert await asyncio.wait_for(anext(stream), 5) is HEARTBEAT
    finally:
        await log.stop()


# Pruning ---------------------------------------------------------------------------------------


async def test_prune_keeps_recent_events_and_runs_in_one_process_at_a_time() -> None:
    await services.item_create(name="old")
    await asyncio.sleep(3)
    await services.item_create(name="recent")
    newest = await head()

    async with await connect() as other:
        await other.execute("SELECT pg_advisory_lock('events_head'::regclass::oid::bigint)")
        assert await event_prune(older_than=2) is None  # another process is pruning
        await other.execute("SELECT pg_advisory_unlock('events_head'::regclass::oid::bigint)")
    assert await event_prune(older_than=2) == newest - 1

    assert [e.id async for e in Event.objects.all()] == [newest]
    await services.item_create(name="after pruning")
    assert await head() == newest + 1  # ids never restart


# Server-Sent Events ----------------------------------------------------------------------------


class Stream:
    """Reads a streaming response in a task, as the server does, so that it can be cancelled
    the way Django cancels it when the client disconnects."""

    def __init__(self, response: Any) -> None:
        self.chunks: asyncio.Queue[str | None] = asyncio.Queue()
        self.task = asyncio.create_task(self._read(response.streaming_content))

    async def _read(self, content: AsyncGenerator[bytes]) -> None:
        async for chunk in content:
            await self.chunks.put(chunk.decode())
        await self.chunks.put(None)

    async def next(self) -> str | None:
        return await asyncio.wait_for(self.chunks.get(), 10)

    async def disconnect(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


def fields(frame: str) -> dict[str, str]:
    return dict(
        line.split(": ", 1) for line in frame.splitlines() if line and not line.startswith(":")
    )


async def test_sse_tells_the_position_first_then_streams_events(log: EventLog) -> None:
    response = await AsyncClient().get("/api/events")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-store"
    stream = Stream(response)

    greeting = await stream.next()
    assert greeting is not None
    assert 1000 <= int(fields(greeting)["retry"]) <= 3000
    assert fields(greeting)["id"] == str(await head())
    assert ": subscribed on " in greeting

    await services.item_create(name="Streamed")
    frame = await stream.next()
    assert frame is not None
    data = json.loads(fields(frame)["data"])
    assert fields(frame)["event"] == "item.created"
    assert fields(frame)["id"] == str(data["id"])
    assert data["item"]["name"] == "Streamed"
    await stream.disconnect()


async def test_sse_resumes_after_last_event_id_which_wins_over_since(log: EventLog) -> None:
    first = await head()
    for n in range(3):
        await services.item_create(name=f"resumed {n}")

    response = await AsyncClient().get(
        f"/api/events?since={first}", headers={"Last-Event-ID": str(first + 2)}
    )
    stream = Stream(response)

    assert fields(await stream.next() or "")["id"] == str(first + 2)
    assert fields(await stream.next() or "")["id"] == str(first + 3)
    await stream.disconnect()


@pytest.mark.parametrize("since", ["-1", "abc", "1.5", "99999999999999999999", ""])
async def test_sse_refuses_a_since_that_is_not_an_event_id(since: str) -> None:
    response = await AsyncClient().get("/api/events", {"since": since})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["parameter"] == "since"


async def test_sse_resets_a_last_event_id_that_is_not_an_event_id(log: EventLog) -> None:
    stream = Stream(await AsyncClient().get("/api/events", headers={"Last-Event-ID": "x-17"}))

    frame = await stream.next() or ""
    assert fields(frame)["event"] == "reset"
    assert json.loads(fields(frame)["data"]) == {
        "type": "reset",
        "id": await head(),
        "reason": "invalid",
    }
    await stream.disconnect()


async def test_sse_says_retry_and_ends_when_the_log_cannot_be_read(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.EVENTS_READY_TIMEOUT = 0.3

    async def refused() -> None:
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(log_module, "connect", refused)
    response = await AsyncClient().get("/api/events")
    stream = Stream(response)

    assert response.status_code == HTTPStatus.OK  # an EventSource retries only after a 200
    assert response["Content-Type"] == "text/event-stream"
    frame = await stream.next() or ""
    assert fields(frame)["retry"] == "5000"
    assert "unreachable" in frame
    assert await stream.next() is None  # the end
    await event_log().stop()


# WebSocket -------------------------------------------------------------------------------------


class FakeSocket:
    """The server's side of an ASGI WebSocket connection."""

    def __init__(self, query: str = "") -> None:
        self.scope = {
            "type": "websocket",
            "path": "/ws/events",
            "query_string": query.encode(),
            "headers": [(b"host", b"testserver")],
        }
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.incoming.put_nowait({"type": "websocket.connect"})
        self.task = asyncio.create_task(
            events_websocket(self.scope, self.incoming.get, self.sent.put)
        )

    async def next(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.sent.get(), 10)

    async def text(self) -> dict[str, Any]:
        message = await self.next()
        assert message["type"] == "websocket.send", message
        return dict(json.loads(message["text"]))

    async def leave(self) -> None:
        await self.incoming.put({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(self.task, 5)


async def test_websocket_subscribes_resumes_and_streams(log: EventLog) -> None:
    since = await head()
    await services.item_create(name="missed")
    socket = FakeSocket(f"since={since}")

    assert (await socket.next())["type"] == "websocket.accept"
    subscribed = await socket.text()
    assert (subscribed["type"], subscribed["id"]) == ("subscribed", since)
    assert (await socket.text())["item"]["name"] == "missed"
    await services.item_create(name="live")
    live = await socket.text()
    assert (live["id"], live["type"]) == (since + 2, "item.created")

    await socket.leave()
    assert socket.task.result() is None


async def test_websocket_closes_1008_for_a_bad_since() -> None:
    socket = FakeSocket("since=soon")

    assert (await socket.next())["type"] == "websocket.accept"
    closed = await socket.next()
    assert (closed["type"], closed["code"]) == ("websocket.close", 1008)
    assert "since" in closed["reason"]


async def test_websocket_closes_1013_when_the_log_cannot_be_read(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.EVENTS_READY_TIMEOUT = 0.3

    async def refused() -> None:
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(log_module, "connect", refused)
    socket = FakeSocket()

    assert (await socket.next())["type"] == "websocket.accept"
    closed = await socket.next()
    assert (closed["type"], closed["code"]) == ("websocket.close", 1013)
    await event_log().stop()


async def test_websocket_closes_1012_when_the_server_stops(log: EventLog) -> None:
    socket = FakeSocket()
    await socket.next()
    await socket.text()

    log.close_streams()

    closed = await socket.next()
    assert (closed["type"], closed["code"]) == ("websocket.close", 1012)


async def test_the_api_docs_describe_event_ids_resume_and_reset() -> None:
    description = (await AsyncClient().get("/api/openapi.json")).json()["info"]["description"]

    for promise in ["strictly increasing in commit order", "Last-Event-ID", "?since=", "reset"]:
        assert promise in description
