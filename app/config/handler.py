"""LeanASGIHandler: Django's ASGI handler for /api/ and /bench/, without needless thread hops.

Under ASGI, Django runs every sync piece of a request in a thread made for that request (asgiref's
ThreadSensitiveContext), and hops to it and back for each: every MiddlewareMixin hook, the
built-in receivers of request_started (reset_queries, close_old_connections) and
response.close() with its request_finished receivers (close_old_connections, close_caches). For an
async view that touches no database this creates a thread per request only to run code that has
nothing to do: measured with `make bench`, 2.5x the throughput on JSON, 3x on 1,000 concurrent
sleeps. This handler

1. loads settings.API_MIDDLEWARE (natively async) instead of settings.MIDDLEWARE;
2. skips the built-in receivers when they have nothing to do: when this request's context holds
   no database connection (and, at the end, no cache connection and no resource to close).
   Otherwise, and whenever any other receiver is connected, it sends the signals exactly as
   Django does, so custom receivers run once per request, in the request's thread as before.

Everything else is Django's own code path. It was verified on the Django and asgiref versions
below; on others it refuses to start (LEAN_API_HANDLER=false falls back to the stock handler).
"""

import asyncio
import weakref
from contextlib import closing
from typing import Any

import asgiref
import django
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.cache import caches, close_caches
from django.core.exceptions import ImproperlyConfigured, RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.db import close_old_connections, connections, reset_queries
from django.dispatch import Signal
from django.http import HttpResponseBase
from django.urls import set_script_prefix

VERIFIED = {"django": "6.1", "asgiref": "3.13"}
BUILTIN_RECEIVERS = {
    signals.request_started: {reset_queries, close_old_connections},
    signals.request_finished: {close_old_connections, close_caches},
}


def _check_versions() -> None:
    found = {"django": django.__version__, "asgiref": asgiref.__version__}
    for name, verified in VERIFIED.items():
        if not (found[name] == verified or found[name].startswith(f"{verified}.")):
            raise ImproperlyConfigured(
                f"config.handler was verified on {name} {verified}.x, not {found[name]}: "
                "re-verify it (make bench, make test) or set LEAN_API_HANDLER=false"
            )


def _only_builtin_receivers(signal: Signal) -> bool:
    builtins = BUILTIN_RECEIVERS[signal]
    for _key, receiver, _sender, _is_async in signal.receivers:
        # Django keeps weak references unless connected with weak=False.
        function = receiver() if isinstance(receiver, weakref.ref) else receiver
        if function not in builtins:
            return False
    return True


def _nothing_to_close(response: HttpResponseBase | None = None) -> bool:
    """True when the built-in receivers would find nothing: no database or cache connection
    in this request's context, and no resource held by the response."""
    if connections.all(initialized_only=True) or caches.all(initialized_only=True):
        return False
    return response is None or not getattr(response, "_resource_closers", None)


class LeanASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        _check_versions()
        super().__init__()

    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler.load_middleware reads settings.MIDDLEWARE: point it at the API's list for
        # the duration of the call (at start-up, once, before any request).
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_MIDDLEWARE
        try:
            super().load_middleware(is_async=is_async)
        finally:
            settings.MIDDLEWARE = full

    async def request_started(self, scope: dict[str, Any]) -> None:
        if _only_builtin_receivers(signals.request_started) and _nothing_to_close():
            return
        await signals.request_started.asend(sender=self.__class__, scope=scope)

    async def close_response(self, response: HttpResponseBase) -> None:
        if _only_builtin_receivers(signals.request_finished) and _nothing_to_close(response):
            response.closed = True
            return
        await sync_to_async(response.close)()

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Django 6.1's ASGIHandler.handle, with request_started and response.close() through
        the two methods above."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return

        with closing(body_file):
            set_script_prefix(get_script_prefix(scope))
            await self.request_started(scope)
            request, error_response = self.create_request(scope, body_file)
            if request is None:
                assert error_response is not None
                body_file.close()
                await self.send_response(error_response, send)
                await sync_to_async(error_response.close)()
                return

            class RequestProcessed(Exception):
                pass

            response = None
            try:
                try:
                    async with asyncio.TaskGroup() as tg:
                        tg.create_task(self.listen_for_disconnect(receive))
                        response = await self.run_get_response(request)
                        await self.send_response(response, send)
                        raise RequestProcessed
                except* (RequestProcessed, RequestAborted):
                    pass
            except BaseExceptionGroup as exception_group:
                if len(exception_group.exceptions) == 1:
                    raise exception_group.exceptions[0] from None
                raise

            if response is None:
                await signals.request_finished.asend(sender=self.__class__)
            else:
                await self.close_response(response)
