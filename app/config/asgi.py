"""The ASGI entry point: HTTP to Django, WebSocket /ws/events to events, lifespan here, and
/bench/raw to a bare ASGI handler (the limit Django's overhead is measured against). Django's
HTTP answers pass through core.asgi.problem_guard: every error leaves as a problem document.

Django's ASGIHandler serves only `http` scopes (it raises on `lifespan`), so this router answers
the lifespan protocol itself: the server runs it with `--lifespan on` (uvicorn; daphne sends no
lifespan), and at shutdown, after the last request has drained, the event listener stops and the
database pool closes, so PostgreSQL sees clean disconnects.
"""

import asyncio
import contextvars
import gc
import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Sets up Django (settings, apps) before anything else imports models.
django_application = get_asgi_application()

from asgiref.sync import sync_to_async  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connections  # noqa: E402

from config.handler import LeanASGIHandler  # noqa: E402
from core.asgi import problem_guard  # noqa: E402
from events.log import event_log  # noqa: E402
from events.websocket import events_websocket  # noqa: E402

Scope = dict[str, Any]
Message = dict[str, Any]


def _close_pools() -> None:
    # Pools are shared by every thread's connection wrapper, so any thread may close them.
    for connection in connections.all():
        close_pool = getattr(connection, "close_pool", None)
        if close_pool is not None:
            close_pool()


async def lifespan(scope: Scope, receive: Any, send: Any) -> None:
    while True:
        message: Message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await event_log().stop()
            await sync_to_async(_close_pools, thread_sensitive=False)()
            await send({"type": "lifespan.shutdown.complete"})
            return


# /api/ and /bench/ use no session, user, CSRF or message: with LEAN_API_HANDLER on, they run
# through a handler with natively async middleware only (config/handler.py). Everything else,
# the admin first, keeps Django's full middleware.
api_handler = LeanASGIHandler() if settings.LEAN_API_HANDLER else django_application
api_application = problem_guard(api_handler)
pages_application = problem_guard(django_application)
LEAN_PREFIXES = ("/api/", "/bench/")

RAW_BODY = b'{"message":"Hello, World!"}'
RAW_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"27")]


async def raw_json(scope: Scope, receive: Any, send: Any) -> None:
    """The same answer as /bench/json with no framework at all: the server's own limit."""
    await send({"type": "http.response.start", "status": 200, "headers": RAW_HEADERS})
    await send({"type": "http.response.body", "body": RAW_BODY})


async def application(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "http" and scope["path"] == "/bench/raw":
        await raw_json(scope, receive, send)
    elif scope["type"] == "http":
        # Each HTTP request runs in a context of its own, empty. A server's task for a request
        # starts in a copy of whatever context was current where the server created it, and
        # under asyncio's loop uvicorn creates it from a reader callback that a previous
        # request's task registered (flow control), so that request's context variables
        # (asgiref's exited ThreadSensitiveContext among them) would leak into this one.
        # Awaiting the task passes a cancellation on to it.
        await asyncio.create_task(django_http(scope, receive, send), context=contextvars.Context())
    elif scope["type"] == "lifespan":
        await lifespan(scope, receive, send)
    elif scope["type"] == "websocket" and scope["path"] == "/ws/events":
        await events_websocket(scope, receive, send)
    elif scope["type"] == "websocket":
        # No other WebSocket route: refuse the handshake (the server answers 403).
        await receive()
        await send({"type": "websocket.close", "code": 1008})
    else:
        raise ValueError(f"unsupported ASGI scope type {scope['type']!r}")


async def django_http(scope: Scope, receive: Any, send: Any) -> None:
    if scope["path"].startswith(LEAN_PREFIXES):
        await api_application(scope, receive, send)
    else:
        await pages_application(scope, receive, send)


# Everything loaded so far (Django, the apps, the URL patterns) lives as long as the process:
# moved out of the cyclic collector's sight, so that a full collection scans only what requests
# create (on this app: 26 ms per full collection with the start-up heap, nothing after).
gc.freeze()
gc.set_threshold(*settings.GC_THRESHOLDS)
