"""The soak driver (make soak): a steady, bounded, mixed load through nginx, and the app's memory
and PostgreSQL connections sampled meanwhile. Run in the e2e container by tests/soak/run:

    python -m tests.soak.soak

Open loop: requests start at fixed intervals (SOAK_RATE per second), whether or not earlier
ones have finished, so a slow app shows as latency and errors rather than as a slower load.
Meanwhile SSE_SUBSCRIBERS (3) clients each connect to /api/events, read for a few seconds and leave,
again and again; every item the driver writes while a session is subscribed must reach it.
Writes tests/soak/results/<server>-<stamp>.json, merges the run into latest.json and renders
latest.md; exits 1 if a criterion failed (verdict.py).
"""

import asyncio
import contextlib
import json
import os
import random
import socket
import struct
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import AUTHORIZATION
from tests.e2e.docker import SOCKET, Stack
from tests.soak import verdict

BASE_URL = os.environ.get("E2E_BASE_URL", "http://nginx:8080")
SERVER = os.environ["E2E_ASGI_SERVER"]
DURATION = float(os.environ.get("SOAK_DURATION", "300"))
RATE = float(os.environ.get("SOAK_RATE", "25"))
REVISION = os.environ.get("SOAK_REVISION", "unknown")

RESULTS = Path("tests/soak/results")
SEED = "soak"  # the same mix of operations every run
SSE_SUBSCRIBERS = 3  # at a time; each comes and goes
REQUEST_TIMEOUT = httpx.Timeout(10)
OPERATION_DEADLINE = 30.0  # seconds, a whole operation (an export's body included)
SAMPLE_EVERY = 5.0  # seconds between memory and connection samples
MAX_IN_FLIGHT = 200  # an app this far behind has failed the soak: stop piling on
SSE_HOLD = (3.0, 12.0)  # seconds a subscriber stays, drawn uniformly
SSE_PAUSE = (0.2, 2.0)  # seconds between a subscriber's sessions
SSE_MARGIN = 2.0  # seconds an event may take to arrive after its write was answered
# Operation: weight in the mix (percent of the requests). Creates and deletes balance once the
# driver has ITEMS items, so that the table, pages and exports stay the same size: memory that
# grows then is the app's, not the data's.
MIX = {
    "list": 30,
    "get": 20,
    "create": 15,
    "update": 10,
    "delete": 15,
    "info": 8,
    "export": 2,
}
ITEMS = 200
# The app's own connections come over the network; psql here and pg_isready use the socket.
PG_QUERY = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND backend_type = 'client backend' AND client_addr IS NOT NULL"
)
JSON = "application/json"


class Failed(Exception):
    """A response that is not what a user of the API may expect."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(kind)
        self.kind = kind
        self.detail = detail


class Docker:
    """The few Engine API calls the soak needs, async, over the socket."""

    def __init__(self) -> None:
        self.api = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=SOCKET), base_url="http://docker", timeout=30
        )

    async def memory(self, container: str) -> int:
        """Bytes in use as `docker stats` shows them: usage less the inactive page cache."""
        response = await self.api.get(
            f"/containers/{container}/stats", params={"stream": "false", "one-shot": "true"}
        )
        memory = response.raise_for_status().json()["memory_stats"]
        stats = memory.get("stats", {})
        cache = stats.get("inactive_file", stats.get("total_inactive_file", 0))  # cgroup v2, v1
        usage: int = memory["usage"]
        return usage - cache if cache < usage else usage

    async def exec(self, container: str, *command: str) -> str:
        created = await self.api.post(
            f"/containers/{container}/exec",
            json={"Cmd": list(command), "AttachStdout": True, "AttachStderr": True},
        )
        exec_id = created.raise_for_status().json()["Id"]
        raw = (await self.api.post(f"/exec/{exec_id}/start", json={"Detach": False})).content
        result = (await self.api.get(f"/exec/{exec_id}/json")).raise_for_status().json()
        output = _demultiplex(raw)
        if result["ExitCode"] != 0:
            raise RuntimeError(f"{command} exited {result['ExitCode']}: {output!r}")
        return output

    async def pg_connections(self, container: str) -> int:
        command = 'psql -U "$POSTGRES_USER" -d "$POSTGRES_DB" -Atc "$0"'
        return int(await self.exec(container, "sh", "-c", command, PG_QUERY))


def _demultiplex(raw: bytes) -> str:
    """The frames of a non-TTY exec stream: 8-byte headers (stream, 0, 0, 0, size), payloads."""
    out, offset = [], 0
    while offset + 8 <= len(raw):
        (size,) = struct.unpack(">I", raw[offset + 4 : offset + 8])
        out.append(raw[offset + 8 : offset + 8 + size])
        offset += 8 + size
    return b"".join(out).decode().strip()


class Soak:
    def __init__(self, client: httpx.AsyncClient, rng: random.Random) -> None:
        self.client = client
        self.rng = rng
        self.loop = asyncio.get_running_loop()
        self.started = self.loop.time()
        self.requests: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.examples: list[str] = []
        self.latencies: dict[str, list[float]] = {op: [] for op in MIX}
        self.live: list[int] = []  # the driver's items, not being deleted
        self.busy: Counter[int] = Counter()  # items with a get or update in flight
        self.next_page: str | None = None
        self.created = 0
        # Answered writes: (sent at, answered at, event type, item id), for the SSE check.
        self.writes: list[tuple[float, float, str, int]] = []
        self.sse_sessions = 0
        self.sse_events = 0
        self.sse_checked = 0
        self.memory: list[tuple[float, int]] = []
        self.pg: list[tuple[float, int]] = []
        self.late = 0.0  # the most the scheduler fell behind its own timetable, seconds

    def now(self) -> float:
        return self.loop.time() - self.started

    def error(self, kind: str, detail: str = "") -> None:
        self.errors[kind] += 1
        if len(self.examples) < 20:
            self.examples.append(f"{self.now():.1f}s {kind}: {detail}"[:500])

    # The load.

    async def load(self, duration: float) -> None:
        interval = 1 / RATE
        ops, weights = list(MIX), list(MIX.values())
        tasks: set[asyncio.Task[None]] = set()
        tick = 0
        while (at := tick * interval) < duration:
            tick += 1
            if (delay := at - self.now()) > 0:
                await asyncio.sleep(delay)
            self.late = max(self.late, -delay)
            if len(tasks) >= MAX_IN_FLIGHT:
                self.error("driver: too many requests in flight", f"{len(tasks)}")
                continue
            task = asyncio.create_task(self.operation(self.rng.choices(ops, weights)[0]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks)

    async def operation(self, op: str) -> None:
        # Nothing of ours to read or change yet. Delete only an item nothing else is reading or
        # changing: their 404s would be right, not errors.
        if op in ("get", "update") and not self.live:
            op = "create"
        if op == "delete" and (
            len(self.live) < ITEMS or all(self.busy[item_id] for item_id in self.live)
        ):
            op = "create"
        actions: dict[str, Callable[[], Awaitable[None]]] = {
            "list": self.item_list,
            "get": self.item_get,
            "create": self.item_create,
            "update": self.item_update,
            "delete": self.item_delete,
            "info": self.info,
            "export": self.export,
        }
        self.requests[op] += 1
        sent = self.now()
        try:
            async with asyncio.timeout(OPERATION_DEADLINE):
                await actions[op]()
        except Failed as exc:
            self.error(f"{op}: {exc.kind}", exc.detail)
        except TimeoutError:
            self.error(f"{op}: no answer within {OPERATION_DEADLINE:g} s")
        except httpx.HTTPError as exc:
            self.error(f"{op}: {type(exc).__name__}", str(exc))
        else:
            self.latencies[op].append((self.now() - sent) * 1000)

    async def call(
        self, method: str, url: str, status: int, *, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        response = await self.client.request(method, url, json=body)
        if response.status_code != status:
            raise Failed(f"HTTP {response.status_code}", f"{method} {url}: {response.text}")
        media_type = response.headers.get("content-type", "").partition(";")[0]
        if status != 204 and media_type != JSON:
            raise Failed(f"content type {response.headers.get('content-type')}")
        return response

    async def item_list(self) -> None:
        # Half the time the next page of the previous listing (cursor paging), else the first.
        url = self.next_page if self.next_page and self.rng.random() < 0.5 else "/api/items"
        page = (await self.call("GET", url, 200)).json()
        if not isinstance(page.get("items"), list) or "next" not in page:
            raise Failed("not an item page")
        self.next_page = page["next"]

    async def item_get(self) -> None:
        item_id = self.rng.choice(self.live)
        self.busy[item_id] += 1
        try:
            item = (await self.call("GET", f"/api/items/{item_id}", 200)).json()
        finally:
            self.busy[item_id] -= 1
        if item.get("id") != item_id:
            raise Failed("another item")

    async def item_create(self) -> None:
        self.created += 1
        body = {"name": f"soak {self.created}", "description": "x" * self.rng.randrange(500)}
        sent = self.now()
        response = await self.call("POST", "/api/items", 201, body=body)
        item = response.json()
        if item.get("name") != body["name"] or response.headers.get("location") is None:
            raise Failed("not the item sent")
        self.writes.append((sent, self.now(), "item.created", item["id"]))
        self.live.append(item["id"])

    async def item_update(self) -> None:
        item_id = self.rng.choice(self.live)
        self.busy[item_id] += 1
        sent = self.now()
        description = f"updated at {sent:.3f}"
        try:
            response = await self.call(
                "PATCH", f"/api/items/{item_id}", 200, body={"description": description}
            )
        finally:
            self.busy[item_id] -= 1
        if response.json().get("description") != description:
            raise Failed("update not applied")
        self.writes.append((sent, self.now(), "item.updated", item_id))

    async def item_delete(self) -> None:
        idle = [item_id for item_id in self.live if not self.busy[item_id]]
        item_id = self.rng.choice(idle)
        self.live.remove(item_id)
        sent = self.now()
        await self.call("DELETE", f"/api/items/{item_id}", 204)
        self.writes.append((sent, self.now(), "item.deleted", item_id))

    async def info(self) -> None:
        info = (await self.call("GET", "/api/info", 200)).json()
        if info.get("asgi_server") != SERVER:
            raise Failed(f"served by {info.get('asgi_server')}")

    async def export(self) -> None:
        async with self.client.stream("GET", "/api/items/export") as response:
            if response.status_code != 200:
                raise Failed(f"HTTP {response.status_code}")
            if response.headers.get("content-type") != "application/x-ndjson":
                raise Failed(f"content type {response.headers.get('content-type')}")
            async for line in response.aiter_lines():
                if line and "id" not in json.loads(line):
                    raise Failed("not an item line")

    # SSE subscribers.

    async def subscriber(self, until: float) -> None:
        while (left := until - self.now()) > SSE_HOLD[0]:
            await self.session(hold=min(self.rng.uniform(*SSE_HOLD), left))
            await asyncio.sleep(self.rng.uniform(*SSE_PAUSE))

    async def session(self, *, hold: float) -> None:
        self.sse_sessions += 1
        timeout = httpx.Timeout(10, read=hold + 20)
        try:
            async with (
                asyncio.timeout(hold + OPERATION_DEADLINE),
                httpx.AsyncClient(base_url=BASE_URL, timeout=timeout) as client,
                client.stream("GET", "/api/events") as response,
            ):
                if response.status_code != 200:
                    raise Failed(f"HTTP {response.status_code}")
                if response.headers.get("content-type") != "text/event-stream":
                    raise Failed(f"content type {response.headers.get('content-type')}")
                seen = await self.read_events(response, hold)
        except Failed as exc:
            self.error(f"sse: {exc.kind}", exc.detail)
        except TimeoutError:
            self.error("sse: stalled")
        except httpx.HTTPError as exc:
            self.error(f"sse: {type(exc).__name__}", str(exc))
        else:
            subscribed, left, events = seen
            self.sse_events += len(events)
            # Every write sent after the greeting and answered well before leaving must be there.
            expected = {
                (kind, item_id)
                for sent, answered, kind, item_id in self.writes
                if sent > subscribed and answered < left - SSE_MARGIN
            }
            self.sse_checked += len(expected)
            for kind, item_id in expected - events:
                self.error("sse: a write's event did not arrive", f"{kind} {item_id}")

    async def read_events(
        self, response: httpx.Response, hold: float
    ) -> tuple[float, float, set[tuple[str, int]]]:
        """Read until `hold` seconds after the greeting: when it came, when reading stopped,
        the events' (type, item id)."""
        lines = response.aiter_lines()
        subscribed = None
        async for line in lines:
            if line.startswith(": subscribed on "):
                subscribed = self.now()
                break
        if subscribed is None:
            raise Failed("no greeting")
        events: set[tuple[str, int]] = set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(hold):
                async for line in lines:
                    if line.startswith(": dropped"):
                        raise Failed("dropped for falling behind")
                    if line.startswith("data: "):
                        event = json.loads(line.removeprefix("data: "))
                        events.add((event["type"], event["item"]["id"]))
        return subscribed, self.now(), events

    # Sampling.

    async def monitor(self, docker: Docker, app: str, db: str, until: float) -> None:
        tick = 0
        while (at := tick * SAMPLE_EVERY) <= until:
            tick += 1
            await asyncio.sleep(max(0.0, at - self.now()))
            try:
                memory, pg = await asyncio.gather(docker.memory(app), docker.pg_connections(db))
            except (httpx.HTTPError, RuntimeError, ValueError) as exc:
                self.error("monitor: sample failed", repr(exc))
                continue
            self.memory.append((self.now(), memory))
            self.pg.append((self.now(), pg))
            if tick % 6 == 1:
                print(
                    f"  {self.now():5.0f}s  requests {sum(self.requests.values()):6}"
                    f"  errors {sum(self.errors.values())}  SSE sessions {self.sse_sessions}"
                    f"  memory {memory / verdict.MB:.1f} MB  pg connections {pg}",
                    file=sys.stderr,
                )


def app_settings(stack: Stack, container: str) -> tuple[int, int]:
    """The pool's max size and the number of app processes, from the container's environment."""
    env = stack.api.get(f"/containers/{container}/json").raise_for_status().json()["Config"]
    values = dict(item.partition("=")[::2] for item in env["Env"])
    pool_max = int(values.get("DB_POOL_MAX_SIZE", "10"))
    # serve: daphne runs one process whatever WEB_CONCURRENCY says.
    processes = int(values.get("WEB_CONCURRENCY", "1")) if SERVER == "uvicorn" else 1
    return pool_max, processes


async def soak() -> dict[str, Any]:
    with Stack.of_this_container() as stack:
        app, db = stack.container("app")["Id"], stack.container("db")["Id"]
        pool_max, processes = app_settings(stack, app)
    docker = Docker()
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=20)
    async with (
        docker.api,
        httpx.AsyncClient(
            base_url=BASE_URL, timeout=REQUEST_TIMEOUT, limits=limits, headers=AUTHORIZATION
        ) as client,
    ):
        run = Soak(client, random.Random(SEED))
        print(
            f"soak: {DURATION:g} s at {RATE:g} req/s through {BASE_URL} ({SERVER}),"
            f" {SSE_SUBSCRIBERS} SSE subscribers",
            file=sys.stderr,
        )
        await asyncio.gather(
            run.load(DURATION),
            run.monitor(docker, app, db, DURATION),
            *(run.subscriber(DURATION) for _ in range(SSE_SUBSCRIBERS)),
        )
    elapsed = run.now()
    every = [ms for values in run.latencies.values() for ms in values]
    pg_max = max((count for _, count in run.pg), default=0)
    figures: dict[str, Any] = {
        "server": SERVER,
        "finished_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "revision": REVISION,
        "host": socket.gethostname(),
        "duration_s": DURATION,
        "elapsed_s": elapsed,  # the load's duration and the last answers' drain
        "rate": RATE,
        "scheduler_late_max_s": run.late,
        "requests_total": sum(run.requests.values()),
        "requests": dict(run.requests),
        "items_at_end": len(run.live),
        "errors_total": sum(run.errors.values()),
        "errors": dict(run.errors),
        "error_examples": run.examples,
        "latency_ms": {
            "p50": verdict.percentile(every, 50),
            "p99": verdict.percentile(every, 99),
            "max": max(every, default=0.0),
            **{
                f"{op}_p50_p99": [verdict.percentile(v, 50), verdict.percentile(v, 99)]
                for op, v in run.latencies.items()
            },
        },
        "sse": {
            "subscribers": SSE_SUBSCRIBERS,
            "sessions": run.sse_sessions,
            "events": run.sse_events,
            "checked_writes": run.sse_checked,
        },
        "memory": verdict.memory_figures(run.memory, duration=DURATION),
        "pg_connections": {
            "samples": len(run.pg),
            "max": pg_max,
            "limit": verdict.connection_limit(pool_max_size=pool_max, processes=processes),
            "pool_max_size": pool_max,
            "processes": processes,
        },
        "memory_samples_mb": [[round(t, 1), round(v / verdict.MB, 2)] for t, v in run.memory],
        "pg_samples": [[round(t, 1), n] for t, n in run.pg],
    }
    passed = verdict.criteria(figures)
    figures["criteria"] = passed
    figures["failed"] = [name for name, ok in passed.items() if not ok]
    figures["passed"] = not figures["failed"]
    return figures


def write(figures: dict[str, Any]) -> str:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    (RESULTS / f"{figures['server']}-{stamp}.json").write_text(json.dumps(figures, indent=2))
    latest = RESULTS / "latest.json"
    runs = json.loads(latest.read_text()) if latest.exists() else {}
    runs[figures["server"]] = figures
    latest.write_text(json.dumps(runs, indent=2) + "\n")
    table = verdict.markdown(runs)
    (RESULTS / "latest.md").write_text(
        "# Soak (make soak): the latest run under each ASGI server\n\n" + table
    )
    return table


def main() -> int:
    figures = asyncio.run(soak())
    table = write(figures)
    print(table)
    for example in figures["error_examples"]:
        print(f"  error: {example}", file=sys.stderr)
    for name, ok in figures["criteria"].items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
