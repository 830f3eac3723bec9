"""`manage.py checkdb`: exit 0 if PostgreSQL accepts a connection, else one line saying why
(core.database) and exit 1. The `migrate` service runs it first, so that `make up` can say why
the database refused, instead of a pool timeout."""

from typing import Any

from django.core.management.base import BaseCommand

from core import database


class Command(BaseCommand):
    help = "Check that PostgreSQL accepts a connection; say why not in one line."

    def handle(self, *args: Any, **options: Any) -> None:
        problem = database.check()
        if problem is not None:
            self.stderr.write(f"database error: {problem}")
            raise SystemExit(1)
