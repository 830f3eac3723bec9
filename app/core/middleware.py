"""ProblemMiddleware: the errors that arise outside a view's own handling, as problems."""

from collections.abc import Awaitable, Callable
from http import HTTPStatus

from django.http import HttpRequest, HttpResponseBase

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
