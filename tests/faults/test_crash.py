"""The app's server process dies: the engine restarts the container, nginx answers for it in
JSON meanwhile, and serves again within 30 s."""

import time
from collections.abc import Iterator
from http import HTTPStatus

import pytest

from tests.e2e.docker import Stack
from tests.faults.conftest import is_ok, sample, wait_for

# What clients may see while the app is down: nginx's own problem+json, quickly.
DOWN = {HTTPStatus.BAD_GATEWAY, HTTPStatus.SERVICE_UNAVAILABLE}


def assert_answers_while_down_were_quick_json(seen: list[tuple[float, int, float]]) -> None:
    statuses = {status for _, status, _ in seen}
    assert statuses <= DOWN | {HTTPStatus.OK}, seen
    assert max(seconds for _, _, seconds in seen) < 5, seen


@pytest.fixture
def app_is_back(stack: Stack) -> Iterator[None]:
    yield
    stack.start("app")
    stack.wait_healthy("app", within=60)


def test_a_crashed_server_is_restarted_and_served_again(stack: Stack, app_is_back: None) -> None:
    before = stack.inspect("app")
    # A real crash: SIGKILL to the server process (the child of the container's init), which
    # then exits with the server's status; the engine's restart policy takes over.
    stack.exec(
        "app",
        "python",
        "-c",
        "import os; os.kill(int(open('/proc/1/task/1/children').read().split()[0]), 9)",
    )
    started = time.monotonic()
    seen = wait_for(is_ok, "/api/info", within=30)

    assert time.monotonic() - started < 30
    assert_answers_while_down_were_quick_json(seen)
    after = stack.inspect("app")
    assert after["RestartCount"] == before["RestartCount"] + 1
    assert after["State"]["StartedAt"] != before["State"]["StartedAt"]


def test_killed_app_nginx_answers_json_at_once_until_it_is_started(
    stack: Stack, app_is_back: None
) -> None:
    """`docker compose kill app`. The engine takes an explicit kill for a manual stop and
    disables every restart policy until the next start (docker kill's documented behaviour:
    `always` and `on-failure` included), so the container stays down until `make up` starts it
    again. Meanwhile nginx must say so at once, in JSON."""
    stack.kill("app")
    time.sleep(1)
    assert stack.inspect("app")["State"]["Status"] == "exited"

    seen = sample("/api/info", seconds=8)
    assert {status for status, _, _ in seen} <= DOWN, seen
    assert {kind for _, kind, _ in seen} == {"application/problem+json"}
    assert max(seconds for _, _, seconds in seen) < 5, seen

    stack.start("app")  # what `make up` does for a stopped container
    started = time.monotonic()
    wait_for(is_ok, "/api/info", within=30)
    assert time.monotonic() - started < 30
