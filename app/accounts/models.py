from django.db import models
from django.db.models import Q

NAME_MAX_LENGTH = 100


class ApiToken(models.Model):
    """An API token. Only a SHA-256 digest of it is stored: the token itself is shown once, when
    it is made (`manage.py token create`), and cannot be recovered from the database.

    A token is `adst_<key_id>_<secret>`: `key_id` finds the row (an index lookup), and the
    digest of the whole token is then compared in constant time. Revoking keeps the row (who had
    access, and until when) and frees its name for a new token.
    """

    name = models.CharField(max_length=NAME_MAX_LENGTH, help_text="what or who the token is for")
    key_id = models.CharField(max_length=16, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Updated at most once a minute per token and app process (accounts.auth), never per request.
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-id"]
        verbose_name = "API token"
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=Q(revoked_at__isnull=True), name="token_name_active"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def active(self) -> bool:
        return self.revoked_at is None
