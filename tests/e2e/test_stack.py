"""The stack through nginx, as a client sees it: run once under each ASGI server."""

import asyncio
import re
import socket
import time
from http import HTTPStatus
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.conftest import BASE_URL

PROBLEM = "application/problem+json"


def own_address() -> str:
    """This container's address as nginx sees it (the source address towards nginx)."""
    host = urlsplit(BASE_URL).hostname
    assert host is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((host, 8080))
        address: str = probe.getsockname()[0]
    return address


async def test_info_names_the_server_under_test(
    client: httpx.AsyncClient, expected_server: str
) -> None:
    response = await client.get("/api/info")

    body = response.json()
    assert response.status_code == HTTPStatus.OK
    assert body["asgi_server"] == expected_server
    assert re.fullmatch(r"6\.\d+(\.\d+)?", body["versions"]["django"])
    assert re.fullmatch(r"\d+\.\d+", body["versions"]["postgresql"])


async def test_app_sees_the_real_client_address_and_scheme(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/info")

    assert response.json()["client"] == {"address": own_address(), "scheme": "http"}


async def test_forged_forwarded_headers_are_replaced_by_nginx(client: httpx.AsyncClient) -> None:
    forged = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}

    response = await client.get("/api/info", headers=forged)

    assert response.status_code == HTTPStatus.OK, response.text
    assert response.json()["client"] == {"address": own_address(), "scheme": "http"}


def test_the_app_cannot_be_reached_except_through_nginx() -> None:
    # Clients share no network with the app: its name does not even resolve here.
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("app", 8000)


async def test_hello_answers_after_its_delay(client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    response = await client.get("/api/hello", params={"delay": "1"})
    elapsed = time.monotonic() - started

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"message": "Hello, World!"}
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["server"] == "nginx"  # no version
    assert response.headers["x-content-type-options"] == "nosniff"
    assert 1.0 <= elapsed < 5.0


async def test_hello_defaults_to_one_second(client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    response = await client.get("/api/hello")

    assert response.status_code == HTTPStatus.OK
    assert time.monotonic() - started >= 1.0


async def test_200_concurrent_one_second_hellos_from_one_address_all_overlap() -> None:
    # The README's demonstration, with nginx's default per-client limits in force: the stack is
    # async end to end if 200 sleeping requests from one client share the time (in series they
    # would take 200 s). The bound is a generous correctness bound; `make bench` measures.
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(base_url=BASE_URL, timeout=60, limits=limits) as many:
        started = time.monotonic()
        responses = await asyncio.gather(
            *(many.get("/api/hello", params={"delay": "1"}) for _ in range(200))
        )
        elapsed = time.monotonic() - started

    assert [r.status_code for r in responses] == [HTTPStatus.OK] * 200
    assert all(r.json() == {"message": "Hello, World!"} for r in responses)
    assert elapsed < 10


@pytest.mark.parametrize("delay", ["-1", "11", "abc", "nan"])
async def test_bad_delay_is_a_400_problem(client: httpx.AsyncClient, delay: str) -> None:
    response = await client.get("/api/hello", params={"delay": delay})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["parameter"] == "delay"


async def test_unknown_path_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/nothing-here")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 404


async def test_wrong_method_is_a_405_problem_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/info")

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["allow"] == "GET"


@pytest.mark.parametrize("path", ["/healthz", "/api/info", "/bench/json"])
async def test_unknown_host_is_a_400_problem(client: httpx.AsyncClient, path: str) -> None:
    # /healthz runs Django's full middleware, /api/ and /bench/ the lean handler's.
    response = await client.get(path, headers={"Host": "attacker.example"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.headers["content-type"] == PROBLEM


async def test_oversized_body_is_refused_by_nginx_as_a_413_problem(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/api/hello", content=b"x" * (2 * 1024 * 1024))

    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 413


async def test_landing_page_names_the_server(
    client: httpx.AsyncClient, expected_server: str
) -> None:
    response = await client.get("/")

    assert response.status_code == HTTPStatus.OK
    assert f'<strong id="asgi-server">{expected_server}</strong>' in response.text


async def test_hashed_static_files_are_served_by_nginx_and_cached_for_a_year(
    client: httpx.AsyncClient,
) -> None:
    landing = await client.get("/")
    match = re.search(r'href="(/static/core/site\.[0-9a-f]{12}\.css)"', landing.text)
    assert match is not None

    response = await client.get(match.group(1))

    assert response.status_code == HTTPStatus.OK
    assert response.headers["content-type"] == "text/css"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "font:" in response.text


async def test_admin_static_files_are_served_by_nginx(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/admin/css/base.css")

    assert response.status_code == HTTPStatus.OK
    assert response.headers["content-type"] == "text/css"
    assert response.headers["cache-control"] == "public, max-age=3600"


async def test_missing_static_file_is_a_404_problem_from_nginx(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/static/no-such-file.css")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 404


async def test_admin_login_page_renders_through_nginx(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin/login/")

    assert response.status_code == HTTPStatus.OK
    assert "csrfmiddlewaretoken" in response.text
