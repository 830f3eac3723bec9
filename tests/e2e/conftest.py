"""End-to-end fixtures: a client of nginx, as users reach it, and the stack's containers.

Writes need an API token: tests/run makes one in the stack under test (`manage.py token create`,
what `make token` runs) and passes it as E2E_TOKEN. `client` sends it on every request, as an
API client would; `anonymous` sends none.
"""

import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.e2e.docker import Stack

BASE_URL = os.environ.get("E2E_BASE_URL", "http://nginx:8080")
TOKEN = os.environ.get("E2E_TOKEN", "")
AUTHORIZATION = {"Authorization": f"Bearer {TOKEN}"}


# E2E_SWARM=1 (tests/swarm/run): the stack runs on a Swarm cluster, not as this Compose
# project. Left out, said in the report: the tests that drive the Compose project's containers
# through the `stack` fixture (stop and start the db or app, exec psql, inspect the containers:
# tests/e2e/docker.py finds them by Compose's labels, on this engine; on a cluster they are on
# other engines), and those that name the Compose network's service (`app` must not resolve).
SWARM = os.environ.get("E2E_SWARM") == "1"
COMPOSE_ONLY = {"test_the_app_cannot_be_reached_except_through_nginx"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.e2e)
    if not SWARM:
        return
    compose_only = [
        item
        for item in items
        if "stack" in getattr(item, "fixturenames", ()) or item.name in COMPOSE_ONLY
    ]
    if compose_only:
        config.hook.pytest_deselected(items=compose_only)
        items[:] = [item for item in items if item not in compose_only]


def pytest_sessionstart(session: pytest.Session) -> None:
    if not TOKEN:
        raise pytest.UsageError("E2E_TOKEN is not set: the end-to-end tests write with a token")


@pytest.fixture(scope="session")
def expected_server() -> str:
    return os.environ["E2E_ASGI_SERVER"]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=BASE_URL, timeout=30, headers=AUTHORIZATION) as client:
        yield client


@pytest.fixture
async def anonymous() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=BASE_URL, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    with Stack.of_this_container() as stack:
        yield stack
