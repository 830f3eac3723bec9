"""Daphne with a graceful drain: `python -m config.daphne` takes daphne's own arguments.

Stock daphne stops its reactor on SIGTERM and cancels every request in flight. Here SIGTERM
(and SIGINT) first closes the listening sockets and the idle keep-alive connections, marks the
busy ones to close after their response, then waits until the requests in flight have finished,
or GRACEFUL_TIMEOUT seconds have passed, and only then stops, as uvicorn does with
--timeout-graceful-shutdown. Closing idle connections at once matters behind nginx: it keeps
sending requests over its idle connections to a draining replica, and a request it sends as the
replica finally exits is lost (a POST is not retried: a 502).

Two more departures from stock daphne, both about Twisted's HTTP layer under it:
- Twisted parses `multipart/form-data` and form-urlencoded POST bodies itself, into arguments
  daphne never reads, and answers a body it cannot parse with a bare 400 (no body, no
  Content-Type) before the application sees the request. Requests here are built with
  `parsePOSTFormSubmission=False` (Twisted's own switch), so every body reaches Django, which
  answers it as a problem (a 415: the API reads JSON only).
- Its header limits are raised above nginx's (below).

Before it stops, every connection is closed gracefully, which first sends what is still
buffered: the end of a streamed response, a WebSocket's close frame (the event streams end on
SIGTERM, events/log.py; stopping the reactor at once lost them, and clients saw a broken
stream, WebSocket code 1006, instead of 1012). And WebSocket closes carry their code and reason
(below).
"""

import functools
import logging
import os
import signal
import time
import weakref
from types import FrameType
from typing import Any

import daphne.server
from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet import reactor as _reactor
from twisted.web import http

logger = logging.getLogger("daphne.drain")

POLL_SECONDS = 0.1
# The global reactor is installed at import time; its interfaces are not visible to mypy.
reactor: Any = _reactor

# nginx is the edge: it refuses oversized request headers with a 431 problem (up to 4 x 8 KiB,
# large_client_header_buffers). Twisted's own limits are lower (16 KiB in all, 500 headers), so a
# request nginx let through got a bare 400 from daphne. Above nginx's limits, nginx decides.
http.HTTPChannel.totalHeadersSize = 64 * 1024
http.HTTPChannel.maxHeaders = 10_000


class UnparsedBodyFactory(HTTPFactory):  # type: ignore[misc]
    """daphne's HTTP factory, building requests that leave their bodies to the application."""

    def buildProtocol(self, addr: Any) -> Any:
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = functools.partial(WebRequest, parsePOSTFormSubmission=False)
        return protocol


# daphne.server.Server.run() builds its factory from this module-level name.
daphne.server.HTTPFactory = UnparsedBodyFactory


def _close_websocket(self: Any, code: int | None = None, reason: str = "") -> None:
    """Daphne closes a WebSocket through autobahn's sendClose(), which accepts only codes 1000
    and 3000-4999 (it raises on the rest, and the client sees 1006, an abnormal closure) and
    daphne drops the ASGI message's `reason`. RFC 6455 (7.4.1) registers 1008, 1011, 1012 and
    1013 for servers to send, and the event stream uses them (events/websocket.py): the frame is
    sent the way autobahn sends its own protocol closes."""
    self.sendCloseFrame(code=1000 if code is None else code, reasonUtf8=reason.encode()[:123])


def _handle_reply(self: Any, message: dict[str, Any]) -> None:
    if message.get("type") == "websocket.close" and self.state != self.STATE_CONNECTING:
        _close_websocket(self, message.get("code"), message.get("reason") or "")
    else:
        _stock_handle_reply(self, message)


_stock_handle_reply = WebSocketProtocol.handle_reply
WebSocketProtocol.handle_reply = _handle_reply


class DrainingServer(Server):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["signal_handlers"] = False
        super().__init__(*args, **kwargs)
        self.grace = float(os.environ.get("GRACEFUL_TIMEOUT", "20"))
        self.ports: list[Any] = []
        self.deadline: float | None = None
        self.closing_connections = False
        # The HTTP connections requests have come on (each request's channel), for the drain.
        self.channels: weakref.WeakSet[Any] = weakref.WeakSet()

    def protocol_connected(self, protocol: Any) -> None:
        super().protocol_connected(protocol)
        if isinstance(protocol, http.Request):  # not a WebSocket
            self.channels.add(protocol.channel)

    def listen_success(self, port: Any) -> None:
        self.ports.append(port)
        super().listen_success(port)

    def run(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        super().run()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        reactor.callFromThread(self._begin_drain, signal.Signals(signum).name)

    def _begin_drain(self, name: str) -> None:
        if self.deadline is not None:
            return
        self.deadline = time.monotonic() + self.grace
        for port in self.ports:
            port.stopListening()
        self._close_keep_alive()
        logger.info("%s: draining %d request(s), up to %gs", name, self._in_flight(), self.grace)
        self._drain()

    def _close_keep_alive(self) -> None:
        """Close idle connections now; busy ones once their response is sent, saying so in the
        response when its headers are still to be written."""
        for channel in list(self.channels):
            if not channel.requests:
                channel.transport.loseConnection()
                continue
            channel.persistent = False
            for request in channel.requests:
                if not request.startedWriting:
                    request.responseHeaders.setRawHeaders(b"connection", [b"close"])

    def _in_flight(self) -> int:
        return sum(
            1
            for details in self.connections.values()
            if "application_instance" in details and not details["application_instance"].done()
        )

    def _drain(self) -> None:
        assert self.deadline is not None
        pending = self._in_flight()
        in_time = time.monotonic() < self.deadline
        if pending and in_time:
            reactor.callLater(POLL_SECONDS, self._drain)
            return
        if pending:
            logger.warning("grace period over: cancelling %d request(s)", pending)
        elif in_time and self.connections:
            if not self.closing_connections:
                # loseConnection() writes out the transport's buffer, then closes.
                self.closing_connections = True
                for protocol in list(self.connections):
                    protocol.transport.loseConnection()
            reactor.callLater(POLL_SECONDS, self._drain)
            return
        reactor.stop()


class DrainingCommandLineInterface(CommandLineInterface):  # type: ignore[misc]
    server_class = DrainingServer


if __name__ == "__main__":
    DrainingCommandLineInterface.entrypoint()
