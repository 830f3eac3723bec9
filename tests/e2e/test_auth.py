"""Only authorized clients change data, through nginx: tokens, sessions with CSRF, WebSockets."""

import json
import secrets
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from tests.e2e.conftest import BASE_URL, TOKEN
from tests.e2e.docker import Stack

PROBLEM = "application/problem+json"
WS_URL = BASE_URL.replace("http://", "ws://") + "/ws/events"


def manage(stack: Stack, *args: str) -> str:
    return stack.exec("app", "python", "manage.py", *args).decode().strip()


@pytest.fixture(scope="module")
def revoked(stack: Stack) -> str:
    name = f"revoked-{secrets.token_hex(4)}"
    token = manage(stack, "token", "create", name)
    manage(stack, "token", "revoke", name)
    return token


@pytest.fixture
async def item(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/api/items", json={"name": "Guarded", "description": "as is"})
    assert response.status_code == HTTPStatus.CREATED
    return dict(response.json())


WRITES = [
    ("POST", "/api/items", {"name": "Intruder"}),
    ("PATCH", "/api/items/{id}", {"name": "Defaced"}),
    ("DELETE", "/api/items/{id}", None),
]
CREDENTIALS = [
    pytest.param(None, "Bearer", id="none"),
    pytest.param("Bearer", 'Bearer error="invalid_token"', id="scheme alone"),
    pytest.param("Basic YWRtaW46YWRtaW4=", 'Bearer error="invalid_token"', id="basic"),
    pytest.param("Bearer {token}x", 'Bearer error="invalid_token"', id="altered"),
    pytest.param("Bearer adst_0_0", 'Bearer error="invalid_token"', id="unknown"),
    pytest.param("Bearer {revoked}", 'Bearer error="invalid_token"', id="revoked"),
]


@pytest.mark.parametrize(("authorization", "challenge"), CREDENTIALS)
@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=[w[0] for w in WRITES])
async def test_every_write_without_a_valid_token_is_a_401_and_changes_nothing(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    item: dict[str, Any],
    revoked: str,
    method: str,
    path: str,
    body: Any,
    authorization: str | None,
    challenge: str,
) -> None:
    headers = {}
    if authorization is not None:
        headers["Authorization"] = authorization.format(token=TOKEN, revoked=revoked)
    before = (await client.get("/api/items", params={"limit": 100})).json()

    response = await anonymous.request(
        method, path.replace("{id}", str(item["id"])), json=body, headers=headers
    )

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"] == challenge
    assert response.json()["status"] == HTTPStatus.UNAUTHORIZED
    assert (await client.get("/api/items", params={"limit": 100})).json() == before
    assert (await client.get(f"/api/items/{item['id']}")).json() == item


async def test_reads_stay_public_and_the_token_is_accepted_on_them(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, item: dict[str, Any]
) -> None:
    assert (await anonymous.get(f"/api/items/{item['id']}")).json() == item
    assert (await client.get(f"/api/items/{item['id']}")).json() == item


# A browser logged in to the admin: its session writes, with Django's CSRF token.


@pytest.fixture
async def browser(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    username, password = f"editor-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    manage(
        stack,
        "shell",
        "-c",
        "from django.contrib.auth.models import User;"
        f"User.objects.create_superuser({username!r}, password={password!r})",
    )
    async with httpx.AsyncClient(base_url=BASE_URL, timeout=30) as browser:
        form = await browser.get("/admin/login/")
        csrf = form.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
        logged_in = await browser.post(
            "/admin/login/?next=/admin/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": csrf},
        )
        assert logged_in.status_code == HTTPStatus.FOUND, logged_in.text[:300]
        assert "sessionid" in browser.cookies
        yield browser


async def test_a_logged_in_admin_session_writes_with_its_csrf_token(
    browser: httpx.AsyncClient,
) -> None:
    response = await browser.post(
        "/api/items",
        json={"name": "From a browser"},
        headers={"X-CSRFToken": browser.cookies["csrftoken"]},
    )

    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["name"] == "From a browser"


async def test_a_session_write_without_the_csrf_token_is_a_403_and_writes_nothing(
    browser: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    before = (await client.get("/api/items/export")).text

    response = await browser.post("/api/items", json={"name": "Forged from elsewhere"})

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.headers["content-type"] == PROBLEM
    assert "CSRF" in response.json()["detail"]
    assert (await client.get("/api/items/export")).text == before


# The WebSocket: a token as the subprotocol; a refusal is a problem too.


async def test_a_websocket_accepts_the_token_as_its_subprotocol() -> None:
    offer = [Subprotocol("bearer"), Subprotocol(TOKEN)]
    async with connect(WS_URL, subprotocols=offer, open_timeout=10) as websocket:
        assert websocket.subprotocol == "bearer"


async def test_a_websocket_with_a_revoked_token_is_refused_with_a_problem(revoked: str) -> None:
    offer = [Subprotocol("bearer"), Subprotocol(revoked)]
    with pytest.raises(InvalidStatus) as refused:
        async with connect(WS_URL, subprotocols=offer, open_timeout=10):
            pass

    response = refused.value.response
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.headers["content-type"] == PROBLEM
    assert json.loads(response.body)["status"] == HTTPStatus.FORBIDDEN
