"""Server-Sent Events: GET /api/events."""

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse

from accounts.auth import read_refusal
from core.http import allow
from core.problems import problem
from events.broker import Event, Subscription, Unavailable, broker


def format_event(event: Event) -> str:
    return f"id: {event['id']}\nevent: {event['type']}\ndata: {json.dumps(event)}\n\n"


async def event_stream() -> AsyncIterator[str]:
    """The stream: a greeting once subscribed, then events, with a heartbeat comment when idle.

    When the client goes away, Django cancels this generator; leaving `subscribe()` then drops
    the subscription, so nothing outlives the connection.
    """
    async with broker().subscribe() as subscription:
        yield f"retry: 3000\n: subscribed on {socket.gethostname()}\n\n"
        async for chunk in _events(subscription):
            yield chunk


async def _events(subscription: Subscription) -> AsyncIterator[str]:
    while True:
        try:
            event = await asyncio.wait_for(subscription.get(), settings.EVENTS_HEARTBEAT_SECONDS)
        except TimeoutError:
            yield ": heartbeat\n\n"
            continue
        if event is None:
            yield ": dropped: this client fell behind; reconnect\n\n"
            return
        yield format_event(event)


@allow("GET")
async def events(request: HttpRequest) -> HttpResponseBase:
    if (refusal := await read_refusal(request)) is not None:
        return refusal
    try:
        await broker().ready(within=settings.EVENTS_READY_TIMEOUT)
    except Unavailable:
        return problem(
            HTTPStatus.SERVICE_UNAVAILABLE,
            "Events are unavailable: the database cannot be listened to; retry shortly.",
            headers={"Retry-After": "5"},
        )
    return StreamingHttpResponse(
        event_stream(),
        content_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
