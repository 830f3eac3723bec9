from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import GreaterThan, LessThanOrEqual

NAME_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 10_000
IDEMPOTENCY_KEY_MAX_LENGTH = 100


class Item(models.Model):
    """An item. Every insert, update, delete and truncate is recorded in the event log by the
    database, in the same transaction as the change (events/migrations/0001)."""

    name = models.CharField(max_length=NAME_MAX_LENGTH)
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The client's Idempotency-Key of the POST that created the item, if it sent one, and a
    # digest of that request: a repeat of the POST returns this item instead of a second one.
    idempotency_key = models.CharField(
        max_length=IDEMPOTENCY_KEY_MAX_LENGTH, null=True, blank=True, unique=True, editable=False
    )
    request_digest = models.CharField(max_length=64, blank=True, default="", editable=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=GreaterThan(Length("name"), 0), name="item_name_not_empty"
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("description"), DESCRIPTION_MAX_LENGTH),
                name="item_description_max_length",
            ),
        ]

    def __str__(self) -> str:
        return self.name
