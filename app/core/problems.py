"""RFC 9457 problem details: the one place that turns errors into responses.

Every error a client can see, from a view, from Django's handlers (400, 403, 404, 500) or from
CSRF, goes through `problem()`, so the shape is the same everywhere.
"""

from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from django.http import HttpRequest, JsonResponse

CONTENT_TYPE = "application/problem+json"


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: Iterable[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JsonResponse:
    """A problem+json response; `type` is about:blank, so `title` is the status phrase."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = list(errors)
    return JsonResponse(body, status=status, content_type=CONTENT_TYPE, headers=headers)


def method_not_allowed(request: HttpRequest, allowed: Iterable[str]) -> JsonResponse:
    allow = ", ".join(allowed)
    return problem(
        HTTPStatus.METHOD_NOT_ALLOWED,
        f"{request.method} is not allowed on {request.path}; allowed: {allow}.",
        headers={"Allow": allow},
    )


# Django's error handlers (wired in config.urls). They must be plain functions: Django calls them
# from sync and async paths alike.
def bad_request(request: HttpRequest, exception: Exception) -> JsonResponse:
    return problem(HTTPStatus.BAD_REQUEST, "The request could not be understood.")


def permission_denied(request: HttpRequest, exception: Exception) -> JsonResponse:
    return problem(HTTPStatus.FORBIDDEN, "You are not allowed to do this.")


def not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    return problem(HTTPStatus.NOT_FOUND, f"Nothing is at {request.path}.")


def server_error(request: HttpRequest) -> JsonResponse:
    return problem(HTTPStatus.INTERNAL_SERVER_ERROR, "An unexpected error occurred; it is logged.")


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    return problem(HTTPStatus.FORBIDDEN, f"CSRF verification failed: {reason}")
