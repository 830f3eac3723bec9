"""WS /ws/events: the events of /api/events over a WebSocket, as plain ASGI (no framework).

`?since=<id>` resumes after that id, as on /api/events. Each message is one JSON text:

    {"type": "subscribed", "id": 41, "instance": "<host>"}   first: it continues after id 41
    {"id": 42, "type": "item.updated", "at": ..., "item": {...}}     an event
    {"type": "reset", "id": 57, "reason": "behind"}  cannot resume there: continues after the
                                                    head (57); reload your state

Every message's `id` is the position after it: resume with the last one seen. Closes:
1008 for a `since` that is not an event id, 1013 (try again
later) when the event log cannot be read, 1012 (service restart) when the server stops.
The handshake is refused (403) for a Host that ALLOWED_HOSTS refuses or a reader
accounts.auth refuses.
"""

import asyncio
import json
import socket
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from accounts.auth import websocket_reader
from events.log import Unavailable
from events.streams import Heartbeat, Reset, Start, follow
from events.views import MAX_ID, parse_id

Scope = dict[str, Any]

POLICY_VIOLATION = 1008
SERVICE_RESTART = 1012
TRY_AGAIN_LATER = 1013


def _host_allowed(scope: Scope) -> bool:
    headers = dict(scope.get("headers", []))
    host = headers.get(b"host", b"").decode("latin-1")
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


def _since(scope: Scope) -> tuple[int | None, bool]:
    """The `since` parameter, and whether it was valid (absent is valid)."""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("since")
    if not values:
        return None, True
    since = parse_id(values[-1])
    return since, since is not None


async def events_websocket(scope: Scope, receive: Any, send: Any) -> None:
    if (await receive())["type"] != "websocket.connect":
        return
    if not _host_allowed(scope):
        await send({"type": "websocket.close", "code": POLICY_VIOLATION})
        return
    # Who may read: accounts.auth (reads are public unless API_PUBLIC_READS=false; then the
    # token comes as the Sec-WebSocket-Protocol value).
    allowed, subprotocol = await websocket_reader(scope)
    if not allowed:  # the server refuses the handshake (403)
        await send({"type": "websocket.close", "code": POLICY_VIOLATION})
        return
    since, valid = _since(scope)
    # Accepted first, so that a close code and reason reach the client (a close before the
    # accept is an HTTP 403 without either).
    await send({"type": "websocket.accept", "subprotocol": subprotocol})
    if not valid:
        await _close(send, POLICY_VIOLATION, f"since must be an event id, 0 to {MAX_ID}")
        return

    async def until_disconnect() -> None:
        while (await receive())["type"] != "websocket.disconnect":
            pass  # the client has nothing to say; its messages are ignored

    disconnected = asyncio.create_task(until_disconnect())
    sending = asyncio.create_task(_send_stream(since, send))
    client_left = False
    try:
        await asyncio.wait({disconnected, sending}, return_when=asyncio.FIRST_COMPLETED)
        client_left = disconnected.done()
    finally:
        for task in (sending, disconnected):
            task.cancel()
        await asyncio.gather(sending, disconnected, return_exceptions=True)
    if not client_left and not sending.cancelled() and sending.exception() is not None:
        raise sending.exception()  # type: ignore[misc]  # not a disconnect: a real error


async def _send_stream(since: int | None, send: Any) -> None:
    try:
        async for message in follow(since):
            if isinstance(message, list):
                for event in message:
                    await send({"type": "websocket.send", "text": event.data})
            elif isinstance(message, Heartbeat):
                continue  # the server's own WebSocket pings keep the connection alive
            elif isinstance(message, Start):
                text = json.dumps(
                    {"type": "subscribed", "id": message.id, "instance": socket.gethostname()}
                )
                await send({"type": "websocket.send", "text": text})
            elif isinstance(message, Reset):
                text = json.dumps({"type": "reset", "id": message.id, "reason": message.reason})
                await send({"type": "websocket.send", "text": text})
    except Unavailable as exc:
        await _close(send, TRY_AGAIN_LATER, str(exc))
    else:
        await _close(send, SERVICE_RESTART, "the server is restarting")


async def _close(send: Any, code: int, reason: str) -> None:
    # A close frame's reason is at most 123 bytes (RFC 6455, 5.5).
    reason = reason.encode()[:120].decode(errors="ignore")
    await send({"type": "websocket.close", "code": code, "reason": reason})
