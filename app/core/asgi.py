"""problem_guard: no error response leaves the app without application/problem+json.

Every error Django answers goes through core.problems, but a few responses are made before any
of it runs: Django's ASGI handler answers a body it cannot decode with a bare 400 and an
oversized one with a text/html 413 (`create_request`), and a server answers an exception that
escapes the application with its own text or HTML 500. This ASGI wrapper is the net under all of
them: an HTTP response with a status of 400 or more whose Content-Type is not
application/problem+json has its body replaced by a problem document for the same status (its
other headers kept: Allow, Retry-After, WWW-Authenticate), and is logged, so that the view that
made it can be fixed; an exception before the response started becomes a logged 500 problem.
Responses that are already problems pass through untouched, streamed or not.
"""

import json
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from core.problems import CONTENT_TYPE, document

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]

logger = logging.getLogger(__name__)
PROBLEM = CONTENT_TYPE.encode()
REPLACED = {b"content-type", b"content-length"}


def _problem_bytes(status: int) -> bytes:
    detail = (
        "An unexpected error occurred; it is logged."
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR
        else "The request could not be processed."
    )
    return json.dumps(document(status, detail)).encode()


def _is_problem(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(
        name.lower() == b"content-type" and value.split(b";")[0].strip().lower() == PROBLEM
        for name, value in headers
    )


def problem_guard(app: ASGIApp) -> ASGIApp:
    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        started = replacing = False

        async def guarded_send(message: Message) -> None:
            nonlocal started, replacing
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = message.get("headers", [])
                if status >= HTTPStatus.BAD_REQUEST and not _is_problem(headers):
                    replacing = True
                    logger.warning(
                        "a %d response to %s %s was not a problem document: replaced",
                        status,
                        scope.get("method"),
                        scope.get("path"),
                    )
                    body = _problem_bytes(status)
                    kept = [(n, v) for n, v in headers if n.lower() not in REPLACED]
                    message = {
                        "type": "http.response.start",
                        "status": status,
                        "headers": [
                            *kept,
                            (b"content-type", PROBLEM),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                    await send(message)
                    await send({"type": "http.response.body", "body": body})
                    return
            elif message["type"] == "http.response.body" and replacing:
                return  # the original body is dropped; the problem was sent whole
            await send(message)

        try:
            await app(scope, receive, guarded_send)
        except Exception:
            if started:
                raise
            logger.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            body = _problem_bytes(HTTPStatus.INTERNAL_SERVER_ERROR)
            await send(
                {
                    "type": "http.response.start",
                    "status": HTTPStatus.INTERNAL_SERVER_ERROR,
                    "headers": [
                        (b"content-type", PROBLEM),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})

    return guarded
