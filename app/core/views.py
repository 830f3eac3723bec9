"""Health, readiness and the landing page (plain Django views; the API is in core.api)."""

import socket
from http import HTTPStatus

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

import config
from core import selectors
from core.http import allow
from core.problems import problem

# (method, example URL, what it does); the landing page links the GET ones that need no id (an
# id that exists is known only once items do: the page's script links one then).
ENDPOINTS = [
    ("GET", "/healthz", "liveness: the process answers (no database)"),
    ("GET", "/readyz", "readiness: the database answers"),
    ("GET", "/api/info", "the running ASGI server, versions, and the client as the app sees it"),
    ("GET", "/api/hello?delay=1", "awaits asyncio.sleep(delay), 0 to 10 s, then says hello"),
    ("GET", "/api/items?limit=5", "items, keyset-paginated: follow next"),
    ("POST", "/api/items", 'create: {"name": "...", "description": "..."}; needs a token'),
    ("GET", "/api/items/{id}", "one item; PATCH to change it, DELETE to remove it"),
    ("GET", "/api/items/export", "every item as NDJSON, streamed"),
    ("GET", "/api/events", "Server-Sent Events: item created, updated, deleted; resumable"),
    ("WS", "/ws/events", "the same events over a WebSocket"),
    ("GET", "/events/", "a page that shows the events live, as a browser receives them"),
    ("GET", "/api/docs", "interactive API documentation"),
    ("GET", "/api/openapi.json", "the OpenAPI schema"),
    ("GET", "/admin/", "Django admin"),
    ("GET", "/bench/json", "TechEmpower JSON serialization"),
    ("GET", "/bench/plaintext", "TechEmpower plaintext"),
    ("GET", "/bench/db", "TechEmpower single query: one random World row"),
    ("GET", "/bench/queries?queries=5", "TechEmpower multiple queries (1 to 500 rows)"),
    ("GET", "/bench/fortunes", "TechEmpower fortunes: an HTML page from the database"),
    ("GET", "/bench/updates?queries=5", "TechEmpower updates: reads and rewrites N World rows"),
    ("GET", "/bench/raw", "the same JSON as /bench/json from a bare ASGI handler, no Django"),
]


@allow("GET")
async def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@allow("GET")
async def readyz(request: HttpRequest) -> JsonResponse:
    try:
        await selectors.database_version()
    except DatabaseError as exc:
        return problem(
            HTTPStatus.SERVICE_UNAVAILABLE,
            f"The database is unreachable: {type(exc).__name__}.",
            headers={"Retry-After": "5"},
        )
    return JsonResponse({"status": "ready", "database": "ok"})


ITEMS_SHOWN = 100  # the live panel's first page of items, and the most it keeps
EVENTS_SHOWN = 20


@allow("GET")
async def landing(request: HttpRequest) -> HttpResponse:
    """The live demonstration: the server and replica, the endpoints, and a panel of items kept
    current by the event stream (core/static/core/landing.js), with a form that creates one.

    The form writes with the visitor's own credential, never one the page hands out: the
    admin's session (the template's CSRF token goes in X-CSRFToken, as Django's CSRF check
    wants of a session write), or an API token the visitor pastes, which stays in the page.
    """
    return render(
        request,
        "core/landing.html",
        {
            "asgi_server": settings.ASGI_SERVER,
            "instance": socket.gethostname(),
            "version": config.__version__,
            "endpoints": ENDPOINTS,
            # Resolved here, asynchronously: the template's lazy request.user would query the
            # session in sync code.
            "user": await request.auser(),
            "items_shown": ITEMS_SHOWN,
            "events_shown": EVENTS_SHOWN,
        },
    )
