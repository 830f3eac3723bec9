"""The event log: one row per change to the items, written by the database itself.

The triggers of migration 0001 record every insert, update, delete and truncate of
`items_item` in the transaction that makes it, whoever makes it (the API, the admin, psql), with
ids that increase in commit order without gaps (docs/events.md says how, and what it costs).
Python never writes these tables; events/log.py reads them.
"""

from django.db import models


class Event(models.Model):
    id = models.BigIntegerField(primary_key=True)
    type = models.CharField(max_length=50)
    # The whole event as clients receive it: {"id", "type", "at", "item"}.
    payload = models.JSONField()
    # When the trigger recorded it: just before the commit (what retention counts from).
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.id} {self.type}"


class Head(models.Model):
    """One row (id 1): the newest event id. The trigger increments it, so that a transaction
    that rolls back gives its id back and the ids stay contiguous; it outlives pruning."""

    id = models.SmallIntegerField(primary_key=True)
    last_id = models.BigIntegerField()

    def __str__(self) -> str:
        return str(self.last_id)
