"""API tokens and sessions: who may write, who may read, and what a refused request leaves."""

import asyncio
import io
import json
import logging
from http import HTTPStatus
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import AsyncClient

from accounts import auth, services, tokens
from accounts.models import ApiToken
from events.log import event_log
from events.websocket import events_websocket
from items.models import Item
from tests.unit.conftest import HeaderClient
from tests.unit.test_handler import call

PROBLEM = "application/problem+json"
pytestmark = pytest.mark.django_db(transaction=True)


def command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# Tokens: made, listed, revoked


def test_token_create_prints_the_token_alone_and_stores_only_its_digest() -> None:
    out, err = command("create", "ci")

    token = out.strip()
    assert out == token + "\n"
    assert tokens.key_id_of(token) is not None
    stored = ApiToken.objects.get(name="ci")
    assert stored.digest == tokens.digest(token)
    assert token not in {stored.name, stored.key_id, stored.digest}
    assert err == ""


def test_a_second_active_token_of_one_name_is_refused_until_the_first_is_revoked() -> None:
    command("create", "deploy")

    with pytest.raises(CommandError, match="an active token is named 'deploy'"):
        command("create", "deploy")
    command("revoke", "deploy")
    assert tokens.key_id_of(command("create", "deploy")[0].strip()) is not None
    assert ApiToken.objects.filter(name="deploy").count() == 2


@pytest.mark.parametrize("name", ["", " ci", "a b", "_ci", "x" * 101, "ci;rm", "ünï"])
def test_a_token_name_must_be_a_plain_label(name: str) -> None:
    with pytest.raises(CommandError, match="invalid name"):
        command("create", name)
    assert not ApiToken.objects.exists()


def test_revoking_an_unknown_name_says_so() -> None:
    with pytest.raises(CommandError, match="no active token is named 'nobody'"):
        command("revoke", "nobody")


def test_token_list_shows_names_and_key_ids_never_tokens() -> None:
    token = command("create", "listed")[0].strip()
    command("revoke", "listed")

    out, _ = command("list")

    assert "listed" in out
    key_id = tokens.key_id_of(token)
    assert key_id is not None
    assert key_id in out
    assert token not in out
    assert "revoked 20" in out


# Writes need a credential


WRITES = [
    ("post", "/api/items", {"name": "Written"}),
    ("patch", "/api/items/{id}", {"name": "Changed"}),
    ("delete", "/api/items/{id}", None),
]


async def revoked_token() -> str:
    token = await services.token_create(name="revoked")
    await services.token_revoke(name="revoked")
    return token


@pytest.fixture
async def item() -> Item:
    return await Item.objects.acreate(name="Original", description="untouched")


async def write(
    client: AsyncClient, method: str, path: str, body: Any, item: Item, **headers: str
) -> Any:
    path = path.replace("{id}", str(item.pk))
    if body is None:
        return await getattr(client, method)(path, headers=headers)
    return await getattr(client, method)(
        path, json.dumps(body), content_type="application/json", headers=headers
    )


async def assert_nothing_written(item: Item) -> None:
    assert [(i.pk, i.name, i.description) async for i in Item.objects.all()] == [
        (item.pk, "Original", "untouched")
    ]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
async def test_a_write_without_credentials_is_a_401_with_a_bearer_challenge(
    method: str, path: str, body: Any, item: Item
) -> None:
    response = await write(AsyncClient(), method, path, body, item)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["Content-Type"] == PROBLEM
    assert response["WWW-Authenticate"] == "Bearer"
    assert "make token" in response.json()["detail"]
    await assert_nothing_written(item)


BAD_AUTHORIZATION = [
    pytest.param("Bearer", id="no token"),
    pytest.param("Bearer ", id="empty token"),
    pytest.param("Basic dXNlcjpwYXNzd29yZA==", id="basic credentials"),
    pytest.param("Token {valid}", id="another scheme"),
    pytest.param("Bearer {valid} extra", id="two tokens"),
    pytest.param("Bearer {valid}x", id="a valid token with a character more"),
    pytest.param("Bearer adst_000000000000_" + "A" * 43, id="well formed, unknown"),
    pytest.param("Bearer {revoked}", id="revoked"),
    pytest.param("Bearer " + "a" * 5000, id="5,000 characters"),
    pytest.param("Bearer adst_\u00e9\u00e9", id="non-ASCII"),
    pytest.param("Bearer ' OR 1=1 --", id="SQL"),
]


@pytest.mark.parametrize("authorization", BAD_AUTHORIZATION)
@pytest.mark.parametrize(("method", "path", "body"), WRITES)
async def test_a_write_with_a_bad_token_is_a_401_invalid_token_and_writes_nothing(
    method: str, path: str, body: Any, item: Item, token: str, authorization: str
) -> None:
    authorization = authorization.format(valid=token, revoked=await revoked_token())

    response = await write(AsyncClient(), method, path, body, item, Authorization=authorization)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["Content-Type"] == PROBLEM
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    await assert_nothing_written(item)


async def test_a_token_works_until_it_is_revoked(item: Item) -> None:
    token = await services.token_create(name="short-lived")
    client = HeaderClient({"Authorization": f"Bearer {token}"})

    assert (await client.post("/api/items", {"name": "x"}, "application/json")).status_code == 201
    await services.token_revoke(name="short-lived")
    refused = await client.post("/api/items", {"name": "y"}, "application/json")

    assert refused.status_code == HTTPStatus.UNAUTHORIZED
    assert await Item.objects.filter(name="y").aexists() is False


async def test_the_scheme_is_case_insensitive(token: str) -> None:
    client = HeaderClient({"Authorization": f"bEaReR {token}"})

    response = await client.post("/api/items", {"name": "cased"}, "application/json")

    assert response.status_code == HTTPStatus.CREATED


async def test_authentication_comes_before_the_body_is_read(item: Item) -> None:
    # A bad body from an unauthenticated client learns nothing about validation.
    response = await AsyncClient().post("/api/items", b"{not json", "application/json")

    assert response.status_code == HTTPStatus.UNAUTHORIZED


async def test_tokens_are_never_logged(token: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    revoked = await revoked_token()
    for value in (token, revoked, token + "x"):
        await HeaderClient({"Authorization": f"Bearer {value}"}).post(
            "/api/items", {"name": "logged?"}, "application/json"
        )

    for value in (token, revoked):
        assert value not in caplog.text
        assert value.split("_")[-1] not in caplog.text  # nor its secret part


async def test_a_token_s_last_use_is_written_at_most_once_a_minute(
    token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1_000.0]
    monkeypatch.setattr(auth, "monotonic", lambda: now[0])
    client = HeaderClient({"Authorization": f"Bearer {token}"})
    stored = ApiToken.objects.filter(key_id=tokens.key_id_of(token))

    await client.get("/api/items")
    first = (await stored.aget()).last_used_at
    now[0] += 30
    await client.get("/api/items")
    unchanged = (await stored.aget()).last_used_at
    now[0] += 31
    await client.get("/api/items")
    later = (await stored.aget()).last_used_at

    assert first is not None
    assert unchanged == first
    assert later is not None
    assert later > first


# Sessions: the admin's login, with CSRF


@pytest.fixture
async def logged_in() -> AsyncClient:
    user = await get_user_model().objects.acreate_user("editor", password="a long passphrase")
    client = AsyncClient(enforce_csrf_checks=True)
    await client.aforce_login(user)
    await client.get("/admin/login/")  # sets the CSRF cookie, as the admin's pages do
    return client


async def test_a_logged_in_session_may_write_with_the_csrf_token(logged_in: AsyncClient) -> None:
    csrf = logged_in.cookies["csrftoken"].value

    response = await logged_in.post(
        "/api/items", {"name": "From the admin"}, "application/json", headers={"X-CSRFToken": csrf}
    )

    assert response.status_code == HTTPStatus.CREATED


async def test_a_session_write_without_the_csrf_token_is_a_403_and_writes_nothing(
    logged_in: AsyncClient, item: Item
) -> None:
    response = await logged_in.post("/api/items", {"name": "Forged"}, "application/json")

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response["Content-Type"] == PROBLEM
    assert "CSRF" in response.json()["detail"]
    await assert_nothing_written(item)


async def test_a_session_works_through_the_lean_handler_too(logged_in: AsyncClient) -> None:
    # Django's test client runs the stock middleware; a server runs config.asgi, whose /api/
    # handler has no session or auth middleware.
    cookies = "; ".join(f"{k}={v.value}" for k, v in logged_in.cookies.items())
    csrf = logged_in.cookies["csrftoken"].value

    created = await call(
        "/api/items",
        method="POST",
        headers=[
            (b"cookie", cookies.encode()),
            (b"x-csrftoken", csrf.encode()),
            (b"content-type", b"application/json"),
            (b"origin", b"http://localhost"),
        ],
        body=b'{"name": "lean"}',
    )
    forged = await call(
        "/api/items",
        method="POST",
        headers=[(b"cookie", cookies.encode()), (b"content-type", b"application/json")],
        body=b'{"name": "forged"}',
    )

    assert created["status"] == HTTPStatus.CREATED, created["body"]
    assert forged["status"] == HTTPStatus.FORBIDDEN
    assert await Item.objects.filter(name="forged").aexists() is False


async def test_an_anonymous_session_is_no_credential(item: Item) -> None:
    client = AsyncClient()
    await client.get("/admin/login/")  # a session cookie of nobody, and a CSRF cookie

    response = await client.post("/api/items", {"name": "x"}, "application/json")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    await assert_nothing_written(item)


# Reads: public by default, private with API_PUBLIC_READS=false

READS = ["/api/items", "/api/items/{id}", "/api/items/export"]


@pytest.mark.parametrize("path", READS)
async def test_reads_are_public_by_default_but_a_bad_token_is_still_refused(
    path: str, item: Item
) -> None:
    path = path.replace("{id}", str(item.pk))

    public = await AsyncClient().get(path)
    wrong = await HeaderClient({"Authorization": "Bearer nope"}).get(path)

    assert public.status_code == HTTPStatus.OK
    assert wrong.status_code == HTTPStatus.UNAUTHORIZED


@pytest.fixture
def private_reads(settings: Any) -> None:
    settings.API_PUBLIC_READS = False


@pytest.mark.usefixtures("private_reads")
@pytest.mark.parametrize("path", [*READS, "/api/events"])
async def test_private_reads_need_a_token_or_a_session(
    path: str, item: Item, token: str, logged_in: AsyncClient
) -> None:
    path = path.replace("{id}", str(item.pk))

    refused = await AsyncClient().get(path)
    with_token = await HeaderClient({"Authorization": f"Bearer {token}"}).get(path)
    with_session = await logged_in.get(path)

    assert refused.status_code == HTTPStatus.UNAUTHORIZED
    assert refused["Content-Type"] == PROBLEM
    assert refused["WWW-Authenticate"] == "Bearer"
    assert with_token.status_code == with_session.status_code == HTTPStatus.OK
    await event_log().stop()  # the event stream's listener, started by /api/events


@pytest.mark.usefixtures("private_reads")
async def test_private_reads_are_documented_as_needing_credentials() -> None:
    schema = (await AsyncClient().get("/api/openapi.json")).json()

    assert {} not in schema["paths"]["/api/items"]["get"]["security"]


async def test_the_schema_declares_both_schemes_and_which_operations_need_them() -> None:
    schema = (await AsyncClient().get("/api/openapi.json")).json()

    schemes = schema["components"]["securitySchemes"]
    assert schemes["BearerToken"]["type"] == "http"
    assert schemes["BearerToken"]["scheme"] == "bearer"
    assert schemes["SessionCookie"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "sessionid",
        "description": schemes["SessionCookie"]["description"],
    }
    both: list[dict[str, list[str]]] = [{"BearerToken": []}, {"SessionCookie": []}]
    paths = schema["paths"]
    assert paths["/api/items"]["post"]["security"] == both
    assert paths["/api/items/{item_id}"]["patch"]["security"] == both
    assert paths["/api/items/{item_id}"]["delete"]["security"] == both
    assert paths["/api/items"]["get"]["security"] == [{}, *both]  # public reads
    assert "security" not in paths["/api/info"]["get"]


# The WebSocket: a token as the subprotocol


async def handshake(scope_headers: list[tuple[bytes, bytes]]) -> list[dict[str, Any]]:
    headers = [(b"host", b"localhost"), *scope_headers]
    scope = {"type": "websocket", "path": "/ws/events", "headers": headers}
    sent: list[dict[str, Any]] = []
    connected = False

    async def receive() -> dict[str, Any]:
        nonlocal connected
        if not connected:
            connected = True
            return {"type": "websocket.connect"}
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(events_websocket(scope, receive, send), 10)
    await event_log().stop()
    return sent


async def test_a_websocket_token_travels_as_the_subprotocol_and_is_never_echoed(
    token: str,
) -> None:
    sent = await handshake([(b"sec-websocket-protocol", f"bearer, {token}".encode())])

    assert sent[0] == {"type": "websocket.accept", "subprotocol": "bearer"}
    assert token not in json.dumps(sent)


@pytest.mark.parametrize(
    "protocols", [b"bearer, adst_nope", b"bearer", b"bearer, {revoked}"], ids=str
)
async def test_a_websocket_with_a_bad_token_is_refused_before_it_opens(protocols: bytes) -> None:
    protocols = protocols.replace(b"{revoked}", (await revoked_token()).encode())

    sent = await handshake([(b"sec-websocket-protocol", protocols)])

    assert sent == [{"type": "websocket.close", "code": 1008}]


@pytest.mark.usefixtures("private_reads")
async def test_private_websocket_reads_need_a_token_or_a_same_origin_session(
    token: str, logged_in: AsyncClient
) -> None:
    session = f"sessionid={logged_in.cookies['sessionid'].value}".encode()

    anonymous = await handshake([])
    with_token = await handshake([(b"sec-websocket-protocol", f"bearer, {token}".encode())])
    same_origin = await handshake([(b"cookie", session), (b"origin", b"http://localhost")])
    cross_site = await handshake([(b"cookie", session), (b"origin", b"https://evil.example")])

    assert anonymous == cross_site == [{"type": "websocket.close", "code": 1008}]
    assert with_token[0]["type"] == same_origin[0]["type"] == "websocket.accept"
