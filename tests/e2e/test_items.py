"""The items API end to end through nginx: CRUD, pagination, export, bad input, events."""

import asyncio
import json
from http import HTTPStatus
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.e2e.conftest import BASE_URL
from tests.e2e.sse import event_stream

PROBLEM = "application/problem+json"
WS_URL = BASE_URL.replace("http://", "ws://") + "/ws/events"


async def create(client: httpx.AsyncClient, name: str, description: str = "") -> dict[str, Any]:
    response = await client.post("/api/items", json={"name": name, "description": description})
    assert response.status_code == HTTPStatus.CREATED, response.text
    return dict(response.json())


async def test_item_crud_cycle(client: httpx.AsyncClient) -> None:
    created = await client.post("/api/items", json={"name": "Cycle", "description": "v1"})
    assert created.status_code == HTTPStatus.CREATED
    location = created.headers["location"]
    assert location == f"/api/items/{created.json()['id']}"

    fetched = await client.get(location)
    assert fetched.json() == created.json()

    patched = await client.patch(location, json={"description": "v2"})
    assert patched.status_code == HTTPStatus.OK
    assert patched.json()["description"] == "v2"
    assert patched.json()["name"] == "Cycle"

    deleted = await client.delete(location)
    assert deleted.status_code == HTTPStatus.NO_CONTENT
    gone = await client.get(location)
    assert gone.status_code == HTTPStatus.NOT_FOUND
    assert gone.headers["content-type"] == PROBLEM


async def test_unicode_and_hostile_strings_round_trip_verbatim(client: httpx.AsyncClient) -> None:
    text = "<img src=x onerror=alert(1)> '; DROP TABLE items_item; -- 🚀 Ünïcødé 漢字"
    item = await create(client, text, text * 10)

    fetched = (await client.get(f"/api/items/{item['id']}")).json()
    assert fetched["name"] == text
    assert fetched["description"] == text * 10


async def test_pagination_walk_sees_every_row_once_while_rows_are_added(
    client: httpx.AsyncClient,
) -> None:
    before = [(await create(client, f"walk {n}"))["id"] for n in range(25)]

    seen: list[int] = []
    added: list[int] = []
    url: str | None = "/api/items?limit=7"
    while url:
        page = await client.get(url)
        assert page.status_code == HTTPStatus.OK
        seen += [item["id"] for item in page.json()["items"]]
        url = page.json()["next"]
        if url and len(added) < 10:  # rows arrive while the client is mid-walk
            added.append((await create(client, f"added {len(added)}"))["id"])

    assert len(seen) == len(set(seen)), "no row twice"
    assert seen == sorted(seen), "a stable order"
    assert set(before + added) <= set(seen), "no row missed, old or new"


async def test_next_link_points_back_through_nginx(client: httpx.AsyncClient) -> None:
    for n in range(3):
        await create(client, f"link {n}")

    page = (await client.get("/api/items", params={"limit": 2})).json()

    assert page["next"].startswith(f"{BASE_URL}/api/items?limit=2&cursor=")
    assert (await client.get(page["next"])).status_code == HTTPStatus.OK


async def test_export_streams_thousands_of_rows_as_ndjson(client: httpx.AsyncClient) -> None:
    semaphore = asyncio.Semaphore(32)

    async def add(n: int) -> int:
        async with semaphore:
            return int((await create(client, f"export {n}"))["id"])

    ids = set(await asyncio.gather(*(add(n) for n in range(2000))))

    exported: list[int] = []
    async with client.stream("GET", "/api/items/export") as response:
        assert response.status_code == HTTPStatus.OK
        assert response.headers["content-type"] == "application/x-ndjson"
        async for line in response.aiter_lines():
            if line:
                item = json.loads(line)
                assert set(item) == {"id", "name", "description", "created_at", "updated_at"}
                exported.append(item["id"])

    assert exported == sorted(exported)
    assert ids <= set(exported)


BAD_REQUESTS = [
    # (method, path, headers, body, status)
    ("POST", "/api/items", {"content-type": "application/json"}, b"{not json", 400),
    ("POST", "/api/items", {"content-type": "application/json"}, b"\xff\xfe\x00", 400),
    ("POST", "/api/items", {"content-type": "application/json"}, b"", 400),
    ("POST", "/api/items", {"content-type": "application/json"}, b"  \n", 400),
    ("POST", "/api/items", {"content-type": "application/json"}, b"[]", 422),
    ("POST", "/api/items", {"content-type": "application/json"}, b'{"name": ""}', 422),
    ("POST", "/api/items", {"content-type": "application/json"}, b'{"name": 7}', 422),
    ("POST", "/api/items", {"content-type": "application/json"}, b'{"name": "a", "x": 1}', 422),
    (
        "POST",
        "/api/items",
        {"content-type": "application/json"},
        json.dumps({"name": "n" * 201}).encode(),
        422,
    ),
    (
        "POST",
        "/api/items",
        {"content-type": "application/json"},
        json.dumps({"name": "a", "description": "d" * 10_001}).encode(),
        422,
    ),
    ("POST", "/api/items", {"content-type": "text/plain"}, b'{"name": "a"}', 415),
    ("POST", "/api/items", {"content-type": "application/xml"}, b"<name>a</name>", 415),
    ("POST", "/api/items", {"content-type": "text/plain"}, b"", 415),
    # Twisted (under daphne) parsed this body itself and answered a bare 400 with no body.
    (
        "POST",
        "/api/items",
        {"content-type": "multipart/form-data; boundary=x"},
        b'{"name": "a"}',
        415,
    ),
    (
        "POST",
        "/api/items",
        {"content-type": "multipart/form-data; boundary=x"},
        b'--x\r\nContent-Disposition: form-data; name="name"\r\n\r\na\r\n--x--\r\n',
        415,
    ),
    ("POST", "/api/items", {"content-type": "application/x-www-form-urlencoded"}, b"name=a", 415),
    ("POST", "/api/items", {"content-type": "application/json"}, b"x" * (2 * 1024 * 1024), 413),
    ("PUT", "/api/items", {"content-type": "application/json"}, b'{"name": "a"}', 405),
    ("DELETE", "/api/items", {}, b"", 405),
    ("POST", "/api/items/1", {"content-type": "application/json"}, b'{"name": "a"}', 405),
    ("GET", "/api/items/0", {}, b"", 404),
    ("GET", "/api/items/-1", {}, b"", 404),
    ("GET", "/api/items/99999999999999999999999", {}, b"", 404),
    ("GET", "/api/items/9223372036854775807", {}, b"", 404),
    ("GET", "/api/items/abc", {}, b"", 404),
    ("PATCH", "/api/items/9223372036854775807", {"content-type": "application/json"}, b"{}", 404),
    ("DELETE", "/api/items/9223372036854775807", {}, b"", 404),
    ("GET", "/api/items?limit=0", {}, b"", 400),
    ("GET", "/api/items?limit=1000", {}, b"", 400),
    ("GET", "/api/items?limit=%00", {}, b"", 400),
    ("GET", "/api/items?cursor=%F0%9F%9A%80", {}, b"", 400),
    ("GET", "/api/items?cursor=' OR 1=1 --", {}, b"", 400),
    ("GET", "/api/hello?delay=1e999", {}, b"", 400),
]


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status"),
    BAD_REQUESTS,
    ids=[f"{m} {p[:40]} {len(b)}B -> {s}" for m, p, _, b, s in BAD_REQUESTS],
)
async def test_bad_input_gets_the_exact_status_as_a_problem(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    status: int,
) -> None:
    count_before = await count_items(client)

    response = await client.request(method, path, headers=headers, content=body)

    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]
    if status == HTTPStatus.METHOD_NOT_ALLOWED:
        assert response.headers["allow"]
    if status == HTTPStatus.UNPROCESSABLE_CONTENT:
        assert all(error["pointer"].startswith("#") for error in problem["errors"])
    assert await count_items(client) == count_before  # nothing was written


async def count_items(client: httpx.AsyncClient) -> int:
    count = 0
    async with client.stream("GET", "/api/items/export") as response:
        async for line in response.aiter_lines():
            count += bool(line)
    return count


async def test_sse_receives_created_updated_deleted_in_order(client: httpx.AsyncClient) -> None:
    async with event_stream(client) as stream:
        await stream.subscribed_on()
        item = await create(client, "Observed")
        await client.patch(f"/api/items/{item['id']}", json={"name": "Observed twice"})
        await client.delete(f"/api/items/{item['id']}")

        events = [await stream.event() for _ in range(3)]

    mine = [e for e in events if e["data"]["item"]["id"] == item["id"]]
    assert [e["event"] for e in mine] == ["item.created", "item.updated", "item.deleted"]
    names = [e["data"]["item"]["name"] for e in mine]
    assert names == ["Observed", "Observed twice", "Observed twice"]
    assert [int(e["id"]) for e in mine] == sorted(int(e["id"]) for e in mine)


async def test_websocket_receives_created_updated_deleted(client: httpx.AsyncClient) -> None:
    async with connect(WS_URL, open_timeout=10) as websocket:
        subscribed = json.loads(await asyncio.wait_for(websocket.recv(), 10))
        assert subscribed["type"] == "subscribed"
        item = await create(client, "Socketed")
        await client.patch(f"/api/items/{item['id']}", json={"description": "changed"})
        await client.delete(f"/api/items/{item['id']}")

        messages = [json.loads(await asyncio.wait_for(websocket.recv(), 5)) for _ in range(3)]

    assert [m["type"] for m in messages] == ["item.created", "item.updated", "item.deleted"]
    assert {m["item"]["id"] for m in messages} == {item["id"]}
    assert [m["id"] for m in messages] == [subscribed["id"] + n for n in (1, 2, 3)]


async def test_websocket_on_an_unknown_path_is_refused() -> None:
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as refused:
        async with connect(BASE_URL.replace("http://", "ws://") + "/ws/nothing", open_timeout=10):
            pass
    assert refused.value.response.status_code == HTTPStatus.FORBIDDEN


async def test_admin_serves_its_login_page_and_static_files(client: httpx.AsyncClient) -> None:
    page = await client.get("/admin/login/")
    assert page.status_code == HTTPStatus.OK

    stylesheet = page.text.split('href="/static/admin/css/base.', 1)[1].split('"', 1)[0]
    css = await client.get(f"/static/admin/css/base.{stylesheet}")
    assert css.status_code == HTTPStatus.OK
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
