"""Writes of API tokens, async ORM only."""

import re

from django.db import IntegrityError
from django.utils import timezone

from accounts import tokens
from accounts.models import NAME_MAX_LENGTH, ApiToken

NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._@:-]{{0,{NAME_MAX_LENGTH - 1}}}")


class TokenNameInvalid(ValueError):
    """A name must be 1 to 100 of A-Z a-z 0-9 . _ @ : - and start with a letter or digit."""


class TokenNameTaken(Exception):
    """An active token has this name already."""


async def token_create(*, name: str) -> str:
    """Make a token named `name` and return it: the only time it can be seen. Raises
    TokenNameInvalid, or TokenNameTaken if an active token has the name (the database's
    constraint decides, so two racing creates make one token)."""
    if not NAME.fullmatch(name):
        raise TokenNameInvalid(name)
    token, key_id = tokens.generate()
    try:
        await ApiToken.objects.acreate(name=name, key_id=key_id, digest=tokens.digest(token))
    except IntegrityError:
        raise TokenNameTaken(name) from None
    return token


async def token_revoke(*, name: str) -> bool:
    """Revoke the active token named `name`; False if there is none. Takes effect on the next
    request: authentication reads the row every time."""
    revoked = await ApiToken.objects.filter(name=name, revoked_at__isnull=True).aupdate(
        revoked_at=timezone.now()
    )
    return revoked > 0


async def token_mark_used(*, token_id: int) -> None:
    await ApiToken.objects.filter(pk=token_id).aupdate(last_used_at=timezone.now())
