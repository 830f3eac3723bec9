import importlib
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import psycopg
import pytest
from asgiref.sync import sync_to_async
from django.apps import apps
from django.db import connections
from django.test import AsyncClient

from accounts import services
from bench.models import World


@pytest.fixture(scope="session", autouse=True)
def close_sessions_before_teardown(
    django_db_setup: None, django_db_blocker: object
) -> Iterator[None]:
    """End the test database's sessions before pytest-django drops it.

    Django's test client keeps each request's connection open (it disconnects
    close_old_connections to protect test transactions), so a request served in its own thread
    leaves a connection checked out of the pool. PostgreSQL refuses to drop a database with
    sessions: close the pools, then end what is left.
    """
    yield
    for connection in connections.all():
        connection.close_pool()  # type: ignore[attr-defined]
    params = connections["default"].get_connection_params()
    params.pop("pool", None)
    test_database = params.pop("dbname")
    with psycopg.connect(**params, dbname="postgres", autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            [test_database],
        )


@pytest.fixture
async def bench_data() -> None:
    """The rows the data migration writes; transactional tests flush them, so refill."""
    if not await World.objects.aexists():
        data_migration = importlib.import_module("bench.migrations.0002_data")
        await sync_to_async(data_migration.fill)(apps, None)


@pytest.fixture
async def token(transactional_db: None) -> str:
    """A fresh API token (writes need one)."""
    return await services.token_create(name=f"test-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def authorization(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class HeaderClient(AsyncClient):
    """An AsyncClient that sends `headers` with every request. AsyncClient(headers=...) does
    not (Django 6.1.3 turns its names into WSGI ones, then into `http-authorization`)."""

    def __init__(self, headers: dict[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.always = headers

    def generic(self, *args: Any, headers: Mapping[str, str] | None = None, **kwargs: Any) -> Any:
        return super().generic(*args, headers={**self.always, **(headers or {})}, **kwargs)


def http_scope(
    path: str,
    *,
    query: bytes = b"",
    method: str = "GET",
    host: bytes = b"localhost",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> dict[str, Any]:
    """An ASGI HTTP scope as a server makes it, for tests that call config.asgi directly."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", host), *(headers or [])],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
