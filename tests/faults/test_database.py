"""The database goes away: the app says so quickly, keeps what it acknowledged, and recovers."""

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import AUTHORIZATION, BASE_URL
from tests.e2e.docker import Stack
from tests.faults.conftest import is_ok, wait_for


def process_of(stack: Stack, service: str) -> tuple[int, int, str]:
    """What identifies the running server: its PID, the restart count and the start time."""
    state = stack.inspect(service)
    return state["State"]["Pid"], state["RestartCount"], state["State"]["StartedAt"]


@pytest.fixture
def database_comes_back(stack: Stack) -> Iterator[None]:
    yield
    stack.start("db")
    stack.wait_healthy("db", within=60)


def test_database_outage_is_503_quickly_and_the_same_processes_recover(
    stack: Stack, database_comes_back: None
) -> None:
    app_before = process_of(stack, "app")
    stack.stop("db")

    down = wait_for(lambda r: r.status_code == HTTPStatus.SERVICE_UNAVAILABLE, "/readyz", within=10)
    assert all(seconds < 10 for _, _, seconds in down)
    with httpx.Client(base_url=BASE_URL, timeout=30) as http:
        assert http.get("/healthz").status_code == HTTPStatus.OK  # liveness needs no database
        for path in ("/api/items", "/api/items/1", "/api/items/export"):
            started = time.monotonic()
            response = http.get(path)
            assert time.monotonic() - started < 10, path  # the pool's wait, not a hang
            assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE, path
            assert response.headers["content-type"] == "application/problem+json", path
            assert response.headers["retry-after"], path
        created = http.post("/api/items", json={"name": "while the database is down"})
        assert created.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        assert created.json()["status"] == HTTPStatus.SERVICE_UNAVAILABLE

    stack.start("db")
    wait_for(is_ok, "/readyz", within=30)
    wait_for(is_ok, "/api/items", within=30)
    # Served again by the very processes that saw the outage: nothing was restarted.
    assert process_of(stack, "app") == app_before


async def test_writes_during_a_database_restart_lose_nothing_acknowledged(
    stack: Stack, database_comes_back: None
) -> None:
    """Writers POST without pause while the database restarts. Every 201 is stored; every
    failure is a 503 problem, nothing it refused was stored, and retrying it with its
    Idempotency-Key once the database is back stores it exactly once."""
    acknowledged: dict[str, int] = {}
    refused: dict[str, tuple[int, Any]] = {}
    stop = asyncio.Event()
    resumed = asyncio.Event()  # set once `resume_at` writes are acknowledged
    resume_at = [1 << 62]
    run = f"restart-{time.time_ns()}"

    async def writer(number: int, http: httpx.AsyncClient) -> None:
        sequence = 0
        while not stop.is_set():
            sequence += 1
            name = f"{run}-{number}-{sequence}"
            response = await http.post(
                "/api/items", json={"name": name}, headers={"Idempotency-Key": name}
            )
            if response.status_code == HTTPStatus.CREATED:
                acknowledged[name] = response.json()["id"]
                if len(acknowledged) >= resume_at[0]:
                    resumed.set()
            else:
                refused[name] = (response.status_code, response.headers.get("content-type"))
                await asyncio.sleep(0.05)

    async with httpx.AsyncClient(base_url=BASE_URL, timeout=30, headers=AUTHORIZATION) as http:
        writers = [asyncio.create_task(writer(n, http)) for n in range(4)]
        await asyncio.sleep(1.5)
        before_restart = len(acknowledged)
        await asyncio.to_thread(stack.stop, "db")
        # Longer than the pool's wait for a connection (DB_POOL_TIMEOUT, 5 s): a shorter outage
        # refuses nothing, the requests wait it out.
        await asyncio.sleep(8)
        await asyncio.to_thread(stack.start, "db")
        await asyncio.to_thread(stack.wait_healthy, "db", within=60)
        # Until writes are accepted again, then a little more.
        after_restart = len(acknowledged)
        resume_at[0] = after_restart + 20
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(resumed.wait(), timeout=30)
        stop.set()
        await asyncio.gather(*writers)

        assert before_restart > 0, "no write succeeded before the restart"
        assert len(acknowledged) >= after_restart + 20, "writes did not resume within 30 s"
        assert refused, "the outage refused no write: the test did not test anything"
        assert {status for status, _ in refused.values()} == {HTTPStatus.SERVICE_UNAVAILABLE}
        assert {kind for _, kind in refused.values()} == {"application/problem+json"}

        stored = await stored_items(http, run)
        missing = {name for name in acknowledged if stored.get(name) != [acknowledged[name]]}
        assert not missing, f"acknowledged but not stored: {sorted(missing)[:5]}"
        assert not set(refused) & set(stored), "a refused write was stored"

        # The client's retry: the same request, the same key, now that the database is back.
        retried = [
            await http.post("/api/items", json={"name": name}, headers={"Idempotency-Key": name})
            for name in refused
        ]
        assert {r.status_code for r in retried} == {HTTPStatus.CREATED}
        again = await http.post(  # and a retry of a retry changes nothing
            "/api/items",
            json={"name": next(iter(refused))},
            headers={"Idempotency-Key": next(iter(refused))},
        )
        assert again.headers["idempotent-replayed"] == "true"
        stored = await stored_items(http, run)
    assert all(len(stored[name]) == 1 for name in [*acknowledged, *refused])


async def stored_items(http: httpx.AsyncClient, prefix: str) -> dict[str, list[int]]:
    """Every stored item whose name starts with `prefix`: name -> ids."""
    export = await http.get("/api/items/export")
    assert export.status_code == HTTPStatus.OK
    stored: dict[str, list[int]] = {}
    for item in map(json.loads, export.text.splitlines()):
        if item["name"].startswith(prefix):
            stored.setdefault(item["name"], []).append(item["id"])
    return stored
