"""Reads of items, async ORM only."""

from collections.abc import AsyncIterator

from items.models import Item


async def item_get(*, item_id: int) -> Item:
    """The item; raises Item.DoesNotExist."""
    return await Item.objects.aget(pk=item_id)


async def item_list(*, after_id: int, limit: int) -> tuple[list[Item], bool]:
    """Up to `limit` items with ids above `after_id`, in id order, and whether more follow.

    Keyset pagination: the cursor is the last id seen, so pages stay stable while rows are
    added (new rows have higher ids and come last) and cost one index range scan each.
    """
    rows = [item async for item in Item.objects.filter(pk__gt=after_id).order_by("pk")[: limit + 1]]
    return rows[:limit], len(rows) > limit


def item_export(*, chunk_size: int = 2000) -> AsyncIterator[Item]:
    """Every item in id order, fetched `chunk_size` rows at a time through a server-side cursor,
    so memory stays constant however many rows there are."""
    return Item.objects.order_by("pk").aiterator(chunk_size=chunk_size)
