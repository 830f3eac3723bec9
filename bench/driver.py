"""Runs wrk for one contender: a warm-up, then BENCH_RUNS runs of BENCH_DURATION seconds per
workload. Prints one JSON record per run on stdout; progress goes to stderr.

    python bench/driver.py CONTENDER WORKLOAD [WORKLOAD ...]
"""

import json
import os
import re
import subprocess
import sys
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


def main(contender: str, workloads: list[str]) -> None:
    seconds = int(os.environ.get("BENCH_DURATION", "2"))
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    for name in workloads:
        url, connections, _ = WORKLOADS[name]
        # A hello run starts with all 1,000 requests arriving at once; only longer runs show the
        # steady state, in which the sleeps have spread out. Its ratio to the ideal comes from
        # the average latency (report.py).
        length = max(seconds, 10) if name == "hello" else seconds
        warm_up = 3 if name == "hello" else max(1, length // 2)
        wrk(url, connections, warm_up)  # connections, pools, caches
        for run in range(1, runs + 1):
            record = {"contender": contender, "workload": name, "run": run, "url": url}
            record |= {"connections": connections, "duration_s": length}
            record |= wrk(url, connections, length)
            print(json.dumps(record), flush=True)
            print(
                f"  {contender:17} {name:12} run {run}: {record['rps']:10.1f} req/s",
                file=sys.stderr,
            )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
