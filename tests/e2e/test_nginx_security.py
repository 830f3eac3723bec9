"""nginx at the edge: security headers, rate and connection limits, slow clients, static files
that never leak, and a quick JSON answer while the app is down.

The limits are the image's defaults (docker/nginx.Dockerfile), which the test stack keeps.
Tests that use up a limit wait for it to recover, so the tests after them are not refused.
"""

import asyncio
import contextlib
import re
import time
from collections.abc import Iterator
from http import HTTPStatus
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.e2e import rawhttp
from tests.e2e.conftest import BASE_URL
from tests.e2e.docker import Stack

PROBLEM = "application/problem+json"
WS_URL = BASE_URL.replace("http://", "ws://") + "/ws/events"
API_RATE = 100  # NGINX_API_RATE, per second
API_BURST = 400  # NGINX_API_BURST
API_CONNECTIONS = 512  # NGINX_API_CONNECTIONS
WS_CONNECTIONS = 64  # NGINX_WS_CONNECTIONS
LOGIN_BURST = 5  # NGINX_LOGIN_BURST
CLIENT_TIMEOUT = 10  # NGINX_CLIENT_TIMEOUT, seconds
SECURITY_HEADERS = [
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "content-security-policy",
]


def wait_for_api_limit_to_recover() -> None:
    time.sleep(API_BURST / API_RATE + 1)


async def raw_request(request: bytes, *, within: float = 10) -> bytes:
    """Send `request` as written (httpx would normalise the path) and read the whole answer."""
    url = urlsplit(BASE_URL)
    assert url.hostname is not None
    reader, writer = await asyncio.open_connection(url.hostname, url.port or 80)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), within)
    finally:
        writer.close()


def parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    return int(status_line.split()[1]), headers, body


# Security headers


@pytest.mark.parametrize(
    "path",
    ["/", "/admin/login/", "/api/info", "/api/docs", "/static/admin/css/base.css", "/api/nope"],
)
async def test_every_security_header_is_sent_exactly_once(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)

    for name in SECURITY_HEADERS:
        assert len(response.headers.get_list(name)) == 1, (name, response.headers)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in response.headers  # plain HTTP


@pytest.mark.parametrize("path", ["/", "/admin/login/"])
async def test_landing_page_and_admin_work_under_a_strict_content_security_policy(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    policy = response.headers["content-security-policy"]
    html = response.text

    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe" not in policy
    # Nothing the policy would block: no inline script, style or event handler...
    scripts = re.findall(r"<script([^>]*)>", html)
    assert all('src="/static/' in attrs or "application/json" in attrs for attrs in scripts)
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=", html)
    # ...and every script and stylesheet it names is served from here.
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert assets
    for asset in assets:
        assert (await client.get(asset)).status_code == HTTPStatus.OK, asset


async def test_api_docs_policy_allows_what_swagger_ui_loads_and_no_inline_script(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/docs")
    policy = response.headers["content-security-policy"]

    assert response.status_code == HTTPStatus.OK
    assert "default-src 'self'" in policy
    assert "script-src" not in policy  # scripts: 'self' only, from default-src
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', response.text):
        assert (await client.get(asset)).status_code == HTTPStatus.OK, asset


async def test_json_answers_carry_a_policy_that_loads_nothing(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/info")

    assert (
        response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    )


# Rate and connection limits


async def test_a_client_sending_back_to_back_is_slowed_to_the_rate_not_refused(
    client: httpx.AsyncClient,
) -> None:
    # Well past the burst, one request after another (as schemathesis or a script does).
    statuses = [(await client.get("/api/info")).status_code for _ in range(API_BURST + 100)]

    assert statuses == [HTTPStatus.OK] * len(statuses)
    wait_for_api_limit_to_recover()


async def test_a_flood_on_the_api_is_refused_429_with_retry_after_then_served_again() -> None:
    # All at once, each on its own connection: past the connection limit and the burst.
    responses = await rawhttp.burst(rawhttp.request("GET", "/api/info"), 3 * API_BURST)

    refused = [r for r in responses if r.status == HTTPStatus.TOO_MANY_REQUESTS]
    assert {r.status for r in responses} == {HTTPStatus.OK, HTTPStatus.TOO_MANY_REQUESTS}
    assert len(responses) - len(refused) >= API_BURST  # the burst itself was served
    assert refused[0].content_type == PROBLEM
    assert refused[0].headers["retry-after"] == "1"
    assert refused[0].json()["status"] == HTTPStatus.TOO_MANY_REQUESTS

    wait_for_api_limit_to_recover()
    assert (await rawhttp.exchange(rawhttp.request("GET", "/api/info"))).status == HTTPStatus.OK


@pytest.mark.parametrize("path", ["/bench/json", "/bench/updates?queries=1"])
async def test_the_benchmark_endpoints_are_under_the_same_limits(path: str) -> None:
    # /bench/updates writes rows on every request: not a free-for-all for one address.
    responses = await rawhttp.burst(rawhttp.request("GET", path), 3 * API_BURST)

    statuses = {r.status for r in responses}
    assert statuses == {HTTPStatus.OK, HTTPStatus.TOO_MANY_REQUESTS}
    wait_for_api_limit_to_recover()


async def test_too_many_requests_in_progress_from_one_address_are_refused_429() -> None:
    # A connection flood: more requests held open at once than one address may hold. They start
    # at the rate, so that none is delayed or refused by it, and sleep long enough (10 s) to be
    # all in progress together.
    limits = httpx.Limits(max_connections=API_CONNECTIONS + 1)
    async with httpx.AsyncClient(base_url=BASE_URL, timeout=60, limits=limits) as many:
        sleeping = []
        for start in range(0, API_CONNECTIONS, API_RATE):
            sleeping += [
                asyncio.create_task(many.get("/api/hello", params={"delay": "10"}))
                for _ in range(min(API_RATE, API_CONNECTIONS - start))
            ]
            await asyncio.sleep(1)

        one_more = await many.get("/api/info")

        assert one_more.status_code == HTTPStatus.TOO_MANY_REQUESTS
        assert one_more.headers["content-type"] == PROBLEM
        assert [r.status_code for r in await asyncio.gather(*sleeping)] == [HTTPStatus.OK] * len(
            sleeping
        )
        # Not a lasting ban: once they are done, the next one is served.
        wait_for_api_limit_to_recover()
        assert (await many.get("/api/info")).status_code == HTTPStatus.OK


async def test_too_many_websockets_from_one_address_are_refused_429() -> None:
    async with contextlib.AsyncExitStack() as open_sockets:
        for _ in range(WS_CONNECTIONS):
            await open_sockets.enter_async_context(connect(WS_URL, open_timeout=10))

        with pytest.raises(InvalidStatus) as refused:
            async with connect(WS_URL, open_timeout=10):
                pass

    assert refused.value.response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert refused.value.response.headers["content-type"] == PROBLEM
    # Once they are closed, the next one opens.
    async with connect(WS_URL, open_timeout=10) as websocket:
        assert websocket.protocol.state.name == "OPEN"


async def test_admin_login_posts_are_limited_to_a_few_per_address(
    client: httpx.AsyncClient,
) -> None:
    # Without a CSRF token Django refuses each POST (403): no password is ever checked, but
    # nginx counts the attempts all the same.
    statuses = [
        (await client.post("/admin/login/", data={"username": "a", "password": "b"})).status_code
        for _ in range(LOGIN_BURST + 1)
    ]
    refused = await client.post("/admin/login/", data={"username": "a", "password": "b"})

    assert HTTPStatus.TOO_MANY_REQUESTS not in statuses
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert refused.headers["content-type"] == PROBLEM
    assert refused.headers["retry-after"] == "60"
    # The form itself is still served: only the POSTs are limited.
    assert (await client.get("/admin/login/")).status_code == HTTPStatus.OK


# Slow clients


async def test_slow_clients_are_cut_off_after_the_client_timeout() -> None:
    headers_never_end = b"GET /api/info HTTP/1.1\r\nHost: nginx\r\nX-Slow: 1\r\n"
    body_never_ends = (
        b"POST /api/items HTTP/1.1\r\nHost: nginx\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{"
    )
    started = time.monotonic()

    header_answer, body_answer = await asyncio.gather(
        raw_request(headers_never_end, within=CLIENT_TIMEOUT + 10),
        raw_request(body_never_ends, within=CLIENT_TIMEOUT + 10),
    )
    elapsed = time.monotonic() - started

    # Both connections closed by nginx (read() returned), at the timeout and not before; a
    # client that stalls is not worth an answer (nginx logs a 408).
    assert CLIENT_TIMEOUT - 1 <= elapsed < CLIENT_TIMEOUT + 10
    assert header_answer == b""
    assert body_answer == b""


# Static files


@pytest.mark.parametrize("path", ["/static/", "/static/admin/", "/static/admin/css/"])
async def test_static_directories_are_never_listed(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    "path",
    [
        "/static/.env",
        "/static/admin/.git/config",
        "/static/admin/css/.htaccess",
        "/.env",
        "/.git/config",
        "/static/../etc/passwd",
        "/static/../../../../etc/passwd",
        "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%2f..%2f..%2fetc/passwd",
        "/static/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/static/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
        "/static/admin/..%5c..%5c..%5cetc/passwd",
        "/static/../_errors/404.json",
        "/static/../static/../../etc/nginx/nginx.conf",
    ],
)
async def test_hidden_files_and_path_traversal_are_refused_as_problems(path: str) -> None:
    raw = await raw_request(
        f"GET {path} HTTP/1.1\r\nHost: nginx\r\nConnection: close\r\n\r\n".encode()
    )

    status, headers, body = parse_response(raw)
    assert HTTPStatus.BAD_REQUEST <= status < HTTPStatus.INTERNAL_SERVER_ERROR
    assert headers["content-type"] == PROBLEM
    assert b"root:" not in body
    assert b"worker_processes" not in body


# The app unavailable


@pytest.fixture
def stopped_app(stack: Stack) -> Iterator[None]:
    stack.stop("app")
    try:
        yield
    finally:
        stack.start("app")
        stack.wait_healthy("app", within=60)
        # The restarted container may have a new address: nginx resolves `app` again.
        stack.exec("nginx", "upstream-servers", "reload")


def test_app_down_is_a_quick_503_problem_then_served_again(stack: Stack, stopped_app: None) -> None:
    since = int(time.time()) - 1
    with httpx.Client(base_url=BASE_URL, timeout=30) as client:
        for method, path in [("GET", "/api/info"), ("POST", "/api/items"), ("GET", "/")] * 3:
            started = time.monotonic()
            response = client.request(
                method, path, json={"name": "x"} if method == "POST" else None
            )

            # Each request tries the app, for at most nginx's connect timeout (2 s).
            assert time.monotonic() - started < 3
            assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
            assert response.headers["content-type"] == PROBLEM
            assert response.headers["retry-after"] == "5"
            assert response.json()["status"] == HTTPStatus.SERVICE_UNAVAILABLE

        # A failed attempt never takes the app out of rotation (max_fails=0): with nginx's
        # default, one failure sent every request of the next seconds to the fallback, even
        # after the app was back.
        cid = stack.container("nginx")["Id"]
        log = stack.api.get(
            f"/containers/{cid}/logs", params={"stdout": 1, "stderr": 1, "since": since}
        ).content
        assert b"connect() failed" in log or b"timed out" in log  # nginx did try the app
        assert b"upstream server temporarily disabled" not in log

        stack.start("app")
        stack.wait_healthy("app", within=60)
        stack.exec("nginx", "upstream-servers", "reload")  # as make up does: `app` may have moved
        deadline = time.monotonic() + 30
        while (status := client.get("/api/info").status_code) != HTTPStatus.OK:
            assert time.monotonic() < deadline, f"still {status} 30 s after the app is back"
            time.sleep(0.5)
