"""Probe views for the handler's semantics tests, under /bench/ so the lean handler serves them."""

import asyncio
import threading
import time

from asgiref.sync import sync_to_async
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.urls import path

from items.models import Item


async def threads(request: HttpRequest) -> JsonResponse:
    """The sync thread this request's code runs in, before and after yielding to others."""
    before = await sync_to_async(threading.get_ident)()
    await asyncio.sleep(0.05)
    after = await sync_to_async(threading.get_ident)()
    return JsonResponse({"before": before, "after": after})


def _unit_of_work(name: str, fail: bool) -> int:
    with transaction.atomic():
        Item.objects.create(name=name)
        seen = Item.objects.count()
        time.sleep(0.2)  # hold the transaction open while the other request looks
        if fail:
            raise RuntimeError("roll back")
    return seen


async def unit(request: HttpRequest) -> JsonResponse:
    try:
        seen = await sync_to_async(_unit_of_work)(request.GET["name"], "fail" in request.GET)
    except RuntimeError:
        return JsonResponse({"rolled_back": True})
    return JsonResponse({"seen": seen})


async def count(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"count": await Item.objects.acount()})


urlpatterns = [
    path("bench/threads", threads),
    path("bench/unit", unit),
    path("bench/count", count),
]
