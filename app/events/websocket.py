"""WS /ws/events: the events of /api/events over a WebSocket, as plain ASGI (no framework).

Each event is one text message, the event's JSON. The handshake is refused (403) for a Host
that ALLOWED_HOSTS refuses or a reader accounts.auth refuses, and closed with 1011 when the
database cannot be listened to.
"""

import asyncio
import contextlib
import json
from typing import Any

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from accounts.auth import websocket_reader
from events.broker import Unavailable, broker

Scope = dict[str, Any]


def _host_allowed(scope: Scope) -> bool:
    headers = dict(scope.get("headers", []))
    host = headers.get(b"host", b"").decode("latin-1")
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


async def events_websocket(scope: Scope, receive: Any, send: Any) -> None:
    if (await receive())["type"] != "websocket.connect":
        return
    if not _host_allowed(scope):
        await send({"type": "websocket.close", "code": 1008})
        return
    allowed, subprotocol = await websocket_reader(scope)
    if not allowed:  # the server refuses the handshake (403)
        await send({"type": "websocket.close", "code": 1008})
        return
    try:
        await broker().ready(within=settings.EVENTS_READY_TIMEOUT)
    except Unavailable:
        await send({"type": "websocket.close", "code": 1011})
        return
    await send({"type": "websocket.accept", "subprotocol": subprotocol})

    async def until_disconnect() -> None:
        while (await receive())["type"] != "websocket.disconnect":
            pass  # the client has nothing to say; its messages are ignored

    async with broker().subscribe() as subscription:
        disconnected = asyncio.create_task(until_disconnect())
        try:
            while True:
                next_event = asyncio.create_task(subscription.get())
                done, _ = await asyncio.wait(
                    {next_event, disconnected}, return_when=asyncio.FIRST_COMPLETED
                )
                if disconnected in done:
                    next_event.cancel()
                    return
                event = next_event.result()
                if event is None:
                    await send({"type": "websocket.close", "code": 1013})  # fell behind
                    return
                await send({"type": "websocket.send", "text": json.dumps(event)})
        finally:
            disconnected.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await disconnected
