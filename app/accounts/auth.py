"""Who is asking: an API token (`Authorization: Bearer <token>`) or a logged-in Django session.

Writes need one of the two; reads are public unless `API_PUBLIC_READS` is false. The same rules
serve the API (as django-ninja auth callbacks, which also put both schemes in the OpenAPI schema,
so /api/docs has "Authorize"), the SSE view and the WebSocket handler.

- A token is looked up by its public key id and compared by digest in constant time
  (accounts.tokens); a token that is presented but malformed, unknown or revoked is a 401 even
  where reads are public: a client with a wrong token should hear so, not be served as anonymous.
- A session is read from its cookie with Django's async session and auth APIs, so it works
  under the lean handler (no session or auth middleware) and the stock one alike. Unsafe
  methods with a session need Django's CSRF check, as a form would.
- A token's last use is recorded at most once a minute per token and process: one UPDATE then,
  none on the other requests.
"""

from collections.abc import Awaitable
from http.cookies import SimpleCookie
from importlib import import_module
from time import monotonic
from typing import Any
from urllib.parse import urlsplit

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.contrib.auth import aget_user
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware
from ninja.errors import AuthenticationError
from ninja.security import APIKeyCookie, HttpBearer

from accounts import services, tokens
from accounts.models import ApiToken
from core.http import SAFE_METHODS
from core.problems import ProblemResponse, unauthorized

LAST_USE_EVERY = 60.0  # seconds between two recordings of one token's last use, per process
# Compared against when no row has the key id, so that an unknown token costs what a known one does.
NO_DIGEST = tokens.digest("")


class InvalidToken(AuthenticationError):
    """A bearer token was presented, and it is not a valid one."""

    invalid_token = True  # core.problems answers with `WWW-Authenticate: Bearer error=...`


class CsrfRejected(ProblemResponse):
    """A session-authenticated unsafe request failed Django's CSRF check (the response is
    Django's CSRF failure view's: a 403 problem naming the reason)."""


class Anonymous:
    """A reader of a public endpoint."""


_recorded: dict[int, float] = {}  # token id: monotonic time its last use was written


async def token_lookup(raw: str) -> ApiToken | None:
    """The active token `raw` is, or None."""
    key_id = tokens.key_id_of(raw)
    found = None
    if key_id is not None:
        found = await ApiToken.objects.filter(key_id=key_id, revoked_at__isnull=True).afirst()
    if not tokens.matches(raw, found.digest if found else NO_DIGEST) or found is None:
        return None
    now = monotonic()
    if now - _recorded.get(found.pk, -LAST_USE_EVERY) >= LAST_USE_EVERY:
        _recorded[found.pk] = now
        await services.token_mark_used(token_id=found.pk)
    return found


def bearer_token(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` value; None if it is not one."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token or " " in token.strip():
        return None
    return token.strip()


async def session_user(request: HttpRequest) -> AbstractBaseUser | None:
    """The logged-in, active user of the request's session cookie, or None."""
    key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if not key:
        return None
    if not hasattr(request, "session"):  # the lean handler runs no SessionMiddleware
        engine = import_module(settings.SESSION_ENGINE)
        request.session = engine.SessionStore(key)
    user = await aget_user(request)
    return user if user.is_authenticated else None


def csrf_rejection(request: HttpRequest) -> HttpResponseBase | None:
    """Django's CSRF check of an unsafe request, as CsrfViewMiddleware makes it (no I/O: it
    reads the cookie and headers); the problem response when it fails."""
    middleware = CsrfViewMiddleware(lambda request: HttpResponseBase())
    middleware.process_request(request)
    return middleware.process_view(request, _csrf_checked_view, (), {})


def _csrf_checked_view(request: HttpRequest) -> HttpResponseBase:
    """Stands for the view in the CSRF check, which only asks whether it is csrf_exempt."""
    raise AssertionError("never called")


async def principal(request: HttpRequest) -> ApiToken | AbstractBaseUser | None:
    """The token or user making the request; None if it carries neither. Raises InvalidToken
    for a bad token and CsrfRejected for a session-authenticated unsafe request without a
    valid CSRF token."""
    authorization = request.headers.get("Authorization")
    if authorization is not None:  # a presented credential decides alone
        raw = bearer_token(authorization)
        token = await token_lookup(raw) if raw is not None else None
        if token is None:
            raise InvalidToken()
        return token
    user = await session_user(request)
    if user is not None and request.method not in SAFE_METHODS:
        rejection = csrf_rejection(request)
        if rejection is not None:
            raise CsrfRejected(rejection)
    return user


async def read_refusal(request: HttpRequest) -> HttpResponseBase | None:
    """For views outside the API (the SSE stream): the 401 problem when the request may not
    read, None when it may (anyone while reads are public, else a token or a session)."""
    try:
        who = await principal(request)
    except InvalidToken:
        return unauthorized(invalid_token=True)
    if who is None and not settings.API_PUBLIC_READS:
        return unauthorized()
    return None


# django-ninja callbacks. Ninja tries an operation's callbacks in turn and takes the first truthy
# answer; the classes name the two schemes in the OpenAPI schema. `principal` does the work once.
class BearerToken(HttpBearer):
    openapi_description = "An API token: `make token NAME=...` prints one."

    async def __call__(self, request: HttpRequest) -> Any:
        if "Authorization" not in request.headers:
            return None
        return await principal(request)

    async def authenticate(self, request: HttpRequest, token: str) -> Any:
        return await token_lookup(token)


class SessionCookie(APIKeyCookie):
    param_name = settings.SESSION_COOKIE_NAME
    openapi_description = (
        "A logged-in Django session (log in at /admin/); unsafe methods also need the "
        "CSRF token, as X-CSRFToken."
    )

    async def __call__(self, request: HttpRequest) -> Any:
        if "Authorization" in request.headers:
            return None  # BearerToken decided
        return await principal(request)

    async def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return await session_user(request)


async def public_read(request: HttpRequest) -> Anonymous | None:
    """Last in a read's callbacks: lets anonymous readers in while reads are public."""
    if settings.API_PUBLIC_READS and request.method in SAFE_METHODS:
        return Anonymous()
    return None


WRITE = [BearerToken(), SessionCookie(csrf=False)]  # CSRF: checked by `principal`
READ = [*WRITE, public_read]


async def websocket_reader(scope: dict[str, Any]) -> tuple[bool, str | None]:
    """Whether a WebSocket handshake may read events, and the subprotocol to accept it with.

    Browsers cannot set headers on a WebSocket, so a token travels as the subprotocol list
    `bearer, <token>` (`new WebSocket(url, ["bearer", token])`): the handshake is accepted with
    `bearer`, and the token is never echoed. Not a query parameter: URLs end up in access logs
    and browser history. Clients that can send `Authorization: Bearer` may. A session cookie
    counts only from this site's own pages (the Origin must be the Host or a trusted origin):
    any page may open a WebSocket, and the browser would send the cookie along.

    The handler runs outside Django's request cycle, so the database work runs in a thread of
    its own, whose connection goes back to the pool at the end, as a request's would.
    """
    headers = {
        name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
    }
    offered = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    if offered and offered[0] == "bearer":
        token = offered[1] if len(offered) == 2 else None
        return token is not None and await _in_own_thread(token_lookup(token)) is not None, "bearer"
    if "authorization" in headers:
        raw = bearer_token(headers["authorization"])
        return raw is not None and await _in_own_thread(token_lookup(raw)) is not None, None
    if settings.API_PUBLIC_READS:
        return True, None
    morsel = SimpleCookie(headers.get("cookie", "")).get(settings.SESSION_COOKIE_NAME)
    if morsel is None or not _same_origin(headers):
        return False, None
    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(morsel.value)
    user = await _in_own_thread(aget_user(request))
    return user.is_authenticated, None


async def _in_own_thread[T](work: Awaitable[T]) -> T:
    async with ThreadSensitiveContext():
        try:
            return await work
        finally:
            await sync_to_async(close_old_connections)()


def _same_origin(headers: dict[str, str]) -> bool:
    origin = headers.get("origin")
    if origin is None:
        return False
    return urlsplit(origin).netloc == headers.get("host") or origin in settings.CSRF_TRUSTED_ORIGINS
