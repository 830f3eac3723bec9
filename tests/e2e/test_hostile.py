"""Hostile requests through nginx, sent as raw bytes (tests/e2e/rawhttp.py) where httpx would
normalise or refuse them: oversized headers, invalid UTF-8, NUL bytes, long URLs, malformed
bodies, smuggling attempts, slow clients, method overrides, bad hosts.

The bar, for every one: the right 4xx (each test says which and who answers it, nginx or the
app), never a 5xx, and an error body that is application/problem+json. After the battery the
stack is whole: nothing restarted, nothing logged a server error, the item created before it is
unchanged.

nginx (conf.d/http.conf and its defaults) answers: headers over large_client_header_buffers
(4 x 8 KiB) 431, a request line over 8 KiB 414, malformed framing 400, slow clients cut off after
client_header_timeout / client_body_timeout (10 s). Everything else reaches the app.
"""

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httpx
import pytest

from tests.e2e import rawhttp
from tests.e2e.conftest import AUTHORIZATION, BASE_URL
from tests.e2e.docker import Stack
from tests.e2e.rawhttp import Response, exchange, request

PROBLEM = "application/problem+json"
JSON = [(b"Content-Type", b"application/json")]
SLOW_TIMEOUT = 10  # client_header_timeout and client_body_timeout in nginx/conf.d/http.conf
SLOW_MARGIN = 5  # seconds allowed beyond it on a shared, noisy machine

# The endpoints, and what a plain GET of each answers. /ws/events is a WebSocket route only: as
# plain HTTP nothing is there.
ENDPOINTS = {
    "/api/items": HTTPStatus.OK,
    "/api/items/{id}": HTTPStatus.OK,
    "/api/items/export": HTTPStatus.OK,
    "/api/events": HTTPStatus.OK,
    "/api/info": HTTPStatus.OK,
    "/api/hello?delay=0": HTTPStatus.OK,
    "/healthz": HTTPStatus.OK,
    "/readyz": HTTPStatus.OK,
    "/admin/login/": HTTPStatus.OK,
    "/": HTTPStatus.OK,
    "/events/": HTTPStatus.OK,
    "/ws/events": HTTPStatus.NOT_FOUND,
}
# The endpoints that read query parameters (Django parses the query string for them).
READ_QUERY = {"/api/items", "/api/hello?delay=0", "/admin/login/", "/api/events"}


@dataclass
class Sentinel:
    """An item created before the battery, and the containers as they were then."""

    item: dict[str, Any]
    containers: dict[str, tuple[str, int]]  # service: (State.StartedAt, RestartCount)
    since: int  # unix time, for the app's log


def containers(stack: Stack) -> dict[str, tuple[str, int]]:
    found = {}
    for service in ("app", "nginx"):
        cid = stack.container(service)["Id"]
        info = stack.api.get(f"/containers/{cid}/json").raise_for_status().json()
        found[service] = (info["State"]["StartedAt"], info["RestartCount"])
    return found


@pytest.fixture(scope="module", autouse=True)
def sentinel(stack: Stack) -> Iterator[Sentinel]:
    with httpx.Client(base_url=BASE_URL, timeout=30, headers=AUTHORIZATION) as client:
        response = client.post("/api/items", json={"name": "sentinel", "description": "intact"})
        assert response.status_code == HTTPStatus.CREATED
        yield Sentinel(response.json(), containers(stack), int(time.time()) - 1)


def url(path: str, sentinel: Sentinel, query: str = "") -> str:
    path = path.replace("{id}", str(sentinel.item["id"]))
    if not query:
        return path
    return f"{path}{'&' if '?' in path else '?'}{query}"


def assert_problem(response: Response, status: int) -> None:
    """`status`, with a problem+json body saying the same."""
    assert response.status == status, (response.status, response.body[:300])
    assert response.content_type == PROBLEM, (response.content_type, response.body[:300])
    assert response.json()["status"] == status


def assert_answers(response: Response, status: int) -> None:
    """`status`; if it is an error, as a problem."""
    if status >= HTTPStatus.BAD_REQUEST:
        assert_problem(response, status)
    else:
        assert response.status == status, (response.status, response.body[:300])


async def assert_unchanged(item: dict[str, Any]) -> None:
    response = await exchange(request("GET", f"/api/items/{item['id']}"))
    assert response.status == HTTPStatus.OK
    assert response.json() == item


# Headers: nginx refuses what does not fit its buffers; what fits reaches every endpoint.


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([(b"X-Big", b"a" * 20_000)], id="one 20 KB header"),
        pytest.param([(b"X-H%d" % n, b"v" * 100) for n in range(2_000)], id="2,000 headers"),
        pytest.param([(b"Cookie", b"session=" + b"c" * 9_000)], id="9 KB cookie"),
        pytest.param([(b"Range", b"bytes=" + b"0-0," * 3_000)], id="3,000 ranges"),
    ],
)
async def test_oversized_headers_are_refused_by_nginx_with_431(
    headers: list[tuple[bytes, bytes]],
) -> None:
    response = await exchange(request("GET", "/api/items", headers=headers), paced=True)
    assert_problem(response, 431)


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_headers_that_nginx_accepts_reach_every_endpoint(
    path: str, sentinel: Sentinel
) -> None:
    # Within nginx's limits but beyond Twisted's defaults (16 KiB in all, 500 headers), which
    # daphne used to answer with a bare 400.
    large = [(b"X-Large-%d" % n, b"v" * 7_000) for n in range(3)]
    many = [(b"X-Many-%d" % n, b"v") for n in range(600)]
    for headers in (large, many):
        response = await exchange(request("GET", url(path, sentinel), headers=headers))
        assert_answers(response, ENDPOINTS[path])


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_invalid_utf8_in_header_values_is_ignored_and_nul_refused(
    path: str, sentinel: Sentinel
) -> None:
    # Bytes over 0x7f are legal (obs-text) in a header value; the app must not choke on them.
    hostile = [
        (b"User-Agent", b"\xff\xfe\xc0\xaf\xed\xa0\x80"),
        (b"Cookie", b"csrftoken=\xff\xfe; sessionid=\xc0\xaf"),
        (b"Accept-Language", b"\xff" * 100),
        (b"Last-Event-ID", b"\xed\xa0\x80"),
    ]
    response = await exchange(request("GET", url(path, sentinel), headers=hostile))
    assert_answers(response, ENDPOINTS[path])
    # NUL is not allowed anywhere in a header: nginx refuses it.
    nul = [(b"X-Nul", b"a\x00b")]
    assert_problem(await exchange(request("GET", url(path, sentinel), headers=nul)), 400)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(
            b"GET /api/info HTTP/1.1\r\nHost: nginx:8080\r\nX-A: a\rX-B: b\r\n\r\n", id="bare CR"
        ),
        pytest.param(
            b"GET /api/info HTTP/1.1\r\nHost: nginx:8080\r\nX-A: a\r\n folded\r\n\r\n",
            id="obsolete line folding",
        ),
        pytest.param(b"GET /api/info HTTP/1.1\r\nHost: nginx:8080\r\nX A: b\r\n\r\n", id="space"),
        pytest.param(b"get /api/info HTTP/1.1\r\nHost: nginx:8080\r\n\r\n", id="lower-case method"),
    ],
)
async def test_malformed_header_lines_are_refused_by_nginx_with_400(raw: bytes) -> None:
    assert_problem(await exchange(raw), 400)


async def test_a_bare_lf_in_a_header_value_injects_nothing_into_the_response() -> None:
    # nginx ends a header line at a bare LF: the "injected" line is one more request header,
    # which nothing echoes back.
    raw = (
        b"GET /api/info HTTP/1.1\r\nHost: nginx:8080\r\nConnection: close\r\n"
        b"X-A: a\nSet-Cookie: injected=1\r\n\r\n"
    )
    response = await exchange(raw)

    assert response.status == HTTPStatus.OK
    assert "set-cookie" not in response.headers
    assert b"injected" not in response.body


# The request target: invalid UTF-8, NUL, length.


@pytest.mark.parametrize(
    ("target", "status"),
    [
        # Percent-encoded: not UTF-8 (a lone byte, an overlong "/", a lone surrogate) is no
        # route (404, from the app), never a decoding error.
        ("/api/items/%FF%FE", HTTPStatus.NOT_FOUND),
        ("/api/%C0%AFitems", HTTPStatus.NOT_FOUND),
        ("/api/items/%ED%A0%80", HTTPStatus.NOT_FOUND),
        ("/%ED%A0%80", HTTPStatus.NOT_FOUND),
        ("/api/items/999999999999999999999999999999", HTTPStatus.NOT_FOUND),
        ("/api/items/-1", HTTPStatus.NOT_FOUND),
        ("/api/%2e%2e/admin/", HTTPStatus.NOT_FOUND),
        # NUL in the path, encoded or raw: nginx refuses it.
        ("/api/items/%00", HTTPStatus.BAD_REQUEST),
        (b"/api/items/\x00", HTTPStatus.BAD_REQUEST),
        # Raw bytes over 0x7f: a URI is ASCII (RFC 3986), the request is malformed.
        (b"/api/items/\xff\xfe", HTTPStatus.BAD_REQUEST),
        (b"/\xed\xa0\x80", HTTPStatus.BAD_REQUEST),
        (b"/api/items?limit=\xff", HTTPStatus.BAD_REQUEST),
    ],
)
async def test_hostile_paths_are_a_clean_4xx(target: str | bytes, status: int) -> None:
    assert_problem(await exchange(request("GET", target)), status)


@pytest.mark.parametrize(
    ("target", "parameter"),
    [
        ("/api/items?limit=%FF", "limit"),
        ("/api/items?limit=%00", "limit"),
        ("/api/items?limit=" + "9" * 5_000, "limit"),
        ("/api/items?limit=99999999999999999999", "limit"),
        ("/api/items?cursor=%FF%FE", "cursor"),
        ("/api/items?cursor=%ED%A0%80", "cursor"),
        ("/api/items?cursor=%00", "cursor"),
        ("/api/hello?delay=%ED%A0%80", "delay"),
        ("/api/hello?delay=1e400", "delay"),
        ("/api/hello?delay=%00", "delay"),
    ],
)
async def test_hostile_query_values_are_a_400_naming_the_parameter(
    target: str, parameter: str
) -> None:
    response = await exchange(request("GET", target))

    assert_problem(response, 400)
    assert [error["parameter"] for error in response.json()["errors"]] == [parameter]


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_hostile_but_unknown_query_parameters_are_ignored(
    path: str, sentinel: Sentinel
) -> None:
    query = "x=%FF%FE&y=%ED%A0%80&z=%00&%C0%AF=1&%00=%00&" + "long=" + "a" * 6_000
    response = await exchange(request("GET", url(path, sentinel, query)))
    assert_answers(response, ENDPOINTS[path])


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_too_many_query_parameters_are_a_400_where_they_are_read(
    path: str, sentinel: Sentinel
) -> None:
    # 1,500 parameters (6 KB, within nginx's limit): over Django's DATA_UPLOAD_MAX_NUMBER_FIELDS
    # (1,000). They were a 500 from the API, whose catch-all took TooManyFieldsSent.
    response = await exchange(request("GET", url(path, sentinel, "&".join(["x=1"] * 1_500))))
    assert_answers(response, 400 if path in READ_QUERY else ENDPOINTS[path])


async def test_long_urls_answer_under_nginx_limit_and_414_over_it() -> None:
    under = await exchange(request("GET", "/api/items?limit=2&x=" + "a" * 7_000))
    repeated = await exchange(request("GET", "/api/items?" + "&".join(["limit=1"] * 900)))
    over = await exchange(request("GET", "/api/items?x=" + "a" * 70_000), paced=True)
    ten_thousand = await exchange(
        request("GET", "/api/items?" + "&".join(["limit=1"] * 10_000)), paced=True
    )

    assert under.status == HTTPStatus.OK
    assert len(under.json()["items"]) <= 2
    assert repeated.status == HTTPStatus.OK
    assert len(repeated.json()["items"]) <= 1
    assert_problem(over, 414)
    assert_problem(ten_thousand, 414)


# Bodies: JSON that is not, or is hostile; wrong framing.


@pytest.mark.parametrize(
    ("body", "status"),
    [
        # Not UTF-8, a raw control character, a number past int's digit limit: not JSON.
        (b'{"name": "\xff\xfe"}', HTTPStatus.BAD_REQUEST),
        (b'{"name": "a\x00b"}', HTTPStatus.BAD_REQUEST),
        (b'{"name": ' + b"9" * 5_000 + b"}", HTTPStatus.BAD_REQUEST),
        (b"[" * 100_000, HTTPStatus.BAD_REQUEST),
        (b"[" * 100_000 + b"]" * 100_000, HTTPStatus.BAD_REQUEST),  # past the parser's depth
        (b'{"name": ' * 50_000, HTTPStatus.BAD_REQUEST),
        (b'{"a": ' * 50_000 + b"1" + b"}" * 50_000, HTTPStatus.BAD_REQUEST),
        # JSON, but not a storable item: 422 naming the field.
        (b'{"name": "a\\u0000b"}', HTTPStatus.UNPROCESSABLE_CONTENT),
        (b'{"name": "\\ud800"}', HTTPStatus.UNPROCESSABLE_CONTENT),
        (b'{"name": "\xed\xa0\x80"}', HTTPStatus.UNPROCESSABLE_CONTENT),
        (b'{"name": ' + b"9" * 4_000 + b"}", HTTPStatus.UNPROCESSABLE_CONTENT),
        (b'{"name": 1e999}', HTTPStatus.UNPROCESSABLE_CONTENT),
        (b'{"name": "x", "description": ' + b"[" * 500 + b"]" * 500 + b"}", 422),
    ],
    ids=lambda value: repr(value[:30]) if isinstance(value, bytes) else str(value),
)
async def test_hostile_json_bodies_are_a_clean_4xx_and_store_nothing(
    body: bytes, status: int, sentinel: Sentinel
) -> None:
    for method, target in [("POST", "/api/items"), ("PATCH", f"/api/items/{sentinel.item['id']}")]:
        response = await exchange(request(method, target, headers=JSON, body=body))
        assert_problem(response, status)
    await assert_unchanged(sentinel.item)


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        (None, b'{"name": "x"}', HTTPStatus.UNSUPPORTED_MEDIA_TYPE),
        (b"text/plain", b'{"name": "x"}', HTTPStatus.UNSUPPORTED_MEDIA_TYPE),
        (b"application/x-www-form-urlencoded", b"name=x", HTTPStatus.UNSUPPORTED_MEDIA_TYPE),
        (b"multipart/form-data; boundary=z", b"--z\r\n\r\nx\r\n--z--\r\n", 415),
        (b"\xff\xfe", b'{"name": "x"}', HTTPStatus.UNSUPPORTED_MEDIA_TYPE),
        # An empty body is no JSON document: malformed JSON, as a truncated one is.
        (b"application/json", b"", HTTPStatus.BAD_REQUEST),
    ],
)
async def test_a_body_that_is_not_json_is_refused(
    content_type: bytes | None, body: bytes, status: int
) -> None:
    headers = [(b"Content-Type", content_type)] if content_type is not None else []
    headers += [] if body else [(b"Content-Length", b"0")]
    response = await exchange(request("POST", "/api/items", headers=headers, body=body))

    assert_problem(response, status)


async def test_a_body_longer_than_its_content_length_is_cut_at_the_length() -> None:
    body = b'{"name": "cut here"}'
    raw = request(
        "POST",
        "/api/items",
        headers=[*JSON, (b"Content-Length", str(len(body)).encode())],
        body=body + b', "description": "beyond the length"}',
        content_length=False,
    )
    response = await exchange(raw)

    assert response.status == HTTPStatus.CREATED
    assert (response.json()["name"], response.json()["description"]) == ("cut here", "")


async def test_a_chunked_body_is_accepted() -> None:
    chunked = b'6\r\n{"name\r\n8\r\n": "chun\r\n4\r\nked"\r\n1\r\n}\r\n0\r\n\r\n'
    raw = request(
        "POST",
        "/api/items",
        headers=[*JSON, (b"Transfer-Encoding", b"chunked")],
        body=chunked,
        content_length=False,
    )
    response = await exchange(raw)

    assert response.status == HTTPStatus.CREATED
    assert response.json()["name"] == "chunked"


@pytest.mark.parametrize(
    ("framing", "body", "status"),
    [
        # Smuggling: a request hidden after a zero chunk, for a server that would trust
        # Content-Length. nginx refuses the message.
        (
            [(b"Content-Length", b"4"), (b"Transfer-Encoding", b"chunked")],
            b"0\r\n\r\nDELETE /api/items/{id} HTTP/1.1\r\nHost: nginx:8080\r\n\r\n",
            HTTPStatus.BAD_REQUEST,
        ),
        (
            [(b"Transfer-Encoding", b"chunked"), (b"Content-Length", b"4")],
            b"0\r\n\r\nDELETE /api/items/{id} HTTP/1.1\r\nHost: nginx:8080\r\n\r\n",
            HTTPStatus.BAD_REQUEST,
        ),
        ([(b"Content-Length", b"13"), (b"Content-Length", b"5")], b'{"name": "x"}', 400),
        ([(b"Content-Length", b"-1")], b'{"name": "x"}', HTTPStatus.BAD_REQUEST),
        ([(b"Content-Length", b"1e3")], b'{"name": "x"}', HTTPStatus.BAD_REQUEST),
        ([(b"Transfer-Encoding", b"chunked")], b"zz\r\nabc\r\n0\r\n\r\n", 400),
        ([(b"Transfer-Encoding", b"chunked")], b"f" * 20 + b"\r\nabc\r\n0\r\n\r\n", 400),
        # A transfer coding nginx does not implement (RFC 9112 section 6.1).
        ([(b"Transfer-Encoding", b"gzip, chunked")], b"0\r\n\r\n", HTTPStatus.NOT_IMPLEMENTED),
    ],
    ids=[
        "Content-Length then chunked",
        "chunked then Content-Length",
        "two Content-Lengths",
        "negative Content-Length",
        "Content-Length not a number",
        "chunk size not hex",
        "chunk size overflows",
        "unknown transfer coding",
    ],
)
async def test_bad_framing_is_refused_by_nginx_and_smuggles_nothing(
    framing: list[tuple[bytes, bytes]], body: bytes, status: int, sentinel: Sentinel
) -> None:
    body = body.replace(b"{id}", str(sentinel.item["id"]).encode())
    raw = request("POST", "/api/items", headers=[*JSON, *framing], body=body, content_length=False)

    assert_problem(await exchange(raw), status)
    await assert_unchanged(sentinel.item)


# Slow clients: nginx cuts them off; the app never waits for them.


async def test_slow_clients_are_cut_off_by_nginx_while_others_are_served() -> None:
    async def dribble_headers() -> bytes:
        reader, writer = await rawhttp.connect()
        writer.write(b"GET /api/info HTTP/1.1\r\nHost: nginx:8080\r\n")

        async def drip() -> None:
            for n in range(60):
                await asyncio.sleep(1)
                writer.write(b"X-Drip-%d: y\r\n" % n)

        dripping = asyncio.create_task(drip())
        try:
            return await rawhttp.closed_within(reader, SLOW_TIMEOUT + SLOW_MARGIN)
        finally:
            dripping.cancel()
            writer.close()

    async def stall_body() -> bytes:
        # Content-Length promises 100 bytes, 9 come: nginx waits client_body_timeout, no longer.
        reader, writer = await rawhttp.connect()
        writer.write(
            b"POST /api/items HTTP/1.1\r\nHost: nginx:8080\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"name": '
        )
        try:
            return await rawhttp.closed_within(reader, SLOW_TIMEOUT + SLOW_MARGIN)
        finally:
            writer.close()

    async def dribble_body(stop: asyncio.Event) -> None:
        # A byte a second keeps nginx's per-read timer alive; nginx buffers the body, so the app
        # is not involved until the body is complete.
        _, writer = await rawhttp.connect()
        writer.write(
            b"POST /api/items HTTP/1.1\r\nHost: nginx:8080\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n"
        )
        try:
            while not stop.is_set():
                writer.write(b" ")
                await asyncio.sleep(1)
        finally:
            writer.close()

    async def served_meanwhile() -> list[float]:
        took = []
        async with httpx.AsyncClient(
            base_url=BASE_URL, timeout=10, headers=AUTHORIZATION
        ) as client:
            for n in range(8):
                started = time.monotonic()
                read = await client.get("/api/info")
                created = await client.post("/api/items", json={"name": f"meanwhile {n}"})
                took.append(time.monotonic() - started)
                assert (read.status_code, created.status_code) == (200, 201)
                await asyncio.sleep(1)
        return took

    stop = asyncio.Event()
    dribblers = [asyncio.create_task(dribble_body(stop)) for _ in range(20)]
    started = time.monotonic()
    try:
        header_answer, body_answer, took = await asyncio.gather(
            dribble_headers(), stall_body(), served_meanwhile()
        )
    finally:
        stop.set()
        await asyncio.gather(*dribblers, return_exceptions=True)

    # nginx closes a timed-out connection without an answer (or with a 408).
    for answer in (header_answer, body_answer):
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert time.monotonic() - started < SLOW_TIMEOUT + SLOW_MARGIN + 5
    assert max(took) < 5, took  # a read and a write, normally milliseconds


# Methods: no override turns a POST into something else; unknown methods are refused.

OVERRIDES = [b"X-HTTP-Method-Override", b"X-HTTP-Method", b"X-Method-Override"]


async def test_method_override_headers_and_parameters_change_nothing(sentinel: Sentinel) -> None:
    item = f"/api/items/{sentinel.item['id']}"
    for header in OVERRIDES:
        for method in (b"DELETE", b"PATCH", b"PUT"):
            posted = await exchange(request("POST", item, headers=[(header, method)]))
            assert_problem(posted, 405)  # a POST, whatever the header says
            got = await exchange(request("GET", item, headers=[(header, method)]))
            assert got.status == HTTPStatus.OK
    for target in (f"{item}?_method=DELETE", f"{item}?_method=PUT"):
        assert_problem(await exchange(request("POST", target)), 405)
    form = [(b"Content-Type", b"application/x-www-form-urlencoded")]
    assert_problem(await exchange(request("POST", item, headers=form, body=b"_method=DELETE")), 405)

    await assert_unchanged(sentinel.item)


async def test_a_post_with_a_delete_override_is_still_a_create() -> None:
    body = b'{"name": "still a create"}'
    headers = [*JSON, (b"X-HTTP-Method-Override", b"DELETE")]
    response = await exchange(
        request("POST", "/api/items?_method=DELETE", headers=headers, body=body)
    )

    assert response.status == HTTPStatus.CREATED
    assert response.json()["name"] == "still a create"


def assert_method_refused(response: Response, path: str) -> None:
    """An unknown or unsupported method, refused as a problem, in one of the ways the RFCs
    allow: 405 with the Allow the resource names (from the app); 501, a method the server does
    not implement (RFC 9110 section 15.6.2); 403 on the admin, whose CSRF check refuses every
    unsafe method before routing; 404 on /ws/events, which has no HTTP resource."""
    if path.startswith("/admin/") and response.status == HTTPStatus.FORBIDDEN:
        assert_problem(response, 403)
    elif path == "/ws/events" and response.status == HTTPStatus.NOT_FOUND:
        assert_problem(response, 404)
    elif response.status == HTTPStatus.METHOD_NOT_ALLOWED:
        assert_problem(response, 405)
        assert response.headers.get("allow"), "a 405 names the allowed methods"
    else:
        assert_problem(response, 501)


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("method", ["FOO", "PROPFIND", "MKCOL", "PUT"])
async def test_unknown_methods_are_refused_as_problems(
    path: str, method: str, sentinel: Sentinel
) -> None:
    response = await exchange(request(method, url(path, sentinel)))
    assert_method_refused(response, path)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        # nginx refuses TRACE itself; CONNECT is for proxies, which nginx is not.
        (request("TRACE", "/api/items"), HTTPStatus.METHOD_NOT_ALLOWED),
        (request("TRACE", "/"), HTTPStatus.METHOD_NOT_ALLOWED),
        (request("CONNECT", "nginx:8080"), HTTPStatus.BAD_REQUEST),
        (request("CONNECT", "/api/items"), HTTPStatus.METHOD_NOT_ALLOWED),
    ],
)
async def test_trace_and_connect_are_refused_by_nginx(raw: bytes, status: int) -> None:
    assert_problem(await exchange(raw), status)


# Hosts, versions and request-target forms.


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    "host", [b"evil.example", b"evil.example:8080", b"\xff\xfe", b"user@nginx", b"nginx:abc"]
)
async def test_a_host_outside_allowed_hosts_is_a_400_from_the_app(
    path: str, host: bytes, sentinel: Sentinel
) -> None:
    assert_problem(await exchange(request("GET", url(path, sentinel), host=host)), 400)


@pytest.mark.parametrize("host", [b"", b"ngi nx", b"nginx/admin", b"nginx\x00"])
async def test_a_malformed_host_is_a_400_from_nginx(host: bytes) -> None:
    assert_problem(await exchange(request("GET", "/api/info", host=host)), 400)


async def test_http11_without_host_is_400_and_http10_is_served(expected_server: str) -> None:
    assert_problem(await exchange(request("GET", "/api/info", host=None)), 400)
    # HTTP/1.0 needs no Host, but the app has no allowed host to match then.
    no_host = await exchange(request("GET", "/api/info", host=None, version=b"HTTP/1.0"))
    assert_problem(no_host, 400)
    served = await exchange(request("GET", "/api/info", version=b"HTTP/1.0"))
    assert served.status == HTTPStatus.OK
    assert served.json()["asgi_server"] == expected_server


async def test_an_http09_request_gets_a_problem_not_a_crash() -> None:
    # No version: nginx speaks HTTP/0.9 (a body, no status line or headers), without a Host.
    reader, writer = await rawhttp.connect()
    writer.write(b"GET /api/info\r\n")
    try:
        answer = await rawhttp.closed_within(reader, rawhttp.TIMEOUT)
    finally:
        writer.close()

    assert json.loads(answer)["status"] == HTTPStatus.BAD_REQUEST


@pytest.mark.parametrize("version", [b"HTTP/2.0", b"HTTP/9.9"])
async def test_an_unsupported_http_version_is_a_505_problem(version: bytes) -> None:
    assert_problem(await exchange(request("GET", "/api/info", version=version)), 505)


async def test_absolute_form_targets_are_served_and_never_redirect_links_elsewhere() -> None:
    # The page link is built from the Host header nginx passes on, never from the request line.
    for _ in range(2):
        await exchange(request("POST", "/api/items", headers=JSON, body=b'{"name": "page"}'))
    own = await exchange(request("GET", f"{BASE_URL}/api/items?limit=1"))
    other = await exchange(request("GET", "http://evil.example/api/items?limit=1"))

    assert own.status == HTTPStatus.OK
    assert own.json()["next"].startswith(f"{BASE_URL}/api/items?")
    assert other.status == HTTPStatus.OK
    assert other.json()["next"].startswith(f"{BASE_URL}/api/items?")


# WebSocket handshakes: refused cleanly, never a 5xx. The handshake is the ASGI server's
# (uvicorn's websockets, daphne's autobahn), so a refusal's body is theirs, not a problem.

UPGRADE = [(b"Upgrade", b"websocket"), (b"Connection", b"Upgrade")]
KEY = (b"Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ==")


@pytest.mark.parametrize(
    ("headers", "host", "status"),
    [
        (
            [*UPGRADE, (b"Sec-WebSocket-Version", b"13"), (b"Sec-WebSocket-Key", b"\xff\xfe")],
            None,
            400,
        ),
        ([*UPGRADE, (b"Sec-WebSocket-Version", b"99"), KEY], None, 400),
        ([*UPGRADE, (b"Sec-WebSocket-Version", b"13"), KEY], b"evil.example", 403),
    ],
    ids=["invalid key", "unknown version", "host outside ALLOWED_HOSTS"],
)
async def test_hostile_websocket_handshakes_are_refused(
    headers: list[tuple[bytes, bytes]], host: bytes | None, status: int
) -> None:
    raw = request("GET", "/ws/events", headers=headers, host=host or rawhttp.HOST_HEADER)
    raw = raw.replace(b"Connection: close\r\n", b"", 1)  # the handshake sets Connection itself
    response = await exchange(raw)

    # Refused by the ASGI server itself, in its own format; nginx answers it as a problem.
    assert_problem(response, status)


# Last: the stack survived all of it.


async def test_after_the_battery_the_stack_is_whole(stack: Stack, sentinel: Sentinel) -> None:
    healthz = await exchange(request("GET", "/healthz"))
    readyz = await exchange(request("GET", "/readyz"))

    assert (healthz.status, readyz.status) == (200, 200)
    await assert_unchanged(sentinel.item)
    assert containers(stack) == sentinel.containers  # neither restarted
    cid = stack.container("app")["Id"]
    log = stack.api.get(
        f"/containers/{cid}/logs", params={"stdout": 1, "stderr": 1, "since": sentinel.since}
    ).content
    assert b"Internal Server Error" not in log
    assert b"unhandled error" not in log
