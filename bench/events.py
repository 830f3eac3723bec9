"""make bench-events: what the event stream costs and carries, on the bench stack's layout (the
app on core 0, one uvicorn worker; nginx and this load client on core 1).

    python bench/events.py OUT_JSON [--quick]

For each transport (SSE, WebSocket) and each number of subscribers N, on a freshly started
app: N subscribers connect through nginx, the app's memory is read once they are idle (memory
per idle subscriber: (anonymous memory at N - at 0) / N), then for each event rate the events
are written straight into the database (so that the app's CPU is the stream's alone) and every
subscriber's deliveries are timed from the commit (the event's `at`, set by the trigger just
before it) to their arrival here. Then a reconnect storm (nginx reloaded under N subscribers:
its old workers drop every stream at once when worker_shutdown_timeout ends; each reconnects
with its last id, as a browser does, after the `retry` it was sent), and the write rate of
POST /api/items with the event recording on and off (wrk), and of plain INSERTs (to see the
database's share).

The clients are minimal on purpose (asyncio protocols; SSE over HTTP/1.0, whose body is not
chunked; WebSocket frames parsed by hand), so that one core can hold 10,000 of them; a cell
whose client used more than CLIENT_CPU_BOUND of its core is marked `discarded`: its latencies
would be the client's queue, not the stream's. Every subscriber checks its ids: each must be
the previous one plus one (a gap is a lost event, a repeat a duplicate), and at the end of a
cell each must have reached the last id written.
"""

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import psycopg

sys.path.insert(0, "/src")  # tests.e2e.docker: the stack's containers, through the engine
from tests.e2e.docker import Stack

NGINX = ("nginx", 8080)
SUBSCRIBERS = [100, 1_000, 5_000, 10_000]
RATES = [1, 10, 100]
MAX_DELIVERIES_PER_SECOND = 100_000  # cells beyond it are skipped
CLIENT_CPU_BOUND = 0.9  # share of a core past which the client, not the stream, is measured
CONNECT_AT_ONCE = 200  # connections opened concurrently while subscribing
STORM_SUBSCRIBERS = 10_000
STORM_RATE = 10
STATS_FLUSH_S = 11.0  # PostgreSQL's backends report their counts when idle, within 10 s
WRITERS = [1, 4, 16]
WRITE_SECONDS = 5

PASSWORD = Path(
    os.environ.get("POSTGRES_PASSWORD_FILE", "/run/secrets/postgres_password")
).read_text()
INSERT = (
    "INSERT INTO items_item (name, description, created_at, updated_at, request_digest)"
    " VALUES (%s, '', now(), now(), '')"
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# What the subscribers saw ---------------------------------------------------------------------


@dataclass
class Tally:
    """Shared by every subscriber of a run: deliveries and their latencies in the window."""

    measuring: bool = False
    deliveries: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    committed_at: dict[int, float] = field(default_factory=dict)  # event id -> its `at`

    def delivered(self, event_id: int, data: bytes, now: float) -> None:
        at = self.committed_at.get(event_id)
        if at is None:
            at = self.committed_at[event_id] = event_time(data)
        if self.measuring:
            self.deliveries += 1
            self.latencies_ms.append((now - at) * 1000)


AT = re.compile(rb'"at": "([^"]+)"')


def event_time(data: bytes) -> float:
    """The event's `at` (UTC, milliseconds, Z) as a Unix time."""
    found = AT.search(data)
    if found is None:
        raise ValueError(f"an event without `at`: {data[:200]!r}")
    return datetime.fromisoformat(found.group(1).decode()).timestamp()


class Subscriber(asyncio.Protocol):
    """One connection's ids: contiguous or not, its last one, and how it ended."""

    def __init__(self, tally: Tally, since: int | None) -> None:
        self.tally = tally
        self.last: int | None = since
        self.gaps = 0  # events skipped
        self.duplicates = 0
        self.resets = 0
        self.subscribed = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        self.retry = 3.0
        self.transport: asyncio.Transport | None = None
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.transport.write(self.request())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.subscribed.done():
            self.subscribed.set_exception(ConnectionError(f"closed before subscribing: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def request(self) -> bytes:
        raise NotImplementedError

    def position(self, event_id: int) -> None:
        self.last = event_id
        if not self.subscribed.done():
            self.subscribed.set_result(None)

    def event(self, event_id: int, data: bytes, now: float) -> None:
        if self.last is not None:
            if event_id <= self.last:
                self.duplicates += 1
                return
            self.gaps += event_id - self.last - 1
        self.last = event_id
        self.tally.delivered(event_id, data, now)


class SseSubscriber(Subscriber):
    def request(self) -> bytes:
        resume = f"Last-Event-ID: {self.last}\r\n" if self.last is not None else ""
        # HTTP/1.0: nginx sends the body as it comes, without chunked framing, and closes at
        # its end; the stream is the same.
        return (
            f"GET /api/events HTTP/1.0\r\nHost: nginx\r\nAccept: text/event-stream\r\n{resume}\r\n"
        ).encode()

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self.buffer + data
        if not self.subscribed.done() and b"\r\n\r\n" in buffer and buffer[:12] != b"HTTP/1.1 200":
            self.subscribed.set_exception(ConnectionError(buffer[:200].decode(errors="replace")))
            assert self.transport is not None
            self.transport.close()
            return
        *frames, self.buffer = buffer.split(b"\n\n")
        for frame in frames:
            if frame.startswith(b"HTTP/"):
                frame = frame.split(b"\r\n\r\n", 1)[-1]
            if frame.startswith(b"retry: "):  # the greeting (the position follows on its own)
                self.retry = int(frame[7:].split(b"\n", 1)[0]) / 1000
                continue
            if b"id: " not in frame:
                continue  # heartbeats and comments
            event_id = int(frame.split(b"id: ", 1)[1].split(b"\n", 1)[0])
            if b"event: reset" in frame:
                self.resets += 1
                self.position(event_id)
            elif b"\ndata: " in frame:
                self.event(event_id, frame, now)
            else:
                self.position(event_id)


class WsSubscriber(Subscriber):
    """RFC 6455, client side, as little as the stream needs: text frames in, pongs out."""

    def __init__(self, tally: Tally, since: int | None) -> None:
        super().__init__(tally, since)
        self.upgraded = False

    def request(self) -> bytes:
        key = base64.b64encode(os.urandom(16)).decode()
        query = f"?since={self.last}" if self.last is not None else ""
        return (
            f"GET /ws/events{query} HTTP/1.1\r\nHost: nginx\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self.buffer + data
        if not self.upgraded:
            head, separator, buffer = buffer.partition(b"\r\n\r\n")
            if not separator:
                self.buffer = head
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self.subscribed.set_exception(ConnectionError(head[:200].decode(errors="replace")))
                assert self.transport is not None
                self.transport.close()
                return
            self.upgraded = True
        while len(buffer) >= 2:
            opcode, length = buffer[0] & 0x0F, buffer[1] & 0x7F
            start = 2
            if length == 126:
                length, start = int.from_bytes(buffer[2:4]), 4
            elif length == 127:
                length, start = int.from_bytes(buffer[2:10]), 10
            if len(buffer) < start + length:
                break
            payload, buffer = buffer[start : start + length], buffer[start + length :]
            self.frame(opcode, payload, now)
        self.buffer = buffer

    def frame(self, opcode: int, payload: bytes, now: float) -> None:
        if opcode == 0x1:
            event_id = int(payload.split(b'"id": ', 1)[1].split(b",", 1)[0].split(b"}", 1)[0])
            if payload.startswith(b'{"type": "subscribed"'):
                self.position(event_id)
            elif payload.startswith(b'{"type": "reset"'):
                self.resets += 1
                self.position(event_id)
            else:
                self.event(event_id, payload, now)
        elif opcode == 0x9:  # ping: the servers close a connection that does not answer
            self.send(0xA, payload)
        elif opcode == 0x8:
            assert self.transport is not None
            self.send(0x8, payload[:2])
            self.transport.close()

    def send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        assert self.transport is not None
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)


KINDS: dict[str, type[Subscriber]] = {"sse": SseSubscriber, "ws": WsSubscriber}


async def subscribe(kind: str, tally: Tally, since: int | None = None) -> Subscriber:
    loop = asyncio.get_running_loop()
    _, subscriber = await loop.create_connection(lambda: KINDS[kind](tally, since), *NGINX)
    await asyncio.wait_for(subscriber.subscribed, 30)
    return subscriber


async def subscribe_many(kind: str, tally: Tally, count: int) -> list[Subscriber]:
    subscribers: list[Subscriber] = []
    try:
        for start in range(0, count, CONNECT_AT_ONCE):
            batch = min(CONNECT_AT_ONCE, count - start)
            subscribers += await asyncio.gather(*(subscribe(kind, tally) for _ in range(batch)))
    except BaseException:
        close_all(subscribers)  # none is left open to weigh on what is measured next
        raise
    return subscribers


def close_all(subscribers: list[Subscriber]) -> None:
    for subscriber in subscribers:
        if subscriber.transport is not None:
            subscriber.transport.abort()


# The stack ------------------------------------------------------------------------------------


def database_password() -> str:
    return Path(os.environ["POSTGRES_PASSWORD_FILE"]).read_text().strip()


class Database:
    """Straight to PostgreSQL: writing events, reading the head and the transaction count."""

    def __init__(self, connection: psycopg.AsyncConnection[Any]) -> None:
        self.connection = connection
        self.commit_ms: list[float] = []  # how long each event write took to commit

    @classmethod
    async def connect(cls) -> "Database":
        password = database_password()
        connection = await psycopg.AsyncConnection.connect(
            host="db", dbname="app", user="app", password=password, autocommit=True
        )
        # The events' own writes do not wait for the disk: the WAL flush (from a millisecond
        # to seconds on a shared machine) would otherwise count as the stream's latency, since
        # an event's `at` is taken just before its commit. NOTIFY still goes out at the commit.
        await connection.execute("SET synchronous_commit = off")
        return cls(connection)

    async def value(self, query: str) -> int:
        cursor = await self.connection.execute(query)
        row = await cursor.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    async def head(self) -> int:
        return await self.value("SELECT coalesce(max(last_id), 0) FROM events_head")

    async def transactions(self) -> int:
        return await self.value(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )

    async def write(self, rate: float, seconds: float) -> int:
        """One INSERT every 1/rate s for `seconds`, on schedule; how many were written."""
        count, started = int(rate * seconds), time.monotonic()
        for n in range(count):
            delay = started + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            started_write = time.monotonic()
            await self.connection.execute(INSERT, [f"bench {n}"])
            self.commit_ms.append((time.monotonic() - started_write) * 1000)
        return count


CGROUP = """
if [ -f /sys/fs/cgroup/cpu.stat ]; then
  cat /sys/fs/cgroup/cpu.stat /sys/fs/cgroup/memory.stat
else
  echo usage_nsec "$(cat /sys/fs/cgroup/cpuacct/cpuacct.usage)"
  cat /sys/fs/cgroup/memory/memory.stat
fi
"""


def app_cgroup(stack: Stack, service: str = "app") -> dict[str, int]:
    """A container's CPU time (µs) and anonymous memory (bytes), from its cgroup (v2, or v1's
    cpuacct and memory controllers): the app's, or nginx's."""
    text = stack.exec(service, "sh", "-c", CGROUP).decode()
    values = {k: int(v) for k, v in (line.split() for line in text.splitlines()) if v.isdigit()}
    if "usage_usec" in values:
        return {"cpu_us": values["usage_usec"], "anon": values["anon"]}
    return {"cpu_us": values["usage_nsec"] // 1000, "anon": values["rss"]}


async def fresh_app(stack: Stack) -> None:
    """A new app process: memory figures start from the same baseline."""
    await asyncio.to_thread(stack.stop, "app", timeout=30)
    await asyncio.to_thread(stack.start, "app")
    await asyncio.to_thread(stack.wait_healthy, "app", within=120)
    await asyncio.to_thread(stack.exec, "nginx", "nginx", "-s", "reload")
    await asyncio.sleep(5)  # nginx's new workers, and the old ones gone


async def wait_until(check: Any, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.1)
    return bool(check())


# Measurements ---------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def verdict(subscribers: list[Subscriber], head: int) -> dict[str, int]:
    """Lost events (gaps, and ids never reached) and duplicates, over every subscriber."""
    return {
        "lost": sum(s.gaps + max(0, head - (s.last or 0)) for s in subscribers),
        "duplicates": sum(s.duplicates for s in subscribers),
        "resets": sum(s.resets for s in subscribers),
        "subscribers_behind": sum(1 for s in subscribers if (s.last or 0) < head),
    }


async def run_cell(
    stack: Stack, db: Database, tally: Tally, subscribers: list[Subscriber], rate: int
) -> dict[str, Any]:
    seconds = 20.0 if rate == 1 else 10.0
    tally.deliveries, tally.latencies_ms = 0, []
    await db.write(rate, 1.0 if rate > 1 else 2.0)  # warm-up
    nginx_before = app_cgroup(stack, "nginx")["cpu_us"]
    before, client_before, wall_before = app_cgroup(stack), time.process_time(), time.monotonic()
    tally.measuring = True
    db.commit_ms = []
    written = await db.write(rate, seconds)
    head = await db.head()
    await wait_until(lambda: all((s.last or 0) >= head for s in subscribers), 30)
    tally.measuring = False
    wall = time.monotonic() - wall_before
    after, client_cpu = app_cgroup(stack), (time.process_time() - client_before) / wall
    nginx_cpu = (app_cgroup(stack, "nginx")["cpu_us"] - nginx_before) / 1e6 / wall
    app_cpu_s = (after["cpu_us"] - before["cpu_us"]) / 1e6
    latencies = tally.latencies_ms
    return {
        "rate": rate,
        "events": written,
        "deliveries": tally.deliveries,
        "deliveries_per_s": tally.deliveries / wall,
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies) if latencies else None,
        "write_p99_ms": percentile(db.commit_ms, 0.99),
        "app_cpu_share": app_cpu_s / wall,
        "app_cpu_ms_per_1000": 1e6 * app_cpu_s / tally.deliveries if tally.deliveries else None,
        "client_cpu_share": client_cpu,
        "nginx_cpu_share": nginx_cpu,  # nginx shares the client's core
        "discarded": client_cpu > CLIENT_CPU_BOUND,
        **verdict(subscribers, head),
    }


async def grid(
    stack: Stack, db: Database, quick: bool, failures: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    cells: list[dict[str, Any]] = []
    counts = [100, 1_000] if quick else SUBSCRIBERS
    for kind in KINDS:
        for count in counts:
            rates = [
                r for r in ([1, 10] if quick else RATES) if count * r <= MAX_DELIVERIES_PER_SECOND
            ]
            await fresh_app(stack)
            baseline = app_cgroup(stack)["anon"]
            tally = Tally()
            started = time.monotonic()
            try:
                subscribers = await subscribe_many(kind, tally, count)
            except (ConnectionError, OSError, TimeoutError) as exc:
                # Recorded as what it is (N subscribers could not all connect), not a crash.
                failures.append({"transport": kind, "subscribers": count, "failed": repr(exc)})
                log(f"{kind} x {count}: could not connect them all: {exc!r}")
                continue
            connect_s = time.monotonic() - started
            await asyncio.sleep(5)  # idle: heartbeats aside, nothing happens
            idle = app_cgroup(stack)["anon"]
            common: dict[str, Any] = {
                "transport": kind,
                "subscribers": count,
                "connect_s": connect_s,
                "idle_bytes_per_subscriber": (idle - baseline) / count,
            }
            log(
                f"{kind} x {count}: connected in {connect_s:.1f}s, "
                f"{common['idle_bytes_per_subscriber'] / 1024:.1f} KiB each when idle"
            )
            for rate in rates:
                cell = {**common, **await run_cell(stack, db, tally, subscribers, rate)}
                log(
                    f"  {rate}/s: {cell['deliveries_per_s']:,.0f} deliveries/s, p99 "
                    f"{cell['p99_ms']:.0f} ms, app CPU {cell['app_cpu_share']:.0%}, client "
                    f"{cell['client_cpu_share']:.0%}, lost {cell['lost']}"
                )
                cells.append(cell)
            close_all(subscribers)
            await asyncio.sleep(2)
    return cells


async def storm(stack: Stack, db: Database, kind: str, count: int) -> dict[str, Any]:
    """Every subscriber dropped at once; each reconnects with its last id after its retry."""
    await fresh_app(stack)
    tally = Tally()
    subscribers = await subscribe_many(kind, tally, count)
    writing = asyncio.create_task(db.write(STORM_RATE, 120.0))
    await asyncio.sleep(3)
    baseline = await app_queries_per_s(db, lambda: asyncio.sleep(STATS_FLUSH_S))
    await asyncio.to_thread(stack.exec, "nginx", "nginx", "-s", "reload")
    log(f"storm, {kind} x {count}: nginx reloaded; its old workers drop the streams in 20 s")
    await asyncio.wait([s.closed for s in subscribers], return_when=asyncio.FIRST_COMPLETED)
    dropped_at = time.monotonic()
    head_then = 0
    reconnected: list[Subscriber] = []
    caught_up, seconds = False, 0.0

    back_after: list[float] = []  # seconds from the drop until each subscriber was back
    attempts = 0

    async def again(subscriber: Subscriber) -> Subscriber:
        nonlocal attempts
        await subscriber.closed
        wait = subscriber.retry if kind == "sse" else random.uniform(1, 3)  # noqa: S311
        await asyncio.sleep(wait)
        for _ in range(20):
            attempts += 1
            try:
                back = await subscribe(kind, tally, subscriber.last)
            except (ConnectionError, OSError, TimeoutError):
                await asyncio.sleep(1)
            else:
                back_after.append(time.monotonic() - dropped_at)
                return back
        raise ConnectionError("could not reconnect")

    async def storm_passes() -> None:
        nonlocal head_then, reconnected, caught_up, seconds
        results = await asyncio.gather(*(again(s) for s in subscribers), return_exceptions=True)
        reconnected = [r for r in results if isinstance(r, Subscriber)]
        if len(reconnected) < len(subscribers):
            close_all(reconnected)
            failed = next(r for r in results if not isinstance(r, Subscriber))
            raise ConnectionError(
                f"{len(subscribers) - len(reconnected)} never came back: {failed!r}"
            )
        head_then = await db.head()
        caught_up = await wait_until(
            lambda: all((s.last or 0) >= head_then for s in reconnected), 60
        )
        seconds = time.monotonic() - dropped_at

    during = await app_queries_per_s(db, storm_passes, extra=1)
    writing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await writing
    for old, new in zip(subscribers, reconnected, strict=True):
        new.gaps += old.gaps
    result = {
        "transport": kind,
        "subscribers": count,
        "event_rate": STORM_RATE,
        "caught_up": caught_up,
        "seconds_until_all_caught_up": seconds,
        "reconnected_p50_s": percentile(back_after, 0.5),
        "reconnected_max_s": max(back_after, default=None),
        "reconnect_attempts": attempts,
        "db_queries_per_s": during,
        "db_queries_per_s_before": baseline,
        **verdict(reconnected, head_then),
    }
    close_all(reconnected)
    log(f"storm: {json.dumps(result)}")
    return result


async def app_queries_per_s(db: Database, window: Any, extra: int = 0) -> float:
    """The app's queries per second while `window()` runs (its statements are autocommit: one
    transaction each), from pg_stat_database: every transaction committed, less this driver's
    own (its event writes, its reads of the head). A backend reports its counts when it goes
    idle, within STATS_FLUSH_S: the count is read that long after the window."""
    transactions, head = await db.transactions(), await db.head()
    started = time.monotonic()
    await window()
    seconds = time.monotonic() - started
    await asyncio.sleep(STATS_FLUSH_S)
    writes = await db.head() - head
    committed = await db.transactions() - transactions
    own = 3 + extra  # the first count, the two reads of the head, and `extra` inside the window
    return max(0, committed - writes - own) / seconds


def wrk_post(connections: int, token: str) -> float:
    body = json.dumps({"name": "bench write"})
    script = Path("/tmp/post.lua")  # noqa: S108 (the load generator's own scratch file)
    script.write_text(
        f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    command = ["wrk", "-t1", f"-c{connections}", f"-d{WRITE_SECONDS}s", "-s", str(script)]
    command += ["-H", "Host: nginx", "-H", f"Authorization: Bearer {token}"]
    command += ["http://nginx:8080/api/items"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if rate is None or errors is not None:
        raise RuntimeError(f"wrk failed:\n{output}")
    return float(rate.group(1))


async def insert_rate(writers: int) -> float:
    """Plain INSERTs straight to PostgreSQL, `writers` connections at once."""
    databases = [await Database.connect() for _ in range(writers)]
    deadline, counts = time.monotonic() + WRITE_SECONDS, [0] * writers

    async def loop(number: int) -> None:
        while time.monotonic() < deadline:
            await databases[number].connection.execute(INSERT, ["bench insert"])
            counts[number] += 1

    await asyncio.gather(*(loop(n) for n in range(writers)))
    for database in databases:
        await database.connection.close()
    return sum(counts) / WRITE_SECONDS


async def writes(stack: Stack, db: Database) -> list[dict[str, Any]]:
    """On and off alternate, twice each: the machine's speed drifts over minutes. The POSTs
    carry a token made in the app, as `make token` makes one."""
    made = await asyncio.to_thread(
        stack.exec, "app", "python", "manage.py", "token", "create", f"bench-{time.time():.0f}"
    )
    token = made.decode().strip()
    results = []
    for writers in WRITERS:
        for recording in ("on", "off", "on", "off"):
            switch = "ENABLE" if recording == "on" else "DISABLE"
            await db.connection.execute(f"ALTER TABLE items_item {switch} TRIGGER USER")
            api = await asyncio.to_thread(wrk_post, writers, token)
            direct = await insert_rate(writers)
            results.append(
                {"writers": writers, "recording": recording, "api_per_s": api, "sql_per_s": direct}
            )
            log(
                f"writes: {writers} writers, recording {recording}: API {api:,.0f}/s, "
                f"INSERT {direct:,.0f}/s"
            )
    await db.connection.execute("ALTER TABLE items_item ENABLE TRIGGER USER")
    return results


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--quick", action="store_true", help="small cells only, to try it")
    args = parser.parse_args()
    started = time.time()
    db = await Database.connect()
    failures: list[dict[str, Any]] = []
    with Stack.of_this_container() as stack:
        cells = await grid(stack, db, args.quick, failures)
        count = 1_000 if args.quick else STORM_SUBSCRIBERS
        storms = []
        for kind in KINDS:
            try:
                storms.append(await storm(stack, db, kind, count))
            except (ConnectionError, OSError, TimeoutError) as exc:
                failures.append({"storm": kind, "subscribers": count, "failed": repr(exc)})
                log(f"storm, {kind} x {count}: failed: {exc!r}")
        write_rates = await writes(stack, db)
    record = {
        "started": datetime.fromtimestamp(started).astimezone().isoformat(timespec="seconds"),
        "seconds": round(time.time() - started),
        "quick": args.quick,
        "commit": os.environ.get("BENCH_COMMIT", ""),
        "cells": cells,
        "failures": failures,
        "storms": storms,
        "writes": write_rates,
    }
    await asyncio.to_thread(Path(args.out).write_text, json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    import uvloop

    sys.exit(uvloop.run(main()))
