"""Fault tests (make test-faults): the stack's own containers stopped, killed and restarted on
purpose, through the Docker socket, while clients talk to nginx. Bounded: every wait has a limit.
"""

import time
from collections.abc import Callable
from http import HTTPStatus

import httpx

from tests.e2e.conftest import BASE_URL, client, stack

__all__ = ["BASE_URL", "client", "sample", "stack", "wait_for"]


def wait_for(
    check: Callable[[httpx.Response], bool], path: str, *, within: float, every: float = 0.25
) -> list[tuple[float, int, float]]:
    """GET `path` through nginx until `check(response)` holds; every (at, status, seconds)."""
    seen: list[tuple[float, int, float]] = []
    started = time.monotonic()
    with httpx.Client(base_url=BASE_URL, timeout=30) as http:
        while (at := time.monotonic() - started) < within:
            try:
                response = http.get(path)
            except httpx.TransportError:
                seen.append((at, 0, time.monotonic() - started - at))
            else:
                seen.append((at, response.status_code, time.monotonic() - started - at))
                if check(response):
                    return seen
            time.sleep(every)
    raise AssertionError(f"GET {path}: condition not met within {within}s: {seen}")


def is_ok(response: httpx.Response) -> bool:
    return response.status_code == HTTPStatus.OK


def sample(path: str, *, seconds: float) -> list[tuple[int, str, float]]:
    """GET `path` through nginx back to back for `seconds`: every (status, type, seconds)."""
    seen: list[tuple[int, str, float]] = []
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=BASE_URL, timeout=30) as http:
        while time.monotonic() < deadline:
            started = time.monotonic()
            response = http.get(path)
            seen.append(
                (
                    response.status_code,
                    response.headers.get("content-type", ""),
                    time.monotonic() - started,
                )
            )
            time.sleep(0.1)
    return seen
