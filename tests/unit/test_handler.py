"""The lean handler that serves /api/ and /bench/: same protections, no thread hop.

Django's test client runs its own handler with settings.MIDDLEWARE, so these tests drive the
project's ASGI application itself, as a server would.
"""

import asyncio
import json
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.conf import settings
from django.core import signals
from django.db import connections

from config import asgi
from config.handler import LeanASGIHandler
from tests.unit.conftest import http_scope


async def call(
    path: str,
    *,
    host: bytes = b"localhost",
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
) -> dict[str, Any]:
    """Serve one request through config.asgi.application; answer status, headers and body."""
    path, _, query = path.partition("?")
    scope = http_scope(path, query=query.encode(), method=method, host=host, headers=headers)
    messages: list[dict[str, Any]] = []
    request_sent = False

    async def receive() -> dict[str, Any]:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client stays connected; Django cancels this wait
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await asgi.application(scope, receive, send)
    start = messages[0]
    return {
        "status": start["status"],
        "headers": {k.decode().lower(): v.decode() for k, v in start["headers"]},
        "body": b"".join(m.get("body", b"") for m in messages[1:]),
    }


def test_api_paths_are_served_by_the_lean_handler() -> None:
    assert settings.LEAN_API_HANDLER
    assert isinstance(asgi.api_handler, LeanASGIHandler)
    assert all(path.startswith(asgi.LEAN_PREFIXES) for path in ["/api/items", "/bench/json"])


async def test_lean_handler_keeps_the_security_headers() -> None:
    response = await call("/api/hello?delay=0")

    assert response["status"] == 200
    assert json.loads(response["body"]) == {"message": "Hello, World!"}
    assert response["headers"]["x-content-type-options"] == "nosniff"
    assert response["headers"]["x-frame-options"] == "DENY"
    assert response["headers"]["referrer-policy"] == "same-origin"
    assert response["headers"]["cross-origin-opener-policy"] == "same-origin"


async def test_lean_handler_refuses_unknown_hosts_with_a_problem() -> None:
    response = await call("/api/hello?delay=0", host=b"attacker.example")

    assert response["status"] == 400
    assert response["headers"]["content-type"] == "application/problem+json"


async def test_lean_handler_turns_405_into_a_problem() -> None:
    response = await call("/api/hello", method="DELETE")

    assert response["status"] == 405
    assert response["headers"]["allow"] == "GET"
    assert response["headers"]["content-type"] == "application/problem+json"


@pytest.mark.django_db(transaction=True)
async def test_pages_outside_the_api_keep_the_full_middleware() -> None:
    response = await call("/admin/login/")

    assert response["status"] == 200
    assert "csrftoken" in response["headers"].get("set-cookie", "")


@pytest.fixture
def counted_signals() -> Iterator[dict[str, int]]:
    counts = {"started": 0, "finished": 0}

    def started(**kwargs: Any) -> None:
        counts["started"] += 1

    def finished(**kwargs: Any) -> None:
        counts["finished"] += 1

    signals.request_started.connect(started, weak=False)
    signals.request_finished.connect(finished, weak=False)
    yield counts
    signals.request_started.disconnect(started)
    signals.request_finished.disconnect(finished)


async def test_custom_signal_receivers_fire_once_per_request(
    counted_signals: dict[str, int],
) -> None:
    for _ in range(3):
        assert (await call("/api/hello?delay=0"))["status"] == 200

    assert counted_signals == {"started": 3, "finished": 3}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("bench_data")
async def test_every_pool_connection_is_back_after_a_burst() -> None:
    pool = connections["default"].pool  # type: ignore[attr-defined]
    before = pool.get_stats()  # the test's own connection (bench_data) is checked out
    in_use_before = before["pool_size"] - before["pool_available"]

    responses = await asyncio.gather(*(call("/bench/queries?queries=3") for _ in range(40)))

    assert {r["status"] for r in responses} == {200}
    # psycopg_pool may finish taking a connection back in its own worker: allow it a moment.
    for _ in range(50):
        after = pool.get_stats()
        if after["pool_size"] - after["pool_available"] == in_use_before:
            break
        await asyncio.sleep(0.1)
    assert after["pool_size"] - after["pool_available"] == in_use_before, after
    assert after.get("requests_waiting", 0) == 0


@pytest.fixture
def probe_urls(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.unit.handler_urls"


@pytest.mark.usefixtures("probe_urls")
async def test_requests_in_flight_never_share_a_thread_nor_change_it() -> None:
    responses = await asyncio.gather(*(call("/bench/threads") for _ in range(20)))

    seen = [json.loads(r["body"]) for r in responses]
    assert all(s["before"] == s["after"] for s in seen), "a request changed threads"
    assert len({s["before"] for s in seen}) == 20, "two requests in flight shared a thread"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("probe_urls")
async def test_transactions_in_sync_units_stay_isolated() -> None:
    failing = asyncio.create_task(call("/bench/unit?name=uncommitted&fail=1"))
    await asyncio.sleep(0.1)  # the failing unit holds its insert, uncommitted

    during = json.loads((await call("/bench/count"))["body"])["count"]
    failed = json.loads((await failing)["body"])
    after = json.loads((await call("/bench/count"))["body"])["count"]

    assert during == 0, "another request saw an uncommitted row"
    assert failed == {"rolled_back": True}
    assert after == 0, "the rolled-back row stayed"


@pytest.fixture
def submitted(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """What is submitted to any thread pool (a request's thread included) during the test."""
    calls: list[object] = []
    original = ThreadPoolExecutor.submit

    def counting_submit(self: ThreadPoolExecutor, *args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ThreadPoolExecutor, "submit", counting_submit)
    return calls


async def test_a_request_without_sync_work_starts_no_thread(submitted: list[object]) -> None:
    responses = await asyncio.gather(*(call("/api/hello?delay=0") for _ in range(20)))

    assert {r["status"] for r in responses} == {200}
    assert submitted == []


@pytest.mark.django_db(transaction=True)
async def test_a_request_does_not_inherit_the_context_of_the_one_before() -> None:
    # Under asyncio's loop, uvicorn may start a request's task from a callback that the previous
    # request's task registered, so the new task copies that request's context: with it, an
    # exited ThreadSensitiveContext, on which Django's stock handler (the admin's) raises
    # "ThreadSensitiveContext has exited". Each request must start from a context of its own.
    from asgiref.sync import ThreadSensitiveContext

    go = asyncio.Event()

    async def next_request_on_the_connection() -> dict[str, Any]:
        await go.wait()
        return await call("/admin/login/")

    with ThreadPoolExecutor(max_workers=1) as executor:
        async with ThreadSensitiveContext(executor=executor):
            inherited = asyncio.create_task(next_request_on_the_connection())
        go.set()
        response = await inherited

    assert response["status"] == 200
    assert "csrftoken" in response["headers"].get("set-cookie", "")


def test_a_remembered_url_match_is_a_copy_of_its_own_for_each_request() -> None:
    from django.urls import get_resolver

    from config.handler import resolve_path

    first = resolve_path(get_resolver(), "/api/items/7")
    first.kwargs["item_id"] = "changed by a view middleware"
    second = resolve_path(get_resolver(), "/api/items/7")

    assert second is not first
    assert second.func is first.func
    assert second.kwargs != first.kwargs
    assert second.route == first.route


def test_a_path_that_does_not_resolve_is_a_404_every_time() -> None:
    from django.urls import Resolver404, get_resolver

    from config.handler import resolve_path

    for _ in range(2):
        with pytest.raises(Resolver404):
            resolve_path(get_resolver(), "/no/such/page")


def test_urlconfs_with_a_language_prefix_are_resolved_every_time() -> None:
    from django.conf.urls.i18n import i18n_patterns
    from django.http import HttpRequest, HttpResponse
    from django.urls import URLResolver, path
    from django.urls.resolvers import RegexPattern

    from config.handler import resolve_path

    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    resolver = URLResolver(RegexPattern(r"^/"), i18n_patterns(path("x", view)))
    calls = 0
    original = resolver.resolve

    def counted(path: str) -> Any:
        nonlocal calls
        calls += 1
        return original(path)

    resolver.resolve = counted  # type: ignore[method-assign]
    for _ in range(2):
        resolve_path(resolver, "/en-us/x")
    assert calls == 2


async def test_a_body_in_several_messages_is_read_whole() -> None:
    messages = [
        {"type": "http.request", "body": b'{"name": ', "more_body": True},
        {"type": "http.request", "body": b'"two parts"}', "more_body": False},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    body = await asgi.api_handler.read_body(receive)
    assert body.read() == b'{"name": "two parts"}'


async def test_a_body_beyond_the_memory_limit_is_spooled_as_django_spools_it() -> None:
    big = b"x" * (settings.FILE_UPLOAD_MAX_MEMORY_SIZE + 1)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": big, "more_body": False}

    body = await asgi.api_handler.read_body(receive)
    assert getattr(body, "_rolled")  # noqa: B009 (private to SpooledTemporaryFile); on disk, as Django's own read_body leaves it
    assert body.read() == big


async def test_a_large_response_goes_out_in_chunks_and_a_small_one_in_one_message() -> None:
    from django.http import HttpResponse

    for size, messages_expected in [(10, 1), (200_000, 4)]:
        response = HttpResponse(b"y" * size)
        response.set_cookie("flavour", "oat")
        sent: list[Mapping[str, Any]] = []

        async def send(message: Mapping[str, Any]) -> None:
            sent.append(message)  # noqa: B023 (used within the iteration)

        await asgi.api_handler.send_response(response, send)
        start, *bodies = sent
        assert (b"Set-Cookie", b"flavour=oat; Path=/") in start["headers"]
        assert len(bodies) == messages_expected
        assert b"".join(m["body"] for m in bodies) == b"y" * size
        assert bodies[-1]["more_body"] is False


async def abandoned(path: str) -> list[dict[str, Any]]:
    """A request whose client disconnects while the view runs: what the app sent."""
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b"", "more_body": False},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = http_scope(path, query=b"delay=5")
    await asyncio.wait_for(asgi.application(scope, receive, send), timeout=2)
    return sent


async def test_a_burst_of_abandoned_requests_starts_no_thread(submitted: list[object]) -> None:
    sent = await asyncio.gather(*(abandoned("/api/hello") for _ in range(20)))

    assert sent == [[]] * 20  # each view was cancelled: nothing was answered
    assert submitted == []


async def test_an_abandoned_request_still_sends_request_finished_to_custom_receivers(
    counted_signals: dict[str, int],
) -> None:
    await abandoned("/api/hello")

    assert counted_signals == {"started": 1, "finished": 1}


async def test_a_client_that_leaves_after_its_response_is_no_error() -> None:
    answered = asyncio.Event()
    messages = [{"type": "http.request", "body": b"", "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if not message.get("more_body", True):
            answered.set()

    await asyncio.wait_for(asgi.application(http_scope("/api/hello"), receive, send), timeout=5)
    await asyncio.sleep(0)  # the listener sees the disconnect

    assert sent[0]["status"] == 200
    assert json.loads(sent[-1]["body"]) == {"message": "Hello, World!"}


async def test_a_message_other_than_a_disconnect_during_the_view_is_a_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # What Django's own handler asserts: after the body, only a disconnect may come. The view
    # is cancelled, and the guard (core/asgi.py) answers the error with a 500 problem.
    messages = [{"type": "http.request", "body": b"", "more_body": False}] * 2
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = http_scope("/api/hello", query=b"delay=5")
    await asyncio.wait_for(asgi.application(scope, receive, send), timeout=2)

    assert sent[0]["status"] == 500
    assert "Invalid ASGI message after request body: http.request" in caplog.text
