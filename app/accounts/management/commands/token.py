"""`manage.py token create NAME | revoke NAME | list`: API tokens from the command line.

`create` prints the token alone on stdout, so that `TOKEN=$(make -s token NAME=ci)` works; it is
the only time the token is shown. Everything else goes to stderr.
"""

import asyncio
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services
from accounts.models import ApiToken


class Command(BaseCommand):
    help = "Create, revoke or list API tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="make a token and print it (once)")
        create.add_argument("name", help="what or who it is for, e.g. ci or alice@laptop")
        revoke = actions.add_parser("revoke", help="revoke the active token of that name")
        revoke.add_argument("name")
        actions.add_parser("list", help="every token: name, key id, created, last used, revoked")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "create":
            try:
                token = asyncio.run(services.token_create(name=options["name"]))
            except services.TokenNameInvalid:
                raise CommandError(
                    f"invalid name {options['name']!r}: 1 to 100 of A-Z a-z 0-9 . _ @ : -, "
                    "starting with a letter or digit"
                ) from None
            except services.TokenNameTaken:
                raise CommandError(
                    f"an active token is named {options['name']!r}: revoke it first "
                    f"(make token-revoke NAME={options['name']}) or choose another name"
                ) from None
            self.stdout.write(token)
        elif options["action"] == "revoke":
            if not asyncio.run(services.token_revoke(name=options["name"])):
                raise CommandError(f"no active token is named {options['name']!r}")
            self.stderr.write(f"revoked the token {options['name']!r}")
        else:
            for row in ApiToken.objects.order_by("id"):
                self.stdout.write(
                    f"{row.name}\t{row.key_id}\tcreated {row.created_at:%Y-%m-%d %H:%M}"
                    f"\tlast used {_when(row.last_used_at)}\trevoked {_when(row.revoked_at)}"
                )


def _when(moment: Any) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "-"
