"""core.asgi.problem_guard: no error leaves the app without application/problem+json."""

import json
from typing import Any

import pytest

from config import asgi
from core.asgi import problem_guard
from tests.unit.conftest import http_scope

PROBLEM = "application/problem+json"
Message = dict[str, Any]


async def serve(app: Any, scope: dict[str, Any] | None = None) -> list[Message]:
    scope = scope or {"type": "http", "method": "GET", "path": "/x", "headers": []}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await problem_guard(app)(scope, receive, send)
    return sent


def responder(status: int, headers: list[tuple[bytes, bytes]], *chunks: bytes) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        for n, chunk in enumerate(chunks):
            more = n < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})

    return app


def headers_of(start: Message) -> dict[bytes, bytes]:
    return dict(start["headers"])


async def test_an_html_error_becomes_a_problem_keeping_its_other_headers() -> None:
    app = responder(
        405,
        [(b"Content-Type", b"text/html"), (b"Allow", b"GET"), (b"Content-Length", b"27")],
        b"<h1>Method Not Allowed</h1>",
    )

    start, body = await serve(app)

    headers = headers_of(start)
    document = json.loads(body["body"])
    assert start["status"] == 405
    assert headers[b"content-type"] == PROBLEM.encode()
    assert headers[b"Allow"] == b"GET"
    assert int(headers[b"content-length"]) == len(body["body"])
    assert document["status"] == 405
    assert document["title"] == "Method Not Allowed"
    assert body.get("more_body", False) is False


async def test_a_bare_error_without_a_body_or_type_becomes_a_problem() -> None:
    start, body = await serve(responder(400, [], b""))

    assert headers_of(start)[b"content-type"] == PROBLEM.encode()
    assert json.loads(body["body"])["status"] == 400


async def test_problems_and_successes_pass_untouched_streamed_or_not() -> None:
    problem = responder(404, [(b"content-type", PROBLEM.encode())], b'{"status":', b" 404}")
    page = responder(200, [(b"content-type", b"text/html")], b"<p>", b"hi", b"</p>")

    for app, chunks in ((problem, [b'{"status":', b" 404}"]), (page, [b"<p>", b"hi", b"</p>"])):
        start, *bodies = await serve(app)
        assert [b["body"] for b in bodies] == chunks
        assert b"content-length" not in headers_of(start)


async def test_an_exception_before_the_response_is_a_logged_500_problem(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def crashing(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    start, body = await serve(crashing)

    assert start["status"] == 500
    assert json.loads(body["body"])["detail"] == "An unexpected error occurred; it is logged."
    assert "boom" in caplog.text


async def test_an_exception_after_the_response_started_is_the_server_s_to_handle() -> None:
    async def breaking(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("mid-stream")

    with pytest.raises(RuntimeError, match="mid-stream"):
        await serve(breaking)


@pytest.mark.parametrize("path", ["/api/hello", "/bench/json", "/"])
async def test_django_s_own_bare_400_for_an_undecodable_query_is_a_problem(path: str) -> None:
    # Django's ASGI handler answers a query string that is not UTF-8 with an empty text/html
    # 400 before any of this project's code runs (nginx refuses such bytes first; a server
    # reached otherwise would not).
    scope = http_scope(path, query=b"delay=\xff")
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await asgi.application(scope, receive, send)

    assert sent[0]["status"] == 400
    assert headers_of(sent[0])[b"content-type"] == PROBLEM.encode()
    assert json.loads(b"".join(m.get("body", b"") for m in sent[1:]))["status"] == 400
