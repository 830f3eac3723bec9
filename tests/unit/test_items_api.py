"""The items API through Django's AsyncClient, against the real database."""

import asyncio
import json
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any, cast

import pytest
from django.db import OperationalError
from django.test import AsyncClient

from config.api import api
from core.api import JsonBodyModel
from items import selectors
from items.models import Item
from tests.unit.conftest import HeaderClient

PROBLEM = "application/problem+json"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def client(authorization: dict[str, str]) -> AsyncClient:
    """A client with an API token, as writes need."""
    return HeaderClient(authorization)


async def post_json(client: AsyncClient, path: str, body: Any) -> Any:
    return await client.post(path, json.dumps(body), content_type="application/json")


async def patch_json(client: AsyncClient, path: str, body: Any) -> Any:
    return await client.patch(path, json.dumps(body), content_type="application/json")


async def test_item_create_answers_201_with_location_and_stores_the_item(
    client: AsyncClient,
) -> None:
    response = await post_json(client, "/api/items", {"name": "Lamp", "description": "bright"})

    body = response.json()
    assert response.status_code == HTTPStatus.CREATED
    assert response["Location"] == f"/api/items/{body['id']}"
    assert body["name"] == "Lamp"
    assert body["description"] == "bright"
    assert body["created_at"] == body["updated_at"] or body["created_at"] <= body["updated_at"]
    stored = await Item.objects.aget(pk=body["id"])
    assert (stored.name, stored.description) == ("Lamp", "bright")


async def post_with_key(client: AsyncClient, body: Any, key: str) -> Any:
    return await client.post(
        "/api/items",
        json.dumps(body),
        content_type="application/json",
        headers={"Idempotency-Key": key},
    )


async def test_a_repeated_post_with_its_idempotency_key_creates_one_item(
    client: AsyncClient,
) -> None:
    first = await post_with_key(client, {"name": "Once"}, "5f1c2a9e-retry")
    again = await post_with_key(client, {"name": "Once"}, "5f1c2a9e-retry")

    assert first.status_code == again.status_code == HTTPStatus.CREATED
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert await Item.objects.filter(name="Once").acount() == 1


async def test_racing_repeats_with_one_idempotency_key_still_create_one_item(
    authorization: dict[str, str],
) -> None:
    responses = await asyncio.gather(
        *(
            post_with_key(HeaderClient(authorization), {"name": "Raced"}, "race-key")
            for _ in range(8)
        )
    )

    assert {r.status_code for r in responses} == {HTTPStatus.CREATED}
    assert len({r.json()["id"] for r in responses}) == 1
    assert await Item.objects.filter(name="Raced").acount() == 1


async def test_an_idempotency_key_reused_with_another_body_is_422_and_creates_nothing(
    client: AsyncClient,
) -> None:
    await post_with_key(client, {"name": "Original"}, "reused-key")

    response = await post_with_key(client, {"name": "Different"}, "reused-key")

    assert response.status_code == HTTPStatus.UNPROCESSABLE_CONTENT
    assert response["Content-Type"] == PROBLEM
    assert "another request body" in response.json()["detail"]
    assert not await Item.objects.filter(name="Different").aexists()


@pytest.mark.parametrize("key", ["", "x" * 101, "has space", "caf\u00e9"])
async def test_a_malformed_idempotency_key_is_a_400_naming_the_header(
    client: AsyncClient, key: str
) -> None:
    response = await post_with_key(client, {"name": "Keyed"}, key)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response["Content-Type"] == PROBLEM
    assert [error["header"] for error in response.json()["errors"]] == ["Idempotency-Key"]
    assert not await Item.objects.filter(name="Keyed").aexists()


async def test_item_create_defaults_description_to_empty(client: AsyncClient) -> None:
    response = await post_json(client, "/api/items", {"name": "Bare"})

    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["description"] == ""


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert('x')</script>",
        "'; DROP TABLE items_item; --",
        "Ünïcødé ✓ 🚀🎉 漢字 עברית",
        "👩‍👩‍👧‍👦" * 20,
        "line\nbreak\ttab",
    ],
)
async def test_item_text_is_stored_and_returned_verbatim(client: AsyncClient, text: str) -> None:
    created = await post_json(client, "/api/items", {"name": text[:200], "description": text})

    fetched = await client.get(created["Location"])
    assert fetched.json()["name"] == text[:200]
    assert fetched.json()["description"] == text
    assert await Item.objects.filter(description=text).aexists()


async def test_item_name_of_200_emoji_is_accepted(client: AsyncClient) -> None:
    # Limits count characters, not bytes: 200 emoji are 800 bytes of UTF-8.
    response = await post_json(client, "/api/items", {"name": "🚀" * 200})

    assert response.status_code == HTTPStatus.CREATED


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, "#/name"),
        ({"name": ""}, "#/name"),
        ({"name": "   "}, "#/name"),
        ({"name": "x" * 201}, "#/name"),
        ({"name": 42}, "#/name"),
        ({"name": None}, "#/name"),
        ({"name": ["a"]}, "#/name"),
        ({"name": "ok", "description": "x" * 10_001}, "#/description"),
        ({"name": "ok", "description": 1}, "#/description"),
        ({"name": "nul\u0000byte"}, "#/name"),
        ({"name": "ok", "description": "lone \ud800 surrogate"}, "#/description"),
        ({"name": "ok", "colour": "red"}, "#/colour"),
    ],
)
async def test_item_create_rejects_invalid_fields_with_422_naming_them(
    client: AsyncClient, body: dict[str, Any], pointer: str
) -> None:
    response = await post_json(client, "/api/items", body)

    problem = response.json()
    assert response.status_code == HTTPStatus.UNPROCESSABLE_CONTENT
    assert response["Content-Type"] == PROBLEM
    assert problem["status"] == 422
    assert pointer in [error["pointer"] for error in problem["errors"]]
    assert await Item.objects.acount() == 0


@pytest.mark.parametrize("body", [[], ["name"], "name", 3, None])
async def test_item_create_rejects_a_body_that_is_not_an_object(
    client: AsyncClient, body: Any
) -> None:
    response = await post_json(client, "/api/items", body)

    assert response.status_code == HTTPStatus.UNPROCESSABLE_CONTENT
    assert response["Content-Type"] == PROBLEM


@pytest.mark.parametrize(
    "raw", [b"{", b'{"name": }', b"\xff\xfe", b'{"name": "a"} trailing', b"[" * 100_000]
)
async def test_item_create_rejects_malformed_json_with_400(client: AsyncClient, raw: bytes) -> None:
    response = await client.post("/api/items", raw, content_type="application/json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response["Content-Type"] == PROBLEM
    assert response.json()["detail"] == "The request body is not valid JSON."
    assert await Item.objects.acount() == 0


@pytest.mark.parametrize("method", ["post", "patch"])
@pytest.mark.parametrize("blank", [b"", b" ", b"\n\t "])
async def test_an_empty_or_blank_json_body_is_malformed_json_not_a_missing_field(
    client: AsyncClient, method: str, blank: bytes
) -> None:
    item = await Item.objects.acreate(name="Kept", description="as it was")
    path = "/api/items" if method == "post" else f"/api/items/{item.pk}"

    # Django's test client sends no Content-Type without a body: this client does, as curl does.
    sent = {"headers": {"Content-Type": "application/json"}} if not blank else {}
    response = await getattr(client, method)(path, blank, "application/json", **sent)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response["Content-Type"] == PROBLEM
    assert response.json()["detail"] == "The request body is not valid JSON."
    assert [(i.name, i.description) async for i in Item.objects.all()] == [("Kept", "as it was")]


@pytest.mark.parametrize("method", ["post", "patch"])
async def test_an_empty_body_of_another_type_is_a_415(client: AsyncClient, method: str) -> None:
    item = await Item.objects.acreate(name="Kept")
    path = "/api/items" if method == "post" else f"/api/items/{item.pk}"

    response = await getattr(client, method)(
        path, b"", "text/plain", headers={"Content-Type": "text/plain"}
    )

    assert response.status_code == HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    assert await Item.objects.acount() == 1


def test_every_operation_that_reads_a_body_reads_it_as_json() -> None:
    """An operation declaring its body without JsonBody would answer an empty body as "no
    body" (a 422, or a PATCH that changes nothing): every one is checked here."""
    bodies = [
        (path, operation.view_func.__name__, model)
        for router_path, router in api._routers
        for path, view in router.path_operations.items()
        for operation in view.operations
        for model in operation.models
        if model.__ninja_param_source__ == "body"
    ]

    assert {name for _, name, _ in bodies} == {"item_create", "item_update"}
    for path, name, model in bodies:
        assert issubclass(model, JsonBodyModel), (path, name)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""],
)
async def test_item_create_rejects_a_non_json_content_type_with_415(
    client: AsyncClient, content_type: str
) -> None:
    response = await client.post("/api/items", b'{"name": "a"}', content_type=content_type)

    assert response.status_code == HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    assert response["Content-Type"] == PROBLEM
    assert await Item.objects.acount() == 0


async def test_item_create_accepts_json_with_a_charset(client: AsyncClient) -> None:
    response = await client.post(
        "/api/items", b'{"name": "a"}', content_type="application/json; charset=utf-8"
    )

    assert response.status_code == HTTPStatus.CREATED


async def test_item_get_answers_the_item(client: AsyncClient) -> None:
    item = await Item.objects.acreate(name="Chair", description="wooden")

    response = await client.get(f"/api/items/{item.pk}")

    assert response.status_code == HTTPStatus.OK
    assert response.json()["name"] == "Chair"


@pytest.mark.parametrize(
    "item_id", ["999999", "0", "-1", "abc", "1.5", "9223372036854775808", "9" * 30, "%00"]
)
async def test_item_get_unknown_or_impossible_id_is_404(client: AsyncClient, item_id: str) -> None:
    response = await client.get(f"/api/items/{item_id}")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response["Content-Type"] == PROBLEM


async def test_item_get_largest_bigint_id_is_a_plain_404(client: AsyncClient) -> None:
    response = await client.get("/api/items/9223372036854775807")

    assert response.status_code == HTTPStatus.NOT_FOUND


async def test_item_patch_changes_only_the_given_fields(client: AsyncClient) -> None:
    item = await Item.objects.acreate(name="Old", description="keep me")

    response = await patch_json(client, f"/api/items/{item.pk}", {"name": "New"})

    assert response.status_code == HTTPStatus.OK
    assert response.json()["name"] == "New"
    assert response.json()["description"] == "keep me"
    await item.arefresh_from_db()
    assert (item.name, item.description) == ("New", "keep me")
    assert response.json()["updated_at"] > response.json()["created_at"]


async def test_item_patch_with_nothing_changes_nothing(client: AsyncClient) -> None:
    item = await Item.objects.acreate(name="Same")

    response = await patch_json(client, f"/api/items/{item.pk}", {})

    assert response.status_code == HTTPStatus.OK
    await item.arefresh_from_db()
    assert item.updated_at == item.created_at or response.json()["name"] == "Same"


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"name": None}, "#/name"),
        ({"description": None}, "#/description"),
        ({"name": ""}, "#/name"),
        ({"name": "x" * 201}, "#/name"),
        ({"id": 5}, "#/id"),
    ],
)
async def test_item_patch_validates_like_create(
    client: AsyncClient, body: dict[str, Any], pointer: str
) -> None:
    item = await Item.objects.acreate(name="Stay")

    response = await patch_json(client, f"/api/items/{item.pk}", body)

    assert response.status_code == HTTPStatus.UNPROCESSABLE_CONTENT
    assert pointer in [error["pointer"] for error in response.json()["errors"]]
    await item.arefresh_from_db()
    assert item.name == "Stay"


async def test_item_patch_unknown_id_is_404(client: AsyncClient) -> None:
    response = await patch_json(client, "/api/items/424242", {"name": "x"})

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response["Content-Type"] == PROBLEM


async def test_item_delete_answers_204_then_the_item_is_gone(client: AsyncClient) -> None:
    item = await Item.objects.acreate(name="Bye")

    response = await client.delete(f"/api/items/{item.pk}")

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert response.content == b""
    assert not await Item.objects.filter(pk=item.pk).aexists()
    again = await client.delete(f"/api/items/{item.pk}")
    assert again.status_code == HTTPStatus.NOT_FOUND


async def test_items_path_refuses_other_methods_with_405_and_allow(client: AsyncClient) -> None:
    response = await client.put("/api/items", b"{}", content_type="application/json")

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["Content-Type"] == PROBLEM
    assert response["Allow"] == "GET, POST"


async def test_item_list_pages_through_every_item_in_order(client: AsyncClient) -> None:
    created = [await Item.objects.acreate(name=f"item {n}") for n in range(7)]

    seen: list[int] = []
    url: str | None = "/api/items?limit=3"
    pages = 0
    while url:
        response = await client.get(url)
        assert response.status_code == HTTPStatus.OK
        seen += [item["id"] for item in response.json()["items"]]
        url = response.json()["next"]
        pages += 1

    assert seen == [item.pk for item in created]
    assert pages == 3


async def test_item_list_next_is_an_absolute_url(client: AsyncClient) -> None:
    for n in range(3):
        await Item.objects.acreate(name=f"item {n}")

    response = await client.get("/api/items", {"limit": 2})

    assert response.json()["next"].startswith("http://testserver/api/items?limit=2&cursor=")


async def test_item_list_defaults_to_20_and_says_when_there_is_no_more(
    client: AsyncClient,
) -> None:
    await Item.objects.abulk_create([Item(name=f"item {n}") for n in range(20)])

    response = await client.get("/api/items")

    assert len(response.json()["items"]) == 20
    assert response.json()["next"] is None


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "-5"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "YWZ0ZXI6LTE"}, "cursor"),  # "after:-1"
        ({"cursor": "x" * 101}, "cursor"),
    ],
)
async def test_item_list_rejects_bad_parameters_with_400_naming_them(
    client: AsyncClient, query: dict[str, str], parameter: str
) -> None:
    response = await client.get("/api/items", query)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response["Content-Type"] == PROBLEM
    assert [error["parameter"] for error in response.json()["errors"]] == [parameter]


async def test_item_export_streams_every_item_as_ndjson(client: AsyncClient) -> None:
    await Item.objects.abulk_create([Item(name=f"item {n}") for n in range(1234)])

    response = await client.get("/api/items/export")

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/x-ndjson"
    assert response["X-Accel-Buffering"] == "no"
    stream: Any = cast(Any, response).streaming_content
    lines = b"".join([chunk async for chunk in stream]).splitlines()
    items = [json.loads(line) for line in lines]
    assert [item["name"] for item in items] == [f"item {n}" for n in range(1234)]


async def test_exported_names_with_unicode_line_separators_stay_on_one_line(
    client: AsyncClient,
) -> None:
    # JSON may leave U+2028, U+2029 and U+0085 raw in a string, and str.splitlines (with the
    # line readers of httpx and requests) would break the line there.
    names = ["a\u2028b", "c\u2029d", "e\x85f", "g\x1ch"]
    await Item.objects.abulk_create([Item(name=name) for name in names])

    response = await client.get("/api/items/export")

    stream: Any = cast(Any, response).streaming_content
    text = b"".join([chunk async for chunk in stream]).decode()
    assert [json.loads(line)["name"] for line in text.splitlines()] == names


async def test_item_export_of_no_items_is_an_empty_stream(client: AsyncClient) -> None:
    response = await client.get("/api/items/export")

    assert response.status_code == HTTPStatus.OK
    stream: Any = cast(Any, response).streaming_content
    assert b"".join([chunk async for chunk in stream]) == b""


async def test_item_export_without_the_database_is_503_not_a_broken_stream(
    client: AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Unreachable:  # a cursor that fails at its first row, as with the server gone
        def __aiter__(self) -> AsyncIterator[Item]:
            return self

        async def __anext__(self) -> Item:
            raise OperationalError("connection refused")

    monkeypatch.setattr(selectors, "item_export", Unreachable)

    response = await client.get("/api/items/export")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response["Content-Type"] == PROBLEM
    assert response["Retry-After"]


async def test_openapi_schema_documents_every_operation_and_problem_responses(
    client: AsyncClient,
) -> None:
    schema = (await client.get("/api/openapi.json")).json()

    operations = {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}
    assert operations >= {
        ("GET", "/api/info"),
        ("GET", "/api/hello"),
        ("GET", "/api/items"),
        ("POST", "/api/items"),
        ("GET", "/api/items/export"),
        ("GET", "/api/items/{item_id}"),
        ("PATCH", "/api/items/{item_id}"),
        ("DELETE", "/api/items/{item_id}"),
    }
    created = schema["paths"]["/api/items"]["post"]["responses"]
    assert "application/problem+json" in created["422"]["content"]


async def test_api_docs_page_renders(client: AsyncClient) -> None:
    response = await client.get("/api/docs")

    assert response.status_code == HTTPStatus.OK
    assert b"openapi.json" in response.content
