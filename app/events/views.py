"""Server-Sent Events: GET /api/events (docs/events.md), and /events/, a page that shows them.

Resumes after `Last-Event-ID` (what a browser's EventSource sends when it reconnects by
itself) or else `?since=<id>`; the header wins, since a browser reconnects to the same URL,
`since` included. Every frame is a standard SSE frame:

    retry: 2417                  the first frame: when to reconnect (1-3 s, at random, so that
    id: 41                       clients dropped together do not come back together), and the
    : subscribed on <host>       position: a browser resumes after it even before any event

    id: 42                       an event
    event: item.updated
    data: {"id": 42, "type": "item.updated", "at": "...", "item": {...}}

    id: 57                       instead of the position, or later: the client cannot resume
    event: reset                 where it asked; it continues after the head and should reload
    data: {"type": "reset", "id": 57, "reason": "behind"}

    : heartbeat                  every EVENTS_HEARTBEAT_SECONDS when idle

When the event log cannot be read (the database is down, the server is stopping), the answer
is still 200 text/event-stream: a `retry:` and a comment, then the end. A browser retries after
an ended stream; after an error status it would give up for good (HTML standard, "Server-sent
events": a non-200 answer "fails the connection").
"""

import json
import random
import socket
from collections.abc import AsyncIterator
from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render

from accounts.auth import read_refusal
from core.http import allow
from core.problems import problem
from events.log import Unavailable
from events.streams import Heartbeat, Reset, Start, follow

MAX_ID = 2**63 - 1
RETRY_MS = (1000, 3000)  # the reconnection delay told to each stream, drawn in this range
UNAVAILABLE_RETRY_MS = 5000
HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def parse_id(text: str) -> int | None:
    """An event id: 0 to 2**63 - 1, in ASCII digits; None for anything else."""
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) > MAX_ID:
        return None
    return int(text)


def reset_frame(message: Reset) -> bytes:
    data = json.dumps({"type": "reset", "id": message.id, "reason": message.reason})
    return f"id: {message.id}\nevent: reset\ndata: {data}\n\n".encode()


async def sse(since: int | None, reset: str | None) -> AsyncIterator[bytes]:
    """The stream's frames. The first one (a Start or a Reset) also sets `retry`."""
    retry = random.randint(*RETRY_MS)  # noqa: S311 (spreading load, not security)
    greeting = f"retry: {retry}\n: subscribed on {socket.gethostname()}\n\n".encode()
    try:
        async for message in follow(since, reset=reset):
            if isinstance(message, list):
                yield b"".join(event.sse() for event in message)
            elif isinstance(message, Heartbeat):
                yield b": heartbeat\n\n"
            elif isinstance(message, Start):
                yield greeting + f"id: {message.id}\n\n".encode()
            else:
                yield greeting + reset_frame(message)
            greeting = b""
    except Unavailable as exc:
        # The stream ends; the client reconnects later with its last id.
        yield f"retry: {UNAVAILABLE_RETRY_MS}\n: {exc}; retry\n\n".encode()


@allow("GET")
async def events(request: HttpRequest) -> HttpResponseBase:
    # Who may read: accounts.auth (reads are public unless API_PUBLIC_READS=false).
    if (refusal := await read_refusal(request)) is not None:
        return refusal
    last_event_id = request.headers.get("Last-Event-ID")
    reset = None
    if last_event_id is not None and last_event_id.strip():
        since = parse_id(last_event_id.strip())
        if since is None:  # a browser cannot be told otherwise: it starts afresh
            reset = "invalid"
    elif "since" in request.GET:
        since = parse_id(request.GET["since"])
        if since is None:
            return problem(
                HTTPStatus.BAD_REQUEST,
                "Invalid query parameters.",
                errors=[{"parameter": "since", "detail": f"must be an event id, 0 to {MAX_ID}"}],
            )
    else:
        since = None
    return StreamingHttpResponse(
        sse(since, reset), content_type="text/event-stream", headers=HEADERS
    )


LIVE_PAGE_SHOWN = 200  # events the live page keeps on screen


@allow("GET")
async def live(request: HttpRequest) -> HttpResponse:
    """A page that follows /api/events in the browser: what it looks like to a real client,
    with the browser's own reconnection (static/events/live.js). The browser tests use it."""
    return render(request, "events/live.html", {"shown": LIVE_PAGE_SHOWN})
