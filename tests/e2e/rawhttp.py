"""HTTP/1.1 over a bare socket, for requests httpx would normalise or refuse (raw bytes in the
path, CR/LF in a header, a smuggling attempt, a body sent a byte at a time).

Every read has a deadline: a server that neither answers nor closes fails the test, it never
hangs the suite.
"""

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tests.e2e.conftest import AUTHORIZATION, BASE_URL

HOST = urlsplit(BASE_URL).hostname or "nginx"
PORT = urlsplit(BASE_URL).port or 80
# The Host header the stack accepts (ALLOWED_HOSTS=nginx in the test stack).
HOST_HEADER = urlsplit(BASE_URL).netloc.encode()
TIMEOUT = 10.0  # seconds: a response that takes longer fails the test
PIECE = 1024  # bytes sent at a time by a paced exchange


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names, last value wins
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    method: bytes | str,
    target: bytes | str,
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
    host: bytes | None = HOST_HEADER,
    version: bytes = b"HTTP/1.1",
    content_length: bool = True,
    authorized: bool = True,
) -> bytes:
    """The bytes of one request, exactly as given: nothing is encoded, checked or normalised.

    Adds Host (unless `host` is None), the tests' API token (unless `authorized` is false: a
    hostile body must meet the validation behind authentication), Connection: close, and
    Content-Length when there is a body (unless `content_length` is false).
    """
    method = method.encode() if isinstance(method, str) else method
    target = target.encode() if isinstance(target, str) else target
    lines = [method + b" " + target + b" " + version]
    if host is not None:
        lines.append(b"Host: " + host)
    if authorized:
        lines.append(f"Authorization: {AUTHORIZATION['Authorization']}".encode())
    lines.append(b"Connection: close")
    if body and content_length:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    lines.extend(name + b": " + value for name, value in headers or [])
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    # A generous line limit: nginx's own error pages are short, but a header could be long.
    return await asyncio.wait_for(
        asyncio.open_connection(HOST, PORT, limit=1 << 20), timeout=TIMEOUT
    )


async def exchange(raw: bytes, *, within: float = TIMEOUT, paced: bool = False) -> Response:
    """Send `raw`, read one response; fail if none comes `within` seconds.

    `paced`: for a request the server refuses before it has read all of it (a URL or headers
    over nginx's limits). A server that closes a connection with unread data resets it, and the
    reset can destroy the answer on its way; sent a piece at a time, and no more once the answer
    comes, the request leaves nothing unread.
    """
    reader, writer = await connect()

    async def send() -> None:
        step = PIECE if paced else len(raw)
        for start in range(0, len(raw), step):
            writer.write(raw[start : start + step])
            await writer.drain()
            if paced:
                await asyncio.sleep(0.01)

    sending = asyncio.create_task(send())
    try:
        response = await read_response(reader, within=within)
    finally:
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await sending
        writer.close()
    if response is None:
        raise AssertionError(f"the connection closed without a response to {raw[:120]!r}")
    return response


async def burst(raw: bytes, count: int, *, within: float = 60.0) -> list[Response]:
    """`count` connections at once, each sending `raw` the moment it is connected, then reading
    one response (within `within` seconds).

    A flood as an abusive client sends it. Through a client library that sets up a thousand
    requests in one process (httpx), a connection can wait its turn for seconds between its
    connect and its request on a loaded machine, and nginx closes a connection that has sent
    nothing within NGINX_CLIENT_TIMEOUT, silently: the test would measure its own client.
    Here nothing runs between a connect and its request.
    """

    async def one() -> Response:
        reader, writer = await connect()
        writer.write(raw)
        try:
            response = await read_response(reader, within=within)
        finally:
            writer.close()
        if response is None:
            raise AssertionError(f"the connection closed without a response to {raw[:120]!r}")
        return response

    return await asyncio.gather(*(one() for _ in range(count)))


async def read_response(reader: asyncio.StreamReader, *, within: float) -> Response | None:
    """One final response (interim 1xx ones are skipped), or None if the server closed the
    connection without one. An event stream's body never ends: only its head is read."""
    async with asyncio.timeout(within):
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                if not exc.partial:
                    return None
                raise AssertionError(f"the response was cut off: {exc.partial[:200]!r}") from None
            status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
            response = Response(status=int(status_line.split(" ", 2)[1]))
            for line in header_lines:
                name, _, value = line.partition(":")
                response.headers[name.strip().lower()] = value.strip()
            if response.status >= 200:
                break
        if response.status in (204, 304) or response.content_type == "text/event-stream":
            return response
        if response.headers.get("transfer-encoding", "").lower() == "chunked":
            response.body = await _read_chunked(reader)
        elif "content-length" in response.headers:
            response.body = await reader.readexactly(int(response.headers["content-length"]))
        else:
            response.body = await reader.read()
        return response


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers in these responses
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Read until the server closes the connection; fail if it is still open after `seconds`.
    Returns whatever the server sent (an error response, or nothing)."""
    received = bytearray()
    async with asyncio.timeout(seconds):
        while chunk := await reader.read(65536):
            received += chunk
    return bytes(received)
