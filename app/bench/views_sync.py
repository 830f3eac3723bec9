"""The same test types as plain sync views: what a WSGI Django site runs. Served instead of
bench.views when BENCH_VIEWS=sync, for the gunicorn-sync contender of `make bench`."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from bench.models import Fortune, World
from bench.views import fortunes_page, query_count, random_id, renumber, world_json


@require_GET
def json_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"message": "Hello, World!"})


@require_GET
def plaintext(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"Hello, World!", content_type="text/plain")


@require_GET
def db(request: HttpRequest) -> JsonResponse:
    return JsonResponse(world_json(World.objects.get(id=random_id())))


@require_GET
def queries(request: HttpRequest) -> JsonResponse:
    worlds = [World.objects.get(id=random_id()) for _ in range(query_count(request))]
    return JsonResponse([world_json(world) for world in worlds], safe=False)


@require_GET
def fortunes(request: HttpRequest) -> HttpResponse:
    return fortunes_page(list(Fortune.objects.all()))


@require_GET
def updates(request: HttpRequest) -> JsonResponse:
    worlds = [World.objects.get(id=random_id()) for _ in range(query_count(request))]
    stored = renumber(worlds)
    World.objects.bulk_update(sorted(stored.values(), key=lambda w: w.id), ["randomnumber"])
    return JsonResponse([world_json(stored[world.id]) for world in worlds], safe=False)
