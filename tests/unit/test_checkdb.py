"""manage.py checkdb: a database that refuses says why, in one line, with the way out."""

import io
from typing import Any

import pytest
from django.core.management import call_command

from core import database

pytestmark = pytest.mark.django_db


def checkdb(monkeypatch: pytest.MonkeyPatch, **wrong: Any) -> tuple[int, str]:
    params = {**database.connection_params(), "connect_timeout": 3, **wrong}
    monkeypatch.setattr(database, "connection_params", lambda: params)
    err = io.StringIO()
    try:
        call_command("checkdb", stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), err.getvalue()
    return 0, err.getvalue()


def test_a_database_that_answers_passes_silently(monkeypatch: pytest.MonkeyPatch) -> None:
    assert checkdb(monkeypatch) == (0, "")


def test_a_refused_password_names_itself_and_the_way_out(monkeypatch: pytest.MonkeyPatch) -> None:
    status, said = checkdb(monkeypatch, password="not-the-password")

    user = database.connection_params()["user"]
    assert status == 1
    assert said.count("\n") == 1  # one line
    assert said.startswith("database error: PostgreSQL at ")
    assert f'refused the password of user "{user}"' in said
    assert "secrets/postgres_password" in said
    assert "make clean" in said
    assert "couldn't get a connection" not in said


def test_an_unknown_database_names_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    status, said = checkdb(monkeypatch, dbname="no_such_database")

    assert status == 1
    assert 'has no database "no_such_database" (POSTGRES_DB)' in said


@pytest.mark.parametrize(
    ("host", "port"), [("127.0.0.1", 1), ("no-such-host.invalid", 5432)], ids=["refused", "dns"]
)
def test_an_unreachable_server_names_itself(
    monkeypatch: pytest.MonkeyPatch, host: str, port: int
) -> None:
    status, said = checkdb(monkeypatch, host=host, port=port)

    assert status == 1
    assert said.startswith(f"database error: cannot reach PostgreSQL at {host}:{port}: ")
    assert said.count("\n") == 1
