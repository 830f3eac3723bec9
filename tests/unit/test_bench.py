"""The TechEmpower test types follow the published rules."""

import json
import re
from http import HTTPStatus
from typing import Any

import pytest
from django.test import AsyncClient

from bench import views
from bench.models import Fortune, World

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("bench_data")]


@pytest.fixture
def client() -> AsyncClient:
    return AsyncClient()


def worlds_of(response: Any) -> list[dict[str, int]]:
    body = response.json()
    assert isinstance(body, list)
    for world in body:
        assert set(world) == {"id", "randomNumber"}
        assert 1 <= world["id"] <= 10_000
        assert 1 <= world["randomNumber"] <= 10_000
    return body


async def test_migrations_fill_10000_worlds_and_12_fortunes() -> None:
    assert await World.objects.acount() == 10_000
    assert await Fortune.objects.acount() == 12


async def test_json_is_hello_world(client: AsyncClient) -> None:
    response = await client.get("/bench/json")

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/json"
    assert response.content == b'{"message": "Hello, World!"}'
    assert int(response["Content-Length"]) == len(response.content)


async def test_plaintext_is_hello_world(client: AsyncClient) -> None:
    response = await client.get("/bench/plaintext")

    assert response["Content-Type"] == "text/plain"
    assert response.content == b"Hello, World!"


async def test_db_answers_one_world_row_as_stored(client: AsyncClient) -> None:
    response = await client.get("/bench/db")

    world = response.json()
    assert set(world) == {"id", "randomNumber"}
    assert (await World.objects.aget(id=world["id"])).randomnumber == world["randomNumber"]


@pytest.mark.parametrize(
    ("queries", "count"),
    [("1", 1), ("20", 20), ("500", 500), ("501", 500), ("0", 1), ("-3", 1), ("foo", 1), ("", 1)],
)
async def test_queries_are_clamped_from_1_to_500(
    client: AsyncClient, queries: str, count: int
) -> None:
    response = await client.get("/bench/queries", {"queries": queries})

    assert response.status_code == HTTPStatus.OK
    assert len(worlds_of(response)) == count


async def test_queries_without_the_parameter_answer_one_row(client: AsyncClient) -> None:
    assert len(worlds_of(await client.get("/bench/queries"))) == 1


async def test_fortunes_adds_one_sorts_and_escapes(client: AsyncClient) -> None:
    response = await client.get("/bench/fortunes")

    html = response.content.decode()
    assert response["Content-Type"] == "text/html; charset=utf-8"
    messages = re.findall(r"<tr><td>\d+</td><td>(.*?)</td></tr>", html)
    assert len(messages) == 13
    assert "Additional fortune added at request time." in messages
    assert "&lt;script&gt;alert(&quot;This should not be displayed" in html
    assert "<script>" not in html
    assert "フレームワークのベンチマーク" in messages
    unescaped = [
        m.replace("&lt;", "<").replace("&quot;", '"').replace("&#x27;", "'") for m in messages
    ]
    assert unescaped == sorted(unescaped)


async def test_updates_persist_new_random_numbers(client: AsyncClient) -> None:
    response = await client.get("/bench/updates", {"queries": "20"})

    worlds = worlds_of(response)
    assert len(worlds) == 20
    for world in worlds:
        stored = await World.objects.aget(id=world["id"])
        assert stored.randomnumber == world["randomNumber"]


async def test_an_id_drawn_twice_is_answered_as_it_is_stored(
    client: AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    draws = iter([7, 7, 1111, 2222])  # ids 7 and 7, then their new numbers
    monkeypatch.setattr(views, "random_id", lambda: next(draws))

    worlds = worlds_of(await client.get("/bench/updates", {"queries": "2"}))

    stored = await World.objects.aget(id=7)
    assert worlds == [{"id": 7, "randomNumber": 2222}] * 2
    assert stored.randomnumber == 2222


async def test_updates_are_clamped_like_queries(client: AsyncClient) -> None:
    assert len(worlds_of(await client.get("/bench/updates", {"queries": "999"}))) == 500


async def test_raw_handler_answers_json_without_django() -> None:
    from config.asgi import application

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await application({"type": "http", "path": "/bench/raw", "method": "GET"}, receive, send)

    assert sent[0]["status"] == 200
    assert dict(sent[0]["headers"])[b"content-type"] == b"application/json"
    assert json.loads(sent[1]["body"]) == {"message": "Hello, World!"}
