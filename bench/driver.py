"""Runs the load for one contender, workload after workload, in the order given: a warm-up, then
BENCH_RUNS runs of BENCH_DURATION seconds (wrk; hello: h2load). Prints one JSON record per run
on stdout; progress goes to stderr.

    python bench/driver.py CONTENDER WORKLOAD [WORKLOAD ...]
"""

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
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
    "json-direct": (f"{APP}/bench/json", 64, "JSON, straight to the app (no nginx)"),
    "raw-direct": (f"{APP}/bench/raw", 64, "bare ASGI handler, straight to the app"),
}
HELLO_DELAY = 1.0
HELLO_SECONDS = 4
HELLO_WARM_UP_SECONDS = 2
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


def h2load(url: str, connections: int, seconds: int, warm_up: int) -> dict[str, Any]:
    """One h2load run over HTTP/1.1: a warm-up on the same connections, then `seconds` measured.

    Used for the hello workload. wrk opens its connections anew for every run, so each of its
    runs starts with 1,000 requests arriving at once, and the first, long round of sleeps weighs
    on its average; h2load's warm-up absorbs that start, and only the steady state is measured.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".tsv") as log:
        command = ["h2load", "--h1", f"--clients={connections}", "--threads=2"]
        command += [f"--duration={seconds}", f"--warm-up-time={warm_up}"]
        command += ["--header=Host: nginx", f"--log-file={log.name}", url]
        done = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
        return parse_h2load(done.stdout, log.read(), connections)


def parse_h2load(output: str, log: str, connections: int) -> dict[str, Any]:
    """The figures of an h2load run, from its report and its --log-file (a row per request
    measured: start in µs since the epoch, status or -1 for a failure, latency in µs)."""
    rate = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", output)
    counts = re.search(r"(\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", output)
    if rate is None or counts is None:
        raise ValueError(f"not an h2load report:\n{output}")
    rows = [line.split("\t") for line in log.splitlines() if line]
    ok = sorted(int(latency) / 1000 for _, status, latency in rows if status == "200")
    total = sum(map(int, counts.groups()))
    if not ok:
        # A server that cannot hold the connections (one sync worker): no answer to time, and
        # when not one request even ended in the window, each connection's is an error.
        return {"rps": 0.0, "requests": total, "errors": total or connections}
    return {
        # Successful responses only, as for wrk.
        "rps": float(rate.group(1)) * len(ok) / len(rows),
        "requests": total,
        "latency_avg_ms": statistics.fmean(ok),
        "p50_ms": ok[len(ok) // 2],
        "p90_ms": ok[min(len(ok) - 1, int(len(ok) * 0.90))],
        "p99_ms": ok[min(len(ok) - 1, int(len(ok) * 0.99))],
        "errors": len(rows) - len(ok),
    }


def main(contender: str, workloads: list[str]) -> None:
    seconds = int(os.environ.get("BENCH_DURATION", "2"))
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    for name in workloads:
        url, connections, _ = WORKLOADS[name]
        hello = name == "hello"
        length = max(seconds, HELLO_SECONDS) if hello else seconds
        # Connections, pools, caches; and what the previous workload left queued (one sync
        # worker still owes the 64 slow requests nginx had passed on). h2load warms up on its
        # own, in every run.
        if not hello:
            wrk(url, connections, max(1, seconds // 2))
        for run in range(1, runs + 1):
            record = {"contender": contender, "workload": name, "run": run, "url": url}
            record |= {"connections": connections, "duration_s": length}
            if hello:
                record["warm_up_s"] = HELLO_WARM_UP_SECONDS
                record |= h2load(url, connections, length, HELLO_WARM_UP_SECONDS)
            else:
                record |= wrk(url, connections, length)
            print(json.dumps(record), flush=True)
            print(
                f"  {contender:17} {name:12} run {run}: {record['rps']:10.1f} req/s",
                file=sys.stderr,
            )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
