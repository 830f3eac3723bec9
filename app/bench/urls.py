from django.conf import settings
from django.urls import path

from bench import views, views_sync

chosen = views_sync if settings.BENCH_VIEWS == "sync" else views

urlpatterns = [
    path("json", chosen.json_view, name="bench-json"),
    path("plaintext", chosen.plaintext, name="bench-plaintext"),
    path("db", chosen.db, name="bench-db"),
    path("queries", chosen.queries, name="bench-queries"),
    path("fortunes", chosen.fortunes, name="bench-fortunes"),
    path("updates", chosen.updates, name="bench-updates"),
]
