"""End-to-end fixtures: a client of nginx, as users reach it, and the stack's containers."""

import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.e2e.docker import Stack

BASE_URL = os.environ.get("E2E_BASE_URL", "http://nginx:8080")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def expected_server() -> str:
    return os.environ["E2E_ASGI_SERVER"]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=BASE_URL, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    with Stack.of_this_container() as stack:
        yield stack
