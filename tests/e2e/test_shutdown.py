"""Stopping the app drains it: requests in flight finish; nginx answers for it meanwhile."""

import asyncio
import time
from collections.abc import Iterator
from http import HTTPStatus

import httpx
import pytest

from tests.e2e.conftest import BASE_URL
from tests.e2e.docker import Stack


@pytest.fixture
def restarts_app(stack: Stack) -> Iterator[None]:
    yield
    stack.start("app")
    stack.wait_healthy("app", within=60)
    # The restarted container may have a new address: nginx resolves `app` again.
    stack.exec("nginx", "upstream-servers", "reload")
    # nginx answers 503 from its fallback until it next tries the app (fail_timeout, 2 s).
    deadline = time.monotonic() + 30
    while httpx.get(f"{BASE_URL}/api/info").status_code != HTTPStatus.OK:
        assert time.monotonic() < deadline, "nginx does not reach the restarted app"
        time.sleep(0.5)


async def test_stopping_the_app_lets_in_flight_requests_finish(
    client: httpx.AsyncClient, stack: Stack, restarts_app: None
) -> None:
    in_flight = [
        asyncio.create_task(client.get("/api/hello", params={"delay": "5"})) for _ in range(5)
    ]
    await asyncio.sleep(1)  # every request is now sleeping in the app

    await asyncio.to_thread(stack.stop, "app", timeout=30)  # returns once the app has exited

    responses = await asyncio.gather(*in_flight)
    assert [r.status_code for r in responses] == [HTTPStatus.OK] * 5
    assert all(r.json() == {"message": "Hello, World!"} for r in responses)

    # The stopped container's address no longer answers: nginx gives up after its 2 s connect
    # timeout, passes to its fallback and says so in JSON, instead of leaving the client hanging.
    started = time.monotonic()
    gone = await client.get("/api/info")
    assert time.monotonic() - started < 4
    assert gone.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert gone.headers["content-type"] == "application/problem+json"
    assert gone.json()["status"] == HTTPStatus.SERVICE_UNAVAILABLE
