"""The items API: list, create, read, update, delete, export."""

import base64
import binascii
import re
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils.http import urlencode
from ninja import Router, Status
from ninja.errors import HttpError, ValidationError
from ninja.params.functions import Query

from accounts.auth import READ, WRITE
from core.api import JsonBody, problems
from items import selectors, services
from items.models import IDEMPOTENCY_KEY_MAX_LENGTH, Item
from items.schemas import ItemIn, ItemOut, ItemPage, ItemPatch

router = Router(tags=["items"])

EXPORT_BATCH = 500  # rows per chunk written to the client
# Characters JSON leaves raw in strings but that many line readers take for line ends (Python's
# str.splitlines, and httpx's and requests' line iterators with it): escaped, as JSON allows, so
# that each NDJSON line is one item whatever the names hold.
LINE_BREAKS_IN_STRINGS = str.maketrans(
    {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"after:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id after which the page starts; a cursor not made by encode_cursor is a 400."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != "after" or not number.isascii() or not number.isdigit() or len(number) > 19:
            raise ValueError(cursor)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError(
            [{"loc": ("query", "cursor"), "msg": "is not a cursor from a previous page"}]
        ) from None


@router.get(
    "/items",
    response={200: ItemPage, **problems(400, 401, 503)},
    summary="List items",
    url_name="item_list",
    auth=READ,
)
async def item_list(
    request: HttpRequest,
    limit: int = Query(20, ge=1, le=100, description="items per page, 1 to 100"),
    cursor: str | None = Query(None, max_length=100, description="from the previous `next`"),
) -> dict[str, Any]:
    after_id = decode_cursor(cursor) if cursor else 0
    items, more = await selectors.item_list(after_id=after_id, limit=limit)
    next_url = None
    if more:
        query = urlencode({"limit": str(limit), "cursor": encode_cursor(items[-1].pk)})
        next_url = request.build_absolute_uri(f"{reverse('api:item_list')}?{query}")
    return {"items": items, "next": next_url}


IDEMPOTENCY_KEY = re.compile(rf"[\x21-\x7e]{{1,{IDEMPOTENCY_KEY_MAX_LENGTH}}}")


def idempotency_key(request: HttpRequest) -> str | None:
    """The request's Idempotency-Key: printable ASCII, 1 to 100 characters; otherwise a 400."""
    key = request.headers.get("Idempotency-Key")
    if key is None or IDEMPOTENCY_KEY.fullmatch(key):
        return key
    raise ValidationError(
        [
            {
                "loc": ("header", "Idempotency-Key"),
                "msg": f"must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters",
            }
        ]
    )


@router.post(
    "/items",
    response={201: ItemOut, **problems(400, 401, 403, 415, 422, 503)},
    summary="Create an item",
    auth=WRITE,
    openapi_extra={
        "parameters": [
            {
                "in": "header",
                "name": "Idempotency-Key",
                "required": False,
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH,
                    "pattern": "^[\\x21-\\x7e]+$",
                },
                "description": (
                    "any unique string (a UUID): the same POST sent again with the same key "
                    "returns the item the first one created, with Idempotent-Replayed: true, "
                    "never a second item, so a client may retry a POST whose answer it lost"
                ),
            }
        ]
    },
)
async def item_create(
    request: HttpRequest, response: HttpResponse, payload: JsonBody[ItemIn]
) -> Status[Item]:
    try:
        item, created = await services.item_create(
            name=payload.name,
            description=payload.description,
            idempotency_key=idempotency_key(request),
        )
    except services.IdempotencyKeyReused:
        raise HttpError(
            HTTPStatus.UNPROCESSABLE_CONTENT,
            "This Idempotency-Key was first sent with another request body.",
        ) from None
    response["Location"] = reverse("api:item_get", kwargs={"item_id": item.pk})
    if not created:
        response["Idempotent-Replayed"] = "true"
    return Status(HTTPStatus.CREATED, item)


@router.get(
    "/items/export",
    response={200: None, **problems(401, 503)},
    summary="Every item as NDJSON, streamed",
    auth=READ,
    openapi_extra={
        "responses": {
            200: {
                "description": "one item per line, in id order",
                "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            }
        }
    },
)
async def item_export(request: HttpRequest) -> StreamingHttpResponse:
    async def lines() -> AsyncIterator[str]:
        batch: list[str] = []
        async for item in selectors.item_export():
            line = ItemOut.model_validate(item).model_dump_json().translate(LINE_BREAKS_IN_STRINGS)
            batch.append(line + "\n")
            if len(batch) == EXPORT_BATCH:
                yield "".join(batch)
                batch.clear()
        if batch:
            yield "".join(batch)

    # The first batch is read before the response starts, so that an unreachable database is a
    # 503 problem, not a 200 whose body breaks off (once the headers are sent, the status is).
    chunks = lines()
    first = await anext(chunks, "")

    async def body() -> AsyncIterator[str]:
        if first:
            yield first
        async for chunk in chunks:
            yield chunk

    return StreamingHttpResponse(
        body(),
        content_type="application/x-ndjson",
        headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"},
    )


@router.get(
    "/items/{id:item_id}",
    response={200: ItemOut, **problems(401, 404, 503)},
    summary="One item",
    url_name="item_get",
    auth=READ,
)
async def item_get(request: HttpRequest, item_id: int) -> Item:
    return await selectors.item_get(item_id=item_id)


@router.patch(
    "/items/{id:item_id}",
    response={200: ItemOut, **problems(400, 401, 403, 404, 415, 422, 503)},
    summary="Change an item's fields",
    auth=WRITE,
)
async def item_update(request: HttpRequest, item_id: int, payload: JsonBody[ItemPatch]) -> Item:
    return await services.item_update(
        item_id=item_id, name=payload.name, description=payload.description
    )


@router.delete(
    "/items/{id:item_id}",
    response={204: None, **problems(401, 403, 404, 503)},
    summary="Delete an item",
    auth=WRITE,
)
async def item_delete(request: HttpRequest, item_id: int) -> Status[None]:
    await services.item_delete(item_id=item_id)
    return Status(HTTPStatus.NO_CONTENT, None)
