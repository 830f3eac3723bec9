import gc
from collections.abc import Iterator

import pytest
from django.db import connections


@pytest.fixture(scope="session", autouse=True)
def close_pools_before_teardown(django_db_setup: None, django_db_blocker: object) -> Iterator[None]:
    """Close the psycopg pools before pytest-django drops the test database.

    The pool keeps connections open between requests, as it should; PostgreSQL refuses to drop
    a database that has sessions. Django's test client keeps each request's connection (it
    disconnects close_old_connections to protect test transactions), so the connections of the
    finished requests' threads are collected first, which gives them back to the pool.
    """
    yield
    gc.collect()
    for connection in connections.all():
        connection.close_pool()  # type: ignore[attr-defined]
