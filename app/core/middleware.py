"""ProblemMiddleware: the errors that arise outside a view's own handling, as problems."""

from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from asgiref.sync import markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.security import SecurityMiddleware

from core.problems import (
    CONTENT_TYPE,
    DATABASE_UNAVAILABLE,
    database_unavailable,
    method_not_allowed,
)


class ProblemMiddleware:
    """Turns any 405 (Django's HttpResponseNotAllowed, from the API router or a generic view)
    into a problem with its Allow header, and an unreachable database into a 503 problem instead
    of a 500. Natively async: it adds no thread hop to async views."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]]) -> None:
        self.get_response = get_response
        # Tells Django this instance is a coroutine function, so that its exception handling
        # wraps it as async.
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = await self.get_response(request)
        if (
            response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
            and response.get("Content-Type") != CONTENT_TYPE
        ):
            allowed = [m.strip() for m in response.get("Allow", "").split(",") if m.strip()]
            return method_not_allowed(request, allowed)
        return response

    async def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponseBase | None:
        if isinstance(exception, DATABASE_UNAVAILABLE):
            return database_unavailable(exception)
        return None


class InlineSecurityMiddleware:
    """Django's SecurityMiddleware, CommonMiddleware and XFrameOptionsMiddleware, run on the event
    loop instead of one thread hop per hook.

    Under ASGI, Django runs each MiddlewareMixin hook through sync_to_async: two hops to a
    thread per middleware per request. These three do no I/O (they read settings, the request
    and the URLconf, and set headers), so calling their hooks inline is safe and keeps every
    protection: ALLOWED_HOSTS, the SSL redirect and HSTS, nosniff, Referrer-Policy, COOP,
    X-Frame-Options, APPEND_SLASH. Exceptions (DisallowedHost) propagate as in Django's chain.
    """

    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]]) -> None:
        self.get_response = get_response
        # Tells Django this instance is a coroutine function, so that its exception handling
        # wraps it as async.
        markcoroutinefunction(self)
        # The instances only lend their hooks; their own get_response is never called.
        self.chain: list[Any] = [
            cls(get_response)
            for cls in (SecurityMiddleware, CommonMiddleware, XFrameOptionsMiddleware)
        ]

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase | None = None
        for middleware in self.chain:
            hook = getattr(middleware, "process_request", None)
            if hook is not None and (response := hook(request)) is not None:
                break
        if response is None:
            response = await self.get_response(request)
        for middleware in reversed(self.chain):
            hook = getattr(middleware, "process_response", None)
            if hook is not None:
                response = hook(request, response)
        return response
