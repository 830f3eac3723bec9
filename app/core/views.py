"""Health, readiness, information, the async hello, and the landing page."""

import asyncio
import math
import platform
from http import HTTPStatus

import django
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

import config
from core import selectors
from core.http import allow
from core.problems import problem

HELLO_MAX_DELAY = 10.0

ENDPOINTS = [
    ("/healthz", "liveness: the process answers (no database)"),
    ("/readyz", "readiness: the database answers"),
    ("/api/info", "the running ASGI server, versions, and the client as the app sees it"),
    ("/api/hello?delay=1", "awaits asyncio.sleep(delay), 0 to 10 s, then says hello"),
    ("/admin/", "Django admin"),
]


@allow("GET")
async def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@allow("GET")
async def readyz(request: HttpRequest) -> JsonResponse:
    try:
        await selectors.database_version()
    except DatabaseError as exc:
        return problem(
            HTTPStatus.SERVICE_UNAVAILABLE,
            f"The database is unreachable: {type(exc).__name__}.",
            headers={"Retry-After": "5"},
        )
    return JsonResponse({"status": "ready", "database": "ok"})


@allow("GET")
async def info(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "asgi_server": settings.ASGI_SERVER,
            "versions": {
                "app": config.__version__,
                "django": django.get_version(),
                "python": platform.python_version(),
                "postgresql": await selectors.database_version_or_none(),
            },
            "client": {"address": request.META.get("REMOTE_ADDR"), "scheme": request.scheme},
        }
    )


@allow("GET")
async def hello(request: HttpRequest) -> JsonResponse:
    raw = request.GET.get("delay", "1")
    try:
        delay = float(raw)
    except ValueError:
        delay = math.nan
    if not 0 <= delay <= HELLO_MAX_DELAY:  # NaN and infinities fail this too
        return problem(
            HTTPStatus.BAD_REQUEST,
            f"delay must be a number of seconds from 0 to {HELLO_MAX_DELAY:g}.",
            errors=[{"name": "delay", "reason": f"not a number from 0 to 10: {raw[:50]!r}"}],
        )
    await asyncio.sleep(delay)
    return JsonResponse({"message": "Hello, World!"})


@allow("GET")
async def landing(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "core/landing.html",
        {
            "asgi_server": settings.ASGI_SERVER,
            "version": config.__version__,
            "endpoints": ENDPOINTS,
        },
    )
