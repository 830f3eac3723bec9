"""Connections of the events' own, outside Django's pool (events/log.py says why)."""

from typing import Any

import psycopg
from django.db import connections


async def connect() -> psycopg.AsyncConnection[Any]:
    """A connection to the default database, in autocommit, with Django's parameters (host,
    credentials, connect_timeout) but not its cursor and adapter choices."""
    params = dict(connections["default"].get_connection_params())
    for django_only in ("cursor_factory", "context", "prepare_threshold", "pool"):
        params.pop(django_only, None)
    return await psycopg.AsyncConnection.connect(**params, autocommit=True)
