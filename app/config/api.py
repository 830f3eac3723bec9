"""The API at /api/: routers from each domain, errors as problems (core.problems)."""

from ninja import NinjaAPI

import config
from core import problems
from core.api import JsonParser, ProblemNinjaAPI
from core.api import router as system_router
from items.api import router as items_router

# /api/events and /ws/events are streams, outside the OpenAPI operations (a schema-driven client
# would wait on them for ever): their contract is described here, and in docs/events.md.
EVENTS_DESCRIPTION = """\
Async Django behind nginx. Every error is application/problem+json (RFC 9457).

## Events: `GET /api/events` (Server-Sent Events) and `WS /ws/events`

Every change to the items is an event: `item.created`, `item.updated`, `item.deleted` (with the
whole item, as `GET /api/items/{id}` shows it) or `items.truncated`.

- **Ids** are strictly increasing in commit order and contiguous (1, 2, 3, ...): a client that
  has 41 and receives 43 missed 42, and resuming after an id can never skip an event.
- **Resume**: SSE `Last-Event-ID: <id>` (a browser's EventSource sends it by itself when it
  reconnects) or `?since=<id>` (the header wins); WebSocket `?since=<id>`. Every event after
  it comes once, in order, then the live ones. The first SSE frame has an `id:` line with the
  position (the head for a new subscriber); the first WebSocket message is
  `{"type": "subscribed", "id": <position>}`. A bad `since` is a 400 problem (WebSocket: close
  1008).
- **Reset**: when it cannot resume there, the client gets `event: reset` (WebSocket: a message
  with `"type": "reset"`) with the head's `id` and a `reason`, and continues after the head; it
  should reload its data. Reasons: `behind` (more than EVENTS_REPLAY_MAX, 10,000, to replay),
  `pruned` (older than EVENTS_RETENTION, 24 h), `ahead` (newer than the newest event: a restored
  database), `restored`, `invalid` (a Last-Event-ID that is not an id).
- **Unavailable**: SSE still answers 200 `text/event-stream` with `retry:` and ends, so browsers
  retry; the WebSocket closes with 1013 (try again later), or 1012 when the server restarts.
"""

api: NinjaAPI = ProblemNinjaAPI(
    title="Async Django stack",
    version=config.__version__,
    description=EVENTS_DESCRIPTION,
    parser=JsonParser(),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)
problems.install(api)
api.add_router("/", system_router)
api.add_router("/", items_router)
