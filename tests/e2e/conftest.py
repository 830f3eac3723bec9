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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.e2e)


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
