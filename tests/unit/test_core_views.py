"""Health, readiness, info, hello and the landing page, through Django's AsyncClient."""

import re
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import django
import pytest
from django.test import AsyncClient
from django.urls import URLResolver, get_resolver, resolve

PROBLEM = "application/problem+json"


@pytest.fixture
def client() -> AsyncClient:
    return AsyncClient()


async def test_healthz_answers_ok_without_the_database(client: AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db(transaction=True)
async def test_readyz_reports_the_database(client: AsyncClient) -> None:
    response = await client.get("/readyz")

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ready", "database": "ok"}


@pytest.mark.django_db(transaction=True)
async def test_info_reports_server_versions_and_client(client: AsyncClient) -> None:
    response = await client.get("/api/info")

    body = response.json()
    assert response.status_code == HTTPStatus.OK
    assert body["asgi_server"] == "unknown"  # no serve script in tests
    assert body["instance"]
    assert body["versions"]["django"] == django.get_version()
    assert re.fullmatch(r"3\.13\.\d+", body["versions"]["python"])
    assert re.fullmatch(r"\d+\.\d+", body["versions"]["postgresql"])
    assert body["client"] == {"address": "127.0.0.1", "scheme": "http"}


async def test_hello_with_zero_delay_says_hello(client: AsyncClient) -> None:
    response = await client.get("/api/hello", {"delay": "0"})

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == {"message": "Hello, World!"}


@pytest.mark.parametrize(
    "delay", ["-1", "10.01", "abc", "", "nan", "inf", "-inf", "1e309", "0x10", "1" * 500]
)
async def test_hello_rejects_a_bad_delay_with_a_problem(client: AsyncClient, delay: str) -> None:
    response = await client.get("/api/hello", {"delay": delay})

    body = response.json()
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response["Content-Type"] == PROBLEM
    assert body["status"] == 400
    assert body["title"] == "Bad Request"
    assert body["detail"] == "Invalid query parameters."
    assert [error["parameter"] for error in body["errors"]] == ["delay"]
    assert len(body["errors"][0]["detail"]) < 100


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize(("path", "allow"), [("/api/hello", "GET"), ("/healthz", "GET, HEAD")])
async def test_other_methods_get_405_with_allow(method: str, path: str, allow: str) -> None:
    # With CSRF enforced, as for a browser: the 405 comes first, not a CSRF 403.
    client = AsyncClient(enforce_csrf_checks=True)

    response = await getattr(client, method)(path)

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["Content-Type"] == PROBLEM
    assert response["Allow"] == allow
    assert response.json()["status"] == 405


async def test_head_is_allowed_wherever_get_is(client: AsyncClient) -> None:
    response = await client.head("/healthz")

    assert response.status_code == HTTPStatus.OK
    assert response.content == b""


async def test_unknown_path_is_a_404_problem_not_html(client: AsyncClient) -> None:
    response = await client.get("/no/such/page")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response["Content-Type"] == PROBLEM
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "Nothing is at /no/such/page.",
    }


async def test_unknown_host_is_a_400_problem(client: AsyncClient) -> None:
    response = await client.get("/healthz", headers={"Host": "evil.example"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response["Content-Type"] == PROBLEM


@pytest.mark.parametrize("path", ["/api/hello?delay=0", "/api/items?limit=5"])
async def test_too_many_query_parameters_is_a_400_problem_not_a_500(
    client: AsyncClient, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    # One more than DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000): Django refuses to parse the query.
    response = await client.get(f"{path}&" + "&".join(["x=1"] * 1000))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response["Content-Type"] == PROBLEM
    assert response.json()["detail"] == "Too many parameters: at most 1000 are read."
    loggers = {record.name for record in caplog.records}
    assert "django.security.TooManyFieldsSent" in loggers
    assert "core.problems" not in loggers  # not logged as an unexpected error


def routes(patterns: list[Any], prefix: str = "") -> set[str]:
    """Every route of the URL configuration; the admin counts as one (its index)."""
    found: set[str] = set()
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if route == "admin/":
                found.add(route)
            else:
                found |= routes(pattern.url_patterns, route)
        else:
            found.add(route)
    return found


async def test_landing_page_links_every_endpoint_and_names_the_server(
    client: AsyncClient,
) -> None:
    response = await client.get("/")

    html = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "text/html; charset=utf-8"
    linked = set()
    for href in re.findall(r'href="([^"]+)"', html):
        path = urlsplit(href).path
        if path.startswith("/static/") or path == "/bench/raw":  # /bench/raw: config.asgi's
            continue
        match = resolve(path)
        linked.add("admin/" if path == "/admin/" else match.route)
    # Not endpoints: the page itself, and the API's prefix (django-ninja names it only to
    # reverse URLs under it; it answers 404). One item is linked by the page's script once
    # one exists: a fixed id would be a 404 on a fresh stack.
    one_item = "api/items/<id:item_id>"
    assert routes(get_resolver().url_patterns) - {"", "api/", one_item} <= linked
    assert one_item not in linked
    assert "<code>/api/items/{id}</code>" in html
    assert 'id="item-example"' in html
    assert '<a href="/bench/raw">' in html  # served by config.asgi itself, not the URLconf
    assert "<code>/ws/events</code>" in html
    assert '<strong id="asgi-server">' in html
    # The stylesheet is referenced by its hashed name, so nginx may cache it for a year.
    assert re.search(r'href="/static/core/site\.[0-9a-f]{12}\.css"', html)
