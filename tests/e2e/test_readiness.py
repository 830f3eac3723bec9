"""Readiness follows the database: 503 while it is stopped, 200 again once it is back."""

import time
from collections.abc import Iterator
from http import HTTPStatus

import httpx
import pytest

from tests.e2e.conftest import BASE_URL
from tests.e2e.docker import Stack


@pytest.fixture
def stopped_database(stack: Stack) -> Iterator[None]:
    stack.stop("db")
    try:
        yield
    finally:
        stack.start("db")
        stack.wait_healthy("db", within=60)


def poll_readyz(until: int, *, within: float) -> list[tuple[int, float]]:
    """GET /readyz until it answers `until`; returns every (status, seconds taken)."""
    seen: list[tuple[int, float]] = []
    deadline = time.monotonic() + within
    with httpx.Client(base_url=BASE_URL, timeout=30) as client:
        while time.monotonic() < deadline:
            started = time.monotonic()
            response = client.get("/readyz")
            seen.append((response.status_code, time.monotonic() - started))
            if response.status_code == until:
                if until == HTTPStatus.SERVICE_UNAVAILABLE:
                    assert response.headers["content-type"] == "application/problem+json"
                    assert "database is unreachable" in response.json()["detail"]
                return seen
            time.sleep(0.5)
    raise AssertionError(f"/readyz never answered {until} within {within}s: {seen}")


def test_readyz_turns_503_without_the_database_and_recovers(
    stack: Stack, stopped_database: None
) -> None:
    down = poll_readyz(HTTPStatus.SERVICE_UNAVAILABLE, within=15)
    # Never a hang: each answer comes within the pool's wait plus the connect timeout.
    assert max(seconds for _, seconds in down) < 10
    with httpx.Client(base_url=BASE_URL, timeout=30) as client:
        assert client.get("/healthz").status_code == HTTPStatus.OK  # liveness needs no database
        started = time.monotonic()
        items = client.get("/api/items")
        assert time.monotonic() - started < 10
        assert items.status_code == HTTPStatus.SERVICE_UNAVAILABLE  # not a 500
        assert items.headers["content-type"] == "application/problem+json"
        assert items.headers["retry-after"] == "5"

    stack.start("db")
    stack.wait_healthy("db", within=60)
    up = poll_readyz(HTTPStatus.OK, within=30)
    assert up[-1][0] == HTTPStatus.OK
