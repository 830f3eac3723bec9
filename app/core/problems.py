"""RFC 9457 problem details: the one place that turns errors into responses.

Every error a client can see goes through `problem()`: Django's handlers (400, 403, 404, 500)
and the CSRF failure view, the API's exception handlers (`install`), and ProblemMiddleware
(405 from any view, an unreachable database). The shape is the same everywhere.
"""

import logging
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, SuspiciousOperation, TooManyFieldsSent
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

CONTENT_TYPE = "application/problem+json"
# Errors that mean "the database cannot be reached now": the client may retry.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)

logger = logging.getLogger(__name__)


class UnsupportedMediaType(Exception):
    """The request body is not JSON."""


class ProblemResponse(Exception):
    """An error that carries its own problem response (made by `problem()` or a Django error
    view that uses it), answered as it is."""

    def __init__(self, response: HttpResponseBase) -> None:
        super().__init__(response.status_code)
        self.response = response


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: Iterable[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JsonResponse:
    """A problem+json response; `type` is about:blank, so `title` is the status phrase."""
    body = document(status, detail, title=title)
    if errors is not None:
        body["errors"] = list(errors)
    return JsonResponse(body, status=status, content_type=CONTENT_TYPE, headers=headers)


def document(status: int, detail: str, *, title: str | None = None) -> dict[str, Any]:
    """The problem document itself (RFC 9457), for responses made outside Django (core.asgi)."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:  # a status Python does not name
        phrase = "Error"
    return {"type": "about:blank", "title": title or phrase, "status": status, "detail": detail}


def method_not_allowed(request: HttpRequest, allowed: Iterable[str]) -> JsonResponse:
    allow = ", ".join(sorted(allowed))
    return problem(
        HTTPStatus.METHOD_NOT_ALLOWED,
        f"{request.method} is not allowed on {request.path}; allowed: {allow}.",
        headers={"Allow": allow},
    )


def database_unavailable(exc: Exception) -> JsonResponse:
    logger.warning("database unavailable: %s", exc)
    return problem(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "The database is unavailable; retry shortly.",
        headers={"Retry-After": "5"},
    )


# Django's error handlers (wired in config.urls). They must be plain functions: Django calls them
# from sync and async paths alike.
def bad_request(request: HttpRequest, exception: Exception) -> JsonResponse:
    return problem(HTTPStatus.BAD_REQUEST, "The request could not be understood.")


def permission_denied(request: HttpRequest, exception: Exception) -> JsonResponse:
    return problem(HTTPStatus.FORBIDDEN, "You are not allowed to do this.")


def not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    return problem(HTTPStatus.NOT_FOUND, f"Nothing is at {request.path}.")


def unauthorized(*, invalid_token: bool = False) -> JsonResponse:
    """A 401 with the Bearer challenge (RFC 6750, 3): `error="invalid_token"` when a token was
    presented and refused, none when the request carried no credentials."""
    if invalid_token:
        detail = "The API token is malformed, unknown or revoked."
        challenge = 'Bearer error="invalid_token"'
    else:
        detail = (
            "This needs an API token (Authorization: Bearer <token>; `make token NAME=...` "
            "makes one) or a logged-in session."
        )
        challenge = "Bearer"
    return problem(HTTPStatus.UNAUTHORIZED, detail, headers={"WWW-Authenticate": challenge})


def server_error(request: HttpRequest) -> JsonResponse:
    return problem(HTTPStatus.INTERNAL_SERVER_ERROR, "An unexpected error occurred; it is logged.")


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    return problem(HTTPStatus.FORBIDDEN, f"CSRF verification failed: {reason}")


# The API's exception handlers.
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """Bad query parameters are a 400 naming each parameter; a bad body is a 422 with a JSON
    pointer to each bad field (RFC 9457 section 3)."""
    parameters, fields = [], []
    for error in exc.errors:
        where, *path = error.get("loc", ("body",))
        detail = str(error.get("msg", "is invalid"))
        if where in ("query", "path"):
            parameters.append({"parameter": ".".join(map(str, path)), "detail": detail})
        elif where == "header":
            parameters.append({"header": ".".join(map(str, path)), "detail": detail})
        else:
            pointer = "/".join(str(part).replace("~", "~0").replace("/", "~1") for part in path[1:])
            fields.append({"pointer": f"#/{pointer}" if pointer else "#", "detail": detail})
    if parameters and not fields:
        if all("header" in parameter for parameter in parameters):
            return problem(HTTPStatus.BAD_REQUEST, "Invalid request headers.", errors=parameters)
        return problem(HTTPStatus.BAD_REQUEST, "Invalid query parameters.", errors=parameters)
    return problem(
        HTTPStatus.UNPROCESSABLE_CONTENT,
        "The request body is not a valid document for this operation.",
        errors=parameters + fields,
    )


def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, UnsupportedMediaType):
        return problem(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, str(exc.__cause__))
    if exc.status_code == HTTPStatus.BAD_REQUEST:
        return problem(HTTPStatus.BAD_REQUEST, "The request body is not valid JSON.")
    return problem(exc.status_code, str(exc))


def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return unauthorized(invalid_token=getattr(exc, "invalid_token", False))


def _problem_response(request: HttpRequest, exc: ProblemResponse) -> HttpResponse:
    assert isinstance(exc.response, HttpResponse)  # problem() and the error views make these
    return exc.response


def _not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return problem(HTTPStatus.NOT_FOUND, f"Nothing is at {request.path}.")


def _suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    """A 400, as Django answers outside the API, not a 500: the API's catch-all would otherwise
    take it (e.g. more query parameters than DATA_UPLOAD_MAX_NUMBER_FIELDS, TooManyFieldsSent).
    Logged to django.security.<kind>, as Django does, without a traceback: the client caused it."""
    logging.getLogger(f"django.security.{type(exc).__name__}").error("%s", exc)
    if isinstance(exc, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return problem(HTTPStatus.BAD_REQUEST, f"Too many parameters: at most {limit} are read.")
    return bad_request(request, exc)


def _database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    return database_unavailable(exc)


def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return server_error(request)


def install(api: NinjaAPI) -> None:
    """Route every exception the API can raise to a problem response."""
    handlers: list[tuple[type[Exception], Callable[[HttpRequest, Any], HttpResponse]]] = [
        (ValidationError, _validation_error),
        (AuthenticationError, _unauthenticated),
        (HttpError, _http_error),
        (ProblemResponse, _problem_response),
        (Http404, _not_found),
        (ObjectDoesNotExist, _not_found),
        (SuspiciousOperation, _suspicious),
        *((error, _database_unavailable) for error in DATABASE_UNAVAILABLE),
        (Exception, _unexpected),
    ]
    for exc_class, handler in handlers:
        api.add_exception_handler(exc_class, handler)
