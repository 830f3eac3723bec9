"""Writes of items, async ORM only. Each is one statement, so it needs no explicit transaction;
the event log's triggers run inside that statement's transaction (events/migrations/0001)."""

import hashlib
import json

from django.db import IntegrityError
from django.utils import timezone

from items.models import Item


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was first sent with another request."""


async def item_create(
    *, name: str, description: str = "", idempotency_key: str | None = None
) -> tuple[Item, bool]:
    """Create an item; `(item, True)`. With an idempotency key, a repeat of the request that
    first carried it creates nothing and returns that request's item, `(item, False)`: a client
    that lost the answer (a dropped connection, a timeout) can send the same POST again.

    One INSERT either way: the key's unique constraint decides, so two repeats racing each other
    still make one item. Raises IdempotencyKeyReused if the key came with another request.
    """
    if idempotency_key is None:
        return await Item.objects.acreate(name=name, description=description), True
    digest = hashlib.sha256(json.dumps([name, description]).encode()).hexdigest()
    try:
        item = await Item.objects.acreate(
            name=name,
            description=description,
            idempotency_key=idempotency_key,
            request_digest=digest,
        )
    except IntegrityError:
        earlier = await Item.objects.filter(idempotency_key=idempotency_key).afirst()
        if earlier is None:  # not the key's constraint
            raise
        if earlier.request_digest != digest:
            raise IdempotencyKeyReused(idempotency_key) from None
        return earlier, False
    return item, True


async def item_update(
    *, item_id: int, name: str | None = None, description: str | None = None
) -> Item:
    """Apply the given fields; raises Item.DoesNotExist for an unknown id.

    One UPDATE, not a read-modify-save, so a concurrent delete cannot turn into a failed save.
    An empty change is a no-op: no write, no event.
    """
    changes: dict[str, object] = {}
    if name is not None:
        changes["name"] = name
    if description is not None:
        changes["description"] = description
    if not changes:
        return await Item.objects.aget(pk=item_id)
    changes["updated_at"] = timezone.now()
    if await Item.objects.filter(pk=item_id).aupdate(**changes) == 0:
        raise Item.DoesNotExist(f"no item {item_id}")
    return await Item.objects.aget(pk=item_id)


async def item_delete(*, item_id: int) -> None:
    """Raises Item.DoesNotExist for an unknown id."""
    deleted, _ = await Item.objects.filter(pk=item_id).adelete()
    if not deleted:
        raise Item.DoesNotExist(f"no item {item_id}")
