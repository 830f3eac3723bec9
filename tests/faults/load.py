"""A steady, bounded load through nginx that counts every failed request: the witness of a
zero-downtime redeploy (tests/run faults runs it around `make deploy`).

    python -m tests.faults.load [--max-seconds 180]

Reads (item lists, single items, /api/info) and writes (POST /api/items) from a few concurrent
clients until SIGTERM or --max-seconds; then prints a summary and exits 1 if any request failed
(a status other than the expected one, or a transport error), or if nothing was sent.

Like browsers and Go's HTTP client, it retries a request once when a reused keep-alive
connection closes before any response (RFC 9112, 9.3.1): an nginx reload closes its idle client
connections, and a request already on its way over one meets the close. A GET may be retried as
it is; a POST carries an Idempotency-Key, so that its retry can never create a second item.
The retries are counted and shown.
"""

import argparse
import asyncio
import collections
import datetime
import json
import os
import signal
import sys
import time
import uuid
from http import HTTPStatus

import httpx

BASE_URL = os.environ.get("E2E_BASE_URL", "http://nginx:8080")
# The token tests/run made for this stack (writes need one).
AUTHORIZATION = {"Authorization": f"Bearer {os.environ['E2E_TOKEN']}"}


def moment(started: float) -> str:
    """Seconds into the load, and the wall-clock time (UTC) to find the moment in the logs of
    nginx and the app."""
    now = datetime.datetime.now(datetime.UTC).strftime("%H:%M:%S.%f")[:-3]
    return f"{time.monotonic() - started:5.1f}s ({now})"


async def client_loop(
    number: int, http: httpx.AsyncClient, stop: asyncio.Event, counts: collections.Counter[str]
) -> list[str]:
    failures: list[str] = []
    started = time.monotonic()
    sequence = 0
    while not stop.is_set():
        sequence += 1
        headers = {}
        if sequence % 4 == 0:
            method, path, expected = "POST", "/api/items", HTTPStatus.CREATED
            body: dict[str, str] | None = {"name": f"load-{number}-{sequence}"}
            headers["Idempotency-Key"] = str(uuid.uuid4())
        else:
            method, expected, body = "GET", HTTPStatus.OK, None
            path = ("/api/items?limit=5", "/api/info", "/api/items?limit=1")[sequence % 3]
        try:
            try:
                response = await http.request(method, path, json=body, headers=headers)
            except (httpx.RemoteProtocolError, httpx.ReadError):
                counts[f"{method} retried after a keep-alive close"] += 1
                response = await http.request(method, path, json=body, headers=headers)
        except httpx.TransportError as exc:
            failures.append(f"{moment(started)} {method} {path}: {exc!r}")
            counts["transport error"] += 1
        else:
            counts[f"{method} {response.status_code}"] += 1
            if response.status_code != expected:
                failures.append(
                    f"{moment(started)} {method} {path}: "
                    f"{response.status_code} {response.text[:200]}"
                )
        await asyncio.sleep(0.02)
    return failures


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-seconds", type=float, default=180)
    parser.add_argument("--clients", type=int, default=6)
    args = parser.parse_args()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.call_later(args.max_seconds, stop.set)

    counts: collections.Counter[str] = collections.Counter()
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=BASE_URL, timeout=30, headers=AUTHORIZATION) as http:
        results = await asyncio.gather(
            *(client_loop(n, http, stop, counts) for n in range(args.clients))
        )
    failures = [failure for result in results for failure in result]
    summary = {
        "seconds": round(time.monotonic() - started, 1),
        "requests": sum(n for kind, n in counts.items() if "retried" not in kind),
        "by_status": dict(sorted(counts.items())),
        "failed": len(failures),
    }
    print(json.dumps(summary))
    for failure in failures[:20]:
        print("failed:", failure, file=sys.stderr)
    return 1 if failures or not summary["requests"] else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
