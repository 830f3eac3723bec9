from django.contrib import admin
from django.urls import include, path

import core.converters  # noqa: F401  (registers the `id` path converter used by the API)
from config.api import api
from events.views import events, live

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/events", events, name="events"),
    path("events/", live, name="events-live"),
    path("api/", api.urls),
    path("bench/", include("bench.urls")),
    path("", include("core.urls")),
]

handler400 = "core.problems.bad_request"
handler403 = "core.problems.permission_denied"
handler404 = "core.problems.not_found"
handler500 = "core.problems.server_error"
