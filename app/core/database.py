"""What a failed connection to PostgreSQL means, in one line a person can act on.

Through Django's connection pool, every connection failure looks the same: the pool retries in
the background and a request gives up with `couldn't get a connection after 5.00 sec`. At start
(the `migrate` service runs `manage.py checkdb` first) one direct connection, outside the pool,
gets PostgreSQL's own answer, and `explain` names it: a refused password, a database or user
that does not exist, a server that cannot be reached.
"""

from typing import Any

import psycopg
from django.db import connections

# SQLSTATEs PostgreSQL answers a connection with (Appendix A of its manual).
AUTHENTICATION_FAILED = "28P01"  # invalid_password
AUTHORIZATION_REFUSED = "28000"  # invalid_authorization_specification: no such role, pg_hba.conf
NO_SUCH_DATABASE = "3D000"  # invalid_catalog_name


def connection_params() -> dict[str, Any]:
    """libpq parameters of the default database, without Django's cursor and pool options."""
    params = dict(connections["default"].get_connection_params())
    for django_only in ("cursor_factory", "context", "prepare_threshold", "pool"):
        params.pop(django_only, None)
    return params


def check() -> str | None:
    """None if PostgreSQL accepts a connection now; otherwise what went wrong, explained."""
    params = connection_params()
    try:
        with psycopg.connect(**params):
            return None
    except psycopg.OperationalError as exc:
        return explain(exc, params)


def explain(exc: psycopg.OperationalError, params: dict[str, Any]) -> str:
    where = f"PostgreSQL at {params.get('host')}:{params.get('port', 5432)}"
    user, database = params.get("user"), params.get("dbname")
    message = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    # libpq reports a server's refusal as text (psycopg leaves sqlstate empty on connect);
    # PostgreSQL's messages are English in the images this stack runs.
    sqlstate = exc.sqlstate or (
        AUTHENTICATION_FAILED
        if "password authentication failed" in message
        else NO_SUCH_DATABASE
        if f'database "{database}" does not exist' in message
        else AUTHORIZATION_REFUSED
        if f'role "{user}" does not exist' in message
        else None
    )
    if sqlstate == AUTHENTICATION_FAILED:
        return (
            f'{where} refused the password of user "{user}": the database was created with '
            "another one. Put back the secrets/postgres_password it was created with, or run "
            "`make clean` (it deletes the database volume and every row in it) to start afresh."
        )
    if sqlstate == NO_SUCH_DATABASE:
        return (
            f'{where} has no database "{database}" (POSTGRES_DB): PostgreSQL creates it only '
            "when it first initialises its volume, so a volume made with another name lacks it."
        )
    if sqlstate == AUTHORIZATION_REFUSED:
        return f'{where} refused user "{user}" (POSTGRES_USER): {message}'
    return f"cannot reach {where}: {message}"
