"""Runs the load for one contender, workload after workload, in the order given: a warm-up, then
BENCH_RUNS runs of BENCH_DURATION seconds (wrk; hello: h2load). Prints one JSON record per run
on stdout; progress goes to stderr.

    python bench/driver.py CONTENDER WORKLOAD [WORKLOAD ...]

hello-10k holds 10,000 connections, each repeating a 10 s sleep (the ideal is 1,000 req/s), and
reads the app's anonymous memory (its cgroup's RSS) before its first run and while every request
of a run is waiting: the memory one waiting request costs.
"""

import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

NGINX = "http://nginx:8080"
APP = "http://app:8000"

# name: (url, connections, what it measures)
WORKLOADS: dict[str, tuple[str, int, str]] = {
    "json": (f"{NGINX}/bench/json", 64, "TechEmpower JSON serialization"),
    "plaintext": (f"{NGINX}/bench/plaintext", 64, "TechEmpower plaintext"),
    "db": (f"{NGINX}/bench/db", 64, "TechEmpower single query (ORM)"),
    "queries": (f"{NGINX}/bench/queries?queries=20", 64, "TechEmpower 20 queries"),
    "fortunes": (f"{NGINX}/bench/fortunes", 64, "TechEmpower fortunes (ORM + template)"),
    "updates": (f"{NGINX}/bench/updates?queries=20", 64, "TechEmpower 20 updates"),
    "hello": (f"{NGINX}/api/hello?delay=1", 1000, "1 s asyncio.sleep at 1,000 connections"),
    "hello-10k": (
        f"{NGINX}/api/hello?delay=10",
        10_000,
        "10 s asyncio.sleep at 10,000 connections",
    ),
    "json-direct": (f"{APP}/bench/json", 64, "JSON, straight to the app (no nginx)"),
    "raw-direct": (f"{APP}/bench/raw", 64, "bare ASGI handler, straight to the app"),
}
HELLO_SECONDS = 4
HELLO_WARM_UP_SECONDS = 2
# The warm-up covers the connections' opening, over one sleep, and their first sleep; hello-10k's
# window holds almost two more (a run lasts about 50 s: every connection sleeps four times).
SLEEPS = {"hello": (1.0, HELLO_SECONDS, HELLO_WARM_UP_SECONDS), "hello-10k": (10.0, 18, 12)}
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * UNITS[unit]


def parse(output: str) -> dict[str, Any]:
    """The figures of wrk's --latency report."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    requests = re.search(r"(\d+) requests in", output)
    average = re.search(r"Latency\s+([\d.]+(?:us|ms|s|m))", output)
    if rps is None or requests is None or average is None:
        raise ValueError(f"not a wrk report:\n{output}")
    # wrk pads these lines with a trailing space.
    rows = re.findall(r"^\s+(50|90|99)%\s+(\S+)\s*$", output, re.M)
    percentiles = {f"p{p}_ms": milliseconds(v) for p, v in rows}
    if len(percentiles) != 3:
        raise ValueError(f"no latency distribution in the wrk report:\n{output}")
    socket = re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = sum(map(int, socket.groups())) if socket else 0
    failed = int(non_2xx.group(1)) if non_2xx else 0
    total = int(requests.group(1))
    # wrk counts error responses as requests: only successful ones count towards the rate.
    ok_share = (total - failed) / total if total else 0.0
    return {
        "rps": float(rps.group(1)) * ok_share,
        "requests": total,
        "latency_avg_ms": milliseconds(average.group(1)),
        **percentiles,
        "errors": socket_errors + failed,
    }


def wrk(url: str, connections: int, seconds: int) -> dict[str, Any]:
    threads = 2 if connections > 100 else 1
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    command += ["--latency", "-H", "Host: nginx", url]
    done = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    return parse(done.stdout)


def h2load(
    url: str, connections: int, delay: float, seconds: int, warm_up: int, idle: int | None = None
) -> dict[str, Any]:
    """One h2load run over HTTP/1.1: the connections opened over one sleep, then `seconds`
    measured after `warm_up` seconds.

    Used for the hello workloads. Opened all at once, the connections stay in step for the whole
    run: every sleep ends at the same moment, and the next requests arrive together and queue
    behind the app's CPU (10,000 at 0.5 ms each: the last waits 5 s), a thundering herd no real
    population of clients is. So h2load opens them at connections / delay per second (its
    --rate), which spreads their requests evenly over a sleep, and each connection sends
    requests one after another until the window has passed; only the requests started in the
    window are timed. With `idle` (the app's memory before the workload's first run), the app's
    memory is read mid-window too.
    """
    per_client = math.ceil((warm_up + seconds) / delay) + 1
    with tempfile.NamedTemporaryFile("r", suffix=".tsv") as log:
        command = ["h2load", "--h1", f"--clients={connections}", "--threads=2"]
        command += [f"--rate={max(1, round(connections / delay))}", "--rate-period=1s"]
        command += [f"--requests={connections * per_client}"]
        # A connection silent for ten sleeps is given up (a failure): a server that cannot hold
        # the connections (one sync worker) would otherwise keep the run going for minutes.
        command += [f"--connection-inactivity-timeout={round(10 * delay)}"]
        command += ["--header=Host: nginx", f"--log-file={log.name}", url]
        memory = idle is not None
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as h2:  # noqa: S603
            loaded = 0
            if memory:
                # Mid-window: every connection has a request waiting in the app.
                time.sleep(warm_up + seconds / 2)
                loaded = app_memory()
            output, _ = h2.communicate()
        if h2.returncode != 0:
            raise subprocess.CalledProcessError(h2.returncode, command, output)
        figures = parse_h2load(output, log.read(), connections, warm_up, seconds)
        if idle is not None:
            figures["app_memory_idle_mib"] = round(idle / 2**20, 1)
            figures["app_memory_loaded_mib"] = round(loaded / 2**20, 1)
            figures["app_kib_per_waiting_request"] = round((loaded - idle) / connections / 1024, 1)
        return figures


def app_memory() -> int:
    """The app container's anonymous memory in bytes (its cgroup's RSS), through the engine."""
    sys.path.insert(0, "/src")
    from bench.events import app_cgroup
    from tests.e2e.docker import Stack

    with Stack.of_this_container() as stack:
        return app_cgroup(stack)["anon"]


def parse_h2load(
    output: str, log: str, connections: int, warm_up: float, seconds: float
) -> dict[str, Any]:
    """The figures of an h2load run, from its report and its --log-file (a row per request: start
    in µs since the epoch, status or -1 for a failure, latency in µs).

    The window is [warm_up, warm_up + seconds) after the first request started: its latencies are
    those of the requests started in it, its rate the successful requests that ended in it. The
    errors are every request of the run that did not succeed, warm-up included.
    """
    counts = re.search(r"(\d+) total, \d+ started, \d+ done, (\d+) succeeded", output)
    if counts is None:
        raise ValueError(f"not an h2load report:\n{output}")
    total, succeeded = map(int, counts.groups())
    rows = [tuple(map(int, line.split("\t"))) for line in log.splitlines() if line]
    first = min((start for start, _, _ in rows), default=0)
    begin, end = first + warm_up * 1e6, first + (warm_up + seconds) * 1e6
    ok = sorted(
        latency / 1000 for start, status, latency in rows if status == 200 and begin <= start < end
    )
    ended = sum(
        1 for start, status, latency in rows if status == 200 and begin <= start + latency < end
    )
    if not ok:
        # A server that cannot hold the connections (one sync worker): no answer to time, and
        # when not one request even ended in the window, each connection's is an error.
        return {"rps": 0.0, "requests": total, "errors": (total - succeeded) or connections}
    return {
        # Successful responses only, as for wrk.
        "rps": ended / seconds,
        "requests": total,
        "latency_avg_ms": statistics.fmean(ok),
        "p50_ms": ok[len(ok) // 2],
        "p90_ms": ok[min(len(ok) - 1, int(len(ok) * 0.90))],
        "p99_ms": ok[min(len(ok) - 1, int(len(ok) * 0.99))],
        "errors": total - succeeded,
    }


def main(contender: str, workloads: list[str]) -> None:
    seconds = int(os.environ.get("BENCH_DURATION", "2"))
    runs = int(os.environ.get("BENCH_RUNS", "5"))
    for name in workloads:
        url, connections, _ = WORKLOADS[name]
        hello = name in SLEEPS
        delay, hello_seconds, warm_up = SLEEPS.get(name, (0.0, 0, 0))
        length = max(seconds, hello_seconds) if hello else seconds
        # Connections, pools, caches; and what the previous workload left queued (one sync
        # worker still owes the 64 slow requests nginx had passed on). h2load warms up on its
        # own, in every run.
        if not hello:
            wrk(url, connections, max(1, seconds // 2))
        # Read once: the memory a run takes stays with the process after it (CPython keeps
        # its arenas), so a later run's own "idle" would hide what waiting requests cost.
        idle = app_memory() if name == "hello-10k" else None
        # About 50 s a run: three are enough for a ratio to the ideal and a memory figure.
        for run in range(1, (min(runs, 3) if name == "hello-10k" else runs) + 1):
            record = {"contender": contender, "workload": name, "run": run, "url": url}
            record |= {"connections": connections, "duration_s": length}
            if hello:
                record["warm_up_s"] = warm_up
                record |= h2load(url, connections, delay, length, warm_up, idle)
            else:
                record |= wrk(url, connections, length)
            print(json.dumps(record), flush=True)
            print(
                f"  {contender:17} {name:12} run {run}: {record['rps']:10.1f} req/s",
                file=sys.stderr,
            )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
