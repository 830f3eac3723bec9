"""A real browser keeps every event through an app restart, relying only on EventSource's own
reconnection and Last-Event-ID: the live events page (/events/, app/events/static/events/
live.js) opens one EventSource and never reconnects by itself."""

import time
from collections.abc import Callable, Iterator
from http import HTTPStatus

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import AUTHORIZATION, BASE_URL
from tests.e2e.docker import Stack
from tests.e2e.test_events import db_head, insert_in_sql

RESTART_WITHIN = 90_000  # ms: the app stops, starts, and the browser comes back by itself


def create(http: httpx.Client, name: str) -> None:
    response = http.post("/api/items", json={"name": name})
    assert response.status_code == HTTPStatus.CREATED, response.text


def until_served(http: httpx.Client, *, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while http.get("/api/info").status_code != HTTPStatus.OK:
        assert time.monotonic() < deadline, "nginx does not reach the restarted app"
        time.sleep(0.5)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(base_url=BASE_URL, timeout=30, headers=AUTHORIZATION) as http:
        yield http


@pytest.fixture
def app_back(stack: Stack) -> Iterator[None]:
    yield
    stack.start("app")
    stack.wait_healthy("app", within=60)
    # nginx's health check went through the stopped app: wait until it is healthy again, so
    # that the tests after this one find the stack as they expect it.
    stack.wait_healthy("nginx", within=60)


def test_the_page_keeps_every_event_through_an_app_restart(
    open_page: Callable[[str], Page], http: httpx.Client, stack: Stack, app_back: None
) -> None:
    page = open_page("/events/")
    events = page.get_by_role("list", name="Events received").get_by_role("listitem")
    stream = page.get_by_role("status", name="Stream")
    expect(stream).to_have_text("open")
    first = db_head(stack) + 1

    for n in range(3):
        create(http, f"before the restart {n}")
    expect(events).to_have_count(3)

    stack.stop("app", timeout=30)
    expect(stream).to_have_text("reconnecting")
    insert_in_sql(stack, 4, "while the app was down")
    stack.start("app")
    stack.wait_healthy("app", within=60)
    until_served(http)
    for n in range(2):
        create(http, f"after the restart {n}")

    expect(events).to_have_count(9, timeout=RESTART_WITHIN)
    expect(stream).to_have_text("open")
    last = db_head(stack)
    names = [f"before the restart {n}" for n in range(3)]
    names += [f"while the app was down {n}" for n in range(1, 5)]
    names += [f"after the restart {n}" for n in range(2)]
    expected = [f"{first + i} item.created {name}" for i, name in enumerate(names)]
    assert last == first + 8
    expect(events).to_have_text(expected)  # every id, in order, once
    opened = page.get_by_role("status", name="Connections opened").text_content()
    assert int(opened or 0) >= 2  # the browser did reconnect, by itself
    expect(page.get_by_role("status", name="Resets")).to_have_text("0")
