"""Writes of items, async ORM only. Each is one statement, so it needs no explicit transaction;
the NOTIFY trigger runs inside that statement's transaction."""

from django.utils import timezone

from items.models import Item


async def item_create(*, name: str, description: str = "") -> Item:
    return await Item.objects.acreate(name=name, description=description)


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
