"""LeanASGIHandler: Django's ASGI handler for /api/ and /bench/, without needless thread hops.

Under ASGI, Django runs every sync piece of a request in a thread made for that request (asgiref's
ThreadSensitiveContext), and hops to it and back for each: every MiddlewareMixin hook, the
built-in receivers of request_started (reset_queries, close_old_connections) and
response.close() with its request_finished receivers (close_old_connections, close_caches). For an
async view that touches no database this creates a thread per request only to run code that has
nothing to do: measured with `make bench`, 2.5x the throughput on JSON, 3x on 1,000 concurrent
sleeps. This handler

1. loads settings.API_MIDDLEWARE (natively async) instead of settings.MIDDLEWARE;
2. gives each request a thread from a pool instead of a new one, through asgiref's public
   ThreadSensitiveContext(executor=...): the request owns that thread alone while it runs (a
   thread returns to the pool only once its last piece of work has finished), exactly as a
   fresh thread would be owned;
3. remembers what each path resolved to (URL resolution is a walk over every pattern, for
   every request), for paths that resolved and whose URLconf has no language prefix: a match
   depends only on the URLconf and the path, given converters that are pure functions of the
   path segment (Django's contract for `to_python`); each request gets its own copy of the match;
4. reads a body that arrives in one message (every GET) into memory directly, and sends a
   response that is not streamed in one body message; and
5. skips the built-in receivers when they have nothing to do: at the start (a request's thread
   holds no connection when CONN_MAX_AGE is 0: the previous request closed it), and at the end
   when the request ran nothing in its thread (so it opened no connection) and its response
   holds no resource. Otherwise, and whenever any other receiver is connected, it sends the
   signals as Django does, in the request's thread, so custom receivers run once per request.

Everything else is Django's own code path. It was verified on the Django and asgiref versions
below; on others it refuses to start (LEAN_API_HANDLER=false falls back to the stock handler).
"""

import asyncio
import contextvars
import functools
import io
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from typing import Any

import asgiref
import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core import signals
from django.core.cache import close_caches
from django.core.exceptions import ImproperlyConfigured, RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import reset_urlconf
from django.db import close_old_connections, reset_queries
from django.dispatch import Signal
from django.http import HttpRequest, HttpResponseBase
from django.urls import URLResolver, get_resolver, set_script_prefix, set_urlconf
from django.urls.resolvers import LocalePrefixPattern, ResolverMatch

VERIFIED = {"django": "6.1", "asgiref": "3.13"}
BUILTIN_RECEIVERS: dict[Signal, set[Any]] = {
    signals.request_started: {reset_queries, close_old_connections},
    signals.request_finished: {close_old_connections, close_caches, reset_urlconf},
}
IDLE_THREADS = 64  # threads kept for reuse; more are made when needed, and shut down after
RESOLVED_PATHS = 4096  # paths whose match is remembered, the least recently used forgotten first
RESOLVED_PATH_LENGTH = 256  # longer paths are resolved every time (memory stays bounded)


class RequestThread(ThreadPoolExecutor):
    """One thread, lent to one request at a time; remembers whether the request used it."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="request")
        self.used = False

    def submit(self, *args: Any, **kwargs: Any) -> Future[Any]:
        self.used = True
        return super().submit(*args, **kwargs)


class RequestThreads:
    def __init__(self) -> None:
        self.idle: list[RequestThread] = []

    def acquire(self) -> RequestThread:
        thread = self.idle.pop() if self.idle else RequestThread()
        thread.used = False
        return thread

    def release(self, thread: RequestThread) -> None:
        if not thread.used:
            self._keep(thread)
            return
        # Work the request left running (a cancelled sync_to_async call finishes anyway) must
        # be done before another request gets the thread: queue a marker behind it.
        marker = ThreadPoolExecutor.submit(thread, lambda: None)
        loop = asyncio.get_running_loop()
        marker.add_done_callback(lambda _: loop.call_soon_threadsafe(self._keep, thread))

    def _keep(self, thread: RequestThread) -> None:
        if len(self.idle) < IDLE_THREADS:
            self.idle.append(thread)
        else:
            thread.shutdown(wait=False)


_request_thread: contextvars.ContextVar[RequestThread] = contextvars.ContextVar("request_thread")


def _check_versions() -> None:
    found = {"django": django.__version__, "asgiref": asgiref.__version__}
    for name, verified in VERIFIED.items():
        if not (found[name] == verified or found[name].startswith(f"{verified}.")):
            raise ImproperlyConfigured(
                f"config.handler was verified on {name} {verified}.x, not {found[name]}: "
                "re-verify it (make bench, make test) or set LEAN_API_HANDLER=false"
            )


def _only_builtin_receivers(signal: Signal) -> bool:
    builtins = BUILTIN_RECEIVERS[signal]
    for _key, receiver, _sender, _is_async in signal.receivers:
        # Django keeps weak references unless connected with weak=False.
        function = receiver() if isinstance(receiver, weakref.ref) else receiver
        if function not in builtins:
            return False
    return True


def _closes_request(closer: Any) -> bool:
    """The closer Django adds to every response: the request's close()."""
    return getattr(closer, "__name__", "") == "close" and isinstance(
        getattr(closer, "__self__", None), HttpRequest
    )


def _connections_persist() -> bool:
    return any(db.get("CONN_MAX_AGE", 0) != 0 for db in settings.DATABASES.values())


@functools.cache
def _has_language_prefix(resolver: URLResolver) -> bool:
    """Whether a URLconf has i18n_patterns: their match depends on the active language."""
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver) and (
            isinstance(pattern.pattern, LocalePrefixPattern) or _has_language_prefix(pattern)
        ):
            return True
    return False


@functools.lru_cache(maxsize=RESOLVED_PATHS)
def _resolved(resolver: URLResolver, path: str) -> ResolverMatch:
    # A path that does not resolve raises Resolver404, which lru_cache does not keep.
    return resolver.resolve(path)


def _own_copy(match: ResolverMatch) -> ResolverMatch:
    """A match for one request: view middleware and views may change its kwargs."""
    copy = object.__new__(ResolverMatch)
    copy.__dict__.update(match.__dict__)
    for name in ("kwargs", "captured_kwargs", "extra_kwargs"):
        if isinstance(value := copy.__dict__.get(name), dict):
            copy.__dict__[name] = dict(value)
    return copy


def resolve_path(resolver: URLResolver, path: str) -> ResolverMatch:
    if len(path) > RESOLVED_PATH_LENGTH or _has_language_prefix(resolver):
        return resolver.resolve(path)
    return _own_copy(_resolved(resolver, path))


class LeanASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        _check_versions()
        super().__init__()
        self.threads = RequestThreads()
        # Read once: settings do not change while the server runs.
        self.connections_persist = _connections_persist()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        thread = self.threads.acquire()
        token = _request_thread.set(thread)
        try:
            async with ThreadSensitiveContext(executor=thread):
                await self.handle(scope, receive, send)
        finally:
            _request_thread.reset(token)
            self.threads.release(thread)

    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler.load_middleware reads settings.MIDDLEWARE: point it at the API's list for
        # the duration of the call (at start-up, once, before any request).
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_MIDDLEWARE
        try:
            super().load_middleware(is_async=is_async)
        finally:
            settings.MIDDLEWARE = full

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        """BaseHandler.resolve_request, with the match remembered per path (resolve_path)."""
        if hasattr(request, "urlconf"):
            set_urlconf(request.urlconf)
            resolver = get_resolver(request.urlconf)
        else:
            resolver = get_resolver()
        request.resolver_match = resolve_path(resolver, request.path_info)
        return request.resolver_match

    async def read_body(self, receive: Any) -> Any:
        """ASGIHandler.read_body, but a body that comes whole in its first message, as every
        request without a body does, is read into memory without a spooled file, if it is
        within FILE_UPLOAD_MAX_MEMORY_SIZE (the size at which Django's file would go to disk)."""
        message = await receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            body = message.get("body", b"")
            if len(body) <= settings.FILE_UPLOAD_MAX_MEMORY_SIZE:
                return io.BytesIO(body)
        return await super().read_body(_replay(message, receive))

    async def send_response(self, response: HttpResponseBase, send: Any) -> None:
        """ASGIHandler.send_response; a response that is not streamed and fits in one chunk
        goes out as one body message, as Django's chunking would send it."""
        if response.streaming:
            await super().send_response(response, send)
            return
        content = response.content  # type: ignore[attr-defined]
        if len(content) > self.chunk_size:
            await super().send_response(response, send)
            return
        headers = [
            (
                header.encode("ascii") if isinstance(header, str) else bytes(header),
                value.encode("latin1") if isinstance(value, str) else bytes(value),
            )
            for header, value in response.items()
        ]
        for cookie in response.cookies.values():
            headers.append((b"Set-Cookie", cookie.OutputString().encode("ascii")))
        await send(
            {"type": "http.response.start", "status": response.status_code, "headers": headers}
        )
        await send({"type": "http.response.body", "body": content, "more_body": False})

    async def request_started(self, scope: dict[str, Any]) -> None:
        if (
            _only_builtin_receivers(signals.request_started)
            and not settings.DEBUG  # reset_queries matters only with DEBUG
            and not self.connections_persist
        ):
            return
        await signals.request_started.asend(sender=self.__class__, scope=scope)

    async def close_response(self, response: HttpResponseBase) -> None:
        closers = getattr(response, "_resource_closers", [])
        if (
            _only_builtin_receivers(signals.request_finished)
            and not _request_thread.get().used
            and all(_closes_request(closer) for closer in closers)
        ):
            # Nothing ran in the request's thread, so it opened no database or cache
            # connection: of the built-in receivers only reset_urlconf has work. The one
            # resource is the request's in-memory body, which Django also closes on the loop.
            for closer in closers:
                closer()
            closers.clear()
            reset_urlconf(sender=self.__class__)
            response.closed = True
            return
        await sync_to_async(response.close)()

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Django 6.1's ASGIHandler.handle, with request_started, response.close() and the
        request_finished of an aborted request through the methods above."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return

        with closing(body_file):
            set_script_prefix(get_script_prefix(scope))
            await self.request_started(scope)
            request, error_response = self.create_request(scope, body_file)
            if request is None:
                assert error_response is not None
                body_file.close()
                await self.send_response(error_response, send)
                await sync_to_async(error_response.close)()
                return

            response = await self.respond(request, receive, send)
            if response is None:
                await self.request_aborted()
            else:
                await self.close_response(response)

    async def respond(self, request: HttpRequest, receive: Any, send: Any) -> Any:
        """The view's response, sent; None if the client left first (its view cancelled).

        Django's handle runs this in a TaskGroup with a task listening for the disconnect, and
        ends the group by raising RequestProcessed: an exception group for every request.
        Here the listener cancels this task itself when the client leaves while the view runs
        or the response is being sent: the same, without a group or an exception per request.
        """
        task = asyncio.current_task()
        assert task is not None
        sent = False

        def client_left(listener: asyncio.Task[None]) -> None:
            if not sent and not listener.cancelled() and listener.exception() is not None:
                task.cancel()

        listener = asyncio.create_task(self.listen_for_disconnect(receive))
        listener.add_done_callback(client_left)
        try:
            response = await self.run_get_response(request)
            await self.send_response(response, send)
            sent = True
            return response
        except asyncio.CancelledError:
            error = None if listener.cancelled() or not listener.done() else listener.exception()
            # Cancelled by the listener alone (not also by the server): the client left, or
            # sent something else than a disconnect (Django's assertion), which is raised.
            if error is None or task.uncancel() > 0:
                raise
            if isinstance(error, RequestAborted):
                return None
            raise error from None
        finally:
            if not listener.cancel() and not listener.cancelled():
                listener.exception()  # retrieved: a disconnect after the response is no error

    async def request_aborted(self) -> None:
        """The client left before the response was sent: request_finished, as Django sends it,
        unless nothing ran in the request's thread (as in close_response). A burst of
        disconnects (a proxy giving up on thousands of waiting requests) then makes no thread
        per request only to run receivers that have nothing to do."""
        if _only_builtin_receivers(signals.request_finished) and not _request_thread.get().used:
            reset_urlconf(sender=self.__class__)
            return
        await signals.request_finished.asend(sender=self.__class__)


def _replay(first: dict[str, Any], receive: Any) -> Any:
    """A receive that answers `first` once, then what `receive` answers."""
    pending = [first]

    async def replayed() -> dict[str, Any]:
        return pending.pop() if pending else await receive()

    return replayed
