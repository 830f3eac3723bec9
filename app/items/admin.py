from typing import TYPE_CHECKING

from django.contrib import admin

from items.models import Item

# ModelAdmin is generic only in django-stubs; at run time it cannot be subscripted.
if TYPE_CHECKING:
    ItemModelAdmin = admin.ModelAdmin[Item]
else:
    ItemModelAdmin = admin.ModelAdmin


@admin.register(Item)
class ItemAdmin(ItemModelAdmin):
    list_display = ["id", "name", "created_at", "updated_at"]
    search_fields = ["name"]
    readonly_fields = ["created_at", "updated_at"]
    ordering = ["-id"]
