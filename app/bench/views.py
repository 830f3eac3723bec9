"""The TechEmpower Framework Benchmarks test types, as async views on the async ORM.

Each follows the published requirements: a fresh serialization per request, one query per
World row (no IN), `queries` clamped to 1..500 (anything not a number is 1), fortunes sorted
after adding one at request time and escaped by the template, updates persisted.
https://github.com/TechEmpower/FrameworkBenchmarks/wiki/Project-Information-Framework-Tests-Overview
"""

import random

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from bench.models import Fortune, World
from core.http import allow

WORLD_ROWS = 10_000
EXTRA_FORTUNE = "Additional fortune added at request time."


def query_count(request: HttpRequest) -> int:
    try:
        count = int(request.GET.get("queries", "1"))
    except ValueError:
        return 1
    return min(max(count, 1), 500)


def random_id() -> int:
    return random.randint(1, WORLD_ROWS)  # noqa: S311 (benchmark data, not a secret)


def renumber(worlds: list[World]) -> dict[int, World]:
    """Give each row a new random number; the rows to store, by id. An id drawn twice is one
    row: its last draw is stored, and answered for every occurrence, so that the answer is
    what the database holds."""
    stored: dict[int, World] = {}
    for world in worlds:
        world.randomnumber = random_id()
        stored[world.id] = world
    return stored


def world_json(world: World) -> dict[str, int]:
    return {"id": world.id, "randomNumber": world.randomnumber}


def fortunes_page(fortunes: list[Fortune]) -> HttpResponse:
    fortunes.append(Fortune(id=0, message=EXTRA_FORTUNE))
    fortunes.sort(key=lambda fortune: fortune.message)
    html = render_to_string("bench/fortunes.html", {"fortunes": fortunes})
    return HttpResponse(html, content_type="text/html; charset=utf-8")


@allow("GET")
async def json_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"message": "Hello, World!"})


@allow("GET")
async def plaintext(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"Hello, World!", content_type="text/plain")


@allow("GET")
async def db(request: HttpRequest) -> JsonResponse:
    world = await World.objects.aget(id=random_id())
    return JsonResponse(world_json(world))


@allow("GET")
async def queries(request: HttpRequest) -> JsonResponse:
    worlds = [await World.objects.aget(id=random_id()) for _ in range(query_count(request))]
    return JsonResponse([world_json(world) for world in worlds], safe=False)


@allow("GET")
async def fortunes(request: HttpRequest) -> HttpResponse:
    return fortunes_page([fortune async for fortune in Fortune.objects.all()])


@allow("GET")
async def updates(request: HttpRequest) -> JsonResponse:
    worlds = [await World.objects.aget(id=random_id()) for _ in range(query_count(request))]
    stored = renumber(worlds)
    # One batched UPDATE, which the rules allow; sorted by id so that concurrent batches lock
    # rows in the same order and cannot deadlock.
    await World.objects.abulk_update(sorted(stored.values(), key=lambda w: w.id), ["randomnumber"])
    return JsonResponse([world_json(stored[world.id]) for world in worlds], safe=False)
