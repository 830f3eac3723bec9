"""Events end to end through nginx: resume after a disconnect (SSE Last-Event-ID and ?since=,
WebSocket ?since=), resets, the app and the database restarted under subscribers. Every
follower must end with every id, contiguous, in order, once (tests/e2e/followers.py)."""

import asyncio
import json
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.e2e.docker import Stack
from tests.e2e.followers import WS_URL, Follower, SseFollower, WsFollower


def psql(stack: Stack, query: str) -> str:
    """Run SQL in the database container as the app's user, the way `make dbshell` does."""
    command = 'psql -U "$POSTGRES_USER" -d "$POSTGRES_DB" -v ON_ERROR_STOP=1 -qAtc "$0"'
    return stack.exec("db", "sh", "-c", command, query).decode().strip()


def db_head(stack: Stack) -> int:
    return int(psql(stack, "SELECT coalesce(max(last_id), 0) FROM events_head") or 0)


async def create(client: httpx.AsyncClient, name: str) -> int:
    response = await client.post("/api/items", json={"name": name})
    assert response.status_code == HTTPStatus.CREATED, response.text
    return int(response.json()["id"])


def insert_in_sql(stack: Stack, count: int, name: str) -> None:
    """`count` items in one INSERT, as a person at psql would write them (the test's own
    constants: nothing from outside reaches the SQL)."""
    psql(
        stack,
        "INSERT INTO items_item (name, description, created_at, updated_at, request_digest)"  # noqa: S608
        f" SELECT '{name} ' || n, '', now(), now(), '' FROM generate_series(1, {count}) n",
    )


async def until_served(client: httpx.AsyncClient, *, within: float = 30) -> None:
    """Until nginx reaches the app again (it retries a failed app after 2 s, and reloads when
    the restarted app has another address)."""
    async with asyncio.timeout(within):
        while True:
            if (await client.get("/api/info")).status_code == HTTPStatus.OK:
                return
            await asyncio.sleep(0.5)


def assert_every_id_once_in_order(follower: Follower, first: int, last: int) -> None:
    assert follower.resets == []
    assert follower.ids == list(range(first, last + 1))


async def test_a_new_sse_subscriber_is_told_the_head_before_any_event(
    client: httpx.AsyncClient, stack: Stack
) -> None:
    await create(client, "before subscribing")
    newest = db_head(stack)
    async with SseFollower() as follower:
        await follower.until_connected()
        assert follower.positions[0] >= newest  # never behind what was committed before
        assert follower.events == []


@pytest.mark.parametrize("resume", ["last-event-id", "since"])
async def test_sse_resumes_with_exactly_what_it_missed_then_live_events(
    client: httpx.AsyncClient, resume: str
) -> None:
    async with SseFollower() as follower:
        await follower.until_connected()
        k = await create(client, "seen")
        await follower.until(lambda f: len(f.events) == 1, within=30, what="one event")
    last_seen = follower.ids[-1]

    missed = [await create(client, f"missed {n}") for n in range(5)]
    headers = {"Last-Event-ID": str(last_seen)} if resume == "last-event-id" else {}
    params = {"since": str(last_seen)} if resume == "since" else {}
    async with client.stream("GET", "/api/events", headers=headers, params=params) as response:
        assert response.status_code == HTTPStatus.OK
        lines = response.aiter_lines()
        replayed = await read_events(lines, 5)
        live_item = await create(client, "live")
        live = await read_events(lines, 1)

    assert follower.events[0]["item"]["id"] == k
    assert [e["id"] for e in replayed + live] == list(range(last_seen + 1, last_seen + 7))
    assert [e["item"]["id"] for e in replayed + live] == [*missed, live_item]


async def read_events(lines: Any, count: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(30):
        async for line in lines:
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))
                if len(events) == count:
                    return events
    raise AssertionError(f"the stream ended after {events}")


async def test_websocket_resumes_with_since(client: httpx.AsyncClient) -> None:
    async with connect(WS_URL, open_timeout=10) as websocket:
        subscribed = json.loads(await asyncio.wait_for(websocket.recv(), 10))
        assert subscribed["type"] == "subscribed"
        await create(client, "seen over ws")
        seen = json.loads(await asyncio.wait_for(websocket.recv(), 10))
    missed = [await create(client, f"missed over ws {n}") for n in range(4)]

    async with connect(f"{WS_URL}?since={seen['id']}", open_timeout=10) as websocket:
        messages = [json.loads(await asyncio.wait_for(websocket.recv(), 10)) for _ in range(5)]
        live_item = await create(client, "live over ws")
        live = json.loads(await asyncio.wait_for(websocket.recv(), 10))

    assert messages[0] == {**messages[0], "type": "subscribed", "id": seen["id"]}
    events = [*messages[1:], live]
    assert [e["id"] for e in events] == list(range(seen["id"] + 1, seen["id"] + 6))
    assert [e["item"]["id"] for e in events] == [*missed, live_item]


async def test_since_beyond_the_head_is_a_reset_on_both_transports(stack: Stack) -> None:
    newest = db_head(stack)
    async with SseFollower(since=newest + 1000) as sse, WsFollower(since=newest + 1000) as ws:
        for follower in (sse, ws):
            await follower.until(lambda f: bool(f.resets), within=30, what="reset")
            assert follower.resets[0]["reason"] == "ahead"
            assert follower.resets[0]["id"] >= newest
            assert follower.events == []


async def test_replay_past_the_limit_is_a_reset_and_within_it_every_event(
    client: httpx.AsyncClient, stack: Stack
) -> None:
    """EVENTS_REPLAY_MAX is 10,000 (the default): 10,001 events in one statement, from psql."""
    before = db_head(stack)
    insert_in_sql(stack, 10_001, "bulk")
    after = db_head(stack)
    assert after == before + 10_001

    async with SseFollower(since=before) as too_far, WsFollower(since=before) as ws_too_far:
        for follower in (too_far, ws_too_far):
            await follower.until(lambda f: bool(f.resets), within=30, what="reset")
            assert [r["reason"] for r in follower.resets] == ["behind"]
            assert follower.resets[0]["id"] >= after
    async with SseFollower(since=before + 1) as within_limit:
        await within_limit.until_id(after, within=60)
        assert_every_id_once_in_order(within_limit, before + 2, after)
    psql(stack, "DELETE FROM items_item WHERE name LIKE 'bulk %'")


@pytest.fixture
def app_back(stack: Stack) -> Iterator[None]:
    yield
    stack.start("app")
    stack.wait_healthy("app", within=60)
    # nginx's health check went through the stopped app: wait until it is healthy again, so
    # that the tests after this one find the stack as they expect it.
    stack.wait_healthy("nginx", within=60)


async def test_subscribers_resume_without_a_gap_across_an_app_restart(
    client: httpx.AsyncClient, stack: Stack, app_back: None
) -> None:
    """The app stops (its streams end at once, cleanly), events are written in SQL while it is
    down, it starts again: each follower reconnects by itself and misses nothing."""
    first = db_head(stack) + 1
    async with SseFollower() as sse, WsFollower() as ws:
        for follower in (sse, ws):
            await follower.until_connected()
        before = [await create(client, f"before the restart {n}") for n in range(3)]
        for follower in (sse, ws):
            await follower.until_id(first + 2)

        await asyncio.to_thread(stack.stop, "app", timeout=30)
        # While it is down, nginx answers the stream as the app would: retry, not an error.
        async with client.stream("GET", "/api/events") as response:
            assert response.status_code == HTTPStatus.OK
            assert response.headers["content-type"] == "text/event-stream"
            assert "retry: " in (await response.aread()).decode()
        insert_in_sql(stack, 4, "while the app was down")
        await asyncio.to_thread(stack.start, "app")
        await asyncio.to_thread(stack.wait_healthy, "app", within=60)
        await until_served(client)
        after = [await create(client, f"after the restart {n}") for n in range(3)]
        last = db_head(stack)
        for follower in (sse, ws):
            await follower.until_id(last, within=60)

    for follower in (sse, ws):
        assert_every_id_once_in_order(follower, first, last)
        assert follower.connections >= 2  # it did reconnect
        assert follower.gave_up is None
    assert [e["item"]["id"] for e in sse.events[:3]] == before
    assert [e["item"]["id"] for e in sse.events[-3:]] == after
    assert ws.closes[0] == 1012  # service restart: the server said why


@pytest.fixture
def database_back(stack: Stack) -> Iterator[None]:
    yield
    stack.start("db")
    stack.wait_healthy("db", within=60)


async def test_no_committed_event_is_missing_after_a_database_restart(
    client: httpx.AsyncClient, stack: Stack, database_back: None
) -> None:
    """Writers keep writing while the database stops and starts; afterwards each follower has
    every event id, and every item whose creation was answered 201 is among them."""
    first = db_head(stack) + 1
    created: list[int] = []
    stop = asyncio.Event()

    async def write(number: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                response = await client.post("/api/items", json={"name": f"w{number}-{n}"})
            except httpx.TransportError:
                continue
            if response.status_code == HTTPStatus.CREATED:
                created.append(response.json()["id"])
            else:
                assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE, response.text
            await asyncio.sleep(0.05)

    async with SseFollower() as sse, WsFollower() as ws:
        for follower in (sse, ws):
            await follower.until_connected()
        writers = [asyncio.create_task(write(n)) for n in range(3)]
        await asyncio.sleep(1)
        await asyncio.to_thread(stack.stop, "db", timeout=30)
        await asyncio.sleep(3)
        await asyncio.to_thread(stack.start, "db")
        await asyncio.to_thread(stack.wait_healthy, "db", within=60)
        await asyncio.sleep(2)
        stop.set()
        await asyncio.gather(*writers)
        last = db_head(stack)
        for follower in (sse, ws):
            await follower.until_id(last, within=60)

    assert created, "no write succeeded"
    for follower in (sse, ws):
        assert_every_id_once_in_order(follower, first, last)
        assert follower.gave_up is None
        assert set(created) <= {e["item"]["id"] for e in follower.events}
