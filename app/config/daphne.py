"""Daphne with a graceful drain: `python -m config.daphne` takes daphne's own arguments.

Stock daphne stops its reactor on SIGTERM and cancels every request in flight. Here SIGTERM
(and SIGINT) first closes the listening sockets, then waits until the requests in flight have
finished, or GRACEFUL_TIMEOUT seconds have passed, and only then stops, as uvicorn does with
--timeout-graceful-shutdown. Before it stops, every connection is closed gracefully, which
first sends what is still buffered: the end of a streamed response, a WebSocket's close frame
(the event streams end on SIGTERM, events/log.py; stopping the reactor at once lost them, and
clients saw a broken stream, WebSocket code 1006, instead of 1012).
"""

import logging
import os
import signal
import time
from types import FrameType
from typing import Any

from daphne.cli import CommandLineInterface
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
        logger.info("%s: draining %d request(s), up to %gs", name, self._in_flight(), self.grace)
        self._drain()

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
