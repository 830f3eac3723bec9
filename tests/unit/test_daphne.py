"""config/daphne.py: Twisted leaves bodies to Django, and a drain closes idle connections first."""

from typing import Any

from twisted.internet.testing import StringTransport
from twisted.web import http

from config.daphne import DrainingServer, UnparsedBodyFactory


def server() -> DrainingServer:
    made = DrainingServer(application=None, endpoints=["tcp:port=0"])
    made.connections = {}  # what Server.run() sets up before it listens
    return made


def connection(server: DrainingServer) -> Any:
    """An HTTP/1.1 connection as the server's factory makes them."""
    factory = UnparsedBodyFactory(server)
    untyped: Any = (http.HTTPChannel, StringTransport)  # Twisted has no annotations here
    channel = untyped[0]()
    channel.factory = factory
    channel.requestFactory = factory.buildProtocol(None).requestFactory
    channel.makeConnection(untyped[1]())
    return channel


def test_a_multipart_body_reaches_the_application_unparsed() -> None:
    # Twisted would parse it into arguments daphne never reads, and answer a body it cannot
    # parse with a bare 400 before the application sees it.
    channel = connection(server())

    request = channel.requestFactory(channel, False)

    assert isinstance(request, http.Request)
    assert request._parsePOSTFormSubmission is False


def test_a_drain_closes_idle_keep_alive_connections_and_ends_busy_ones_after_their_answer() -> None:
    draining = server()
    idle, busy = connection(draining), connection(draining)
    idle.requestFactory(idle, False)  # answered long ago: the connection is kept alive, idle
    in_flight = busy.requestFactory(busy, False)
    busy.requests.append(in_flight)

    draining._close_keep_alive()

    assert idle.transport.disconnecting
    assert not busy.transport.disconnecting
    assert busy.persistent is False
    assert in_flight.responseHeaders.getRawHeaders(b"connection") == [b"close"]
