"""View helpers shared by every domain: allowed methods, query parameters."""

from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponseBase

from core.problems import method_not_allowed

AsyncView = Callable[..., Coroutine[Any, Any, HttpResponseBase]]


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def allow(*methods: str) -> Callable[[AsyncView], AsyncView]:
    """Restrict an async view to `methods` (HEAD comes with GET); others get a 405 problem.

    A view that allows only safe methods is exempt from CSRF checks: it never acts on an unsafe
    request, and this way such a request gets its 405, not a misleading CSRF 403.
    """
    allowed = {m.upper() for m in methods}
    if "GET" in allowed:
        allowed.add("HEAD")
    listed = sorted(allowed)
    read_only = allowed <= SAFE_METHODS

    def decorate(view: AsyncView) -> AsyncView:
        @wraps(view)
        async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method not in allowed:
                return method_not_allowed(request, listed)
            return await view(request, *args, **kwargs)

        if read_only:
            wrapper.csrf_exempt = True  # type: ignore[attr-defined]
        return wrapper

    return decorate
