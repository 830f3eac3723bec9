"""Reads about the running system (no writes here)."""

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connection


def _database_version() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        row = cursor.fetchone()
    return str(row[0]).split()[0]


# Django has no async cursor: the query runs in the request's sync thread, which owns the
# connection it borrows from the pool and gives back when the request finishes.
async def database_version() -> str:
    """PostgreSQL's version; raises DatabaseError when the database cannot be reached."""
    return await sync_to_async(_database_version)()


async def database_version_or_none() -> str | None:
    try:
        return await database_version()
    except DatabaseError:
        return None
